"Questionnaire: the 37 questions, every check (our answers pass, the usual slips get the right hint), and the answers file (never lost)."
import json, os, random, warnings
from pathlib import Path
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import mnist_sgd.questionnaire as qm
from mnist_sgd.core import plot_function
from mnist_sgd.questionnaire import (QUESTIONS, AnswersFileError, AnswersFileWarning, CheckResult, Question, answer,
                                     answers_path, ask, check, load_answers, progress, question, reveal, save_answers, saved_answer)

ROOT = Path(__file__).resolve().parent.parent
NB = ROOT/'nbs'/'09_questionnaire.ipynb'

# The ids are the keys of learners' saved answers: they must never change. A new question gets a new id.
EXPECTED_IDS = [
    'image-as-numbers', 'dataset-folders', 'pixel-similarity', 'list-comprehension', 'rank3-tensor', 'rank-vs-shape',
    'rmse-and-l1', 'vectorised-computation', 'tensor-3x3', 'broadcasting', 'metric-on-validation', 'what-is-sgd',
    'why-mini-batches', 'seven-steps', 'weight-init', 'what-is-loss', 'high-learning-rate', 'what-is-gradient',
    'gradients-by-hand', 'accuracy-as-loss', 'sigmoid', 'loss-vs-metric', 'weight-update', 'dataloader', 'epoch-code',
    'zip-pairs', 'view', 'bias', 'matmul-operator', 'backward', 'zero-gradients', 'learner-needs', 'training-loop',
    'relu-plot', 'activation-function', 'relu-function-vs-module', 'why-many-nonlinearities']
CODE_IDS = ['list-comprehension', 'tensor-3x3', 'sigmoid', 'weight-update', 'epoch-code', 'zip-pairs', 'training-loop', 'relu-plot']
# The chapter's topics, in its order (SPEC §2 item 9): a word each question must be about.
TOPIC_WORDS = ['grayscale', 'folders', 'pixels', 'list comprehension', 'rank 3', 'shape', 'RMSE', '`for` loop', '3×3',
               'broadcasting', 'held back', 'stochastic gradient descent', 'mini-batch', 'seven steps', 'weights', 'loss',
               'learning rate', 'gradient', 'derivatives', 'accuracy', 'sigmoid', 'metric', 'sgd_step', 'DataLoader',
               'one_epoch', 'pair_up', 'view', 'bias', '@', 'backward', 'zero', 'Learner', 'train_loop', 'ReLU',
               'activation function', 'nn.ReLU', 'nonlinear']


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    "Each test has its own MNIST_SGD_HOME, so nothing lands in ~ or in another test's answers."
    monkeypatch.setenv('MNIST_SGD_HOME', str(tmp_path/'home'))
    monkeypatch.delenv('MNIST_SGD_ANSWERS', raising=False)
    yield tmp_path/'home'
    plt.close('all')


def saved_file(): return answers_path()
def report(res: CheckResult) -> str: return '\n'.join(res.problems + res.hints)
def solution(qid):
    "Our reference solution, run from the very text `reveal` shows."
    ns = {'torch': torch, 'plot_function': plot_function}
    exec(qm._solution_code(question(qid)), ns)
    return ns[question(qid).answer_name]


# ---------------------------------------------------------------- the bank

def test_all_37_questions_in_the_chapters_order_with_stable_unique_ids():
    assert [q.id for q in QUESTIONS] == EXPECTED_IDS
    assert len(set(EXPECTED_IDS)) == 37
    assert [q.id for q in QUESTIONS if q.kind == 'code'] == CODE_IDS
    for q, word in zip(QUESTIONS, TOPIC_WORDS):
        assert word.lower() in q.text.lower(), (q.id, word)


@pytest.mark.parametrize('q', QUESTIONS, ids=lambda q: q.id)
def test_each_question_has_text_topic_and_a_reference_answer(q):
    assert q.topic and len(q.text) > 40 and len(q.reference) > 120
    assert q.text.rstrip().endswith(('?', '.', ')')), q.text[-30:]
    if q.kind == 'code':
        assert q.answer_name and (f'def {q.answer_name}(' in qm._solution_code(q) or f'{q.answer_name} =' in qm._solution_code(q))
        assert f'`{q.answer_name}' in q.text or q.answer_name == 'corner'


