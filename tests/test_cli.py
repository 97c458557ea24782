"Tests of the `mnist-sgd` command and what it calls (lessons, runner, site, doctor), on tiny courses built here."
import errno, json, os, re, shutil, stat, subprocess, sys
from pathlib import Path
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
import mnist_sgd
from mnist_sgd.course import cli, lessons as lessons_mod
from mnist_sgd.course.cli import main
from mnist_sgd.course.doctor import doctor_lines
from mnist_sgd.course.lessons import COLAB_MARK, MANIFEST, CourseError, course_notebooks, find_nbs, locate_lessons
from mnist_sgd.course.report import REPORT_ENV, collect_results, report
from mnist_sgd.course.runner import NotebookRun, results_table, run_course

REPO = Path(__file__).resolve().parent.parent


def _write(folder, name, *cells):
    "A notebook in `folder`: cells starting with '# ' are markdown, the others code."
    cells = [new_markdown_cell(c[2:]) if c.startswith('# ') else new_code_cell(c) for c in cells]
    nbformat.write(new_notebook(cells=cells), folder/name)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    "A course of two lessons (one passes, one fails) plus an index notebook that is not a lesson."
    nbs = tmp_path_factory.mktemp('tiny_course')
    _write(nbs, '01_passes.ipynb', '# # A lesson that works\n> It draws a line and reports numbers.',
           'import os, sys, matplotlib.pyplot as plt\nfrom mnist_sgd.course.report import report',
           'plt.figure(figsize=(2, 1.5)); plt.plot([0, 1], [1, 0]); plt.show()',
           '#| eval: false\nraise RuntimeError("cells marked eval: false are skipped")',
           '#| slow\nraise RuntimeError("cells with a tst_flag are skipped")',
           "report(accuracy=0.75, source=os.environ['MNIST_SGD_SOURCE'], device=os.environ['MNIST_SGD_DEVICE'], python=sys.executable)",
           'report(final_loss=0.125)')
    _write(nbs, '02_fails.ipynb', '# # A lesson that breaks', 'x = 1', "assert x == 2, 'x should be 2 here'", 'print("never reached")')
    _write(nbs, 'index.ipynb', '# # Home', 'raise RuntimeError("index.ipynb is not a lesson")')
    return nbs


@pytest.fixture(scope='module')
def course_run(tiny, tmp_path_factory):
    "One run of `mnist-sgd course` over the tiny course, with executed notebooks and a site written out."
    out, site = tmp_path_factory.mktemp('executed'), tmp_path_factory.mktemp('site')
    import contextlib, io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf): status = main(['course', '--nbs', str(tiny), '--out', str(out), '--html', str(site)])
    return status, buf.getvalue(), out, site


# --- report and collect_results

def test_report_prints_one_marked_json_line(capsys, monkeypatch):
    import torch, numpy as np
    monkeypatch.setenv(REPORT_ENV, '1')  # as in the kernels `mnist-sgd course` starts
    report(accuracy=torch.tensor(0.95), loss=np.float32(0.25), name='linear', curve=[torch.tensor(0.5), 1/3])
    out = capsys.readouterr().out
    assert out.count('\n') == 1 and out.startswith('MNIST_SGD_RESULT ')
    assert json.loads(out.split(' ', 1)[1]) == {'accuracy': 0.95, 'loss': 0.25, 'name': 'linear', 'curve': [0.5, 0.333333]}


def test_report_prints_nothing_in_a_learners_notebook(capsys, monkeypatch):
    "Issue 20: the line of key results the runner reads ended every lesson a learner ran (`MNIST_SGD_RESULT {...}`)."
    import matplotlib.backend_bases as bb
    monkeypatch.delenv(REPORT_ENV, raising=False)
    monkeypatch.setattr(bb.FigureCanvasBase, 'print_figure', lambda self, *a, **kw: None)  # a learner's kernel: no runner's figure check
    assert report(accuracy=0.5) is None and capsys.readouterr().out == ''
    monkeypatch.setenv(REPORT_ENV, '0')
    report(accuracy=0.5); assert capsys.readouterr().out == ''


def test_a_runners_kernel_reports_even_without_the_variable(tiny, monkeypatch):
    "`run_course`/`run_notebook` called directly (the site, the benchmark) set MNIST_SGD_REPORT=1 in their kernels themselves."
    monkeypatch.delenv(REPORT_ENV, raising=False)
    run = run_course(course_notebooks(tiny, '01'), env={'MNIST_SGD_DEVICE': 'cpu'}, progress=False)[0]
    assert run.ok and run.results['accuracy'] == 0.75


def test_the_course_command_asks_the_kernels_for_their_results(course_run):
    status, out, _, _ = course_run
    assert 'accuracy=0.75' in out and 'final_loss=0.125' in out  # `mnist-sgd course` sets MNIST_SGD_REPORT=1 for its kernels


def test_report_rejects_objects_with_a_clear_message():
    import torch
    with pytest.raises(TypeError, match=r'numbers, strings or lists.*float\(x\)'): report(model=torch.nn.Linear(2, 1))


