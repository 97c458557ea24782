"Shared pytest setup: every test session gets its own fastai home, so nothing lands in ~/.fastai."
import os, tempfile, warnings
from pathlib import Path
import pytest

warnings.filterwarnings('ignore', category=FutureWarning)
_home = Path(tempfile.mkdtemp(prefix='mnist_sgd_tests_'))
os.environ.setdefault('FASTAI_HOME', str(_home/'fastai'))
os.environ.setdefault('MNIST_SGD_HOME', str(_home/'mnist_sgd_home'))
os.environ['MNIST_SGD_SOURCE'] = 'embedded'  # the tests never wait on a network


@pytest.fixture(scope='session')
def sample_path():
    "MNIST_SAMPLE-layout folder (3s and 7s) of the embedded data."
    from mnist_sgd.data import mnist_sample
    return mnist_sample(source='embedded', verbose=False)


@pytest.fixture(scope='session')
def full_path():
    "Full-MNIST-layout folder (all ten digits) of the embedded data."
    from mnist_sgd.data import mnist_full
    return mnist_full(source='embedded', verbose=False)


@pytest.fixture(scope='session')
def data(sample_path):
    "The 3s and 7s as lessons 04-08 train on them: (train rows, train 0/1 targets, valid rows, valid 0/1 targets)."
    from mnist_sgd.data import load_digits
    from mnist_sgd.training import binary_xy
    xs, ys = binary_xy(*load_digits(sample_path, 'train'))
    vxs, vys = binary_xy(*load_digits(sample_path, 'valid'))
    return xs, ys, vxs, vys


@pytest.fixture(scope='session')
def baseline(sample_path):
    "The pixel-similarity baseline's validation accuracy on the embedded 3s and 7s (lesson 02), the score to beat."
    from mnist_sgd.baseline import baseline_accuracy
    from mnist_sgd.data import load_digits
    x, y = load_digits(sample_path, 'train'); vx, vy = load_digits(sample_path, 'valid')
    return baseline_accuracy(vx[vy == 3], vx[vy == 7], x[y == 3].mean(0), x[y == 7].mean(0))['overall']


@pytest.fixture
def fresh_fastai_home(tmp_path, monkeypatch):
    "A fastai home of its own for one test; fastai's cached config is reset before and after."
    from fastai.data.external import fastai_cfg
    monkeypatch.setenv('FASTAI_HOME', str(tmp_path/'fastai'))
    fastai_cfg.cache_clear()
    yield tmp_path/'fastai'
    fastai_cfg.cache_clear()


@pytest.fixture(scope='session')
def standin_home(tmp_path_factory):
    "A fastai home whose data folder holds a stand-in for fastai's real MNIST_SAMPLE and MNIST downloads, with exactly their sizes (built once per session)."
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    try: import standin
    finally: sys.path.remove(str(Path(__file__).parent))
    home = tmp_path_factory.mktemp('standin')/'fastai'
    standin.build(home, workers=max(1, min(2, os.cpu_count() or 1)))
    return home


# The slow tests run whole lessons or a real browser: the real-size stand-in run, the wheel built and installed outside the
# repository, and the browser tests. `pytest -m "not slow"` leaves them out for a quick inner loop (a couple of minutes);
# the README's test command (tools/test.sh) runs everything.
SLOW_FILES = {'test_real_size.py', 'test_site_browser.py', 'test_widgets_browser.py'}
SLOW_FIXTURES = {'standin_home', 'installed', 'browser', 'lab'}


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: runs whole lessons, a built wheel or a real browser (deselect with -m "not slow")')


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in SLOW_FILES or SLOW_FIXTURES & set(getattr(item, 'fixturenames', ())):
            item.add_marker(pytest.mark.slow)