def test_lookup_by_number_and_id():
    assert question(4).id == 'list-comprehension' and question('list-comprehension') is question(4)
    assert question(37).id == 'why-many-nonlinearities'
    with pytest.raises(IndexError, match='numbered 1 to 37'): question(0)
    with pytest.raises(IndexError, match='numbered 1 to 37'): question(38)
    with pytest.raises(LookupError, match="Did you mean 'broadcasting'"): question('brodcasting')
    with pytest.raises(TypeError, match='number'): question(4.0)


def test_reveal_shows_our_answer_only_on_demand():
    md = reveal('bias')
    assert question('bias').reference in md and md._repr_markdown_() == str(md) and 'Q28' in md
    asked = ask(28)
    assert question('bias').text in asked and question('bias').reference not in asked
    assert '```python' in reveal('sigmoid') and 'nbs/04_mnist_loss.ipynb' in reveal('sigmoid')


# ---------------------------------------------------------------- the checks accept right answers

@pytest.mark.parametrize('qid', CODE_IDS)
def test_our_reference_solution_passes_its_check(qid):
    res = check(qid, solution(qid), save=False)
    assert res.status == 'passed', repr(res)
    assert not res.problems and sum(ok is True for ok, *_ in res.items) >= 1


def _epoch_optim(model, batches, loss_func, lr):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for xb, yb in batches:
        opt.zero_grad(); loss_func(model(xb), yb).backward(); opt.step()

def _epoch_data(model, batches, loss_func, lr):
    for xb, yb in batches:
        model.zero_grad()
        loss = loss_func(model(xb), yb); loss.backward()
        for p in model.parameters(): p.data -= lr * p.grad.data

def _loop_reusing_epoch(model, batches, loss_func, lr, epochs):
    for _ in range(epochs): _epoch_optim(model, batches, loss_func, lr)

def _loop_shuffled(model, batches, loss_func, lr, epochs):
    for _ in range(epochs):
        random.shuffle(batches)
        _epoch_data(model, batches, loss_func, lr)

def _step_none(params, lr):
    for p in params:
        p.data -= lr * p.grad
        p.grad = None

def _odds_neq(numbers): return [n * 2 for n in numbers if n % 2 != 0]
def _odds_bits(numbers): return [2*n for n in numbers if n & 1]
def _pairs_by_index(xs, ys): return [(xs[i], ys[i]) for i in range(len(xs))]
def _corner_fn(t): return (t * 2)[-2:, -2:]


@pytest.mark.parametrize('qid, value', [
    ('list-comprehension', _odds_neq), ('list-comprehension', _odds_bits),
    ('tensor-3x3', torch.tensor([[10, 12], [16, 18]])), ('tensor-3x3', np.array([[10., 12.], [16., 18.]])),
    ('tensor-3x3', [[10, 12], [16, 18]]), ('tensor-3x3', _corner_fn),
    ('zip-pairs', _pairs_by_index), ('zip-pairs', lambda xs, ys: [(x, y) for x, y in zip(xs, ys)]),
    ('sigmoid', torch.sigmoid), ('sigmoid', lambda x: 1 / (1 + (-x).exp())), ('sigmoid', lambda x: 0.5 * (1 + torch.tanh(x / 2))),
    ('relu-plot', torch.relu), ('relu-plot', torch.nn.functional.relu), ('relu-plot', lambda x: torch.where(x > 0, x, torch.zeros_like(x))),
    ('relu-plot', lambda x: x * (x > 0)), ('relu-plot', lambda x: torch.maximum(x, torch.tensor(0.))),
    ('weight-update', _step_none), ('epoch-code', _epoch_optim), ('epoch-code', _epoch_data),
    ('training-loop', _loop_reusing_epoch), ('training-loop', _loop_shuffled)], ids=lambda v: v if isinstance(v, str) else '')
def test_other_right_answers_pass_too(qid, value):
    res = check(qid, value, save=False)
    assert res.passed, repr(res)