def test_collect_results_merges_in_order_and_ignores_other_output():
    out = lambda t: nbformat.v4.new_output('stream', name='stdout', text=t)
    nb = new_notebook(cells=[new_code_cell(outputs=[out('MNIST_SGD_RESULT {"a": 1}\nnoise MNIST_SGD_RESULT {"b": 2}\n')]),
                             new_markdown_cell('MNIST_SGD_RESULT {"c": 3}'),
                             new_code_cell(outputs=[out('MNIST_SGD_RESULT {"a": 5, "d": 4}\n')])])
    assert collect_results(nb) == {'a': 5, 'd': 4}


# --- finding and choosing lessons

def test_find_nbs_in_the_checkout_and_with_nbs():
    assert find_nbs() == REPO/'nbs'
    with pytest.raises(CourseError, match='no such folder'): find_nbs('/no/such/folder')


def test_find_nbs_without_a_checkout_says_how_to_get_the_notebooks(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_sgd, '__file__', str(tmp_path/'site-packages'/'mnist_sgd'/'__init__.py'))
    monkeypatch.setattr(lessons_mod, 'shipped_lessons', lambda: None)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CourseError, match=r'No course notebooks found.*Reinstall it.*--nbs path/to/the/lessons'): find_nbs()
    assert main(['course']) == 2


def test_course_notebooks_in_order_without_index(tiny):
    assert [p.name for p in course_notebooks(tiny)] == ['01_passes.ipynb', '02_fails.ipynb']
    real = [p.name for p in course_notebooks(REPO/'nbs')]
    assert real[:2] == ['01_images.ipynb', '02_pixel_similarity.ipynb'] and real == sorted(real) and 'index.ipynb' not in real
    assert not any(name.startswith(('00_', '10_')) for name in real)  # library notebooks live in nbs/lib, not among the lessons


@pytest.mark.parametrize('only, names', [('2', ['02_fails']), ('01,02', ['01_passes', '02_fails']), ('fails', ['02_fails']),
                                         ('02_fails.ipynb', ['02_fails']), ('*pass*', ['01_passes']), (['1'], ['01_passes'])])
def test_course_notebooks_only(tiny, only, names):
    assert [p.stem for p in course_notebooks(tiny, only)] == names


def test_course_notebooks_only_unknown_lists_the_choices(tiny, tmp_path):
    with pytest.raises(CourseError, match=r'--only 7,nope matches no lesson .*choose from: 01_passes, 02_fails'):
        course_notebooks(tiny, '01,7,nope')
    with pytest.raises(CourseError, match='holds no lessons'): course_notebooks(tmp_path)
    with pytest.raises(CourseError, match='names no lesson'): course_notebooks(tiny, ' , ')


# --- running the course

def test_course_fails_and_shows_the_failing_cell(course_run):
    status, out, _, _ = course_run
    assert status == 1
    assert re.search(r'01_passes\s+ok\s+[\d.]+\n\s+accuracy=0.75, source=embedded, device=auto,\s+python=\S+,\s+final_loss=0.125', out)
    assert re.search(r'02_fails\s+failed\s+[\d.]+', out) and re.search(r'total\s+1/2 ok\s+[\d.]+\s+data: embedded', out)
    assert "✗ 02_fails.ipynb failed in cell 3 of 4:\n    assert x == 2, 'x should be 2 here'" in out
    assert 'AssertionError: x should be 2 here' in out and '\x1b[' not in out
    assert 'index.ipynb' not in out and 'are skipped' not in out


def test_lessons_run_in_a_kernel_of_this_python(course_run):
    _, out, _, _ = course_run
    assert f'python={sys.executable}' in out


def test_out_holds_the_executed_notebooks(course_run):
    _, _, out, _ = course_run
    assert sorted(p.name for p in out.iterdir()) == ['01_passes.ipynb', '02_fails.ipynb']
    nb = nbformat.read(out/'01_passes.ipynb', as_version=4)
    assert any('image/png' in o.get('data', {}) for o in nb.cells[2].outputs)
    assert nb.cells[3].outputs == [] and 'skip-execution' in nb.cells[3].metadata.tags
    failed = nbformat.read(out/'02_fails.ipynb', as_version=4)
    assert failed.cells[2].outputs[0].output_type == 'error' and failed.cells[3].get('outputs') == []


def test_only_source_and_device_reach_the_kernel(tiny, capsys):
    assert main(['course', '--nbs', str(tiny), '--only', 'passes', '--source', 'auto', '--device', 'cpu']) == 0
    out = capsys.readouterr().out
    assert 'source=auto, device=cpu' in out and '02_fails' not in out and re.search(r'total\s+1/1 ok', out)


