"Questionnaire checks: every grader passes our reference answer and other right ones, and names the usual slips, with a hint."
import inspect, random, threading, time
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn
import torch.nn.functional as F
import mnist_sgd.quiz.graders as gm
from mnist_sgd.core import plot_function
from mnist_sgd.quiz.grading import GRADERS
from mnist_sgd.quiz.questionnaire import QUESTIONS, CheckResult, Question, check, question, load_answers, answers_path
from qhelpers import (home, report, solution, solution_code, _odds_neq, _pairs_by_index, epoch_with_optim, epoch_zero_first,
                      _NotAModule, _NoSuperInit, _Misspelt, _WithWeights, _InPlace)

CODE_IDS = ['list-comprehension', 'rank-vs-shape', 'rmse-and-l1', 'tensor-3x3', 'broadcasting', 'why-mini-batches', 'what-is-loss',
            'accuracy-as-loss', 'sigmoid', 'loss-vs-metric', 'weight-update', 'epoch-code', 'zip-pairs', 'view', 'bias',
            'matmul-operator', 'zero-gradients', 'learner-needs', 'training-loop', 'relu-plot', 'relu-function-vs-module']


def test_at_least_16_checks_each_with_a_question_that_names_its_answer():
    assert [q.id for q in QUESTIONS if q.kind == 'code'] == CODE_IDS and len(CODE_IDS) >= 16
    assert sorted(GRADERS) == sorted(CODE_IDS)
    for q in QUESTIONS:
        if q.kind == 'code':
            for name in q.answer_name.split(','):
                name = name.strip()
                assert f'`{name}' in q.text or name == 'corner', (q.id, name)
                code = solution_code(q)
                assert f'def {name}(' in code or f'class {name}(' in code or f'{name} =' in code, (q.id, name)


@pytest.mark.parametrize('qid', CODE_IDS)
def test_our_reference_solution_passes_its_check(qid):
    res = check(qid, solution(qid), save=False)
    assert res.status == 'passed', repr(res)
    assert not res.problems and sum(ok is True for ok, *_ in res.items) >= 1


_epoch_optim, _epoch_data = epoch_with_optim, epoch_zero_first

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

PLOTTED = {'sigmoid': (-5, 5), 'relu-plot': (-2, 2)}

def _odds_bits(numbers): return [2*n for n in numbers if n & 1]
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
    if qid in PLOTTED: plot_function(value, *PLOTTED[qid])  # these questions ask for the learner's own plot of the function too
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
    batches, make_model = gm._toy_problem(41)
    model = make_model(); before = gm._loss_on(model, batches, gm._mse)
    solution('training-loop')(model, list(batches), gm._mse, 0.1, 5)
    after = gm._loss_on(model, batches, gm._mse)
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
    assert res.status == 'error' and 'bug in mnist_sgd' in res.note and not answers_path().exists()


# ---------------------------------------------------------------- the twelve newer checks: other right answers

def _rank_dim(t): return t.dim()
def _l1_loop(a, b): return F.l1_loss(a, b)
def _rmse_torch(a, b): return torch.sqrt(F.mse_loss(a, b))
def _bs_rules(s1, s2):
    out = []
    for i in range(1, max(len(s1), len(s2)) + 1):
        a = s1[-i] if i <= len(s1) else 1; b = s2[-i] if i <= len(s2) else 1
        if a != b and a != 1 and b != 1: raise RuntimeError('incompatible')
        out.insert(0, max(a, b) if min(a, b) == 1 else a)
    return tuple(out)
def _batches_gen(xs, ys, bs):
    for i in range(0, len(xs), bs): yield xs[i:i+bs], ys[i:i+bs]
def _acc_sigmoid(preds, targs): return ((preds.sigmoid().squeeze(1) > 0.5) == targs.bool()).float().mean().item()
def _digits_max(preds, targs): return (preds.max(dim=1).indices == targs).float().mean()
def _flat_reshape(x): return x.reshape(len(x), -1)
def _linear_module(xb, w, b): return F.linear(xb, w.T, b)
def _mm_loops(a, b):
    out = [[sum(a[i, k] * b[k, j] for k in range(a.shape[1])) for j in range(b.shape[1])] for i in range(a.shape[0])]
    return torch.tensor([[float(v) for v in row] for row in out])
def _grad_zero_first(f, w):
    if w.grad is not None: w.grad.zero_()
    f(w).backward(); return w.grad
class _ReLUClamp(nn.Module):
    def __init__(self):
        super().__init__()
    def forward(self, x): return F.relu(x)