def test_a_plot_can_be_handed_in_for_sigmoid_and_relu():
    _, ax = plt.subplots(); plot_function(torch.sigmoid, -5, 5, ax=ax)
    assert check('sigmoid', ax, save=False).passed
    assert check('sigmoid', ax.figure, save=False).passed
    _, ax = plt.subplots(); lines = ax.plot(torch.linspace(-2, 2, 41), torch.relu(torch.linspace(-2, 2, 41)))
    assert check('relu-plot', lines, save=False).passed and check('relu-plot', ax, save=False).passed


def test_shuffled_training_loop_is_told_its_steps_differ_but_passes():
    res = check('training-loop', _loop_shuffled, save=False)
    assert 'another batch order' in repr(res) and res.passed


# ---------------------------------------------------------------- the checks reject wrong answers, precisely

def _odds_all(numbers): return [2*n for n in numbers]
def _odds_undoubled(numbers): return [n for n in numbers if n % 2 == 1]
def _odds_evens(numbers): return [2*n for n in numbers if n % 2 == 0]
def _odds_gen(numbers): return (2*n for n in numbers if n % 2 == 1)
def _odds_print(numbers): print([2*n for n in numbers if n % 2 == 1])
def _odds_positive(numbers): return [2*n for n in numbers if n > 0 and n % 2 == 1]
def _odds_squared(numbers): return [n*n for n in numbers if n % 2 == 1]
def _odds_loop(numbers):
    out = []
    for n in numbers:
        if n % 2 == 1: out.append(2*n)
    return out
def _odds_mutating(numbers):
    while numbers and numbers[-1] % 2 == 0: numbers.pop()
    return [2*n for n in numbers if n % 2 == 1]

def _corner_inplace(t):
    t *= 2
    return t[1:, 1:]

def _pairs_off_by_one(xs, ys): return [(xs[i], ys[i + 1]) for i in range(len(xs))]
def _pairs_no_return(xs, ys): list(zip(xs, ys))

def _sig_inplace(x): return x.neg_().exp_().add_(1).reciprocal_()
def _sig_numpy(x):
    with np.errstate(over='ignore'): return torch.from_numpy(1 / (1 + np.exp(-x.numpy())))
def _sig_math(x):
    import math
    return 1 / (1 + math.exp(-x))
def _relu_inplace(x): return x.clamp_(min=0)
def _relu_python_max(x): return max(x, 0)

def _step_no_no_grad(params, lr):
    for p in params:
        p -= lr * p.grad
        p.grad.zero_()
def _step_rebind(params, lr):
    with torch.no_grad():
        for p in params:
            p = p - lr * p.grad
def _step_returns_new(params, lr):
    with torch.no_grad(): return [p - lr * p.grad for p in params]
def _step_uphill(params, lr):
    with torch.no_grad():
        for p in params: p += lr * p.grad; p.grad.zero_()
def _step_no_lr(params, lr):
    with torch.no_grad():
        for p in params: p -= p.grad; p.grad.zero_()
def _step_no_clear(params, lr):
    with torch.no_grad():
        for p in params: p -= lr * p.grad
def _step_clear_first(params, lr):
    with torch.no_grad():
        for p in params: p.grad.zero_(); p -= lr * p.grad
def _step_frozen(params, lr):
    with torch.no_grad():
        for p in params: p -= lr * p.grad; p.grad = None
    for p in params: p.requires_grad_(False)

def _epoch(model, batches, loss_func, lr, sign=-1., scale=None, clear=True, step_inside=True, only_first=False, passes=1):
    "A configurable (and so sometimes wrong) epoch, to build the slips from."
    for _ in range(passes):
        for xb, yb in batches:
            loss_func(model(xb), yb).backward()
            if step_inside:
                with torch.no_grad():
                    for p in model.parameters():
                        p += sign * (lr if scale is None else scale) * p.grad
                        if clear: p.grad.zero_()
            if only_first: return
    if not step_inside:
        with torch.no_grad():
            for p in model.parameters(): p -= lr * p.grad; p.grad.zero_()

def _epoch_weight_only(model, batches, loss_func, lr):
    for xb, yb in batches:
        loss_func(model(xb), yb).backward()
        with torch.no_grad():
            model.weight -= lr * model.weight.grad; model.bias -= lr * model.bias.grad
            model.weight.grad.zero_(); model.bias.grad.zero_()
