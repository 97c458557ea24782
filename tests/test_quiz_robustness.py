"""The questionnaire against a learner's mistakes (issue 18, and from issue 19 the settings a check must not leak): whatever the
learner's code raises or returns is a finding, never the grader's crash; a check leaves torch's settings, the random
generators and the plot style as it found them; nothing gives an answer away before a try."""
import json, os, random, subprocess, sys, textwrap, time
from pathlib import Path
import matplotlib
matplotlib.use('Agg')
import numpy as np
import pytest
import torch
from torch import nn
from mnist_sgd.quiz.grading import GRADERS, Check, Both
from mnist_sgd.quiz.questionnaire import QUESTIONS, answer, answers_path, assess, check, load_answers, question, reveal
from qhelpers import home, report, solution

ROOT = Path(__file__).resolve().parent.parent


def test_every_grader_is_a_declaration():
    code = [q.id for q in QUESTIONS if q.kind == 'code']
    assert len(code) == 21 and all(isinstance(GRADERS[qid], (Check, Both)) for qid in code)


def test_sys_exit_in_the_learners_code_is_a_failed_check_that_is_saved():
    def pair_up(xs, ys): sys.exit('bye')
    res = check('zip-pairs', pair_up)  # before: SystemExit escaped `check`, nothing shown or saved
    assert res.status == 'failed' and 'SystemExit' in report(res) and '`sys.exit()`' in report(res)
    assert load_answers()['answers']['zip-pairs']['check']['status'] == 'failed'


class _Odd(BaseException): "Not an Exception, but not a stop either."

@pytest.mark.parametrize('qid, fn', [('rank-vs-shape', lambda t: (_ for _ in ()).throw(_Odd())),
                                     ('zip-pairs', lambda xs, ys: (_ for _ in ()).throw(GeneratorExit()))])
def test_other_base_exceptions_are_the_learners_too(qid, fn):
    res = check(qid, fn, save=False)
    assert res.status == 'failed', repr(res)


def test_keyboard_interrupt_still_stops_the_check():
    def pair_up(xs, ys): raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt): check('zip-pairs', pair_up, save=False)


class _Unshowable:
    def __repr__(self): raise RuntimeError('no repr')
    def __array__(self, *a, **k): raise RuntimeError('no array')

def test_a_value_whose_repr_fails_is_graded_and_saved():
    res = check('tensor-3x3', _Unshowable())  # the answer itself is kept in the answers file, as text
    assert res.status == 'failed' and 'could not read' in report(res)
    assert 'cannot be shown' in load_answers()['answers']['tensor-3x3']['check']['answer']


def test_a_numpy_array_handed_to_the_relu_checks_is_a_finding():
    for qid in ('relu-plot', 'relu-function-vs-module'):
        res = check(qid, np.array([1., -1.]), save=False)  # before: `value in (F.relu, ...)` crashed on the array
        assert res.status == 'failed' and 'expected' in report(res), repr(res)


def test_torch_settings_changed_inside_a_check_do_not_leak_out():
    def my_relu(x):
        torch.set_grad_enabled(False); torch.set_default_dtype(torch.float64); torch.set_printoptions(precision=1)
        torch.manual_seed(0); random.seed(0); np.random.seed(0)
        return x.clamp(min=0)
    torch.manual_seed(5); random.seed(5); np.random.seed(5)
    states = torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy()
    check('relu-plot', my_relu, save=False)
    assert torch.is_grad_enabled() and torch.get_default_dtype() == torch.float32
    assert str(torch.tensor([1/3])) == 'tensor([0.3333])'
    assert torch.equal(torch.get_rng_state(), states[0]) and random.getstate() == states[1]
    assert np.array_equal(np.random.get_state()[1], states[2])


def test_a_check_runs_from_the_usual_settings_and_gives_the_learners_back():
    torch.set_grad_enabled(False); torch.set_default_dtype(torch.float64)
    try:
        res = check('weight-update', solution('weight-update'), save=False)  # needs autograd, whatever the notebook set
        assert res.passed, repr(res)
        assert not torch.is_grad_enabled() and torch.get_default_dtype() == torch.float64
    finally: torch.set_grad_enabled(True); torch.set_default_dtype(torch.float32)


