"""The package as a learner installs it: dependencies declared for who needs them, imports agree with the declarations,
and a wheel installed outside the repository (in a virtualenv, with --target, or as a zip) carries the lessons as
package data, copies them out as clean learner copies and runs them; an editable install keeps using nbs/."""
import ast, json, os, re, shutil, subprocess, sys, sysconfig
from importlib.metadata import packages_distributions
from pathlib import Path
import pytest
from modgraph import imported_modules, module_name, package_of

from mnist_sgd.files import tomllib

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


def package_modules() -> dict:
    "Every module of the package, by its dotted name inside the package, and its file."
    return {module_name(f): f for f in sorted((ROOT/'mnist_sgd').rglob('*.py'))}


def course_modules() -> set:
    "The package's modules that may use the course extra: the course tools, the widgets, and whatever imports them."
    known = package_modules()
    mods = {k: imported_modules(f.read_text(encoding='utf-8'), known, package_of(f)) for k, f in known.items()}
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


def test_the_colab_extra_is_lean():
    "Issue 20: Colab installed JupyterLab, notebook and nbconvert (about 70 packages) and upgraded its ipywidgets 7 to 8."
    colab = PYPROJECT['project']['optional-dependencies']['colab']
    names = {_req_name(r) for r in colab}
    assert 'ipycanvas' in names and not names & {'jupyterlab', 'notebook', 'nbconvert', 'nbclient', 'ipykernel', 'jupyter-client', 'mnist-sgd'}
    widgets = next(r for r in colab if _req_name(r) == 'ipywidgets')
    lower = re.search(r'>=\s*(\d+)', widgets)
    assert lower and int(lower[1]) <= 7 and not re.search(r'<\s*8\b|==', widgets), widgets  # Colab's 7.x is kept; 8 is fine too
    from mnist_sgd.course.lessons import colab_cell_source, install_spec
    assert install_spec() == f"mnist_sgd[colab] @ git+{PYPROJECT['project']['urls']['Repository']}" and repr(install_spec()) in colab_cell_source()


def test_every_subpackage_is_built():
    "The package list is explicit (the lessons' data package has no folder of its own): it must name every subpackage."
    listed = set(PYPROJECT['tool']['setuptools']['packages'])
    on_disk = {'.'.join(p.parent.relative_to(ROOT).parts) for p in (ROOT/'mnist_sgd').rglob('__init__.py')}
    assert on_disk <= listed, f'add {sorted(on_disk - listed)} to [tool.setuptools] packages in pyproject.toml'
    assert PYPROJECT['tool']['setuptools']['package-dir'] == {'mnist_sgd.course.lessons_data': 'nbs'}
    assert 'data-files' not in PYPROJECT['tool']['setuptools']  # a --target install cannot find data files; package data it can


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


def _run(installed, *args, timeout=300, cwd=None, env=None, umask=None):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd or installed['tmp'], env=env or installed['env'],
                          timeout=timeout, preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)


LESSON_NAMES = sorted(p.name for p in (ROOT/'nbs').glob('[0-9]*.ipynb'))


def _venv_lessons(installed) -> Path:
    site = Path(subprocess.run([str(installed['py']), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                               capture_output=True, text=True, check=True).stdout.strip())
    return site/'mnist_sgd'/'course'/'lessons_data'


def test_the_wheel_carries_lessons_and_templates(installed):
    import zipfile
    names = zipfile.ZipFile(installed['wheel']).namelist()
    lessons = sorted(n.rsplit('/', 1)[1] for n in names if n.startswith('mnist_sgd/course/lessons_data/'))
    assert lessons == LESSON_NAMES and lessons  # the lessons are package data, and nothing else from nbs/
    assert not any('/share/' in n or n.startswith('nbs/') for n in names)
    assert {'mnist_sgd/course/templates/page.html.j2', 'mnist_sgd/course/templates/index.html.j2', 'mnist_sgd/course/templates/site.css'} <= set(names)


def test_installed_package_finds_its_own_lessons(installed):
    r = _run(installed, installed['py'], '-c', 'import mnist_sgd; from mnist_sgd.course.lessons import find_nbs; print(mnist_sgd.__file__); print(find_nbs())')
    assert r.returncode == 0, r.stderr
    module, lessons = r.stdout.split()
    assert Path(module).is_relative_to(installed['tmp']/'venv')  # the wheel's code, not the repository's
    assert Path(lessons) == _venv_lessons(installed) and sorted(p.name for p in Path(lessons).glob('*.ipynb')) == LESSON_NAMES


def test_a_target_install_finds_its_lessons(installed):
    "Issue 20: with `pip install --target DIR` the lessons were installed (under DIR/share) but not found."
    target = installed['tmp']/'target'
    r = subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-index', '-q', '--target', str(target), str(installed['wheel'])],
                       capture_output=True, text=True, timeout=300, env={k: v for k, v in os.environ.items() if k != 'PYTHONPATH'})
    assert r.returncode == 0, r.stdout + r.stderr
    env = {**installed['env'], 'PYTHONPATH': str(target)}  # no venv: this Python, with the target folder on its path
    code = 'import mnist_sgd; from mnist_sgd.course.lessons import locate_lessons; print(mnist_sgd.__file__); print(*locate_lessons(), sep="\\n")'
    r = _run(installed, sys.executable, '-c', code, env=env)
    assert r.returncode == 0, r.stderr
    module, lessons, how = r.stdout.splitlines()
    assert Path(module).is_relative_to(target) and Path(lessons) == target/'mnist_sgd'/'course'/'lessons_data'
    assert how.startswith('the lessons installed with mnist_sgd')
    r = _run(installed, sys.executable, '-m', 'mnist_sgd.course.cli', 'lessons', installed['tmp']/'from_target', env=env)
    assert r.returncode == 0 and r.stdout.count('copied: ') == len(LESSON_NAMES), r.stdout + r.stderr