def test_a_stale_python3_kernel_spec_does_not_matter(tiny, tmp_path, monkeypatch, capsys):
    spec = tmp_path/'kernels'/'python3'; spec.mkdir(parents=True)
    (spec/'kernel.json').write_text(json.dumps({'argv': ['/nonexistent/python', '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
                                                'display_name': 'stale', 'language': 'python'}))
    monkeypatch.setenv('JUPYTER_PATH', str(tmp_path))
    assert main(['course', '--nbs', str(tiny), '--only', '01']) == 0


def test_timeout_fails_the_lesson(tmp_path, capsys):
    _write(tmp_path, '01_slow.ipynb', 'import time\ntime.sleep(60)')
    assert main(['course', '--nbs', str(tmp_path), '--timeout', '2']) == 1
    out = capsys.readouterr().out
    assert 'timed out' in out and 'time.sleep(60)' in out


def test_flags_run_flagged_cells_too(tmp_path, capsys):
    _write(tmp_path, '01_flagged.ipynb', "#| slow\nfrom mnist_sgd.course.report import report; report(slow_ran=1)")
    assert main(['course', '--nbs', str(tmp_path)]) == 0 and 'slow_ran' not in capsys.readouterr().out
    assert main(['course', '--nbs', str(tmp_path), '--flags', 'slow']) == 0 and 'slow_ran=1' in capsys.readouterr().out


def test_default_jobs():
    assert cli._parser().parse_args(['course']).jobs == min(2, os.cpu_count())


def test_jobs_keep_course_order(tiny):
    runs = run_course(course_notebooks(tiny), env={'MNIST_SGD_DEVICE': 'cpu'}, jobs=2, progress=False)
    assert [(r.path.stem, r.status) for r in runs] == [('01_passes', 'ok'), ('02_fails', 'failed')]


def test_console_script(tiny):
    exe = Path(sys.executable).parent/'mnist-sgd'
    if not exe.exists(): pytest.skip(f'{exe} is not installed (pip install -e . puts it there)')
    res = subprocess.run([str(exe), 'course', '--nbs', str(tiny)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stderr
    assert re.search(r'\[[12]/2\] 01_passes ok', res.stdout) and 'AssertionError: x should be 2 here' in res.stdout


def test_results_table_layout():
    runs = [NotebookRun(Path('01_a.ipynb'), 'ok', 1.25, {'acc': 0.987654, 'n': 3}), NotebookRun(Path('02_bb.ipynb'), 'failed', 10.)]
    assert results_table(runs).splitlines()[-1] == 'total     1/2 ok     11.2'
    assert results_table(runs, source='fastai').splitlines() == [   # key results on their own line below the lesson
        'notebook  status  seconds',
        '-' * 39,
        '01_a      ok          1.2',
        '    acc=0.9877, n=3',
        '02_bb     failed     10.0',
        '-' * 39,
        'total     1/2 ok     11.2  data: fastai']


# --- the site

def test_site_has_index_and_lessons_with_embedded_images(course_run):
    _, out, _, site = course_run
    assert f'Site: {site/"index.html"}' in out
    assert sorted(p.name for p in site.iterdir()) == ['01_passes.html', '02_fails.html', 'index.html', 'results.html']  # the table has its own page
    index, results = (site/'index.html').read_text(), (site/'results.html').read_text()
    assert index.index('href="01_passes.html"') < index.index('href="02_fails.html"')
    assert 'A lesson that works' in index and 'It draws a line' in index  # the syllabus: title and summary
    assert '<code>accuracy</code> = 0.75' in results and '<td class="failed">failed</td>' in results  # the table, on its own page
    first, second = (site/'01_passes.html').read_text(), (site/'02_fails.html').read_text()
    assert 'src="data:image/png;base64,' in first and 'href="02_fails.html"' in first and 'href="index.html"' in first
    assert 'href="01_passes.html"' in second and 'x should be 2 here' in second
    assert '#| eval' not in first and '#| slow' not in first  # nbdev directives are not shown to readers
    assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', first)  # nothing fetched from another host


def test_site_command(tiny, tmp_path, capsys):
    assert main(['site', str(tmp_path/'s'), '--nbs', str(tiny), '--only', '01']) == 0
    assert sorted(p.name for p in (tmp_path/'s').iterdir()) == ['01_passes.html', 'index.html', 'results.html']


# --- the doctor

def test_doctor_lines(monkeypatch, tmp_path):
    from mnist_sgd.data import data_root
    import torch, fastai
    monkeypatch.delenv('MNIST_SGD_DEVICE', raising=False)
    monkeypatch.delenv('MNIST_SGD_ANSWERS', raising=False)
    monkeypatch.setenv('MNIST_SGD_HOME', str(tmp_path/'home'))
    lines = doctor_lines(timeout=0.5)
    text = '\n'.join(lines)
    assert all(l[:2] in ('✓ ', '! ', '✗ ') for l in lines)
    assert all(' — ' in l for l in lines if not l.startswith('✓'))  # everything not fine says what to do
    assert f'Python {sys.version.split()[0]} at {sys.executable}' in text
    assert f'torch {torch.__version__}' in text and f'fastai {fastai.__version__}' in text and 'nbdev' in text
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    assert f'✓ Device: {dev}' in text
    assert f'Data folder: {data_root()}' in text
    assert 'Data will come from: the embedded real-MNIST subset, because MNIST_SGD_SOURCE=embedded' in text
    assert f'Questionnaire answers: {tmp_path/"home"/"questionnaire.json"}' in text
    assert f'✓ Course notebooks: {REPO/"nbs"}' in text


def test_doctor_flags_a_bad_device_setting(monkeypatch, capsys):
    monkeypatch.setenv('MNIST_SGD_DEVICE', 'tpu')
    assert main(['doctor', '--timeout', '0.5']) == 1
    assert "✗ Device: MNIST_SGD_DEVICE='tpu' is not understood" in capsys.readouterr().out


def test_doctor_explains_the_device_choice(monkeypatch):
    monkeypatch.setenv('MNIST_SGD_DEVICE', 'cpu')
    assert any(l.startswith('✓ Device: cpu, because MNIST_SGD_DEVICE=cpu — unset') for l in doctor_lines(timeout=0.5))


def test_doctor_data_offline(monkeypatch, fresh_fastai_home):
    import mnist_sgd.data
    monkeypatch.setattr(mnist_sgd.data, '_online', lambda url, timeout=3.: False)
    monkeypatch.setenv('MNIST_SGD_SOURCE', 'auto')
    line = next(l for l in doctor_lines() if 'Data will come from' in l)
    assert line.startswith('! Data will come from: the embedded real-MNIST subset') and 'no network' in line and 'mnist_sample()' in line
    monkeypatch.setenv('MNIST_SGD_SOURCE', 'fastai')
    line = next(l for l in doctor_lines() if 'Data will come from' in l)
    assert line.startswith('✗ Data will come from: nowhere') and 'MNIST_SGD_SOURCE=auto' in line
    (fresh_fastai_home/'data'/'mnist_sample'/'train').mkdir(parents=True)
    line = next(l for l in doctor_lines() if 'Data will come from' in l)
    assert line.startswith("✓ Data will come from: fastai's real MNIST, cached")


def test_doctor_answers_file(monkeypatch, tmp_path):
    from mnist_sgd.quiz.questionnaire import answers_path
    monkeypatch.delenv('MNIST_SGD_ANSWERS', raising=False)
    monkeypatch.setenv('MNIST_SGD_HOME', str(tmp_path))
    assert answers_path() == tmp_path/'questionnaire.json'  # the doctor reports the questionnaire's own location
    assert any(l.startswith(f'✓ Questionnaire answers: {tmp_path/"questionnaire.json"} (not created yet') for l in doctor_lines(timeout=0.5))
    (tmp_path/'questionnaire.json').write_text('{}')
    line = next(l for l in doctor_lines(timeout=0.5) if 'Questionnaire answers' in l)
    assert line.startswith(f'✓ Questionnaire answers: {tmp_path/"questionnaire.json"} (0 answers, 2 bytes'), line


def test_cuda_without_a_gpu_is_refused_before_running(tiny, capsys):
    import torch
    if torch.cuda.is_available(): pytest.skip('this machine has a GPU')
    assert main(['course', '--nbs', str(tiny), '--device', 'cuda']) == 2
    captured = capsys.readouterr()
    assert 'sees no CUDA GPU' in captured.err and 'Running' not in captured.out


def test_jobs_fetch_the_data_once_before_lessons_start(tmp_path, fresh_fastai_home, capsys):
    for i in (1, 2):
        _write(tmp_path, f'0{i}_data.ipynb', "from mnist_sgd.data import mnist_sample, data_root\n"
               "import os\nfrom mnist_sgd.course.report import report\n"
               "report(images=len(list((mnist_sample()/'train'/'3').iterdir())), threads=os.environ.get('OMP_NUM_THREADS'))")
    assert main(['course', '--nbs', str(tmp_path), '--jobs', '2']) == 0
    threads = os.environ.get('OMP_NUM_THREADS') or str(max(1, os.cpu_count() // 2))  # each kernel gets its share of the cores
    assert capsys.readouterr().out.count(f'images=400, threads={threads}') == 2
    assert (fresh_fastai_home/'data'/'mnist_sgd_embedded'/'mnist_sample'/'train'/'3').is_dir()


# --- requests that cannot work are refused before anything runs (issue 13, finding 17)

@pytest.mark.parametrize('args, message', [
    (['--timeout', '0'], "argument --timeout: '0': give the seconds one cell may take, a whole number above 0"),
    (['--timeout', '-5'], "argument --timeout: '-5': give the seconds one cell may take"),
    (['--timeout', 'soon'], "argument --timeout: 'soon'"),
    (['--jobs', '0'], "argument --jobs: '0': give how many lessons run at once"),
])
def test_bad_numbers_are_refused(tiny, capsys, args, message):
    assert main(['course', '--nbs', str(tiny), *args]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and 'Running' not in captured.out


def test_run_notebook_refuses_a_zero_timeout(tiny):
    with pytest.raises(ValueError, match="a number above 0"): run_course(course_notebooks(tiny), timeout=0)


@pytest.mark.parametrize('only', [',', ' , ', ''])
def test_only_naming_nothing_is_refused(tiny, capsys, only):
    assert main(['course', '--nbs', str(tiny), '--only', only]) == 2
    captured = capsys.readouterr()
    assert 'names no lesson' in captured.err and 'Running' not in captured.out


def test_bad_out_and_html_paths_are_refused_before_the_course_runs(tiny, tmp_path, capsys):
    a_file = tmp_path/'a_file'; a_file.write_text('x')
    for flag in ('--out', '--html'):
        assert main(['course', '--nbs', str(tiny), flag, str(a_file)]) == 2
        captured = capsys.readouterr()
        assert f'{flag} {a_file} is a file, not a folder' in captured.err and 'Running' not in captured.out
        assert main(['course', '--nbs', str(tiny), flag, str(a_file/'below')]) == 2
        captured = capsys.readouterr()
        assert f'{flag} {a_file/"below"}: cannot write there' in captured.err and 'Running' not in captured.out
    assert main(['site', str(a_file), '--nbs', str(tiny)]) == 2 and 'is a file, not a folder' in capsys.readouterr().err
    before = {p.name: p.read_bytes() for p in tiny.iterdir()}
    assert main(['course', '--nbs', str(tiny), '--out', str(tiny)]) == 2  # executed copies would overwrite the lessons
    assert 'the lessons folder itself' in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in tiny.iterdir()} == before


def test_a_read_only_out_folder_is_refused(tiny, tmp_path):
    ro = tmp_path/'ro'; ro.mkdir(); ro.chmod(0o555)
    code = (f"import sys; from mnist_sgd.course.cli import main; sys.exit(main(['course', '--nbs', {str(tiny)!r}, '--out', {str(ro/'x')!r}]))")
    r = subprocess.run([*_unprivileged(), sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f'--out {ro/"x"}: cannot write there (Permission denied)' in r.stderr and 'Running' not in r.stdout


def _unprivileged() -> list:
    "A command prefix that runs without root's power to write anywhere (nothing when we are not root)."
    if os.geteuid() != 0: return []
    if not shutil.which('setpriv'): pytest.skip('running as root without setpriv: cannot test a read-only folder')
    return ['setpriv', '--bounding-set=-dac_override,-dac_read_search,-fowner', '--inh-caps=-all']


# --- empty panels fail the lesson (issue 9, item 5)

def test_a_figure_with_an_empty_panel_fails_the_lesson(tmp_path, capsys):
    _write(tmp_path, '01_empty.ipynb', 'import matplotlib.pyplot as plt',
           "fig, (a, b) = plt.subplots(1, 2, figsize=(3, 1.5))\na.plot([0, 1], [1, 0]); b.set_title('a smooth slope')\nplt.show()")
    _write(tmp_path, '02_full.ipynb', 'import matplotlib.pyplot as plt',
           "fig, (a, b, c) = plt.subplots(1, 3, figsize=(3, 1.5))\na.plot([0, 1], [1, 0]); b.imshow([[0, 1]]); c.axis('off')\nplt.show()")
    _write(tmp_path, '03_value.ipynb', 'import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(2, 1)); plt.close(fig)', 'fig')
    assert main(['course', '--nbs', str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert re.search(r'01_empty\s+failed', out) and re.search(r'02_full\s+ok', out) and re.search(r'03_value\s+failed', out)
    assert "✗ 01_empty.ipynb failed in cell 2 of 2:" in out and "draws a figure with nothing in panel 2 of 2 ('a smooth slope')" in out
    assert "✗ 03_value.ipynb failed in cell 2 of 2:" in out  # a figure shown as a cell's value is checked too


def test_the_figure_check_counts_every_kind_of_mark():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from mnist_sgd.course.runner import empty_panels
    fig, axs = plt.subplots(1, 6)
    axs[0].plot([]); axs[1].bar([1], [2]); axs[2].scatter([1], [2]); axs[3].text(.5, .5, 'hi'); axs[4].hist([1, 2, 2])
    axs[5].set_title('empty')
    assert empty_panels(fig) == ['panel 1 of 6', "panel 6 of 6 ('empty')"]  # a line with no points draws nothing
    plt.close(fig)


# --- mnist-sgd lessons DIR

def test_lessons_copies_out_and_keeps_the_learners_edits(tmp_path, capsys):
    dest = tmp_path/'course'
    assert main(['lessons', str(dest)]) == 0
    names = sorted(p.name for p in dest.glob('*.ipynb'))
    assert names == sorted(p.name for p in (REPO/'nbs').glob('[0-9]*.ipynb'))
    lesson = dest/names[0]
    lesson.write_text(lesson.read_text().replace('"cells": [', '"cells": [{"cell_type": "markdown", "id": "mine", "metadata": {}, "source": ["mine"]},', 1))
    mine = lesson.read_bytes()
    capsys.readouterr()
    assert main(['lessons', str(dest)]) == 0
    out = capsys.readouterr().out
    assert f'up to date: {names[1]}' in out and lesson.read_bytes() == mine
    # a newer course: unchanged copies are refreshed, the edited one is kept and the new version goes beside it
    src = tmp_path/'newer'; src.mkdir()
    for n in names: (src/n).write_bytes((REPO/'nbs'/n).read_bytes().replace(b'"cells": [', b'"cells": [{"cell_type": "markdown", "id": "v2", "metadata": {}, "source": ["v2"]},', 1))
    assert main(['lessons', str(dest), '--nbs', str(src)]) == 0
    out = capsys.readouterr().out
    assert f'updated: {names[1]}' in out and b'"v2"' in (dest/names[1]).read_bytes()
    assert f'kept: {lesson.name} has your changes' in out and lesson.read_bytes() == mine
    assert b'"v2"' in (dest/f'{lesson.stem}.new.ipynb').read_bytes()


def _src_lines(nb:Path) -> list[str]:
    return [l for c in json.loads(nb.read_text())['cells'] for l in ''.join(c['source']).splitlines()]


def test_lessons_are_clean_learner_copies(tmp_path):
    "Issue 20: a learner's copy showed nbdev directives, the Colab setup code and the harness cells."
    dest = tmp_path/'course'
    assert main(['lessons', str(dest)]) == 0
    for nb in sorted(dest.glob('[0-9]*.ipynb')):
        src = json.loads((REPO/'nbs'/nb.name).read_text())['cells']
        cells = json.loads(nb.read_text())['cells']
        assert not [l for l in _src_lines(nb) if l.lstrip().startswith('#|')], f'{nb.name} has directive lines'
        assert not any(COLAB_MARK in ''.join(c['source']) for c in cells), f'{nb.name}: the Colab cell is for Colab only'
        hidden = [''.join(c['source']) for c in src if c['cell_type'] == 'code' and ''.join(c['source']).startswith('#| hide')
                  and COLAB_MARK not in ''.join(c['source'])]
        collapsed = [''.join(c['source']) for c in cells if c['metadata'].get('jupyter', {}).get('source_hidden')]
        assert len(collapsed) == len(hidden) and all(h.split('\n', 1)[1].strip() == c for h, c in zip(hidden, collapsed)), nb.name
        assert [c['id'] for c in cells if c['cell_type'] == 'markdown'] == [c['id'] for c in src if c['cell_type'] == 'markdown']


def test_lessons_follow_the_umask_and_keep_an_updated_lessons_mode(tmp_path, tiny):
    "Issue 19: copies were mode 0600 whatever the umask, and an updated lesson lost its mode."
    old = os.umask(0o022)
    try:
        assert main(['lessons', str(tmp_path/'shared'), '--nbs', str(tiny)]) == 0
        os.umask(0o077)
        assert main(['lessons', str(tmp_path/'private'), '--nbs', str(tiny)]) == 0
    finally: os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)
    assert {mode(p) for p in (tmp_path/'shared').iterdir()} == {0o644}  # readable by the class, the manifest too
    assert {mode(p) for p in (tmp_path/'private').iterdir()} == {0o600}
    lesson = tmp_path/'shared'/'01_passes.ipynb'; lesson.chmod(0o664)  # a teacher lets the group write
    newer = tmp_path/'newer'; shutil.copytree(tiny, newer)
    _write(newer, '01_passes.ipynb', '# # A lesson that works, version 2')
    assert main(['lessons', str(tmp_path/'shared'), '--nbs', str(newer)]) == 0
    assert 'version 2' in lesson.read_text() and mode(lesson) == 0o664


def test_lessons_update_a_symlinked_lesson_through_its_link(tmp_path, tiny):
    "Issue 19: a lesson kept as a link into a synced folder was replaced by a plain file on update."
    dest, synced = tmp_path/'course', tmp_path/'Dropbox'
    assert main(['lessons', str(dest), '--nbs', str(tiny)]) == 0
    synced.mkdir(); (dest/'01_passes.ipynb').rename(synced/'01_passes.ipynb')
    (dest/'01_passes.ipynb').symlink_to(synced/'01_passes.ipynb')
    newer = tmp_path/'newer'; shutil.copytree(tiny, newer)
    _write(newer, '01_passes.ipynb', '# # A lesson that works, version 2')
    assert main(['lessons', str(dest), '--nbs', str(newer)]) == 0
    assert (dest/'01_passes.ipynb').is_symlink() and 'version 2' in (synced/'01_passes.ipynb').read_text()
    assert not list(dest.glob('.*.tmp')) and not list(synced.glob('.*.tmp'))


def test_a_new_copy_appears_only_when_the_course_changed(tmp_path, tiny, capsys):
    "Issue 20: an edited lesson got a .new file on every rerun, though the course had not changed."
    dest = tmp_path/'course'
    assert main(['lessons', str(dest), '--nbs', str(tiny)]) == 0
    lesson = dest/'02_fails.ipynb'
    lesson.write_text(lesson.read_text().replace('x = 1', 'x = 2  # my fix'))
    for _ in range(2):
        capsys.readouterr()
        assert main(['lessons', str(dest), '--nbs', str(tiny)]) == 0
        assert "kept: 02_fails.ipynb has your changes (the course's version has not changed since" in capsys.readouterr().out
        assert not (dest/'02_fails.new.ipynb').exists()
    newer = tmp_path/'newer'; shutil.copytree(tiny, newer)
    _write(newer, '02_fails.ipynb', '# # A lesson that breaks, version 2', 'x = 1')
    assert main(['lessons', str(dest), '--nbs', str(newer)]) == 0
    assert 'version 2' in (dest/'02_fails.new.ipynb').read_text() and 'my fix' in lesson.read_text()
    (dest/'02_fails.new.ipynb').unlink()  # the learner read it and deleted it: it does not come back until the next change
    assert main(['lessons', str(dest), '--nbs', str(newer)]) == 0 and not (dest/'02_fails.new.ipynb').exists()


def test_lessons_into_a_read_only_folder_is_a_clean_error(tmp_path, tiny):
    "Issue 19: the manifest write in `finally` turned a read-only folder into a raw traceback."
    ro = tmp_path/'ro'; ro.mkdir(); ro.chmod(0o555)
    code = f"import sys; from mnist_sgd.course.cli import main; sys.exit(main(['lessons', {str(ro)!r}, '--nbs', {str(tiny)!r}]))"
    r = subprocess.run([*_unprivileged(), sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert 'Traceback' not in r.stderr and f'cannot write the lessons into {ro}' in r.stderr and 'permission denied' in r.stderr, r.stderr


def test_lessons_on_a_full_disk_is_a_clean_error(tmp_path, tiny, monkeypatch, capsys):
    dest = tmp_path/'course'
    assert main(['lessons', str(dest), '--nbs', str(tiny)]) == 0
    newer = tmp_path/'newer'; shutil.copytree(tiny, newer)
    _write(newer, '01_passes.ipynb', '# # version 2'); _write(newer, '02_fails.ipynb', '# # version 2')
    real = os.replace
    def full(a, b, *args, **kw):  # the disk fills up: nothing more lands in the course folder
        if Path(b).parent == dest: raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(b))
        return real(a, b, *args, **kw)
    monkeypatch.setattr(os, 'replace', full)
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    capsys.readouterr()
    assert main(['lessons', str(dest), '--nbs', str(newer)]) == 2
    err = capsys.readouterr().err
    assert f'cannot write the lessons into {dest}' in err and 'the disk is full' in err and 'free some space' in err, err
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before  # nothing half-written, no temporary file left


def test_course_and_doctor_inside_a_folder_of_lessons_use_them(tmp_path, tiny, monkeypatch, capsys):
    "Issue 20: `mnist-sgd course` run inside ~/mnist_course ran the copies inside the venv; `doctor` pointed there too."
    dest = tmp_path/'course'
    only_pass = tmp_path/'one'; only_pass.mkdir(); shutil.copy(tiny/'01_passes.ipynb', only_pass)
    assert main(['lessons', str(dest), '--nbs', str(only_pass)]) == 0
    monkeypatch.chdir(dest)
    assert locate_lessons() == (dest.resolve(), 'the folder you are in; --nbs DIR picks another')
    capsys.readouterr()
    assert main(['course', '--jobs', '1']) == 0
    out = capsys.readouterr().out
    assert f'Running 1 lesson(s) from {dest.resolve()} (the folder you are in' in out and re.search(r'01_passes\s+ok', out)
    line = next(l for l in doctor_lines(timeout=0.5) if 'Course notebooks' in l)
    assert line.startswith(f'✓ Course notebooks: {dest.resolve()} (1 lesson; the folder you are in'), line
    monkeypatch.chdir(tmp_path)  # elsewhere, the checkout as before
    assert locate_lessons()[0] == REPO/'nbs'
    # `mnist-sgd lessons` run inside the folder updates it from the course, never from itself
    monkeypatch.chdir(dest)
    assert main(['lessons', '.', '--nbs', str(only_pass)]) == 0 and main(['lessons', str(tmp_path/'again')]) == 0
    assert (tmp_path/'again'/'01_images.ipynb').exists()


def test_lessons_into_a_file_is_refused(tmp_path, capsys):
    (tmp_path/'f').write_text('x')
    assert main(['lessons', str(tmp_path/'f')]) == 2 and 'is a file, not a folder' in capsys.readouterr().err


# --- the doctor's traps (issue 12 item 4; issue 13 findings 14 and 15)

def test_doctor_reports_the_platform_and_widgets(monkeypatch):
    monkeypatch.delenv('MNIST_SGD_DEVICE', raising=False)
    lines = doctor_lines(timeout=0.5)
    assert lines[0].startswith('✓ Platform: Linux') or lines[0].startswith('✓ Platform: ')
    assert any(l.startswith('✓ Jupyter widget extension') for l in lines)  # the test environment has JupyterLab's widget extension


def test_doctor_flags_windows_workers_and_a_cpu_colab(monkeypatch):
    from mnist_sgd.course import doctor
    monkeypatch.setattr(doctor, 'platform_kind', lambda: 'windows')
    assert any(l.startswith('! Windows: a DataLoader with num_workers > 0') for l in doctor_lines(timeout=0.5))
    monkeypatch.setattr(doctor, 'platform_kind', lambda: 'colab')
    import torch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    lines = doctor_lines(timeout=0.5)
    assert any(l.startswith('! Colab: this runtime has no GPU — Runtime → Change runtime type') for l in lines)
    assert any(l.startswith('✓ Widgets on Colab') for l in lines)


def test_doctor_flags_a_jupyter_without_the_widget_extension(tmp_path, monkeypatch):
    from mnist_sgd.course import doctor
    line = doctor._widget_lines('linux', [tmp_path])[0]
    assert line.startswith("! JupyterLab's widget extension is missing (@jupyter-widgets/jupyterlab-manager, ipycanvas)")
    assert 'pip install jupyterlab_widgets ipycanvas' in line


def test_doctor_does_not_warn_course_only_learners_about_dev_tools(tmp_path, monkeypatch):
    "Issue 20: `doctor` warned a learner who installed only the course that nbdev does not import."
    from mnist_sgd.course import doctor
    import importlib
    real = importlib.import_module
    def no_dev_tools(name, *a):
        if name in ('nbdev', 'pytest'): raise ModuleNotFoundError(f"No module named '{name}'")
        return real(name, *a)
    monkeypatch.setattr(importlib, 'import_module', no_dev_tools)
    monkeypatch.setattr(doctor, 'package_checkout', lambda: None)  # an installed package, not a clone
    monkeypatch.chdir(tmp_path)
    lines = doctor._versions()
    assert not any('nbdev' in l or 'pytest' in l for l in lines) and all(l.startswith('✓') for l in lines), lines
    monkeypatch.chdir(REPO)  # in a clone, someone may change and test the course: then say what is missing
    line = next(l for l in doctor._versions() if 'nbdev' in l)
    assert line.startswith('! nbdev does not import') and '.[dev]' in line


def test_doctor_names_a_fastai_home_that_is_a_file(tmp_path, monkeypatch):
    "Issue 19: it said 'FileExistsError: File exists ... repair the install first' while every line above was fine."
    home = tmp_path/'fastai_home'; home.write_text('not a folder')
    monkeypatch.setenv('FASTAI_HOME', str(home))
    lines = doctor_lines(timeout=0.5)
    line = next(l for l in lines if 'FASTAI_HOME' in l)
    assert line.startswith(f'✗ Data folder: FASTAI_HOME={home} is a file, not a folder — point FASTAI_HOME at a folder'), line
    assert not any('repair the install' in l or 'FileExistsError' in l for l in lines), lines


def test_doctor_flags_mnist_sgd_home_that_is_a_file(tmp_path, monkeypatch, capsys):
    home = tmp_path/'home'; home.write_text('not a folder')
    monkeypatch.delenv('MNIST_SGD_ANSWERS', raising=False)
    monkeypatch.setenv('MNIST_SGD_HOME', str(home))
    assert main(['doctor', '--timeout', '0.5']) == 1
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if 'Questionnaire answers' in l)
    assert line.startswith('✗ Questionnaire answers cannot be saved:') and f'{home} is a file, not a folder' in line, out
    assert 'MNIST_SGD_ANSWERS' in line and out.count('Questionnaire answers') == 1  # what to do, said once


def test_doctor_flags_a_read_only_data_folder(tmp_path):
    ro = tmp_path/'fastai'; (ro/'data').mkdir(parents=True); (ro/'data').chmod(0o555)
    env = {**os.environ, 'FASTAI_HOME': str(ro), 'MNIST_SGD_SOURCE': 'embedded'}
    code = "from mnist_sgd.course.doctor import _data_lines; print('\\n'.join(_data_lines(0.5)))"
    r = subprocess.run([*_unprivileged(), sys.executable, '-c', code], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    line = next(l for l in r.stdout.splitlines() if 'read-only' in l)  # the doctor's own check, or the data module's data_status
    assert line[:2] in ('! ', '✗ ') and str(ro/'data') in line and 'FASTAI_HOME' in line, r.stdout


def test_doctor_shows_the_data_modules_own_findings(monkeypatch):
    import mnist_sgd.data
    from mnist_sgd.course import doctor
    monkeypatch.setattr(mnist_sgd.data, 'data_status', lambda: [('ok', 'Data folder: /x (writable)', ''), ('warn', 'a finding', 'advice')], raising=False)
    lines = doctor._data_lines(0.5)
    assert lines[:2] == ['✓ Data folder: /x (writable)', '! a finding — advice']


def test_doctor_uses_the_modules_own_status_checks_when_they_exist(monkeypatch):
    import types
    from mnist_sgd.course import doctor
    fake = types.ModuleType('mnist_sgd.quiz.answers'); fake.answers_status = lambda: (False, 'answers file is locked by another kernel')
    monkeypatch.setitem(sys.modules, 'mnist_sgd.quiz.answers', fake)
    assert doctor._answers_lines() == ['✗ Questionnaire answers cannot be saved: answers file is locked by another kernel']
