"Questionnaire: the bank (one file, every text once), lesson 09 (no spoilers), the public API, self-assessment, predictions and progress."
import json, os, re, subprocess, sys, textwrap, warnings
from pathlib import Path
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn
import torch.nn.functional as F
import mnist_sgd.quiz.answers as am
import mnist_sgd.quiz.questionnaire as qm
from mnist_sgd.core import plot_function
from mnist_sgd.quiz.questionnaire import (QUESTIONS, SECTIONS, AnswersFileError, AnswersFileWarning, BankError, CheckResult, Question,
                                     answer, answers_path, ask, assess, check, load_answers, load_bank, predict, progress, question,
                                     reveal, save_answers, saved_answer)
from qhelpers import home, report, solution, solution_code, _odds_neq, _pairs_by_index

ROOT = Path(__file__).resolve().parent.parent
NB = ROOT/'nbs'/'09_questionnaire.ipynb'
BANK = ROOT/'mnist_sgd'/'quiz'/'questions.toml'

# The ids are the keys of learners' saved answers: they must never change. A new question gets a new id.
EXPECTED_IDS = [
    'image-as-numbers', 'dataset-folders', 'pixel-similarity', 'list-comprehension', 'rank3-tensor', 'rank-vs-shape',
    'rmse-and-l1', 'vectorised-computation', 'tensor-3x3', 'broadcasting', 'metric-on-validation', 'what-is-sgd',
    'why-mini-batches', 'seven-steps', 'weight-init', 'what-is-loss', 'high-learning-rate', 'what-is-gradient',
    'gradients-by-hand', 'accuracy-as-loss', 'sigmoid', 'loss-vs-metric', 'weight-update', 'dataloader', 'epoch-code',
    'zip-pairs', 'view', 'bias', 'matmul-operator', 'backward', 'zero-gradients', 'learner-needs', 'training-loop',
    'relu-plot', 'activation-function', 'relu-function-vs-module', 'why-many-nonlinearities']
FIRST_EIGHT = ['list-comprehension', 'tensor-3x3', 'sigmoid', 'weight-update', 'epoch-code', 'zip-pairs', 'training-loop', 'relu-plot']
CODE_IDS = [q.id for q in QUESTIONS if q.kind == 'code']
# The chapter's topics, in its order (SPEC §2 item 9): a word each question must be about.
TOPIC_WORDS = ['grayscale', 'folders', 'pixels', 'list comprehension', 'rank 3', 'shape', 'RMSE', '`for` loop', '3×3',
               'broadcasting', 'held back', 'stochastic gradient descent', 'mini-batch', 'seven steps', 'weights', 'loss',
               'learning rate', 'gradient', 'derivatives', 'accuracy', 'sigmoid', 'metric', 'sgd_step', 'DataLoader',
               'one_epoch', 'pair_up', 'view', 'bias', '@', 'backward', 'zero', 'Learner', 'train_loop', 'ReLU',
               'activation function', 'nn.ReLU', 'nonlinear']



def saved_file(): return answers_path()
def files_beside(f): return sorted(p.name for p in f.parent.iterdir() if p.name != am.lock_path(f).name)




# ---------------------------------------------------------------- the bank: one data file, each text once

def test_all_37_questions_in_the_chapters_order_with_stable_unique_ids():
    assert [q.id for q in QUESTIONS] == EXPECTED_IDS and len(set(EXPECTED_IDS)) == 37
    assert set(FIRST_EIGHT) <= set(CODE_IDS) and len(CODE_IDS) >= 16
    for q, word in zip(QUESTIONS, TOPIC_WORDS):
        assert word.lower() in q.text.lower(), (q.id, word)


@pytest.mark.parametrize('q', QUESTIONS, ids=lambda q: q.id)
def test_each_question_has_text_answer_key_points_section_and_lesson(q):
    assert q.topic and len(q.text) > 40 and len(q.reference) > 120
    assert q.text.rstrip().endswith(('?', '.', ')')), q.text[-30:]
    assert 2 <= len(q.key_points) <= 4 and all(len(p) > 10 for p in q.key_points)
    assert q.section in SECTIONS
    assert (ROOT/'nbs'/f'{q.lesson}.ipynb').exists(), q.lesson


def test_the_bank_file_is_data_with_the_fields_the_issue_asks_for():
    import tomllib
    data = tomllib.loads(BANK.read_text())
    assert [s['id'] for s in data['sections']] == list(SECTIONS)
    for i, q in enumerate(data['questions'], 1):
        assert q['number'] == i and {'id', 'section', 'text', 'answer', 'key_points'} <= set(q)


