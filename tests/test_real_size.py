"""The course on full-size data: every lesson, run by the course runner with `--source fastai` on a stand-in for fastai's
downloads that has exactly their sizes (tests/standin.py; the real download cannot be reached from the tests)."""
import os, re, subprocess, sys
from pathlib import Path
import pytest
import torch
import mnist_sgd.data as data
from mnist_sgd.data import load_digits, mnist_full, mnist_sample

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def on_standin(standin_home, monkeypatch):
    "fastai's configured data folder is the stand-in's; the network must not be needed."
    from fastai.data.external import fastai_cfg
    def no_network(*a, **k): raise AssertionError('the network was used although the data is cached')
    monkeypatch.setenv('FASTAI_HOME', str(standin_home))
    monkeypatch.setattr(data, '_online', no_network)
    fastai_cfg.cache_clear()
    yield standin_home
    fastai_cfg.cache_clear()


def test_standin_has_fastais_real_sizes(on_standin, capsys):
    path = mnist_sample(source='fastai')
    assert path == on_standin/'data'/'mnist_sample'
    x, y = load_digits(path, 'train')
    assert x.shape == (12_396, 28, 28) and torch.bincount(y)[[3, 7]].tolist() == [6_131, 6_265]
    _, y = load_digits(path, 'valid')
    assert torch.bincount(y)[[3, 7]].tolist() == [1_010, 1_028]
    full = mnist_full(source='fastai')
    assert full == on_standin/'data'/'mnist_png'
    counts = {s: sum(1 for d in range(10) for _ in (full/s/str(d)).glob('*.png')) for s in ('training', 'testing')}
    assert counts == {'training': 60_000, 'testing': 10_000}
    out = capsys.readouterr().out
    assert "Using fastai's real MNIST download: 14,434 images (12,396 train / 2,038 valid)" in out
    assert "Using fastai's real MNIST download: 70,000 images (60,000 training / 10,000 testing)" in out
    assert [l for l in data.data_status() if l[0] != 'ok'] == []


def _table(stdout:str) -> list[tuple[str, str, str]]:
    "The rows (notebook, status, key results) of the runner's results table; key results (and a failed lesson's reason) are on indented lines below each row."
    lines = stdout.splitlines()
    head = next(i for i, l in enumerate(lines) if re.match(r'notebook\s+status\s+seconds', l))
    assert set(lines[head + 1]) == {'-'}
    rows = []
    for l in lines[head + 2:]:
        if set(l) == {'-'}: break
        if l.startswith(' '):  # wrapped below the row it belongs to
            name, status, results = rows[-1]; rows[-1] = (name, status, f'{results} {l.strip()}'.strip()); continue
        name, status, _secs, *rest = re.split(r'\s{2,}', l.strip(), maxsplit=3)
        rows.append((name, status, rest[0] if rest else ''))
    return rows


def test_every_lesson_passes_on_full_size_data(standin_home, tmp_path):
    from mnist_sgd.course.lessons import course_notebooks, find_nbs
    lessons = [p.stem for p in course_notebooks(find_nbs())]
    env = {**os.environ, 'FASTAI_HOME': str(standin_home), 'MNIST_SGD_HOME': str(tmp_path/'home'), 'PYTHONPATH': os.pathsep.join([str(ROOT), *filter(None, [os.environ.get('PYTHONPATH')])])}
    env.pop('MNIST_SGD_SOURCE', None)
    r = subprocess.run([sys.executable, '-m', 'mnist_sgd.course.cli', 'course', '--source', 'fastai', '--jobs', '2'],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    report = r.stdout[r.stdout.find('notebook '):]  # the table, then each failing cell
    tail = (report if len(report) < 12000 else report[:12000] + '\n…') + '\n' + r.stderr[-2000:]
    assert '(data: fastai' in r.stdout, tail
    rows = _table(r.stdout)
    assert [n for n, *_ in rows] == lessons, tail
    failed = [n for n, status, _ in rows if status != 'ok']
    assert not failed, f'lessons failing on full-size data: {failed}\n{tail}'
    assert r.returncode == 0, tail
    assert re.search(rf'^total\s+{len(lessons)}/{len(lessons)} ok', r.stdout, re.M), tail
    for name, _, results in rows:  # a lesson that says where its data came from must say fastai's download
        if 'source=' in results: assert 'source=fastai' in results, (name, results)