def _epoch_all_no_grad(model, batches, loss_func, lr):
    with torch.no_grad():
        for xb, yb in batches:
            loss_func(model(xb), yb).backward()
def _epoch_clear_none_first(model, batches, loss_func, lr):
    for xb, yb in batches:
        for p in model.parameters(): p.grad.zero_()
        loss_func(model(xb), yb).backward()
def _epoch_no_step(model, batches, loss_func, lr):
    for xb, yb in batches: loss_func(model(xb), yb).backward()

def _loop(epochs_of, **kw):
    return lambda model, batches, loss_func, lr, epochs: [_epoch(model, batches, loss_func, lr, **kw) for _ in range(epochs_of(epochs))]


WRONG = [  # (question, wrong answer, what the report must say)
    ('list-comprehension', _odds_all, 'keep only the odd ones'),
    ('list-comprehension', _odds_undoubled, 'did not double them'),
    ('list-comprehension', _odds_evens, 'you kept the even numbers'),
    ('list-comprehension', _odds_gen, 'lazy generator'),
    ('list-comprehension', _odds_print, 'printing the list does not hand it back'),
    ('list-comprehension', _odds_positive, 'negative odd numbers are odd too'),
    ('list-comprehension', _odds_squared, '`n*n` squares'),
    ('list-comprehension', _odds_loop, 'we found no list comprehension'),
    ('list-comprehension', _odds_mutating, 'changed the list it was given'),
    ('list-comprehension', [2, 6, 10], 'expected a function'),
    ('tensor-3x3', [[5, 6], [8, 9]], 'not doubled'),
    ('tensor-3x3', (torch.arange(9).view(3, 3) * 2)[1:, 1:], '`torch.arange(9)` starts at 0'),
    ('tensor-3x3', (torch.arange(1, 10).view(3, 3) * 2)[:2, :2], 'top-left corner'),
    ('tensor-3x3', (torch.arange(1, 10).view(3, 3) * 2)[:2, 1:], 'top-right corner'),
    ('tensor-3x3', torch.arange(1, 10).view(3, 3) * 2, 'the whole doubled tensor'),
    ('tensor-3x3', torch.tensor([10, 12, 16, 18]), 'flattened'),
    ('tensor-3x3', (torch.arange(1, 10).view(3, 3) * 2)[-1], 'your answer has shape (3,), expected (2, 2)'),
    ('tensor-3x3', (torch.arange(1, 10).view(3, 3) ** 2)[1:, 1:], 'squared'),
    ('tensor-3x3', 'ten twelve', 'could not read'),
    ('tensor-3x3', _corner_inplace, 'doubles in place'),
    ('tensor-3x3', lambda t: (t * 2)[:2, :2], 'top-left corner'),
    ('zip-pairs', lambda xs, ys: zip(xs, ys), '`zip` is lazy'),
    ('zip-pairs', lambda xs, ys: [[x, y] for x, y in zip(xs, ys)], 'make each pair a tuple'),
    ('zip-pairs', lambda xs, ys: list(zip(ys, xs)), 'the wrong way round'),
    ('zip-pairs', lambda xs, ys: dict(zip(xs, ys)), 'one value per key'),
    ('zip-pairs', lambda xs, ys: tuple(zip(xs, ys)), 'not a list'),
    ('zip-pairs', _pairs_no_return, 'returned None'),
    ('zip-pairs', _pairs_off_by_one, 'an index ran past the end'),
    ('sigmoid', lambda x: 1 / (1 + torch.exp(x)), 'the sign in the exponent is flipped'),
    ('sigmoid', _sig_math, 'take a single number'),
    ('sigmoid', lambda x: torch.exp(x) / (1 + torch.exp(x)), 'inf/inf is nan'),
    ('sigmoid', torch.tanh, 'that is tanh'),
    ('sigmoid', lambda x: 1 + torch.exp(-x), 'take one over that'),
    ('sigmoid', lambda x: 1 / (1 + 2 ** (-x)), 'not 2'),
    ('sigmoid', _sig_inplace, "changed the tensor it was given"),
    ('sigmoid', _sig_numpy, "cut autograd's record"),
    ('sigmoid', lambda x: float(torch.sigmoid(x).mean()), '(a float), not a tensor'),
    ('sigmoid', lambda x: torch.sigmoid(x).sum(), 'work elementwise'),
    ('relu-plot', lambda x: x, 'negative inputs must become 0'),
    ('relu-plot', torch.abs, 'absolute value'),
    ('relu-plot', _relu_python_max, "Python's `max()`"),
    ('relu-plot', lambda x: torch.max(x, 0), '(values, indices)'),
    ('relu-plot', _relu_inplace, 'changed the tensor it was given'),
    ('relu-plot', lambda x: (x > 0).float(), 'that is a step'),
    ('relu-plot', lambda x: x.clamp(max=0), 'you kept the negative part'),
    ('weight-update', _step_no_no_grad, 'inside `with torch.no_grad():`'),
    ('weight-update', _step_rebind, 'only gives the loop variable a new tensor'),
    ('weight-update', _step_returns_new, 'though you returned its new value'),
    ('weight-update', _step_uphill, 'moved uphill'),
    ('weight-update', _step_no_lr, 'moved by the whole gradient'),
    ('weight-update', _step_no_clear, 'was not cleared'),
    ('weight-update', _step_clear_first, 'use the gradient before you clear it'),
    ('weight-update', _step_frozen, 'is no longer a trainable leaf tensor'),
    ('epoch-code', lambda m, b, l, lr: _epoch(m, b, l, lr, clear=False), 'the gradients were never cleared'),
    ('epoch-code', lambda m, b, l, lr: _epoch(m, b, l, lr, sign=1.), 'moved up the gradient'),
    ('epoch-code', lambda m, b, l, lr: _epoch(m, b, l, lr, scale=1.), 'ignoring `lr`'),
    ('epoch-code', lambda m, b, l, lr: _epoch(m, b, l, lr, step_inside=False), 'only one step was taken'),
    ('epoch-code', lambda m, b, l, lr: _epoch(m, b, l, lr, only_first=True), 'only the first batch was used'),
    ('epoch-code', lambda m, b, l, lr: _epoch(m, b, l, lr, passes=2), 'gone through twice'),
    ('epoch-code', _epoch_no_step, "parameters did not change"),
    ('epoch-code', _epoch_weight_only, 'model.parameters()'),
    ('epoch-code', _epoch_all_no_grad, 'outside `torch.no_grad()`'),
    ('epoch-code', _epoch_clear_none_first, 'something here is None'),
    ('training-loop', _loop(lambda n: 1), 'only one epoch was run'),
    ('training-loop', _loop(lambda n: n + 1), 'one epoch too many'),
    ('training-loop', _loop(lambda n: n, clear=False), 'the gradients were never cleared'),
    ('training-loop', _loop(lambda n: n, sign=1.), 'moved up the gradient'),
    ('training-loop', _loop(lambda n: 0), 'parameters did not change'),
    ('training-loop', lambda m, b, l, lr, epochs: _loop(lambda n: n)(m, b, l, lr / 10, epochs), 'not nearly as far'),
]