def _text_files():
    out = subprocess.run(['git', 'ls-files', '--cached', '--others', '--exclude-standard'], cwd=ROOT, capture_output=True, text=True).stdout.split()
    for name in out:
        p = ROOT/name
        if p.suffix in ('.py', '.ipynb', '.md', '.toml', '.txt', '.json', '.html', '.yml', '.yaml', '.cfg') and p.is_file():
            yield p, p.read_text(errors='ignore')

def test_each_question_text_exists_in_exactly_one_file():
    files = list(_text_files())
    for q in QUESTIONS:
        for line in (l.strip() for l in q.text.splitlines()):
            if len(line) < 40: continue
            holders = [p.relative_to(ROOT).as_posix() for p, text in files if line in text or json.dumps(line)[1:-1] in text]
            assert holders == ['mnist_sgd/quiz/questions.toml'], (q.id, line, holders)


def test_a_broken_bank_is_refused_with_the_question_named(tmp_path):
    good = BANK.read_text()
    cases = [(good.replace('id = "view"', 'id = "bias"', 1), "reuses the id 'bias'"),
             (good.replace('number = 5\n', 'number = 6\n', 1), 'says it is number 6'),
             (good.replace('section = "sgd"', 'section = "nope"', 1), "unknown section 'nope'"),
             (good.replace('topic = "bias parameters"\n', '', 1), 'lacks topic'),
             (good.replace('text = ', 'txet = ', 1), 'lacks text'),
             ('[[questions', 'not valid TOML')]
    for text, says in cases:
        f = tmp_path/'bank.toml'; f.write_text(text)
        with pytest.raises(BankError, match=re.escape(says)): load_bank(f)


def test_lookup_by_number_and_id():
    assert question(4).id == 'list-comprehension' and question('list-comprehension') is question(4)
    assert question(37).id == 'why-many-nonlinearities'
    with pytest.raises(IndexError, match='numbered 1 to 37'): question(0)
    with pytest.raises(IndexError, match='numbered 1 to 37'): question(38)
    with pytest.raises(LookupError, match="Did you mean 'broadcasting'"): question('brodcasting')
    with pytest.raises(TypeError, match='number'): question(4.0)


def test_ask_shows_the_question_and_its_lesson_but_no_answer_and_reveal_shows_the_answer():
    for q in QUESTIONS:
        asked = ask(q.id)
        assert q.text in asked and q.reference not in asked and not any(p in asked for p in q.key_points)
        if q.lesson: assert f'lesson `{q.lesson}`' in asked
        if q.predict: assert q.predict in asked
    md = reveal('bias')
    assert question('bias').reference in md and md._repr_markdown_() == str(md) and 'Q28' in md
    assert all(p in md for p in question('bias').key_points)
    assert '```python' in reveal('sigmoid') and 'nbs/04_mnist_loss.ipynb' in reveal('sigmoid')


# ---------------------------------------------------------------- lesson 09: the learner's part only

def _cells(): return json.loads(NB.read_text())['cells']
def _code(): return [''.join(c['source']) for c in _cells() if c['cell_type'] == 'code']

def test_the_notebook_asks_every_question_once_in_order_and_checks_every_code_question():
    code = _code()
    asks = [m.group(1) for s in code for m in [re.fullmatch(r"ask\('([^']+)'\)", s.strip())] if m]
    assert asks == EXPECTED_IDS
    joined = '\n'.join(code)
    for q in QUESTIONS:
        if q.kind == 'code':
            names = [n.strip() for n in q.answer_name.split(',')]
            call = f"check({q.id!r}, {names[0]})" if len(names) == 1 else f"check({q.id!r}, ({', '.join(names)}))"
            assert call in joined, call
        if q.id not in ('tensor-3x3', 'weight-update', 'epoch-code', 'training-loop'): assert f'answer({q.id!r}, """' in joined, q.id
        if q.predict: assert f'predict({q.id!r}, """' in joined
    heads = [''.join(c['source']) for c in _cells() if c['cell_type'] == 'markdown' and ''.join(c['source']).startswith('## ')]
    for title in SECTIONS.values(): assert sum(h.startswith(f'## {title} (questions ') for h in heads) == 1, title