def test_a_zipped_install_finds_its_lessons(installed, tmp_path):
    "A wheel is a zip that Python can import from: the lessons are read with importlib.resources and written out once."
    env = {**installed['env'], 'PYTHONPATH': str(installed['wheel'])}
    code = ('import mnist_sgd; from mnist_sgd.course.lessons import find_nbs, copy_lessons; print(mnist_sgd.__file__); nbs = find_nbs(); '
            f'print(nbs); print(len(copy_lessons({str(tmp_path/"course")!r})))')
    r = _run(installed, sys.executable, '-c', code, env=env)
    assert r.returncode == 0, r.stderr
    module, lessons, copied = r.stdout.splitlines()
    assert module.startswith(str(installed['wheel'])) and sorted(p.name for p in Path(lessons).glob('*.ipynb')) == LESSON_NAMES
    assert int(copied) == len(LESSON_NAMES) and sorted(p.name for p in (tmp_path/'course').glob('*.ipynb')) == LESSON_NAMES


def test_an_editable_install_keeps_using_nbs(installed, tmp_path):
    "An editable install (and a clone) runs the notebooks in nbs/, which the course's author edits, not a copy."
    src = tmp_path/'src'
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns('.git', '.venv', 'build', 'dist', '*.egg-info', '__pycache__',
                                                             '.ipynb_checkpoints', 'artifacts', '_proc', '_docs', 'tests', 'bench'))
    venv = tmp_path/'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True, timeout=120)
    py = venv/('Scripts' if os.name == 'nt' else 'bin')/'python'
    clean = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
    # the editable wheel (PEP 660), built by this environment's setuptools, then installed into the fresh venv, as `pip install -e` does
    r = subprocess.run([sys.executable, '-c', f"from setuptools.build_meta import build_editable; print(build_editable({str(tmp_path/'dist')!r}))"],
                       cwd=src, capture_output=True, text=True, timeout=300, env=clean)
    assert r.returncode == 0, r.stdout + r.stderr
    wheel = tmp_path/'dist'/r.stdout.strip().splitlines()[-1]
    r = subprocess.run([sys.executable, '-m', 'pip', '--python', str(py), 'install', '--no-deps', '--no-index', '-q', str(wheel)],
                       capture_output=True, text=True, timeout=300, env=clean)
    assert r.returncode == 0, r.stdout + r.stderr
    site = Path(subprocess.run([str(py), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'], capture_output=True, text=True, check=True).stdout.strip())
    (site/'zz_shared_test_env.pth').write_text(_shared_site() + '\n')
    r = subprocess.run([str(py), '-c', 'import mnist_sgd; from mnist_sgd.course.lessons import locate_lessons; print(mnist_sgd.__file__); print(*locate_lessons(), sep="\\n")'],
                       capture_output=True, text=True, cwd=tmp_path, env={**clean, 'FASTAI_HOME': str(tmp_path/'fastai')}, timeout=120)
    assert r.returncode == 0, r.stderr
    module, lessons, how = r.stdout.splitlines()
    assert Path(module) == src/'mnist_sgd'/'__init__.py' and Path(lessons) == src/'nbs' and how == 'the checkout mnist_sgd runs from'


def test_wheel_copies_the_lessons_out_and_runs_two_of_them(installed):
    course = installed['tmp']/'my_course'
    r = _run(installed, installed['bin']/'mnist-sgd', 'lessons', course, umask=0o022)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count('copied: ') == len(LESSON_NAMES)
    for name in LESSON_NAMES:  # learner copies: no nbdev directive, readable by others under the usual umask
        assert not re.search(r'^\s*#\|', ''.join(''.join(c['source']) + '\n' for c in json.loads((course/name).read_text())['cells']), re.M), name
        assert (course/name).stat().st_mode & 0o777 == 0o644, name
    (course/'01_images.ipynb').write_text((course/'01_images.ipynb').read_text().replace('"cells": [', '"cells": [{"cell_type": "markdown", "id": "mine", "metadata": {}, "source": ["my notes"]},', 1))
    mine = (course/'01_images.ipynb').read_text()
    r = _run(installed, installed['bin']/'mnist-sgd', 'lessons', course)
    assert 'kept: 01_images.ipynb has your changes' in r.stdout and (course/'01_images.ipynb').read_text() == mine
    assert not (course/'01_images.new.ipynb').exists()  # the course has not changed since: no .new copy
    # inside the folder, `mnist-sgd course` runs the learner's copies, and says so
    r = _run(installed, installed['bin']/'mnist-sgd', 'course', '--only', '01,02', '--jobs', '2', '--out', installed['tmp']/'executed', cwd=course)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f'from {course.resolve()} (the folder you are in' in r.stdout
    assert re.search(r'01_images\s+ok', r.stdout) and re.search(r'02_pixel_similarity\s+ok', r.stdout) and re.search(r'total\s+2/2 ok', r.stdout)
    assert sorted(p.name for p in (installed['tmp']/'executed').iterdir()) == ['01_images.ipynb', '02_pixel_similarity.ipynb']
    executed = json.loads((installed['tmp']/'executed'/'01_images.ipynb').read_text())
    assert any(c['id'] == 'mine' for c in executed['cells'])  # it ran the learner's own copy


def test_installed_course_runs_its_shipped_lessons_without_a_checkout(installed):
    r = _run(installed, installed['bin']/'mnist-sgd', 'course', '--only', '01')  # no --nbs, no checkout: the lessons inside the install
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"from {_venv_lessons(installed)} (the lessons installed with mnist_sgd" in r.stdout and re.search(r'01_images\s+ok', r.stdout)