@pytest.mark.parametrize('qid, value, says', WRONG, ids=[f'{q}-{i}' for i, (q, _, _) in enumerate(WRONG)])
def test_wrong_answers_are_rejected_with_the_right_hint(qid, value, says):
    res = check(qid, value, save=False)
    assert res.status == 'failed', repr(res)
    assert says in report(res), repr(res)
    assert res.hints and all(h for ok, _, h in res.items if ok is False)  # never a bare "wrong"


@pytest.mark.parametrize('plot, says', [
    (lambda ax: plot_function(torch.sigmoid, -1, 1, ax=ax), 'too narrow'),
    (lambda ax: plot_function(torch.tanh, -5, 5, ax=ax), 'is not sigmoid'),
    (lambda ax: None, 'has no line in it')])
def test_wrong_sigmoid_plots(plot, says):
    _, ax = plt.subplots(); plot(ax)
    assert says in report(check('sigmoid', ax, save=False))


@pytest.mark.parametrize('lo, hi, f, says', [(-5, 5, torch.relu, 'the question asks for -2 to +2'), (-2, 2, torch.abs, 'is not ReLU')])
def test_wrong_relu_plots(lo, hi, f, says):
    _, ax = plt.subplots(); plot_function(f, lo, hi, ax=ax)
    assert says in report(check('relu-plot', ax, save=False))


