"The shared file utilities: one atomic write (links followed, modes kept or from the umask, nothing left behind), one positive-number check."
import math, os, signal, stat, subprocess, sys, textwrap, threading, time
from pathlib import Path
import pytest
from mnist_sgd.files import STALE_TMP_SECONDS, atomic_file, atomic_write, check_positive, fresh_mode, real_target, tomllib

posix = pytest.mark.skipif(os.name != 'posix', reason='POSIX links and modes')
ROOT = Path(__file__).resolve().parents[1]


def _leftovers(folder): return sorted(p.name for p in folder.iterdir() if p.name.endswith('.tmp'))


def test_a_write_replaces_the_content_at_once_and_returns_the_file(tmp_path):
    f = tmp_path/'a.json'
    assert atomic_write(f, 'first') == f and f.read_text() == 'first'
    atomic_write(f, b'\x00second'); assert f.read_bytes() == b'\x00second'
    atomic_write(f, 'é'); assert f.read_bytes() == 'é'.encode('utf-8')
    assert _leftovers(tmp_path) == []


@posix
def test_links_are_followed_and_stay_links(tmp_path):
    (tmp_path/'drive').mkdir(); target = tmp_path/'drive'/'real.json'
    (tmp_path/'one').symlink_to('drive/real.json')  # relative, to a file that does not exist yet
    (tmp_path/'two').symlink_to(tmp_path/'one')  # a chain of links
    assert real_target(tmp_path/'two') == tmp_path/'drive'/'real.json'
    assert atomic_write(tmp_path/'two', 'x') == target and target.read_text() == 'x'
    assert (tmp_path/'one').is_symlink() and (tmp_path/'two').is_symlink()
    assert _leftovers(tmp_path) == [] and _leftovers(tmp_path/'drive') == []
    (tmp_path/'loop').symlink_to('loop')
    with pytest.raises(OSError, match='loop of symbolic links'): atomic_write(tmp_path/'loop', 'x')


@posix
@pytest.mark.parametrize('umask', [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_umask_and_an_existing_one_keeps_its_mode(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic_write(tmp_path/'new', 'x')
        assert fresh_mode() == 0o666 & ~umask and fresh_mode(folder=True) == 0o777 & ~umask
        atomic_write(tmp_path/'script', 'x', mode=0o777)
    finally: os.umask(old)
    assert stat.S_IMODE((tmp_path/'new').stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path/'script').stat().st_mode) == 0o777 & ~umask
    (tmp_path/'new').chmod(0o604); atomic_write(tmp_path/'new', 'y')
    assert stat.S_IMODE((tmp_path/'new').stat().st_mode) == 0o604


def test_reading_the_umask_changes_it_for_no_other_thread(tmp_path):
    "fresh_mode reads the umask where Linux shows it, instead of setting it and setting it back under other threads' feet."
    old, stop, seen = os.umask(0o027), threading.Event(), set()
    def watch():
        while not stop.is_set():
            f = tmp_path/f'w{threading.get_ident()}'; f.touch(); seen.add(stat.S_IMODE(f.stat().st_mode)); f.unlink()
    t = threading.Thread(target=watch); t.start()
    try:
        for _ in range(2000): fresh_mode()
    finally: stop.set(); t.join(); os.umask(old)
    if sys.platform.startswith('linux'): assert seen == {0o640}, seen


def test_a_failed_write_leaves_the_old_content_and_no_temporary_file(tmp_path, monkeypatch):
    f = tmp_path/'a.txt'; atomic_write(f, 'old')
    def boom(*a, **k): raise OSError(28, 'No space left on device')
    with monkeypatch.context() as m:
        m.setattr(os, 'fsync', boom)
        with pytest.raises(OSError, match='No space left'): atomic_write(f, 'new')
    assert f.read_text() == 'old' and _leftovers(tmp_path) == []
    def interrupted():
        with atomic_file(f) as out: out.write(b'half'); raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt): interrupted()
    assert f.read_text() == 'old' and _leftovers(tmp_path) == []


def test_a_file_written_in_pieces_appears_only_when_complete(tmp_path):
    f = tmp_path/'big.bin'
    with atomic_file(f) as out:
        for i in range(3):
            out.write(bytes([i]) * 1000)
            assert not f.exists()
    assert f.read_bytes() == b''.join(bytes([i]) * 1000 for i in range(3))


@posix
def test_a_killed_writers_temporary_file_is_removed_by_a_later_write_and_a_live_ones_is_not(tmp_path):
    f = tmp_path/'a.txt'
    code = textwrap.dedent("""
        import os, signal, sys
        from mnist_sgd.files import atomic_write
        os.replace = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
        atomic_write(sys.argv[1], 'never')
    """)
    r = subprocess.run([sys.executable, '-c', code, str(f)], env={**os.environ, 'PYTHONPATH': str(ROOT)}, capture_output=True, timeout=120)
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    left = tmp_path.glob('.a.txt.*.tmp').__next__()
    os.utime(left, (time.time() - 2 * STALE_TMP_SECONDS,) * 2)
    live = tmp_path/'.a.txt.another-writer.tmp'; live.write_text('in flight')
    atomic_write(f, 'now')
    assert not left.exists() and live.exists() and f.read_text() == 'now'


@pytest.mark.parametrize('bad', [0, -1, True, math.nan, math.inf, '3', None, [1]])
def test_check_positive_refuses_what_is_not_a_number_above_0(bad):
    with pytest.raises(ValueError, match='lr must be a number above 0'): check_positive(bad, 'lr', hint='Try lr=0.1.')


def test_check_positive_options():
    assert check_positive(0.5, 'lr') == 0.5 and check_positive(None, 'timeout', none_ok=True) is None
    assert check_positive(4.0, 'bs', integer=True) == 4 and isinstance(check_positive(4.0, 'bs', integer=True), int)
    assert check_positive(math.inf, 'seconds', inf_ok=True) == math.inf
    with pytest.raises(ValueError, match='bs must be a whole number above 0'): check_positive(2.5, 'bs', integer=True)
    with pytest.raises(TimeoutError, match=r'\(or None for no limit\).*Say how long'):
        check_positive(-1, 'timeout', none_ok=True, error=TimeoutError, hint='Say how long.')


def test_tomllib_reads_toml():
    assert tomllib.loads('a = 1\n[b]\nc = "d"') == {'a': 1, 'b': {'c': 'd'}}