def test_an_endless_generator_fails_at_once_with_little_memory(tmp_path):
    script = textwrap.dedent("""
        import json, resource, time
        from mnist_sgd.quiz.questionnaire import check
        def finite(xs, ys, bs):
            for i in range(0, len(xs), bs): yield xs[i:i+bs], ys[i:i+bs]
        def endless(xs, ys, bs):
            i = 0
            while True:
                yield xs[i:i+bs], ys[i:i+bs]; i += bs
        assert check('why-mini-batches', finite, save=False).passed
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.monotonic(); res = check('why-mini-batches', endless, save=False); took = time.monotonic() - t0
        extra = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
        print(json.dumps(dict(status=res.status, took=took, extra_mb=extra / 1024, says=repr(res))))
    """)
    env = os.environ | {'PYTHONPATH': str(ROOT), 'MNIST_SGD_HOME': str(tmp_path)}
    out = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True, text=True, timeout=120)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got['status'] == 'failed' and 'does it ever stop' in got['says'], got
    assert got['took'] < 5 and got['extra_mb'] < 300, got


def test_assess_shows_no_key_point_before_an_answer_then_shows_them():
    for q in QUESTIONS:
        shown = assess(q.id)
        assert not any(p in shown for p in q.key_points), q.id
        assert 'not saved a written answer yet' in shown and f"reveal({q.id!r})" in shown
    assert not answers_path().exists()  # showing saves nothing
    answer('what-is-sgd', 'small steps downhill, on random mini-batches')
    assert all(p in assess('what-is-sgd') for p in question('what-is-sgd').key_points)
    check('tensor-3x3', [[1, 2], [3, 4]])  # a code question without a written answer: a check is a try
    assert all(p in assess('tensor-3x3') for p in question('tensor-3x3').key_points)
    assert all(p in reveal('bias') for p in question('bias').key_points)  # reveal always shows them


@pytest.mark.parametrize('value', [(torch.arange(1, 10).view(3, 3) * 2)[:2, :2], [[5, 6], [8, 9]], torch.tensor([[10, 12], [16, 17]]),
                                   torch.arange(1, 10).view(3, 3) * 2, [10, 12, 16, 18], [[11, 12], [16, 18]]])
def test_a_wrong_3x3_value_is_told_what_is_wrong_without_the_answer(value):
    text = repr(check('tensor-3x3', value, save=False))
    assert 'not yet' in text and 'hint' in text
    assert '[[10, 12], [16, 18]]' not in text and '10, 12, 16, 18' not in text.replace(str(value), '')


def test_accuracy_returned_as_a_python_number_is_told_why_backward_has_nothing_to_start_from():
    res = check('accuracy-as-loss', lambda p, t: ((p.view(-1) > 0).float() == t).float().mean().item(), save=False)
    notes = [m for ok, m, _ in res.items if ok is None]
    assert res.passed and any('returns a Python float' in m for m in notes), repr(res)


@pytest.mark.parametrize('qid, fn, says', [
    ('epoch-code', lambda m, b, loss_func, lr: [loss_func(yb, m(xb)).backward() or _step(m, lr) for xb, yb in b], 'targets first'),
    ('training-loop', lambda m, b, loss_func, lr, epochs: [loss_func(m(xb), yb).backward() or _step(m, 0.05) for _ in range(epochs) for xb, yb in b], 'differ from ours'),
    ('view', lambda x: x.mul_(2).view(len(x), -1), 'changes both'),
    ('epoch-code', lambda m, b, loss_func, lr: [loss_func(m(xb), yb).backward() or _step(m, lr) or yb.zero_() for xb, yb in b], 'changed the batches')])
def test_wrong_answers_that_used_to_pass_now_fail(qid, fn, says):
    res = check(qid, fn, save=False)
    assert res.status == 'failed' and says in report(res), repr(res)

def _step(model, lr):
    with torch.no_grad():
        for p in model.parameters(): p -= lr * p.grad; p.grad = None


BOOK_PHRASES = {'vectorised-computation': ['thousands of times faster'], 'tensor-3x3': ['double it', 'bottom-right four'],
                'zip-pairs': ['[1, 2, 3, 4]', "'abcd'"], 'why-many-nonlinearities': ['universal approximation theorem', 'so why do we'],
                'sigmoid': ['What is special about the shape']}

def test_the_five_questions_close_to_the_books_are_in_our_own_words():
    for qid, phrases in BOOK_PHRASES.items():
        text = question(qid).text.lower()
        assert not any(p.lower() in text for p in phrases), qid


def test_the_bank_keeps_the_terms_the_lessons_teach():
    assert 'rank-0 tensor' in question('rmse-and-l1').text
    assert any('backpropagation' in p for p in question('backward').key_points)
