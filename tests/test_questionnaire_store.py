"The answers file: locked, atomic, BOM-tolerant, never replaced when read-only, clear errors for a bad place (issue 13: 1, 2, 3, 15)."
import json, os, signal, stat, subprocess, sys, textwrap, time, warnings
from pathlib import Path
import pytest
import mnist_sgd.quiz.answers as am
from mnist_sgd.quiz.answers import answers_status, lock_path, update, entry
from mnist_sgd.quiz.questionnaire import (AnswersFileError, AnswersFileWarning, Question, answer, answers_path, assess, check, load_answers,
                                     predict, progress, save_answers, saved_answer)
from qhelpers import home

ROOT = Path(__file__).resolve().parent.parent




def saved_file(): return answers_path()
def files_beside(f): return sorted(p.name for p in f.parent.iterdir() if p.name != lock_path(f).name)
def pairs(xs, ys): return list(zip(xs, ys))
def _env(**kw): return os.environ | {'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1'} | kw


# ---------------------------------------------------------------- where answers live

def test_location_follows_argument_then_env_then_home(home, tmp_path, monkeypatch):
    assert answers_path() == home/'questionnaire.json'
    monkeypatch.setenv('MNIST_SGD_ANSWERS', str(tmp_path/'elsewhere.json'))
    assert answers_path() == tmp_path/'elsewhere.json'
    assert answers_path(tmp_path/'given.json') == tmp_path/'given.json'
    assert answers_path(tmp_path) == tmp_path/'questionnaire.json'
    monkeypatch.delenv('MNIST_SGD_ANSWERS'); monkeypatch.delenv('MNIST_SGD_HOME'); monkeypatch.setenv('HOME', str(tmp_path/'me'))
    assert answers_path() == tmp_path/'me'/'.mnist_sgd'/'questionnaire.json'


def test_answers_go_where_asked(home, tmp_path, monkeypatch):
    answer('bias', 'an offset')
    assert load_answers(home/'questionnaire.json')['answers']['bias']['text'] == 'an offset'
    monkeypatch.setenv('MNIST_SGD_ANSWERS', str(tmp_path/'other.json'))
    answer('view', 'same numbers, new shape')
    assert 'view' in load_answers(tmp_path/'other.json')['answers'] and 'view' not in load_answers(home)['answers']
    answer('view', 'again', path=tmp_path/'third.json')
    assert saved_answer('view', path=tmp_path/'third.json') == 'again'


def test_answers_env_ending_in_a_slash_means_a_file_inside_that_folder(tmp_path, monkeypatch):
    "Finding 15: MNIST_SGD_ANSWERS='new/' used to create a file called `new`."
    monkeypatch.chdir(tmp_path); monkeypatch.setenv('MNIST_SGD_ANSWERS', 'new/')
    answer('bias', 'an offset')
    assert (tmp_path/'new').is_dir() and (tmp_path/'new'/'questionnaire.json').is_file()
    assert answers_path() == Path('new')/'questionnaire.json'


# ---------------------------------------------------------------- finding 15: MNIST_SGD_HOME pointing to a file

@pytest.fixture
def home_is_a_file(tmp_path, monkeypatch):
    f = tmp_path/'not_a_folder'; f.write_text('I am a file')
    monkeypatch.setenv('MNIST_SGD_HOME', str(f))
    return f

def test_home_pointing_to_a_file_gives_a_clear_error_to_answer_and_progress(home_is_a_file):
    for call in (lambda: answer('bias', 'x'), lambda: progress(), lambda: assess('bias', [1]), lambda: load_answers()):
        with pytest.raises(AnswersFileError, match=r'is a file, not a folder \(set by MNIST_SGD_HOME\).*point MNIST_SGD_ANSWERS'):
            call()
    assert home_is_a_file.read_text() == 'I am a file'