@pytest.mark.parametrize('qid, value', [
    ('rank-vs-shape', _rank_dim), ('rank-vs-shape', lambda t: t.ndim), ('rmse-and-l1', (_l1_loop, _rmse_torch)),
    ('broadcasting', _bs_rules), ('why-mini-batches', _batches_gen), ('what-is-loss', F.mse_loss),
    ('accuracy-as-loss', _acc_sigmoid), ('loss-vs-metric', _digits_max), ('view', _flat_reshape), ('view', lambda x: x.flatten(1)),
    ('bias', _linear_module), ('matmul-operator', _mm_loops), ('zero-gradients', _grad_zero_first),
    ('relu-function-vs-module', _ReLUClamp), ('relu-function-vs-module', _ReLUClamp())], ids=lambda v: v if isinstance(v, str) else '')
def test_newer_checks_accept_other_right_answers(qid, value):
    res = check(qid, value, save=False)
    assert res.passed, repr(res)


# ---------------------------------------------------------------- ... and name the slips learners of this chapter make

def _other_dls():
    import mnist_sgd.quiz.graders as g
    return g._toy_dls(99)

def _bs_left(s1, s2):
    n = max(len(s1), len(s2)); a, b = tuple(s1) + (1,)*(n - len(s1)), tuple(s2) + (1,)*(n - len(s2))
    if any(x != y and 1 not in (x, y) for x, y in zip(a, b)): raise ValueError('no')
    return tuple(max(x, y) for x, y in zip(a, b))
def _bs_no_error(s1, s2):
    n = max(len(s1), len(s2)); a, b = (1,)*(n - len(s1)) + tuple(s1), (1,)*(n - len(s2)) + tuple(s2)
    return tuple(max(x, y) for x, y in zip(a, b))
