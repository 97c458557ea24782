"The repository keeps its promises: README agrees with the course home, CI runs the README's test command, notebooks are clean."
import json, re, subprocess, sys
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
