"""The package as a learner installs it: dependencies declared for who needs them, imports agree with the declarations,
and a wheel installed outside the repository carries the lessons, copies them out and runs them."""
import ast, json, os, re, shutil, subprocess, sys, sysconfig
from importlib.metadata import packages_distributions
from pathlib import Path
import pytest

try: import tomllib
except ModuleNotFoundError: import tomli as tomllib  # Python 3.10

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT/'pyproject.toml').read_text(encoding='utf-8'))
# The course tools (mnist_sgd.course) and the lessons' widgets (mnist_sgd.widgets) may import the `course` extra; so may any
# module that imports one of them (`all`). Everything else is core: `import mnist_sgd.<module>` works with the core dependencies.
# Imports that are guarded and exist only in one environment (Colab's own module in the Colab setup cell).
ENVIRONMENT_ONLY = {'google'}


def _norm(name: str) -> str: return re.sub(r'[-_.]+', '-', name).lower()


def _req_name(req: str) -> str: return _norm(re.match(r'\s*([A-Za-z0-9][A-Za-z0-9._-]*)', req)[1])


def declared() -> dict:
    "The distributions each group may import: core, course (core + course extra), dev (everything)."
    extras = PYPROJECT['project']['optional-dependencies']
    def expand(reqs, seen=()):
        out = set()
        for r in reqs:
            name = _req_name(r)
            if name == 'mnist-sgd':  # a self-reference such as mnist_sgd[course]
                for extra in re.findall(r'\[([^\]]*)\]', r)[0].split(','):
                    if extra.strip() not in seen: out |= expand(extras[extra.strip()], (*seen, extra.strip()))
            else: out.add(name)
        return out
    core = expand(PYPROJECT['project']['dependencies'])
    return {'core': core, 'course': core | expand(extras['course']), 'dev': core | expand(extras['course']) | expand(extras['dev'])}