def test_the_notebook_holds_no_reference_answer_and_no_grading_code():
    text = NB.read_text()
    body = '\n'.join(''.join(c['source']) for c in _cells())
    for q in QUESTIONS:
        for line in (l.strip() for l in q.reference.splitlines()):
            if len(line) >= 25 and not line.startswith(('def ', 'class ', '```')): assert line not in body, (q.id, line)
        for p in q.key_points: assert p not in body, (q.id, p)
    assert '#| export' not in text and 'default_exp' not in text
    assert '\n'.join(_code()).count('raise NotImplementedError') == len(CODE_IDS)  # one per check, less the 3×3 value, plus rmse beside l1_dist


def test_the_notebook_imports_what_learners_need_and_hides_the_harness():
    from mnist_sgd.course.lessons import COLAB_MARK
    cells = [c for c in _cells() if c['cell_type'] == 'code' and COLAB_MARK not in ''.join(c['source'])]  # Colab-only setup aside
    assert 'from mnist_sgd.quiz.questionnaire import *' in ''.join(cells[0]['source'])
    hidden = [''.join(c['source']) for c in cells if ''.join(c['source']).startswith('#| hide')]
    assert len(hidden) == 1 and 'from mnist_sgd.course.report import report' in hidden[0]


def test_rerunning_the_notebook_keeps_every_answer(monkeypatch, capsys):
    monkeypatch.chdir(NB.parent)
    for qid in ('image-as-numbers', 'broadcasting', 'bias', 'why-many-nonlinearities'): answer(qid, f'my answer to {qid}')
    assess('image-as-numbers', [1, 2]); predict('view', 'tensor([3, 4, 5])')
    for qid in CODE_IDS: check(qid, solution(qid))
    check('sigmoid', torch.tanh)  # a failed attempt after a pass
    before = saved_file().read_bytes()
    for _ in range(2):  # run the whole notebook twice, as a fresh copy of it would run
        ns = {}
        for src in _code(): exec(src, ns)
    assert saved_file().read_bytes() == before
    n = len(CODE_IDS)
    assert ns['p'].attrs['summary'] == f'{4 + n - 2} of 37 answered; {n - 1} of {n} checks right; 1 self-assessed; {37 - (n - 1) - 1} still open'


# ---------------------------------------------------------------- not answered yet

def _placeholder(*args): raise NotImplementedError

class _PlaceholderModule(nn.Module):
    def forward(self, x): raise NotImplementedError

def _placeholder_for(qid, value):
    if value is not _placeholder: return value
    return {'rmse-and-l1': (_placeholder, _placeholder), 'relu-function-vs-module': _PlaceholderModule}.get(qid, _placeholder)

@pytest.mark.parametrize('qid', CODE_IDS)
@pytest.mark.parametrize('value', [None, NotImplemented, ..., _placeholder], ids=['None', 'NotImplemented', 'Ellipsis', 'raises'])
def test_unanswered_is_not_an_error_and_writes_nothing(qid, value):
    res = check(qid, _placeholder_for(qid, value))
    assert res.status == 'not answered yet' and not res.passed and not res.problems
    assert 'run the cell again' in res.note
    assert not saved_file().exists()


def test_written_questions_have_no_check():
    res = check('dataset-folders', 'some text')
    assert res.status == 'no check' and "answer('dataset-folders'" in res.note and not saved_file().exists()


def test_the_placeholder_never_overwrites_a_saved_result():
    assert check('zip-pairs', solution('zip-pairs')).passed
    before = saved_file().read_bytes()
    res = check('zip-pairs', _placeholder)
    assert 'nothing was overwritten' in res.note and 'passed' in res.note
    assert saved_file().read_bytes() == before


def test_a_failed_attempt_keeps_the_code_that_passed():
    check('zip-pairs', _pairs_by_index)
    check('zip-pairs', lambda xs, ys: zip(xs, ys))
    e = load_answers()['answers']['zip-pairs']
    assert e['check']['status'] == 'failed' and 'zip(xs, ys)' in e['check']['answer']
    assert 'def _pairs_by_index(xs, ys)' in e['passed_answer'] and e['first_passed']
    assert "returned a zip object, not a list" in e['check']['problems'][0]


def test_rechecking_the_same_answer_does_not_rewrite_the_file():
    check('list-comprehension', _odds_neq)
    before = saved_file().read_bytes()
    check('list-comprehension', _odds_neq)
    assert saved_file().read_bytes() == before


# ---------------------------------------------------------------- where answers live

