"The repository keeps its promises: README agrees with the course home, CI runs the README's test command, notebooks are clean."
import json, os, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
        assert pip.call_args.args[0][-1] == 'mnist_sgd[course]' and pip.call_args.args[0][1:4] == ['-m', 'pip', 'install']
        colab.output.enable_custom_widget_manager.assert_called_once()