def test_home_pointing_to_a_file_still_shows_the_checks_result(home_is_a_file):
    res = check('zip-pairs', pairs)
    assert res.passed and 'Not saved' in res.note and 'is a file, not a folder' in res.note
    res = check('zip-pairs', lambda xs, ys: zip(xs, ys))
    assert res.status == 'failed' and 'zip` is lazy' in '\n'.join(res.hints) and 'Not saved' in res.note
    assert 'Not saved' in predict('backward', 'tensor(12.)')


def test_answers_status_says_whether_the_place_is_usable(home, home_is_a_file, tmp_path, monkeypatch):
    ok, msg = answers_status()
    assert not ok and 'is a file, not a folder' in msg and 'MNIST_SGD_ANSWERS' in msg
    monkeypatch.setenv('MNIST_SGD_HOME', str(tmp_path/'fresh'))
    assert answers_status() == (True, f"{tmp_path/'fresh'/'questionnaire.json'} (not created yet; lesson 09 writes it)")
    assert not (tmp_path/'fresh').exists()  # looking creates nothing
    answer('bias', 'x')
    ok, msg = answers_status(); assert ok and '1 answers' in msg
    answers_path().chmod(0o444)
    ok, msg = answers_status(); assert not ok and 'read-only' in msg
    answers_path().chmod(0o644); answers_path().write_text('{oops')
    ok, msg = answers_status(); assert not ok and 'damaged' in msg and not list(answers_path().parent.glob('*.corrupt-*'))


# ---------------------------------------------------------------- finding 2: a byte-order mark

def test_an_answers_file_with_a_bom_is_read_not_treated_as_corrupt():
    f = saved_file(); f.parent.mkdir(parents=True)
    f.write_bytes('\ufeff'.encode() + json.dumps({'answers': {'bias': {'text': 'an offset'}, 'view': {'text': 'a reshape'}}}).encode())
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert progress().attrs['summary'].startswith('2 of 37 answered')
        answer('rank-vs-shape', 'len(shape)')
    assert not list(f.parent.glob('*.corrupt-*'))
    assert {'bias', 'view', 'rank-vs-shape'} <= set(load_answers()['answers'])


# ---------------------------------------------------------------- finding 3: a read-only answers file

def test_a_read_only_answers_file_is_never_replaced_nor_its_mode_changed():
    answer('bias', 'keep me')
    f = saved_file(); f.chmod(0o444); before = f.read_bytes(); inode = f.stat().st_ino
    with pytest.raises(AnswersFileError, match=r'is read-only, so it was left exactly as it is.*chmod u\+w.*MNIST_SGD_ANSWERS'):
        answer('bias', 'replace me')
    with pytest.raises(AnswersFileError, match='read-only'): assess('bias', [1])
    res = check('zip-pairs', pairs)
    assert res.passed and 'read-only' in res.note
    assert f.read_bytes() == before and stat.S_IMODE(f.stat().st_mode) == 0o444 and f.stat().st_ino == inode
    assert files_beside(f) == ['questionnaire.json']
    f.chmod(0o644)


def test_a_read_only_file_is_refused_for_an_unprivileged_user_too(tmp_path):
    "As root the mode bits are what protect the file; without root's capabilities the system refuses as well."
    f = tmp_path/'ro.json'; save_answers({'answers': {'bias': {'text': 'keep'}}}, f); f.chmod(0o444)
    code = ("import sys; from mnist_sgd.quiz.questionnaire import answer, AnswersFileError\n"
            "try: answer('bias', 'x', path=sys.argv[1])\nexcept AnswersFileError as e: print('refused:', e)")
    cmd = [sys.executable, '-c', code, str(f)]
    if os.geteuid() == 0 and subprocess.run(['which', 'setpriv'], capture_output=True).returncode == 0:
        cmd = ['setpriv', '--bounding-set=-dac_override,-dac_read_search,-fowner', '--inh-caps=-all'] + cmd
    out = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)
    assert 'refused:' in out.stdout and 'read-only' in out.stdout, out.stderr[-2000:]
    assert json.loads(f.read_text())['answers']['bias']['text'] == 'keep'
    f.chmod(0o644)