# ---------------------------------------------------------------- answers are never lost

def test_unknown_ids_and_fields_in_the_file_are_kept():
    save_answers({'format': 7, 'answers': {'from-a-newer-course': {'text': 'keep me', 'extra': [1]}, 'bias': {'text': 'old', 'mood': 'good'}},
                  'settings': {'theme': 'dark'}})
    answer('bias', 'new'); check('zip-pairs', solution('zip-pairs'))
    data = load_answers()
    assert data['answers']['from-a-newer-course'] == {'text': 'keep me', 'extra': [1]}
    assert data['answers']['bias']['mood'] == 'good' and data['settings'] == {'theme': 'dark'} and data['format'] == 7
    p = progress()
    assert p.iloc[-1]['id'] == 'from-a-newer-course' and p.iloc[-1]['answered'] and pd_isna(p.iloc[-1]['no'])


def pd_isna(v):
    import pandas as pd
    return pd.isna(v)


def test_a_course_update_loses_nothing():
    v1 = QUESTIONS[:6]
    answer(2, 'train/valid, one folder per digit', questions=v1)
    answer('rank-vs-shape', 'rank = len(shape)', questions=v1)
    check(4, _odds_neq, questions=v1)
    # version 2: a question inserted at position 2 (numbers shift), question 6 reworded, question 5 removed
    new = Question('new-question', 'something new', 'A brand new question?', 'Its answer, which is long enough to count.')
    reworded = Question('rank-vs-shape', 'rank versus shape', 'Reworded: how do rank and shape differ?', v1[5].reference)
    v2 = (v1[0], new, v1[1], v1[2], v1[3], reworded)
    assert question(3, v2).id == 'dataset-folders' and saved_answer(3, questions=v2) == 'train/valid, one folder per digit'
    answer(2, 'my answer to the new one', questions=v2)
    data = load_answers()['answers']
    assert data['dataset-folders']['text'] == 'train/valid, one folder per digit' and data['new-question']['text'] == 'my answer to the new one'
    assert data['list-comprehension']['check']['status'] == 'passed'
    p = progress('question', questions=v2).set_index('id')
    assert p.loc['dataset-folders', 'no'] == 3 and p.loc['dataset-folders', 'answered']
    assert p.loc['list-comprehension', 'passed'] and p.loc['new-question', 'answered']
    assert p.loc['rank-vs-shape', 'note'] == 'question reworded since you answered'
    assert p.loc['image-as-numbers', 'answered'] == False  # noqa: E712


def test_removed_questions_are_listed_not_dropped():
    answer('rank3-tensor', 'three axes')
    p = progress(questions=[q for q in QUESTIONS if q.id != 'rank3-tensor'])
    last = p.iloc[-1]
    assert last['id'] == 'rank3-tensor' and last['note'] == 'kept from another course version' and len(p) == 37



# ---------------------------------------------------------------- self-assessment

def test_assess_shows_the_key_points_beside_your_answer_and_saves_your_marks():
    answer('bias', 'It shifts the output up or down.')
    shown = assess('bias')
    assert 'It shifts the output up or down.' in shown and all(f'{i}. {p}' in shown for i, p in enumerate(question('bias').key_points, 1))
    assert not load_answers()['answers']['bias'].get('assessment')  # showing saves nothing
    msg = assess('bias', [1, 3])
    assert 'marked 2 of 3' in msg and question('bias').key_points[1] in msg
    a = load_answers()['answers']['bias']['assessment']
    assert a['covered'] == [question('bias').key_points[i] for i in (0, 2)] and a['points'] == list(question('bias').key_points)
    assess('bias', 'all')
    e = load_answers()['answers']['bias']
    assert len(e['assessment']['covered']) == 3 and e['assessment_history'][0]['covered'] == a['covered']
    assert e['text'] == 'It shifts the output up or down.'  # the answer itself is untouched


@pytest.mark.parametrize('covered, says', [([0], 'there is no 0'), ([4], 'there is no 4'), ('most', 'like assess'), ([True], 'like assess'), ([1.5], 'like assess')])
def test_assess_refuses_marks_it_cannot_read(covered, says):
    with pytest.raises((TypeError, ValueError), match=re.escape(says)): assess('bias', covered)
    assert not saved_file().exists()


def test_assess_before_answering_says_to_answer_first():
    assert 'not saved a written answer yet' in assess('view')


# ---------------------------------------------------------------- predict, then run