def test_a_report_says_what_is_right_and_what_is_wrong():
    res = check('list-comprehension', _odds_positive, save=False)
    text = repr(res)
    assert text.startswith('Q4 · list-comprehension: ✗ not yet: 1 of 6 checks wrong')
    assert '✓ [1, 2, 3, 4, 5] → [2, 6, 10]' in text
    assert '✗ on [7, 10, 13, -3, 0, 21] you returned [14, 26, 42], expected [14, 26, -6, 42]' in text
    assert 'hint: negative odd numbers' in text


def test_training_check_really_trains_and_the_loss_goes_down():
    batches, make_model = qm._toy_problem(41)
    model = make_model(); before = qm._loss_on(model, batches, qm._mse)
    solution('training-loop')(model, list(batches), qm._mse, 0.1, 5)
    after = qm._loss_on(model, batches, qm._mse)
    assert after < before / 50
    assert 'loss 5.533 → 0.010' in repr(check('training-loop', solution('training-loop'), save=False))


def test_checks_leave_the_learners_random_state_alone():
    torch.manual_seed(3); state = torch.get_rng_state()
    check('training-loop', _loop_shuffled, save=False); check('sigmoid', torch.sigmoid, save=False)
    assert torch.equal(torch.get_rng_state(), state)


def test_a_bug_in_a_grader_is_reported_as_ours():
    def broken(value): raise ZeroDivisionError('oops')
    qs = [Question('x', 'x', 'Write x.', 'x', checker=broken)]
    res = check('x', lambda: 1, questions=qs)
    assert res.status == 'error' and 'bug in mnist_sgd' in res.note and not saved_file().exists()


# ---------------------------------------------------------------- not answered yet

def _placeholder(*args): raise NotImplementedError

@pytest.mark.parametrize('qid', CODE_IDS)
@pytest.mark.parametrize('value', [None, NotImplemented, ..., _placeholder], ids=['None', 'NotImplemented', 'Ellipsis', 'raises'])
def test_unanswered_is_not_an_error_and_writes_nothing(qid, value):
    res = check(qid, value)
    assert res.status == 'not answered yet' and not res.passed and not res.problems
    assert 'run the cell again' in res.note
    assert not saved_file().exists()


def test_written_questions_have_no_check():
    res = check('bias', 'some text')
    assert res.status == 'no check' and "answer('bias'" in res.note and not saved_file().exists()


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
    p = progress(questions=v2).set_index('id')
    assert p.loc['dataset-folders', 'no'] == 3 and p.loc['dataset-folders', 'answered']
    assert p.loc['list-comprehension', 'passed'] and p.loc['new-question', 'answered']
    assert p.loc['rank-vs-shape', 'note'] == 'question reworded since you answered'
    assert p.loc['image-as-numbers', 'answered'] == False  # noqa: E712


def test_removed_questions_are_listed_not_dropped():
    answer('rank3-tensor', 'three axes')
    p = progress(questions=[q for q in QUESTIONS if q.id != 'rank3-tensor'])
    last = p.iloc[-1]
    assert last['id'] == 'rank3-tensor' and last['note'] == 'kept from another course version' and len(p) == 37


# ---------------------------------------------------------------- re-running the notebook

def _part_a_cells():
    "The learner's part of the notebook: the code cells before 'Under the hood'."
    cells = json.loads(NB.read_text())['cells']
    end = next(i for i, c in enumerate(cells) if c['cell_type'] == 'markdown' and ''.join(c['source']).startswith('## Under the hood'))
    return cells[:end]


def test_rerunning_the_notebook_keeps_every_answer(monkeypatch):
    monkeypatch.chdir(NB.parent)
    for qid in ('image-as-numbers', 'broadcasting', 'bias', 'why-many-nonlinearities'): answer(qid, f'my answer to {qid}')
    for qid in CODE_IDS: check(qid, solution(qid))
    check('sigmoid', torch.tanh)  # a failed attempt after a pass
    before = saved_file().read_bytes()
    for _ in range(2):  # run the learner's part twice, as a fresh copy of the notebook would
        ns = {}
        for c in _part_a_cells():
            if c['cell_type'] == 'code': exec(''.join(c['source']), ns)
    assert saved_file().read_bytes() == before
    p = ns['p']
    assert p.attrs['summary'] == '12 of 37 answered; 8 of 8 checks run; 7 passed'