def top_imports(source: str) -> set:
    "The top-level names of every absolute import in `source` (Python; IPython `!`/`%` lines are ignored)."
    source = '\n'.join('' if l.lstrip().startswith(('!', '%')) else l for l in source.splitlines())
    try: tree = ast.parse(source)
    except SyntaxError: return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import): names |= {a.name.split('.')[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module: names.add(node.module.split('.')[0])
    return names


def _key(f: Path) -> str:
    "A module's dotted name inside the package: 'training', 'course.runner', 'widgets' (for widgets/__init__.py)."
    parts = f.relative_to(ROOT/'mnist_sgd').with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def package_modules() -> dict:
    "Every module of the package, by its dotted name inside the package, and its file."
    return {_key(f): f for f in sorted((ROOT/'mnist_sgd').rglob('*.py'))}


def _package_imports(source: str, package: str = '') -> set:
    """The mnist_sgd modules that `source` imports (`from .x import`, `from ..x import`, `from mnist_sgd.x import`,
    `import mnist_sgd.x`), by dotted name inside the package; relative imports are resolved from `package`."""
    known, out = package_modules(), set()
    def add(name):  # the longest known module that `name` is or lies in
        parts = name.split('.')
        for i in range(len(parts), 0, -1):
            if '.'.join(parts[:i]) in known: out.add('.'.join(parts[:i])); return
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.') if package else []
                base = base[:len(base) - node.level + 1] if node.level > 1 else base
                head = '.'.join([*base, *([node.module] if node.module else [])])
            elif node.module and node.module.startswith('mnist_sgd.'): head = node.module[len('mnist_sgd.'):]
            else: continue
            for a in node.names: add(f'{head}.{a.name}' if head else a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith('mnist_sgd.'): add(a.name[len('mnist_sgd.'):])
    return out


def course_modules() -> set:
    "The package's modules that may use the course extra: the course tools, the widgets, and whatever imports them."
    mods = {}
    for k, f in package_modules().items():
        mods[k] = _package_imports(f.read_text(encoding='utf-8'), k if f.name == '__init__.py' else k.rpartition('.')[0])
    course = {m for m in mods if m.split('.')[0] in ('course', 'widgets')}
    while True:
        more = {m for m, deps in mods.items() if deps & course} - course
        if not more: return course
        course |= more


def sources():
    "(group, where, source) for the package's modules, the lesson notebooks, the library notebooks and the repo's scripts."
    course = course_modules()
    for k, f in package_modules().items():
        yield ('course' if k in course else 'core'), f.relative_to(ROOT), f.read_text(encoding='utf-8')
    for group, pattern in (('course', 'nbs/[0-9]*.ipynb'), ('dev', 'nbs/lib/**/*.ipynb'), ('dev', 'nbs/index.ipynb')):
        for nb in sorted(ROOT.glob(pattern)):
            for i, c in enumerate(json.loads(nb.read_text(encoding='utf-8'))['cells']):
                if c['cell_type'] == 'code': yield group, f'{nb.relative_to(ROOT)} cell {i + 1}', ''.join(c['source'])
    for folder in ('tests', 'bench', 'tools'):
        for f in sorted((ROOT/folder).glob('*.py')): yield 'dev', f.relative_to(ROOT), f.read_text(encoding='utf-8')


def undeclared_imports() -> list:
    groups, dists = declared(), packages_distributions()
    local = {'mnist_sgd', *(p.stem for d in ('tests', 'bench', 'tools') for p in (ROOT/d).glob('*.py'))}
    problems = []
    for group, where, src in sources():
        for name in sorted(top_imports(src) - set(sys.stdlib_module_names) - local - ENVIRONMENT_ONLY):
            candidates = {_norm(d) for d in dists.get(name, [name])}
            if not candidates & groups[group]:
                problems.append(f"{where} imports {name!r} (distribution {', '.join(sorted(candidates))}), "
                                f"which pyproject.toml does not declare for the {group!r} group")
    return problems


def test_imports_are_declared_for_their_group():
    problems = undeclared_imports()
    assert not problems, '\n'.join(problems)


def test_the_chapters_modules_need_only_the_core():
    "The modules a learner or teacher imports in their own scripts do not drag in Jupyter: they stay in the core group."
    course = course_modules()
    core = {'core', 'checks', 'files', 'data', 'images', 'baseline', 'sgd', 'training', 'optim', 'nonlinear', 'multiclass',
            'learner', 'quiz.answers', 'quiz.grading', 'quiz.graders', 'quiz.questionnaire'}
    assert core <= set(package_modules()), core - set(package_modules())
    assert not core & course, core & course
    assert {'course.runner', 'course.cli', 'widgets.fit', 'all'} <= course


def test_the_checker_catches_an_undeclared_import():
    assert top_imports('import numpy as np\nfrom sklearn.metrics import f1_score\nfrom .core import x\n!pip install y\n%matplotlib inline') == {'numpy', 'sklearn'}
    groups = declared()
    assert 'scikit-learn' in groups['course'] and 'scikit-learn' not in groups['core']   # lesson 07 uses it; the package does not
    assert 'nbclient' not in groups['core'] and 'jupyterlab' in groups['course'] and 'nbdev' not in groups['course']
    assert {'pytest', 'nbdev', 'playwright'} <= groups['dev'] and groups['course'] <= groups['dev']


def test_groups_are_split_by_who_needs_them():
    core = {_req_name(r) for r in PYPROJECT['project']['dependencies']}
    assert {'torch', 'fastai', 'matplotlib', 'pandas', 'mlxtend'} <= core
    assert not core & {'nbclient', 'nbconvert', 'ipykernel', 'ipywidgets', 'ipycanvas', 'jupyterlab', 'nbdev', 'pytest'}
    assert any(r.startswith('tomli') and "python_version < '3.11'" in r for r in PYPROJECT['project']['dependencies'])


def test_the_package_spawns_no_dataloader_workers(sample_path):
    from mnist_sgd.optim import mnist_dls
    dls = mnist_dls(sample_path, device='cpu')
    assert dls.train.fake_l.num_workers == 0 and dls.valid.fake_l.num_workers == 0  # fastai keeps the real count on its torch loader
    for f in (ROOT/'mnist_sgd').glob('*.py'):  # nowhere asks for workers, or uses a loader whose default is to start them
        for node in ast.walk(ast.parse(f.read_text(encoding='utf-8'))):
            if isinstance(node, ast.Call):
                kw = {k.arg: k.value for k in node.keywords}
                if 'num_workers' in kw: assert isinstance(kw['num_workers'], ast.Constant) and kw['num_workers'].value == 0, f
                callee = ast.unparse(node.func)
                if re.search(r'TfmdDL|ImageDataLoaders|\.dataloaders$', callee): assert 'num_workers' in kw, f'{f}: {callee} starts workers by default'


# --- a wheel, installed outside the repository

def _shared_site() -> str:
    return sysconfig.get_paths()['purelib']


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """A wheel built from a clean copy of the repository, installed into a fresh virtualenv outside it.

    The virtualenv reuses the test environment's packages (torch, fastai, Jupyter) through a .pth line naming its
    site-packages, which comes after the virtualenv's own: so `mnist_sgd` is the wheel's, and nothing is downloaded."""
    tmp = tmp_path_factory.mktemp('wheel')
    src = tmp/'src'
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns('.git', '.venv', 'build', 'dist', '*.egg-info', '__pycache__',
                                                                '.ipynb_checkpoints', 'artifacts', '_proc', '_docs'))
    r = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index', '-q', str(src), '-w', str(tmp/'dist')],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    wheel = next((tmp/'dist').glob('mnist_sgd-*.whl'))
    venv = tmp/'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True, timeout=120)
    py = venv/('Scripts' if os.name == 'nt' else 'bin')/'python'
    site = Path(subprocess.run([str(py), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                               capture_output=True, text=True, check=True).stdout.strip())
    clean = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}  # a checkout on the path looks installed
    r = subprocess.run([sys.executable, '-m', 'pip', '--python', str(py), 'install', '--no-deps', '--no-index', '-q', str(wheel)],
                       capture_output=True, text=True, timeout=300, env=clean)
    assert r.returncode == 0, r.stdout + r.stderr
    # Only now the shared packages: before, pip would have seen the test environment's own mnist_sgd as already installed.
    (site/'zz_shared_test_env.pth').write_text(_shared_site() + '\n')
    env = dict(clean)
    env.update(FASTAI_HOME=str(tmp/'fastai'), MNIST_SGD_HOME=str(tmp/'home'), MNIST_SGD_SOURCE='embedded', PATH=f'{py.parent}{os.pathsep}{env["PATH"]}')
    return dict(tmp=tmp, py=py, bin=py.parent, env=env, wheel=wheel)


def _run(installed, *args, timeout=300):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=installed['tmp'], env=installed['env'], timeout=timeout)


def test_the_wheel_carries_lessons_and_templates(installed):
    import zipfile
    names = zipfile.ZipFile(installed['wheel']).namelist()
    lessons = sorted(Path(n).name for n in names if '/share/mnist_sgd/lessons/' in n)
    assert lessons == sorted(p.name for p in (ROOT/'nbs').glob('[0-9]*.ipynb')) and lessons
    assert {'mnist_sgd/course/templates/page.html.j2', 'mnist_sgd/course/templates/index.html.j2', 'mnist_sgd/course/templates/site.css'} <= set(names)


def test_installed_package_finds_its_own_lessons(installed):
    r = _run(installed, installed['py'], '-c', 'import mnist_sgd; from mnist_sgd.course.lessons import find_nbs; print(mnist_sgd.__file__); print(find_nbs())')
    assert r.returncode == 0, r.stderr
    module, lessons = r.stdout.split()
    assert Path(module).is_relative_to(installed['tmp']/'venv')  # the wheel's code, not the repository's
    assert Path(lessons) == (installed['tmp']/'venv'/'share'/'mnist_sgd'/'lessons').resolve()


def test_wheel_copies_the_lessons_out_and_runs_two_of_them(installed):
    course = installed['tmp']/'my_course'
    r = _run(installed, installed['bin']/'mnist-sgd', 'lessons', course)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count('copied: ') == len(list((ROOT/'nbs').glob('[0-9]*.ipynb')))
    (course/'01_images.ipynb').write_text((course/'01_images.ipynb').read_text().replace('"cells": [', '"cells": [{"cell_type": "markdown", "id": "mine", "metadata": {}, "source": ["my notes"]},', 1))
    mine = (course/'01_images.ipynb').read_text()
    r = _run(installed, installed['bin']/'mnist-sgd', 'lessons', course)
    assert 'kept: 01_images.ipynb has your changes' in r.stdout and (course/'01_images.ipynb').read_text() == mine
    assert (course/'01_images.new.ipynb').exists()
    r = _run(installed, installed['bin']/'mnist-sgd', 'course', '--nbs', course, '--only', '01,02', '--jobs', '2', '--out', installed['tmp']/'executed')
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r'01_images\s+ok', r.stdout) and re.search(r'02_pixel_similarity\s+ok', r.stdout) and re.search(r'total\s+2/2 ok', r.stdout)
    assert sorted(p.name for p in (installed['tmp']/'executed').iterdir()) == ['01_images.ipynb', '02_pixel_similarity.ipynb']


def test_installed_course_runs_its_shipped_lessons_without_a_checkout(installed):
    r = _run(installed, installed['bin']/'mnist-sgd', 'course', '--only', '01')  # no --nbs, no checkout: the lessons inside the install
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"from {(installed['tmp']/'venv'/'share'/'mnist_sgd'/'lessons').resolve()}" in r.stdout and re.search(r'01_images\s+ok', r.stdout)
