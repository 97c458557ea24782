"The course runner under bad lessons: output capped as it arrives, one broken lesson never ends the run, a table that fits 100 columns (issue 19: 3, 4; issue 20: the table)."
import contextlib, io, math, re, tracemalloc
from pathlib import Path
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from mnist_sgd.course.cli import main
from mnist_sgd.course.runner import OUTPUT_CAP, NotebookRun, results_table, run_course, run_notebook
from test_real_size import _table  # the parser the full-size test reads the table with


def _write(folder, name, *cells):
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in cells]), folder/name)
    return folder/name


def _course(*argv):
    "Run `mnist-sgd course` in this process: (exit status, what it printed)."
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf): status = main(['course', *map(str, argv)])
    return status, buf.getvalue()


# ---------------------------------------------------------------- finding 3: output capped per cell, as it arrives

def test_a_cell_printing_far_too_much_keeps_its_head_tail_and_results_within_the_cap(tmp_path):
    "30 MB printed in 300 flushed pieces: the runner used to keep all of it (and write all of it to the notebook and the site)."
    nb = _write(tmp_path, '01_noisy.ipynb',
                'from mnist_sgd.course.report import report\n'
                'for i in range(300):\n'
                "    print(f'piece {i:03d} ' + 'x' * 100_000, flush=True)\n"
                '    if i == 150: report(halfway=i)',
                "print('the next cell is kept whole')")
    tracemalloc.start()
    try:
        run = run_notebook(nb, timeout=120)
        _, peak = tracemalloc.get_traced_memory()
    finally: tracemalloc.stop()
    assert run.ok, run.error
    outs = run.nb.cells[0].outputs
    text = ''.join(o.get('text', '') for o in outs)
    assert len(text) <= OUTPUT_CAP + 5_000, len(text)  # the first and last half of the cap, a note and the marked line
    assert text.startswith('piece 000 ') and text.endswith('piece 299 ' + 'x' * 100_000 + '\n')
    assert re.search(r'\[… [\d,]+ characters \([\d,]+ lines\) of this cell\'s output cut here', text), text[OUTPUT_CAP // 2 - 100:OUTPUT_CAP // 2 + 400]
    assert run.results == {'halfway': 150}  # a report() line from the part that was cut is kept
    assert run.nb.cells[1].outputs[0].text == 'the next cell is kept whole\n'
    assert peak < 15_000_000, f'{peak:,} bytes at peak for 30 MB printed: the output is not cut as it arrives'
    assert len(nbformat.writes(run.nb)) < OUTPUT_CAP + 50_000


def test_images_after_the_cap_are_counted_not_kept_and_errors_always_kept(tmp_path):
    nb = _write(tmp_path, '01_plots.ipynb',
                'import matplotlib.pyplot as plt\n'
                'from IPython.display import display\n'
                'for i in range(6):\n'
                '    fig, ax = plt.subplots(figsize=(2, 2)); ax.plot([0, i]); display(fig); plt.close(fig)\n'
                "print('x' * 50_000)\n"
                "raise ValueError('the end')")
    run = run_notebook(nb, timeout=120, output_cap=4_000)
    kinds = [o.output_type for o in run.nb.cells[0].outputs]
    assert kinds.count('display_data') < 6 and kinds[-1] == 'error' and not run.ok
    note = next(o.text for o in run.nb.cells[0].outputs if o.output_type == 'stream' and 'cut here' in o.text)
    assert 'image(s) or table(s)' in note and 'ValueError: the end' in run.error


# ---------------------------------------------------------------- finding 4: one bad lesson never ends the run

@pytest.fixture
def mixed_course(tmp_path):
    "Five lessons: two that work, and three that each break the runner in its own way."
    good = "from mnist_sgd.course.report import report\nreport(accuracy=0.75, loss=0.125)"
    _write(tmp_path, '01_good.ipynb', good)
    _write(tmp_path, '02_bare_print.ipynb', 'acc = 0.9\nprint("MNIST_SGD_RESULT", acc)')  # report() was meant
    _write(tmp_path, '03_panel_line.ipynb', 'import sys\nprint("MNIST_SGD_EMPTY_PANEL [oops", file=sys.stderr)')
    (tmp_path/'04_merge_conflict.ipynb').write_text('<<<<<<< HEAD\n{"cells": [], "nbformat": 4}\n=======\n{"cells": []}\n>>>>>>> theirs\n')
    _write(tmp_path, '05_also_good.ipynb', good.replace('0.75', '0.5'))
    return tmp_path


def test_one_bad_lesson_among_good_ones_still_yields_the_results_table(mixed_course):
    "A malformed result line, a malformed empty-panel line, a lesson file with a merge conflict: each used to end the run with a traceback."
    status, out = _course('--nbs', mixed_course, '--jobs', '2')
    assert status == 1
    rows = {name: (st, res) for name, st, res in _table(out)}
    assert list(rows) == ['01_good', '02_bare_print', '03_panel_line', '04_merge_conflict', '05_also_good'], out
    assert rows['01_good'] == ('ok', 'accuracy=0.75, loss=0.125') and rows['05_also_good'] == ('ok', 'accuracy=0.5, loss=0.125')
    assert [rows[n][0] for n in ('02_bare_print', '03_panel_line', '04_merge_conflict')] == ['failed'] * 3
    assert 'malformed MNIST_SGD_RESULT line' in rows['02_bare_print'][1]
    assert 'malformed MNIST_SGD_EMPTY_PANEL line' in rows['03_panel_line'][1]
    assert re.search(r'total\s+2/5 ok', out)
    assert "✗ 04_merge_conflict.ipynb failed in reading the lesson file: it holds an unresolved merge conflict" in out
    assert 'report(accuracy=acc)' in out and 'Traceback' not in out


def test_a_failing_runner_is_a_failed_lesson_too(mixed_course, monkeypatch):
    import mnist_sgd.course.runner as runner
    real = runner.run_notebook
    def flaky(path, *a, **k):
        if Path(path).name.startswith('05'): raise RuntimeError('no kernel could be started')
        return real(path, *a, **k)
    monkeypatch.setattr(runner, 'run_notebook', flaky)
    runs = run_course([mixed_course/'01_good.ipynb', mixed_course/'05_also_good.ipynb'], progress=False, out=mixed_course/'out')
    assert [r.status for r in runs] == ['ok', 'failed'] and 'no kernel could be started' in runs[1].error
    assert sorted(p.name for p in (mixed_course/'out').iterdir()) == ['01_good.ipynb']


def test_the_site_has_a_page_for_a_lesson_that_could_not_be_read(mixed_course, tmp_path):
    status, out = _course('--nbs', mixed_course, '--only', '01,04', '--html', tmp_path/'site')
    assert status == 1 and (tmp_path/'site'/'04_merge_conflict.html').exists()
    assert 'merge conflict' in (tmp_path/'site'/'04_merge_conflict.html').read_text()


# ---------------------------------------------------------------- issue 20: the table fits 100 columns

def test_the_results_table_fits_100_columns_with_key_results_below_each_row():
    long = {'accuracy': 0.987654, 'source': 'fastai', 'device': 'cpu', 'python': '/a/rather/long/path/to/a/virtual/env/bin/python3.11',
            'three_ways_accuracy': [0.9123, 0.9456, 0.9789], 'final_loss': 0.125, 'params': 109_386}
    runs = [NotebookRun(Path('01_images.ipynb'), 'ok', 12.25, long),
            NotebookRun(Path('08_your_own_learner.ipynb'), 'failed', 100.0, {'lr': 0.1},
                        error='cell 3 of 9:\n    assert x\n' + 'Traceback …\nAssertionError: ' + 'why ' * 40)]
    table = results_table(runs, source='fastai')
    lines = table.splitlines()
    assert max(map(len, lines)) <= 100, table
    assert lines[0].split() == ['notebook', 'status', 'seconds'] and re.fullmatch(r'total\s+1/2 ok\s+112\.2\s+data: fastai', lines[-1])
    rows = _table(table)
    assert rows[0] == ('01_images', 'ok', ', '.join(f'{k}={v}' for k, v in
                       {**long, 'accuracy': '0.9877', 'three_ways_accuracy': '[0.9123, 0.9456, 0.9789]'}.items()))
    assert rows[1][:2] == ('08_your_own_learner', 'failed') and rows[1][2].startswith('lr=0.1 ✗ AssertionError: why why')
    assert len([l for l in lines if '✗' in l]) == 1  # the reason takes one line


# ---------------------------------------------------------------- one check for a positive number

@pytest.mark.parametrize('bad', [0, -1, True, math.nan, math.inf, '600'])
def test_a_cell_time_limit_must_be_a_positive_number(tmp_path, bad):
    with pytest.raises(ValueError, match='timeout must be a number above 0'): run_notebook(tmp_path/'x.ipynb', timeout=bad)
    with pytest.raises(ValueError, match='timeout must be a number above 0'): run_course([], timeout=bad)