def test_notebook_asks_every_question_in_the_modules_words_and_hides_our_answers():
    cells = _part_a_cells()
    md = [''.join(c['source']) for c in cells if c['cell_type'] == 'markdown']
    code = '\n'.join(''.join(c['source']) for c in cells if c['cell_type'] == 'code')
    for i, q in enumerate(QUESTIONS, 1):
        assert sum(q.text in m and f'**Q{i} · ' in m for m in md) == 1, q.id
        assert f"({q.id!r}" in code, q.id
        assert q.reference[:60] not in '\n'.join(md) + code, q.id  # no spoilers before the appendix
    for q in QUESTIONS:
        if q.kind == 'code': assert f"check({q.id!r}, {q.answer_name})" in code
    assert 'answer(' in code and '"""\n\n"""' in code and code.count('raise NotImplementedError') == 7


# ---------------------------------------------------------------- the file on disk: atomic, and never silently replaced

def test_a_crash_while_replacing_the_file_leaves_it_intact(monkeypatch):
    answer('bias', 'safe')
    before = saved_file().read_bytes()
    def crash(*a, **k): raise OSError('power cut')
    with monkeypatch.context() as m:
        m.setattr(qm.os, 'replace', crash)
        with pytest.raises(AnswersFileError, match='earlier answers are safe'): answer('bias', 'lost?')
    assert saved_file().read_bytes() == before and saved_answer('bias') == 'safe'
    assert [p.name for p in saved_file().parent.iterdir()] == ['questionnaire.json']  # no temporary file left behind


def test_a_crash_half_way_through_writing_leaves_it_intact(monkeypatch):
    answer('bias', 'safe')
    before = saved_file().read_bytes()
    def half(data, f, **kw):
        f.write(json.dumps(data)[:10]); raise KeyboardInterrupt
    with monkeypatch.context() as m:
        m.setattr(qm.json, 'dump', half)
        with pytest.raises(KeyboardInterrupt): answer('bias', 'lost?')
    assert saved_file().read_bytes() == before
    assert [p.name for p in saved_file().parent.iterdir()] == ['questionnaire.json']


def test_a_check_that_cannot_be_saved_still_reports(monkeypatch):
    def crash(*a, **k): raise OSError('read-only disk')
    monkeypatch.setattr(qm.os, 'replace', crash)
    res = check('zip-pairs', solution('zip-pairs'))
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
    monkeypatch.setattr(qm, '_backup_corrupt', no_backup)
    with pytest.raises(AnswersFileError, match='Nothing was changed'): answer('bias', 'x')
    assert f.read_bytes() == b'not json'


# ---------------------------------------------------------------- progress

def test_progress_table():
    answer('bias', 'an offset'); answer('sigmoid', 'an S-shaped curve')
    check('sigmoid', torch.sigmoid); check('relu-plot', torch.abs)
    p = progress()
    assert list(p.columns) == ['no', 'id', 'topic', 'kind', 'answered', 'checked', 'passed', 'saved', 'note']
    assert len(p) == 37 and list(p['no']) == list(range(1, 38))
    rows = p.set_index('id')
    assert rows.loc['bias', 'answered'] and str(rows.loc['bias', 'checked']) == '<NA>' and str(rows.loc['bias', 'passed']) == '<NA>'
    assert rows.loc['sigmoid', 'checked'] and rows.loc['sigmoid', 'passed']
    assert rows.loc['relu-plot', 'checked'] and not rows.loc['relu-plot', 'passed'] and rows.loc['relu-plot', 'answered']
    assert not rows.loc['zip-pairs', 'checked'] and not rows.loc['zip-pairs', 'passed']
    assert p.attrs['summary'] == '3 of 37 answered; 2 of 8 checks run; 1 passed'
    assert rows.loc['bias', 'saved'] != '' and rows.loc['view', 'saved'] == ''