def test_predict_without_a_guess_runs_nothing_and_saves_nothing():
    shown = predict('backward')
    assert question('backward').predict in shown and 'tensor(12.)' not in shown and not saved_file().exists()


@pytest.mark.parametrize('qid, guess, right', [('backward', 'tensor(12.)', True), ('backward', '6', False), ('broadcasting', '(5, 5)', True),
                                               ('broadcasting', 'torch.Size([5])', False), ('rank-vs-shape', '3 4 torch.Size([28, 28])', True),
                                               ('view', 'tensor([3, 4, 5])', True), ('matmul-operator', '[[7, 10], [15, 22]] [[1, 4], [9, 16]]', True)])
def test_predict_saves_the_guess_runs_the_snippet_and_says_whether_it_was_right(qid, guess, right):
    msg = predict(qid, guess)
    p = load_answers()['answers'][qid]['prediction']
    assert p['guess'] == guess and p['right'] is right and ('✓ right' in msg) is right and p['printed'] in msg


def test_predict_keeps_earlier_guesses_and_refuses_questions_without_a_snippet():
    predict('backward', '6'); predict('backward', 'tensor(12.)')
    e = load_answers()['answers']['backward']
    assert e['prediction']['right'] and e['prediction_history'][0]['guess'] == '6'
    with pytest.raises(ValueError, match="'bias' has no snippet to predict; these do: rank-vs-shape"): predict('bias', 'x')


# ---------------------------------------------------------------- progress, per section and per question

def test_progress_per_section():
    answer('dataloader', 'serves mini-batches'); assess('dataloader', [1])
    check('sigmoid', (torch.sigmoid, plot_function(torch.sigmoid, -5, 5))); check('relu-plot', torch.abs)
    answer('image-as-numbers', 'a grid of numbers'); assess('image-as-numbers', 'all')
    p = progress()
    assert list(p.columns) == ['section', 'questions', 'answered', 'checks', 'checked right', 'self-assessed', 'still open']
    assert list(p['section']) == list(SECTIONS.values()) and p['questions'].sum() == 37
    rows = p.set_index('section')
    first, loop = rows.loc[SECTIONS['images']], rows.loc[SECTIONS['loop']]
    assert (first['answered'], first['self-assessed'], first['still open']) == (1, 1, 10)
    assert (loop['answered'], loop['checked right'], loop['self-assessed']) == (2, 1, 1)
    assert loop['still open'] == 14 - 2 and rows.loc[SECTIONS['nonlinear'], 'answered'] == 1
    assert p['checks'].sum() == len(CODE_IDS)
    n = len(CODE_IDS)
    assert p.attrs['summary'] == f'4 of 37 answered; 1 of {n} checks right; 2 self-assessed; 34 still open'


def test_progress_per_question():
    answer('seven-steps', 'init, predict, loss, gradient, step, repeat, stop'); assess('seven-steps', [1, 2])
    answer('bias', 'an offset'); assess('bias', 'all')
    check('sigmoid', (torch.sigmoid, plot_function(torch.sigmoid, -5, 5))); check('relu-plot', torch.abs); predict('view', '1')
    p = progress('question')
    assert len(p) == 37 and list(p['no']) == list(range(1, 38))
    rows = p.set_index('id')
    ss = rows.loc['seven-steps']
    assert ss['answered'] and ss['assessed'] and ss['covered'] == '2 of 3' and ss['done'] and str(ss['checked']) == '<NA>'
    assert rows.loc['bias', 'assessed'] and not rows.loc['bias', 'done']  # a code question is done once its check passes
    assert rows.loc['sigmoid', 'passed'] and rows.loc['sigmoid', 'done']
    assert rows.loc['relu-plot', 'checked'] and not rows.loc['relu-plot', 'passed'] and not rows.loc['relu-plot', 'done']
    assert rows.loc['view', 'answered'] and rows.loc['view', 'predicted'] == False  # noqa: E712
    assert rows.loc['bias', 'saved'] != '' and rows.loc['backward', 'saved'] == ''
    with pytest.raises(ValueError, match="by='section' or by='question'"): progress('sections')