def test_a_folder_that_cannot_be_written_gives_a_clear_error(tmp_path, monkeypatch):
    ro = tmp_path/'locked'; ro.mkdir()
    monkeypatch.setenv('MNIST_SGD_HOME', str(ro))
    def no(*a, **k): raise PermissionError(13, 'Permission denied')
    import tempfile
    monkeypatch.setattr(tempfile, 'mkstemp', no)
    monkeypatch.setattr(am.FileLock, 'acquire', no)
    with pytest.raises(AnswersFileError, match='Could not save your answers.*Permission denied.*MNIST_SGD_ANSWERS'): answer('bias', 'x')


# ---------------------------------------------------------------- finding 1: concurrent kernels lose nothing

WRITER = textwrap.dedent("""
    import sys
    from mnist_sgd.quiz.questionnaire import Question, answer
    name, n = sys.argv[1], int(sys.argv[2])
    qs = [Question(f'{name}-{i}', 't', f'Question {i} of {name}?', 'An answer long enough.', ('one point', 'two points')) for i in range(n)]
    for i in range(n): answer(f'{name}-{i}', f'answer {i} from {name}', questions=qs)
    print('done', name)
""")

def test_three_processes_each_saving_100_answers_keep_all_of_them(home):
    procs = [subprocess.Popen([sys.executable, '-c', WRITER, name, '100'], env=_env(MNIST_SGD_HOME=str(home)), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for name in ('a', 'b', 'c')]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [e[-2000:] for _, e in outs]
    answers = load_answers()['answers']
    for name in 'abc':
        for i in range(100): assert answers[f'{name}-{i}']['text'] == f'answer {i} from {name}', (name, i)
    assert len(answers) == 300


CHECKER = textwrap.dedent("""
    import sys, time
    from mnist_sgd.quiz.questionnaire import check
    right = lambda xs, ys: list(zip(xs, ys))
    wrong = lambda xs, ys: list(zip(ys, xs))
    end = time.monotonic() + float(sys.argv[1]); n = 0
    while time.monotonic() < end or n < 10:
        check('zip-pairs', right if n % 2 else wrong); n += 1
    check('zip-pairs', right)
    print(n)
""")

def test_one_kernel_answering_while_another_runs_checks_in_a_loop(home):
    checker = subprocess.Popen([sys.executable, '-c', CHECKER, '8'], env=_env(MNIST_SGD_HOME=str(home)), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    writer = subprocess.Popen([sys.executable, '-c', WRITER, 'w', '60'], env=_env(MNIST_SGD_HOME=str(home)), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    w_out, c_out = writer.communicate(timeout=300), checker.communicate(timeout=300)
    assert writer.returncode == 0 and checker.returncode == 0, (w_out[1][-2000:], c_out[1][-2000:])
    assert int(c_out[0].split()[-1]) >= 10  # the checks really ran, and wrote, many times
    answers = load_answers()['answers']
    assert all(answers[f'w-{i}']['text'] == f'answer {i} from w' for i in range(60))
    assert answers['zip-pairs']['check']['status'] == 'passed'


def test_the_lock_times_out_with_a_message(monkeypatch):
    from filelock import FileLock
    answer('bias', 'first')
    other = FileLock(str(lock_path(saved_file()))); other.acquire()
    try:
        monkeypatch.setattr(am, 'LOCK_TIMEOUT', 0.3)
        code = ("import mnist_sgd.quiz.answers as am; am.LOCK_TIMEOUT = 0.3\nfrom mnist_sgd.quiz.questionnaire import answer, AnswersFileError\n"
                "try: answer('bias', 'second')\nexcept AnswersFileError as e: print('refused:', e)")
        out = subprocess.run([sys.executable, '-c', code], env=_env(MNIST_SGD_HOME=os.environ['MNIST_SGD_HOME']), capture_output=True, text=True, timeout=120)
    finally: other.release()
    assert 'Another kernel has been saving answers' in out.stdout, out.stderr[-2000:]
    assert saved_answer('bias') == 'first'


# ---------------------------------------------------------------- answers are never lost

def test_empty_answer_never_overwrites_a_saved_one():
    assert 'not answered yet' in answer('bias', '   \n  ')
    assert not saved_file().exists()
    answer(28, 'A learned offset.')
    before = saved_file().read_bytes()
    for empty in ('', '\n\n', None):
        msg = answer('bias', empty)
        assert 'is kept' in msg and 'A learned offset.' in msg
    assert saved_file().read_bytes() == before and saved_answer('bias') == 'A learned offset.'


def test_same_answer_again_is_not_rewritten_and_a_new_one_keeps_the_old_in_history():
    answer('bias', 'first')
    before = saved_file().read_bytes()
    assert 'unchanged' in answer('bias', '\n  first\n')
    assert saved_file().read_bytes() == before
    answer('bias', 'second'); answer('bias', 'third')
    e = load_answers()['answers']['bias']
    assert e['text'] == 'third' and [h['text'] for h in e['history']] == ['first', 'second']


def test_answer_rejects_code_given_as_an_answer():
    with pytest.raises(TypeError, match=r"check\('bias', your_function\)"): answer('bias', lambda: 1)


# ---------------------------------------------------------------- the file on disk: atomic, and never silently replaced

# ---------------------------------------------------------------- the file on disk: atomic, and never silently replaced

def test_a_crash_while_replacing_the_file_leaves_it_intact(monkeypatch):
    answer('bias', 'safe')
    before = saved_file().read_bytes()
    def crash(*a, **k): raise OSError('power cut')
    with monkeypatch.context() as m:
        m.setattr(am.os, 'replace', crash)
        with pytest.raises(AnswersFileError, match='earlier answers are safe'): answer('bias', 'lost?')
    assert saved_file().read_bytes() == before and saved_answer('bias') == 'safe'
    assert files_beside(saved_file()) == ['questionnaire.json']  # no temporary file left behind


def test_a_crash_half_way_through_writing_leaves_it_intact(monkeypatch):
    answer('bias', 'safe')
    before = saved_file().read_bytes()
    def half(fd): raise KeyboardInterrupt  # the new bytes are written, not yet on disk nor renamed
    with monkeypatch.context() as m:
        m.setattr(os, 'fsync', half)
        with pytest.raises(KeyboardInterrupt): answer('bias', 'lost?')
    assert saved_file().read_bytes() == before
    assert files_beside(saved_file()) == ['questionnaire.json']


def test_a_check_that_cannot_be_saved_still_reports(monkeypatch):
    def crash(*a, **k): raise OSError('read-only disk')
    monkeypatch.setattr(am.os, 'replace', crash)
    res = check('zip-pairs', pairs)
    assert res.passed and 'Not saved' in res.note and 'read-only disk' in res.note


@pytest.mark.parametrize('content', [b'{"answers": {"bias": {"text": "half', b'', b'[1, 2]', b'{"answers": []}', b'\xff\xfe\x00'],
                         ids=['truncated', 'empty', 'list', 'answers-not-object', 'not-utf8'])
def test_a_corrupt_file_is_backed_up_reported_and_never_silently_replaced(content):
    f = saved_file(); f.parent.mkdir(parents=True); f.write_bytes(content)
    with pytest.warns(AnswersFileWarning, match='A copy is kept at') as w:
        answer('bias', 'new answer')
    backups = list(f.parent.glob('questionnaire.json.corrupt-*'))
    assert len(backups) == 1 and backups[0].read_bytes() == content and str(backups[0]) in str(w[0].message)
    data = load_answers()
    assert data['answers']['bias']['text'] == 'new answer' and data['recovered_from'] == str(backups[0])


def test_the_same_corrupt_file_is_backed_up_once():
    f = saved_file(); f.parent.mkdir(parents=True); f.write_bytes(b'not json')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        progress(); progress(); load_answers()
    assert len(list(f.parent.glob('questionnaire.json.corrupt-*'))) == 1 and f.read_bytes() == b'not json'


def test_a_corrupt_file_that_cannot_be_backed_up_is_left_alone(monkeypatch):
    f = saved_file(); f.parent.mkdir(parents=True); f.write_bytes(b'not json')
    def no_backup(p, raw): raise OSError('no space left')
    monkeypatch.setattr(am, '_backup_corrupt', no_backup)
    with pytest.raises(AnswersFileError, match='Nothing was changed'): answer('bias', 'x')
    assert f.read_bytes() == b'not json'




def test_a_new_answers_file_is_readable_by_its_owner_and_keeps_its_mode_later():
    answer('bias', 'x'); f = saved_file()
    assert stat.S_IMODE(f.stat().st_mode) == 0o644
    f.chmod(0o600); answer('bias', 'y')
    assert stat.S_IMODE(f.stat().st_mode) == 0o600


# ---------------------------------------------------------------- issue 19: links, modes, leftovers, hand-edited files

def test_a_linked_answers_file_stays_a_link_and_its_target_gets_every_answer(tmp_path, monkeypatch):
    "Finding 1: a questionnaire.json kept as a link into a synced folder; saving used to replace the link with a plain file."
    drive = tmp_path/'drive'; drive.mkdir()
    (drive/'answers.json').write_text(json.dumps({'answers': {'bias': {'text': 'from before'}}}))
    folder = tmp_path/'home'; folder.mkdir(); link = folder/'questionnaire.json'
    link.symlink_to(os.path.relpath(drive/'answers.json', folder))  # a relative link, as `ln -s ../drive/answers.json` makes
    monkeypatch.setenv('MNIST_SGD_HOME', str(folder))
    answer('view', 'same numbers, new shape'); assess('view', [1])
    assert link.is_symlink() and os.readlink(link) == os.path.relpath(drive/'answers.json', folder)
    saved = json.loads((drive/'answers.json').read_text())['answers']
    assert saved['bias']['text'] == 'from before' and saved['view']['text'] == 'same numbers, new shape' and saved['view']['assessment']
    assert sorted(p.name for p in drive.iterdir()) == ['answers.json'] and files_beside(link) == ['questionnaire.json']


def test_a_link_into_a_missing_folder_says_so(tmp_path, monkeypatch):
    folder = tmp_path/'home'; folder.mkdir(); (folder/'questionnaire.json').symlink_to(tmp_path/'unmounted'/'answers.json')
    monkeypatch.setenv('MNIST_SGD_HOME', str(folder))
    with pytest.raises(AnswersFileError, match=r'is a link to .*unmounted.*does not exist'): answer('bias', 'x')
    assert (folder/'questionnaire.json').is_symlink() and not (tmp_path/'unmounted').exists()


@pytest.mark.skipif(os.name != 'posix', reason='POSIX modes')
def test_a_new_answers_file_follows_a_private_umask():
    "Finding 7: the answers file was always made 0644, whatever the umask."
    old = os.umask(0o077)
    try: answer('bias', 'private')
    finally: os.umask(old)
    assert stat.S_IMODE(saved_file().stat().st_mode) == 0o600


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='RLIMIT_FSIZE and SIGXFSZ as on Linux')
def test_a_backup_that_the_disk_cannot_hold_leaves_no_partial_copy(tmp_path):
    "A full disk (here: a file-size limit, which fails a write the same way) used to leave a cut-off `.corrupt-*` copy."
    f = tmp_path/'questionnaire.json'; f.write_bytes(b'{"answers": ' + b'x' * 5000)
    code = textwrap.dedent("""
        import resource, signal, sys
        from mnist_sgd.quiz.answers import load_answers, AnswersFileError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))  # no file may grow past 1,000 bytes
        try: load_answers(sys.argv[1])
        except AnswersFileError as e: print('refused:', e)
    """)
    r = subprocess.run([sys.executable, '-c', code, str(f)], env=_env(), capture_output=True, text=True, timeout=120)
    assert 'refused:' in r.stdout and 'no backup copy could be made' in r.stdout, r.stdout + r.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['questionnaire.json'] and f.read_bytes().endswith(b'x' * 10)


@pytest.mark.skipif(os.name != 'posix', reason='SIGKILL')
def test_a_save_killed_half_way_leaves_a_temporary_file_that_a_later_save_removes(tmp_path):
    f = tmp_path/'questionnaire.json'; answer('bias', 'first', path=f)
    code = ("import os, signal, sys; from mnist_sgd.quiz.questionnaire import answer\n"
            "os.replace = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)  # killed just before the rename\n"
            "answer('bias', 'killed', path=sys.argv[1])")
    r = subprocess.run([sys.executable, '-c', code, str(f)], env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    left = list(tmp_path.glob('.questionnaire.json.*.tmp'))
    assert len(left) == 1 and saved_answer('bias', path=f) == 'first'
    os.utime(left[0], (time.time() - 7200,) * 2)  # killed two hours ago
    live = tmp_path/'.questionnaire.json.another-kernel.tmp'; live.write_text('{}')  # another kernel writing right now
    answer('bias', 'second', path=f)
    assert not left[0].exists() and live.exists() and saved_answer('bias', path=f) == 'second'


WRONG_KINDS = {  # hand-edited files: valid JSON, values of the wrong kind; (entry, what the warning says, what keeps the old value)
    'text-list': ({'text': ['an offset', 'added to each output']}, 'text was a list, made text', '"an offset\\nadded to each output"'),
    'text-number': ({'text': 42}, 'text was a number, made text', '"text": "42"'),
    'history-text': ({'text': 'an offset', 'history': 'x'}, 'history was text, not a list: set aside', '"set_aside": {"history": "x"}'),
    'covered-number': ({'text': 'an offset', 'assessment': {'covered': 2, 'points': ['p']}}, 'assessment.covered was a number',
                       '"assessment.covered": 2'),
    'prediction-history-object': ({'prediction': {'guess': '1', 'printed': '2', 'right': False}, 'prediction_history': {}},
                                  'prediction_history was an object, not a list: set aside', '"prediction_history": {}'),
    'assessment-text': ({'assessment': 'all of them'}, 'assessment was text, not an object: set aside', '"assessment": "all of them"'),
    'entry-list': (['an offset'], "was a list, not an object: kept as 'unreadable'", '"unreadable": ["an offset"]'),
    'orphan-question-number': ({'text': 'an offset'}, None, '"text": "an offset"'),  # the wrong kind is in the orphan below
}

@pytest.mark.parametrize('kind', WRONG_KINDS)
def test_a_hand_edited_entry_of_the_wrong_kind_is_repaired_and_named_never_a_crash(kind):
    "Finding 5: such entries crashed assess, answer, progress and predict with a bare AttributeError or TypeError."
    from mnist_sgd.quiz.questionnaire import QUESTIONS
    bad, said, kept = WRONG_KINDS[kind]
    qid = next(q.id for q in QUESTIONS if q.predict)  # a question with a snippet, so predict() works on it too
    others = {'view': {'text': 'same numbers, new shape', 'saved': '2024-01-01T00:00:00'},
              'gone-from-the-course': {'text': 'kept', 'question': 7 if said is None else 'What was it?'}}  # an orphan
    f = saved_file(); f.parent.mkdir(parents=True)
    f.write_text(json.dumps({'format': 1, 'answers': {qid: bad, **others}}))
    with pytest.warns(AnswersFileWarning) as w:
        progress(); progress('question'); assess(qid); assess(qid, [1]); answer(qid, 'my words'); predict(qid, 'a guess')
    msg = str(w[0].message)
    if said: assert f"{qid!r} ({said}" in msg and 'gone-from-the-course' not in msg, msg
    else: assert "'gone-from-the-course' (question was a number, made text)" in msg and f'{qid!r}' not in msg, msg
    assert len(w) == 1 and msg.count('\n') == 0
    saved = load_answers()['answers']
    assert saved['view'] == others['view'] and saved['gone-from-the-course']['question'] == ('7' if said is None else 'What was it?')
    assert saved[qid]['text'] == 'my words' and saved[qid]['prediction']['guess'] == 'a guess'
    assert kept in json.dumps(saved[qid]), json.dumps(saved[qid])  # the value of the wrong kind is not lost