def _bs_cheat(s1, s2): return tuple(torch.broadcast_shapes(s1, s2))
def _batches_drop_last(xs, ys, bs): return [(xs[i*bs:(i+1)*bs], ys[i*bs:(i+1)*bs]) for i in range(len(xs) // bs)]
def _batches_overlap(xs, ys, bs): return [(xs[i:i+bs], ys[i:i+bs]) for i in range(len(xs))]
def _batches_shifted(xs, ys, bs): return [(xs[i:i+bs], ys[i+1:i+1+bs]) for i in range(0, len(xs), bs)]
def _mse_item(p, t): return ((p - t)**2).mean().item()
def _mm_uses_at(a, b): return a @ b
def _mm_star(a, b): return (a * b)
def _mm_swapped(a, b): return (b[:, :, None] * a[None]).sum(1)
def _mm_transposed(a, b): return (b.T[:, :, None] * a.T[None]).sum(1)
def _grad_stale(f, w):
    f(w).backward(); return w.grad
def _grad_zero_weights(f, w):
    w.zero_(); f(w).backward(); return w.grad
def _grad_data_zero(f, w):
    w.data.zero_(); f(w).backward(); return w.grad
def _grad_before(f, w): return w.grad if w.grad is not None else torch.zeros_like(w)
def _grad_apart(f, w): return torch.autograd.grad(f(w), w)[0]

from fastai.learner import Learner
from fastai.optimizer import SGD, Adam
from mnist_sgd.learner import Learner as HandLearner
from mnist_sgd.training import mnist_loss, batch_accuracy

def _learner(model=None, opt_func=SGD, loss_func=mnist_loss, metrics=batch_accuracy, cls=Learner):
    return lambda dls: cls(dls, model or nn.Linear(28*28, 1), opt_func=opt_func, loss_func=loss_func, metrics=metrics)

NEW_WRONG = [
    ('learner-needs', _learner(opt_func=Adam), 'plain SGD'),
    ('learner-needs', _learner(opt_func=torch.optim.SGD), 'not `torch.optim.SGD`'),
    ('learner-needs', _learner(metrics=None), 'no metric'),
    ('learner-needs', _learner(loss_func=F.mse_loss), 'is not mnist_loss'),
    ('learner-needs', _learner(model=nn.Linear(28, 1)), 'cannot take a batch of 784 pixels'),
    ('learner-needs', lambda dls: nn.Linear(28*28, 1), "not fastai's Learner"),
    ('learner-needs', lambda dls: HandLearner(dls, nn.Linear(28*28, 1), mnist_loss, metrics=batch_accuracy, progress=False), 'by hand in lesson 8'),
    ('learner-needs', lambda dls: Learner(_other_dls(), nn.Linear(28*28, 1), opt_func=SGD, loss_func=mnist_loss, metrics=batch_accuracy), 'pass `dls` itself'),
    ('rank-vs-shape', lambda t: len(t), 'first axis only'),
    ('rank-vs-shape', lambda t: t.numel(), 'number of elements'),
    ('rank-vs-shape', lambda t: t.shape, 'the shape itself'),
    ('rank-vs-shape', lambda t: torch.tensor(t.ndim), 'not an int'),
    ('rmse-and-l1', (lambda a, b: (a - b).mean(), _rmse_torch), 'cancel out'),
    ('rmse-and-l1', (_l1_loop, lambda a, b: ((a - b)**2).mean()), 'the square root is missing'),
    ('rmse-and-l1', (_l1_loop, lambda a, b: ((a - b)**2).sqrt().mean()), 'the root comes last'),
    ('rmse-and-l1', (_rmse_torch, _l1_loop), 'that is the RMSE'),
    ('rmse-and-l1', _l1_loop, 'as a pair'),
    ('what-is-loss', _rmse_torch, 'square root is left in'),
    ('what-is-loss', lambda p, t: (p - t).abs().mean(), 'mean absolute error'),
    ('what-is-loss', lambda p, t: ((p - t)**2).sum(), 'sum of the squares'),
    ('what-is-loss', _mse_item, 'must stay a tensor'),
    ('broadcasting', lambda s1, s2: max(s1, s2, key=len), 'N×N'),
    ('broadcasting', _bs_left, 'up from the right'),
    ('broadcasting', _bs_no_error, 'raise an error'),
    ('broadcasting', _bs_cheat, 'work it out from the rules'),
    ('why-mini-batches', _batches_drop_last, 'shorter batch is missing'),
    ('why-mini-batches', _batches_overlap, 'overlap'),
    ('why-mini-batches', _batches_shifted, 'does not hold the inputs'),
    ('accuracy-as-loss', lambda p, t: ((p > 0).float() == t).float().mean(), 'N×N'),
    ('accuracy-as-loss', lambda p, t: ((p.view(-1) > 0.5).float() == t).float().mean(), '0.5 is the threshold'),
    ('accuracy-as-loss', lambda p, t: ((p > 0.5).float() == t).float().mean(), 'two slips'),
    ('accuracy-as-loss', lambda p, t: ((p.sigmoid().view(-1) > 0).float() == t).float().mean(), 'always above 0'),
    ('accuracy-as-loss', lambda p, t: ((p.view(-1) > 0).float() == t).float().sum(), 'number right'),
    ('loss-vs-metric', lambda p, t: (p.argmin(dim=1) == t).float().mean(), '`argmin` picks the lowest'),
    ('loss-vs-metric', lambda p, t: (p.argmax(dim=1, keepdim=True) == t).float().mean(), 'N×N'),
    ('loss-vs-metric', lambda p, t: (p.argmax(dim=0) == t).float().mean(), 'looks down each column'),
    ('loss-vs-metric', lambda p, t: (p.argmax(dim=1) == t).sum(), 'number right'),
    ('view', lambda x: x.view(-1), 'one long row'),
    ('view', lambda x: x.view(-1, 28*28), 'fits only one size'),
    ('view', lambda x: x.view(x.shape[1]*x.shape[2], -1), 'N rows'),
    ('view', lambda x: x.transpose(1, 2).reshape(len(x), -1), 'another order'),
    ('bias', lambda xb, w, b: xb @ w, 'bias was not added'),
    ('bias', lambda xb, w, b: w @ xb + b, 'last axis of `a`'),
    ('matmul-operator', _mm_uses_at, 'uses @'),
    ('matmul-operator', _mm_star, 'element by element'),
    ('matmul-operator', _mm_swapped, 'that is `b @ a`'),
    ('matmul-operator', _mm_transposed, 'transpose of the answer'),
    ('zero-gradients', _grad_stale, 'still includes the old gradient'),
    ('zero-gradients', _grad_zero_weights, '`w.zero_()` would zero the weights'),
    ('zero-gradients', _grad_data_zero, 'the values of `w` changed'),
    ('zero-gradients', _grad_before, 'you returned the old gradient'),
    ('zero-gradients', _grad_apart, 'does not hold it afterwards'),
    ('relu-function-vs-module', F.relu, 'the function itself'),
    ('relu-function-vs-module', nn.ReLU, "PyTorch's own"),
    ('relu-function-vs-module', _NotAModule, 'is not a module'),
    ('relu-function-vs-module', _NoSuperInit, 'super().__init__()'),
    ('relu-function-vs-module', _Misspelt, 'name the method `forward`'),
    ('relu-function-vs-module', _WithWeights, 'nothing to learn'),
    ('relu-function-vs-module', _InPlace, 'changed the tensor it was given'),
]

@pytest.mark.parametrize('qid, value, says', NEW_WRONG, ids=[f'{q}-{i}' for i, (q, _, _) in enumerate(NEW_WRONG)])
def test_newer_checks_name_the_slip(qid, value, says):
    res = check(qid, value, save=False)
    assert res.status == 'failed', repr(res)
    assert says in report(res), repr(res)
    assert res.hints and all(h for ok, _, h in res.items if ok is False)


def test_the_slips_of_the_issue_each_have_a_check_that_names_them():
    "sqrt in an mse, 0.5 on raw outputs, no zero_grad, argmin for argmax, an in-place edit of a leaf, (N, 1) against (N,)."
    def step_no_no_grad(params, lr):
        for p in params: p -= lr * p.grad
    slips = [('what-is-loss', _rmse_torch, 'square root is left in'),
             ('accuracy-as-loss', lambda p, t: ((p.view(-1) > 0.5).float() == t).float().mean(), 'raw outputs split at 0'),
             ('zero-gradients', _grad_stale, 'zero_grad()'),
             ('loss-vs-metric', lambda p, t: (p.argmin(dim=1) == t).float().mean(), 'argmax'),
             ('weight-update', step_no_no_grad, 'in-place change of a tensor that requires grad'),
             ('accuracy-as-loss', lambda p, t: ((p > 0).float() == t).float().mean(), '(N, 1) against targets of shape (N,)')]
    for qid, value, says in slips: assert says in report(check(qid, value, save=False)), (qid, says)


def test_accuracy_check_shows_that_autograd_gets_no_gradient():
    res = check('accuracy-as-loss', solution('accuracy-as-loss'), save=False)
    assert res.passed and any(ok is None and 'no gradient' in m for ok, m, _ in res.items), repr(res)


def test_matmul_check_compares_with_the_at_operator_on_integers_too():
    res = check('matmul-operator', solution('matmul-operator'), save=False)
    assert '(2, 2) @ (2, 2): same as `@`' in repr(res)


# ---------------------------------------------------------------- a check cannot freeze or flood the notebook (issue 13, finding 6)

def _spin(xs, ys):
    while True: pass
def _spin_stubborn(xs, ys):
    while True:
        try:
            while True: pass
        except Exception: pass
def _sleepy(xs, ys): time.sleep(60)
def _chatty(xs, ys):
    for i in range(20_000): print('line', i, 'of my debugging output')
    return list(zip(xs, ys))

@pytest.mark.parametrize('fn', [_spin, _spin_stubborn, _sleepy], ids=['loop', 'loop-catching-Exception', 'sleep'])
def test_a_hanging_answer_times_out_with_a_message(fn):
    t0 = time.monotonic()
    res = check('zip-pairs', fn, time_limit=1)
    assert time.monotonic() - t0 < 6
    assert res.status == 'timed out' and 'still running after 1 s' in res.note and 'loop that never ends' in res.note
    assert load_answers()['answers']['zip-pairs']['check']['status'] == 'timed out'


def test_a_hanging_answer_times_out_outside_the_main_thread_too():
    out = {}
    th = threading.Thread(target=lambda: out.setdefault('res', check('zip-pairs', _spin, time_limit=1, save=False)))
    t0 = time.monotonic(); th.start(); th.join(10)
    assert not th.is_alive() and time.monotonic() - t0 < 6 and out['res'].status == 'timed out'


def test_flooding_output_is_stopped_and_reported(capsys):
    res = check('zip-pairs', _chatty)
    assert res.status == 'too much output' and 'more than 20,000 characters' in res.note
    assert len(capsys.readouterr().out) < 1000  # nothing reached the notebook


def test_a_little_printing_is_fine_and_mentioned(capsys):
    def talkative(xs, ys):
        print('pairing', len(xs)); return list(zip(xs, ys))
    res = check('zip-pairs', talkative, save=False)
    assert res.passed and 'your code printed 5 lines' in repr(res) and capsys.readouterr().out == ''


def test_time_limit_must_be_a_positive_number():
    res = check('zip-pairs', solution('zip-pairs'), time_limit=0, save=False)
    assert res.status == 'error' and 'seconds must be a number above 0' in res.note