def _bank_v2(tmp_path):
    "Version 2 of the bank: a question inserted, one reworded, one renamed, one removed, key points changed."
    text = BANK.read_text()
    text = text.replace('id = "rank3-tensor"', 'id = "rank-3-tensors"\nrenamed_from = ["rank3-tensor"]', 1)
    text = text.replace('Besides its weights, a linear layer has bias parameters.', 'Reworded: besides its weights, a linear layer has biases.', 1)
    text = text.replace('"a learned number added to each output: `x @ w + b`"', '"a learned number added to every output"', 1)
    blocks = text.split('[[questions]]')
    blocks = [b for b in blocks if 'id = "learner-needs"' not in b]
    out = '[[questions]]'.join(blocks)
    for i in range(37, 0, -1): out = out.replace(f'[[questions]]\nnumber = {i}\n', f'[[questions]]\nnumber = @{i}@\n', 1)
    n = 0
    def renumber(m):
        nonlocal n; n += 1; return f'number = {n}'
    out = re.sub(r'number = @\d+@', renumber, out)
    f = tmp_path/'bank_v2.toml'; f.write_text(out)
    return load_bank(f)[0]


def test_answers_assessments_and_checks_survive_a_kernel_restart_and_a_bank_update(home, tmp_path):
    script = textwrap.dedent("""
        from mnist_sgd.quiz.questionnaire import answer, assess, check, predict
        answer('rank3-tensor', 'three axes'); answer('bias', 'an offset'); assess('bias', [1, 3])
        answer('learner-needs', 'data, model, opt_func, loss_func'); assess('learner-needs', [1])
        check('zip-pairs', lambda xs, ys: list(zip(xs, ys))); predict('backward', 'tensor(12.)')
    """)
    env = os.environ | {'PYTHONPATH': str(ROOT), 'MNIST_SGD_HOME': str(home)}
    subprocess.run([sys.executable, '-c', script], env=env, check=True, timeout=120)  # one kernel, then it is gone
    p = progress('question').set_index('id')  # a new one
    assert p.loc['bias', 'assessed'] and p.loc['zip-pairs', 'passed'] and p.loc['backward', 'predicted'] and p.loc['rank3-tensor', 'answered']
    v2 = _bank_v2(tmp_path)
    assert len(v2) == 36 and question('rank3-tensor', v2).id == 'rank-3-tensors'
    p = progress('question', questions=v2).set_index('id')
    assert p.loc['rank-3-tensors', 'answered'] and p.loc['rank-3-tensors', 'note'] == 'answered under its old id'
    assert 'question reworded since you answered' in p.loc['bias', 'note'] and 'key points changed since you assessed' in p.loc['bias', 'note']
    assert p.loc['bias', 'assessed'] and p.loc['zip-pairs', 'passed'] and p.loc['backward', 'predicted']
    orphan = p.loc['learner-needs']
    assert orphan['section'] == '(orphaned)' and 'orphaned' in orphan['note'] and orphan['answered'] and orphan['assessed']
    assert orphan['topic'].startswith('To build a fastai `Learner`')  # the question it answered, as it was then
    assert saved_answer('learner-needs', questions=v2) == 'data, model, opt_func, loss_func'
    assert 'orphaned answer kept' in progress(questions=v2).attrs['summary']
    answer('rank-3-tensors', 'a stack of images', questions=v2)  # answering the renamed question keeps the old entry too
    data = load_answers()['answers']
    assert data['rank-3-tensors']['text'] == 'a stack of images' and data['rank-3-tensors']['history'][0]['text'] == 'three axes'
    assert data['rank3-tensor']['text'] == 'three axes'


def test_removed_questions_are_listed_not_dropped():
    answer('rank3-tensor', 'three axes')
    p = progress('question', questions=[q for q in QUESTIONS if q.id != 'rank3-tensor'])
    last = p.iloc[-1]
    assert last['id'] == 'rank3-tensor' and 'orphaned' in last['note'] and len(p) == 37


def test_unknown_ids_and_fields_in_the_file_are_kept():
    save_answers({'format': 7, 'answers': {'from-a-newer-course': {'text': 'keep me', 'extra': [1]}, 'bias': {'text': 'old', 'mood': 'good'}},
                  'settings': {'theme': 'dark'}})
    answer('bias', 'new'); check('zip-pairs', solution('zip-pairs')); assess('bias', [1])
    data = load_answers()
    assert data['answers']['from-a-newer-course'] == {'text': 'keep me', 'extra': [1]}
    assert data['answers']['bias']['mood'] == 'good' and data['settings'] == {'theme': 'dark'} and data['format'] == 7
    p = progress('question')
    assert p.iloc[-1]['id'] == 'from-a-newer-course' and p.iloc[-1]['answered']


