"""A corpus of answers for every check of the questionnaire: for each, right answers written in different ways, which must
pass, and the wrong answers learners of this chapter typically give, each with a stable word of the hint it must get.
None of them may crash a grader ("the check itself failed") or run into the time limit."""
import math, sys, time, warnings
import matplotlib
matplotlib.use('Agg')
from matplotlib.figure import Figure
import numpy as np
import pytest
import torch
from torch import nn
import torch.nn.functional as F
from mnist_sgd.core import plot_function
from mnist_sgd.quiz.questionnaire import QUESTIONS, check
from qhelpers import (home, report, epoch_with_optim, epoch_zero_first, _Misspelt, _InPlace,
                      _NoSuperInit as _NoSuperLayer, _WithWeights as _Weights, _NotAModule as _NotModule)


class Plotted:
    "An answer made when the test runs: the function, with the learner's own plot of it (drawn on a figure of its own)."
    def __init__(self, fn, lo, hi, alone=False): self.fn, self.lo, self.hi, self.alone = fn, lo, hi, alone
    def make(self):
        ax = Figure().subplots(); plot_function(self.fn, self.lo, self.hi, ax=ax)
        return ax if self.alone else (self.fn, ax)

def _value(v): return v.make() if isinstance(v, Plotted) else v


class _Unshowable:
    "A result whose every method fails, even its repr."
    def __repr__(self): raise RuntimeError('no repr')
    def __eq__(self, other): raise ValueError('no eq')
    def __len__(self): raise ValueError('no len')
    def __iter__(self): raise ValueError('no iter')
    def __bool__(self): raise ValueError('no bool')
    __hash__ = None

class _Bail(BaseException): "Something a learner might raise that is not an Exception."

def _exits(*args): sys.exit(1)
with warnings.catch_warnings():  # Python itself warns about this slip when it reads the line
    warnings.simplefilter('ignore'); _slices_the_two = eval("lambda t: t * 2[1:, 1:]")
def _bails(*args): raise _Bail()
def _unshowable(*args): return _Unshowable()

# ---------------------------------------------------------------- Q4 list comprehension
def _dbl_loop(numbers):
    out = []
    for n in numbers:
        if n % 2 == 1: out.append(2 * n)
    return out
def _dbl_pop(numbers):
    while numbers and numbers[-1] % 2 == 0: numbers.pop()
    return [2 * n for n in numbers if n % 2 == 1]
def _dbl_print(numbers): print([2 * n for n in numbers if n % 2 == 1])

# ---------------------------------------------------------------- Q29 matmul by hand
def _mm(a, b, buffer=None, ks=None, assign=False):
    n, k = a.shape; m = b.shape[1]
    out = buffer(a, b) if buffer else torch.zeros(n, m)
    for i in range(n):
        for j in range(m):
            for t in (ks(k) if ks else range(k)):
                if assign: out[i, j] = a[i, t] * b[t, j]
                else: out[i, j] += a[i, t] * b[t, j]
    return out
def _mm_rows(a, b): return torch.stack([(a[i][:, None] * b).sum(0) for i in range(a.shape[0])])
def _mm_bcast(a, b): return (a[:, :, None] * b[None]).sum(1)
def _mm_lists(a, b): return [[float(sum(a[i, t] * b[t, j] for t in range(a.shape[1]))) for j in range(b.shape[1])] for i in range(a.shape[0])]

# ---------------------------------------------------------------- Q23 the weight update
def _step(params, lr, how='ok'):
    with torch.no_grad():
        for p in params:
            if how == 'clear_first': p.grad.zero_()
            if how in ('ok', 'clear_first', 'keep'): p -= lr * p.grad
            elif how == 'plus': p += lr * p.grad
            elif how == 'nolr': p -= p.grad
            elif how == 'param': p -= lr * p
            if how != 'keep': p.grad.zero_()
def _step_none(params, lr):
    with torch.no_grad():
        for p in params: p.sub_(lr * p.grad); p.grad = None
def _step_data(params, lr):
    for p in params: p.data -= lr * p.grad.data; p.grad.zero_()
def _step_add(params, lr):
    with torch.no_grad():
        for p in params: p.add_(p.grad, alpha=-lr); p.grad = None
def _step_rebind(params, lr):
    with torch.no_grad():
        for p in params: p = p - lr * p.grad
def _step_return_new(params, lr):
    with torch.no_grad(): return [p - lr * p.grad for p in params]
def _step_no_no_grad(params, lr):
    for p in params: p -= lr * p.grad; p.grad.zero_()
def _step_first_only(params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad; p.grad.zero_()
            return
def _step_grad_update(params, lr):
    for p in params: p.grad -= lr * p.grad
def _step_frozen(params, lr):
    with torch.no_grad():
        for p in params: p -= lr * p.grad; p.grad = None
    for p in params: p.requires_grad_(False)

# ---------------------------------------------------------------- Q25 and Q33: an epoch, a loop
def _epoch(model, batches, loss_func, lr, sign=-1., scale=None, clear=True, inside=True, first_only=False, passes=1, swap=False,
           step_first=False, zero_yb=False):
    for _ in range(passes):
        for xb, yb in batches:
            if step_first:
                with torch.no_grad():
                    for p in model.parameters():
                        if p.grad is not None: p -= lr * p.grad; p.grad = None
            loss = loss_func(yb, model(xb)) if swap else loss_func(model(xb), yb)
            loss.backward()
            if zero_yb: yb.zero_()
            if inside and not step_first:
                with torch.no_grad():
                    for p in model.parameters():
                        p += sign * (lr if scale is None else scale) * p.grad
                        if clear: p.grad.zero_()
            if first_only: return
    if not inside:
        with torch.no_grad():
            for p in model.parameters(): p -= lr * p.grad; p.grad.zero_()

_epoch_opt, _epoch_zero_first = epoch_with_optim, epoch_zero_first
def _epoch_reporting(model, batches, loss_func, lr):
    _epoch(model, batches, loss_func, lr)
    with torch.no_grad(): print('loss', float(sum(loss_func(model(xb), yb) for xb, yb in batches)))
def _epoch_own_loss(model, batches, loss_func, lr):
    for xb, yb in batches:
        ((model(xb) - yb)**2).mean().backward()
        with torch.no_grad():
            for p in model.parameters(): p -= lr * p.grad; p.grad = None
def _epoch_no_step(model, batches, loss_func, lr):
    for xb, yb in batches: loss_func(model(xb), yb).backward()
def _epoch_all_no_grad(model, batches, loss_func, lr):
    with torch.no_grad():
        for xb, yb in batches: loss_func(model(xb), yb).backward()
def _epoch_weight_only(model, batches, loss_func, lr):
    for xb, yb in batches:
        loss_func(model(xb), yb).backward()
        with torch.no_grad():
            model.weight -= lr * model.weight.grad; model.weight.grad.zero_()

def _loop(epochs_of=lambda n: n, **kw):
    def train_loop(model, batches, loss_func, lr, epochs):
        for _ in range(epochs_of(epochs)): _epoch(model, batches, loss_func, lr, **kw)
    return train_loop
def _loop_shuffled(model, batches, loss_func, lr, epochs):
    import random
    for _ in range(epochs):
        random.shuffle(batches); _epoch_zero_first(model, batches, loss_func, lr)
def _loop_opt(model, batches, loss_func, lr, epochs):
    for _ in range(epochs): _epoch_opt(model, batches, loss_func, lr)
def _loop_zero_first(model, batches, loss_func, lr, epochs):
    for epoch in range(epochs): _epoch_zero_first(model, batches, loss_func, lr)
def _loop_fixed_lr(model, batches, loss_func, lr, epochs): _loop()(model, batches, loss_func, 0.05, epochs)
def _loop_tenth(model, batches, loss_func, lr, epochs): _loop()(model, batches, loss_func, lr / 10, epochs)

# ---------------------------------------------------------------- Q31 zeroing gradients
def _ga(f, w, how='ok'):
    if how == 'ok': w.grad = None
    if how == 'zero_': w.grad.zero_() if w.grad is not None else None
    if how == 'data': w.data.zero_()
    f(w).backward()
    if how == 'twice': f(w).backward()
    return w.grad
def _ga_zeroed_only(f, w):
    if w.grad is not None: w.grad.zero_()
    return w.grad if w.grad is not None else torch.zeros_like(w)
def _ga_fresh_loss(f, w):
    if w.grad is not None: w.grad = torch.zeros_like(w)
    loss = f(w); loss.backward()
    return w.grad.clone()
def _ga_apart(f, w): return torch.autograd.grad(f(w), w)[0]
def _ga_weights(f, w):
    w.zero_(); f(w).backward(); return w.grad
def _ga_value(f, w):
    w.grad = None; f(w).backward(); return w

# ---------------------------------------------------------------- Q36 F.relu in a module
class _ReLUMod(nn.Module):
    def forward(self, x): return F.relu(x)
class _ReLUInit(nn.Module):
    def __init__(self): super().__init__()
    def forward(self, x): return torch.relu(x)
class _ReLUClamp(nn.Module):
    def forward(self, x): return x.clamp(min=0)
class _NoSuper(nn.Module):
    def __init__(self): pass
    def forward(self, x): return F.relu(x)
class _NoReturn(nn.Module):
    def forward(self, x): F.relu(x)
class _Calls(nn.Module):
    def __call__(self, x): return F.relu(x)
class _Sigmoidal(nn.Module):
    def forward(self, x): return torch.sigmoid(x)

# ---------------------------------------------------------------- Q32 fastai's Learner
def _learner(model=None, opt=None, loss=None, metrics='batch_accuracy', other_dls=False, hand=False):
    def make_learner(dls):
        from fastai.learner import Learner
        from fastai.optimizer import SGD
        from mnist_sgd.training import mnist_loss, batch_accuracy
        import mnist_sgd.quiz.graders as g
        m = model() if model else nn.Linear(28*28, 1)
        if hand:
            from mnist_sgd.learner import Learner as HandLearner
            return HandLearner(dls, m, mnist_loss, metrics=batch_accuracy, progress=False)
        return Learner(g._toy_dls(99) if other_dls else dls, m, opt_func=opt or SGD, loss_func=loss or mnist_loss,
                       metrics={'batch_accuracy': batch_accuracy, 'a list': [batch_accuracy]}.get(metrics, metrics) if isinstance(metrics, str) else metrics)
    return make_learner
def _adam():
    from fastai.optimizer import Adam
    return Adam

# ---------------------------------------------------------------- Q10 broadcasting
def _bs(s1, s2):
    n = max(len(s1), len(s2)); a, b = (1,)*(n - len(s1)) + tuple(s1), (1,)*(n - len(s2)) + tuple(s2)
    out = []
    for x, y in zip(a, b):
        if x != y and 1 not in (x, y): raise ValueError(f"{x} against {y}")
        out.append(max(x, y))
    return tuple(out)
def _bs_reversed(s1, s2):
    out = []
    for i in range(1, max(len(s1), len(s2)) + 1):
        x = s1[-i] if i <= len(s1) else 1; y = s2[-i] if i <= len(s2) else 1
        if x != 1 and y != 1 and x != y: raise RuntimeError('incompatible shapes')
        out.append(y if x == 1 else x)
    return tuple(reversed(out))
def _bs_zip_longest(s1, s2):
    import itertools
    out = []
    for x, y in itertools.zip_longest(reversed(s1), reversed(s2), fillvalue=1):
        if 1 < x != y > 1: raise ValueError(f"can't broadcast {x} with {y}")
        out.insert(0, x if y == 1 else y)
    return tuple(out)
def _bs_left(s1, s2):
    n = max(len(s1), len(s2)); a, b = tuple(s1) + (1,)*(n - len(s1)), tuple(s2) + (1,)*(n - len(s2))
    if any(x != y and 1 not in (x, y) for x, y in zip(a, b)): raise ValueError('no')
    return tuple(max(x, y) for x, y in zip(a, b))
def _bs_no_error(s1, s2):
    n = max(len(s1), len(s2)); a, b = (1,)*(n - len(s1)) + tuple(s1), (1,)*(n - len(s2)) + tuple(s2)
    return tuple(max(x, y) for x, y in zip(a, b))
def _bs_min(s1, s2):
    n = max(len(s1), len(s2)); a, b = (1,)*(n - len(s1)) + tuple(s1), (1,)*(n - len(s2)) + tuple(s2)
    if any(x != y and 1 not in (x, y) for x, y in zip(a, b)): raise ValueError('no')
    return tuple(min(x, y) for x, y in zip(a, b))
def _bs_index(s1, s2):
    out = []
    for i in range(len(s1)):
        x, y = s1[i], s2[i]
        if x != y and 1 not in (x, y): raise ValueError('no')
        out.append(max(x, y))
    return tuple(out)
def _bs_tensors(s1, s2): return tuple((torch.zeros(s1) + torch.zeros(s2)).shape)

# ---------------------------------------------------------------- Q13 mini-batches
def _mb_gen(xs, ys, bs):
    for i in range(0, len(xs), bs): yield xs[i:i+bs], ys[i:i+bs]
def _mb_endless(xs, ys, bs):
    i = 0
    while True:
        yield xs[i:i+bs], ys[i:i+bs]; i += bs
def _mb_shuffled(xs, ys, bs):
    idx = torch.randperm(len(xs)); xs, ys = xs[idx], ys[idx]
    return [(xs[i:i+bs], ys[i:i+bs]) for i in range(0, len(xs), bs)]
def _mb_raises_midway(xs, ys, bs):
    yield xs[:bs], ys[:bs]
    raise ValueError('out of data')


# ---------------------------------------------------------------- the corpus: (question, right answers, [(wrong answer, slip word), ...])
CORPUS = {
    'list-comprehension': (
        [lambda ns: [2*n for n in ns if n % 2 == 1], lambda ns: [n * 2 for n in ns if n % 2 != 0], lambda ns: [n + n for n in ns if n & 1]],
        [(lambda ns: [2*n for n in ns], 'keep only the odd ones'), (lambda ns: [n for n in ns if n % 2 == 1], 'did not double'),
         (lambda ns: [2*n for n in ns if n % 2 == 0], 'kept the even numbers'), (lambda ns: (2*n for n in ns if n % 2 == 1), 'lazy generator'),
         (_dbl_print, 'printing the list'), (lambda ns: [2*n for n in ns if n % 2 == 1 and n > 0], 'negative odd numbers'),
         (lambda ns: [n*n for n in ns if n % 2 == 1], '`n*n` squares'), (_dbl_loop, 'no list comprehension'),
         (_dbl_pop, 'changed the list'), (lambda ns: {2*n for n in ns if n % 2 == 1}, 'plain Python list'),
         (lambda ns: [2*n for n in ns if n // 2 == 1], 'the remainder'), (lambda ns: sorted(2*n for n in ns if n % 2 == 1), 'wrong order'),
         ([2, 6, 10], 'expected a function'), (_exits, '`sys.exit()`'), (_unshowable, 'plain Python list')]),
    'rank-vs-shape': (
        [lambda t: len(t.shape), lambda t: t.dim(), lambda t: t.ndim, lambda t: np.ndim(t)],
        [(lambda t: len(t), 'first axis'), (lambda t: t.numel(), 'number of elements'), (lambda t: t.shape, 'the shape itself'),
         (lambda t: torch.tensor(t.ndim), 'not an int'), (lambda t: t.shape[-1], 'last axis'), (lambda t: max(t.shape), 'longest axis'),
         (lambda t: len(t.shape) - 1, 'one too few'), (lambda t: sum(t.shape), 'sum of the axis lengths'),
         (lambda t: float(t.dim()), 'not an int'), (lambda t: None, 'return len'), (_unshowable, 'not an int')]),
    'rmse-and-l1': (
        [(lambda a, b: (a - b).abs().mean(), lambda a, b: ((a - b)**2).mean().sqrt()), (F.l1_loss, lambda a, b: torch.sqrt(F.mse_loss(a, b))),
         (lambda a, b: torch.mean(torch.abs(a - b)), lambda a, b: (a - b).pow(2).mean() ** 0.5),
         (lambda a, b: (a - b).abs().sum() / a.numel(), lambda a, b: (a - b).norm() / math.sqrt(a.numel()))],
        [((lambda a, b: (a - b).abs().mean().item(), lambda a, b: ((a - b)**2).mean().sqrt()), 'rank-0 tensor'),
         ((lambda a, b: (a - b).mean(), F.l1_loss), 'cancel out'), ((F.l1_loss, lambda a, b: ((a - b)**2).mean()), 'square root is missing'),
         ((F.l1_loss, lambda a, b: ((a - b)**2).sqrt().mean()), 'the root comes last'),
         ((lambda a, b: ((a - b)**2).mean().sqrt(), lambda a, b: (a - b).abs().mean()), 'that is the RMSE'),
         ((lambda a, b: (a - b).abs().sum(), F.l1_loss), 'that is the sum'), ((lambda a, b: (a - b).abs().mean(0), F.l1_loss), 'not a single number'),
         ((lambda a, b: (a - b).abs().mean(-1, keepdim=True).mean(0), F.l1_loss), 'rank-0'),
         ((lambda a, b: (a - b).abs().max(), F.l1_loss), 'largest difference'), (F.l1_loss, 'as a pair'),
         ((lambda a, b: (a - b).mean().abs(), F.l1_loss), 'not of the mean')]),
    'tensor-3x3': (
        [(torch.arange(1, 10).view(3, 3) * 2)[1:, 1:], np.array([[10., 12.], [16., 18.]]), [[10, 12], [16, 18]],
         lambda t: (t * 2)[-2:, -2:], lambda t: t[1:, 1:] * 2, lambda t: (t + t)[1:3, 1:3]],
        [([[5, 6], [8, 9]], 'not doubled'), ((torch.arange(9).view(3, 3) * 2)[1:, 1:], 'starts at 0'),
         ((torch.arange(1, 10).view(3, 3) * 2)[:2, :2], 'top-left'), ((torch.arange(1, 10).view(3, 3) * 2)[:2, 1:], 'top-right'),
         (torch.arange(1, 10).view(3, 3) * 2, 'whole doubled tensor'), (torch.tensor([10, 12, 16, 18]), 'flattened'),
         ((torch.arange(1, 10).view(3, 3) * 2)[-1], 'has shape (3,)'), ((torch.arange(1, 10).view(3, 3) ** 2)[1:, 1:], 'squared'),
         ('ten twelve', 'could not read'), (lambda t: (t * 2)[1:, :2], 'bottom-left'), (lambda t: (t.mul_(2))[1:, 1:], 'doubles in place'),
         (_slices_the_two, 'brackets around the product'), (lambda t: (t * 2)[2:, 2:], 'only one number'),
         (lambda t: (t * 2)[1:, 1:].T, 'transposed'), (_unshowable, 'could not read')]),
    'broadcasting': (
        [_bs, _bs_reversed, _bs_zip_longest],
        [(lambda s1, s2: tuple(max(s1, s2, key=len)), 'N×N'), (_bs_left, 'from the right'), (_bs_no_error, 'raise an error'),
         (lambda s1, s2: tuple(torch.broadcast_shapes(s1, s2)), 'from the rules'), (_bs_tensors, 'from the rules'),
         (_bs_min, 'the larger one'), (_bs_index, 'pad the shorter'), (lambda s1, s2: tuple(s1) + tuple(s2), 'end to end'),
         (lambda s1, s2: list(_bs(s1, s2)) and None, 'return tuple'), (lambda s1, s2: str(_bs(s1, s2)), 'not a tuple'),
         (lambda s1, s2: tuple(max(a, b) for a, b in zip(s1, s2)), '`zip` stops')]),
    'why-mini-batches': (
        [lambda xs, ys, bs: [(xs[i:i+bs], ys[i:i+bs]) for i in range(0, len(xs), bs)], _mb_gen,
         lambda xs, ys, bs: [(xs[k*bs:(k+1)*bs], ys[k*bs:(k+1)*bs]) for k in range(math.ceil(len(xs) / bs))], lambda xs, ys, bs: [[xs[i:i+bs], ys[i:i+bs]] for i in range(0, len(xs), bs)]],
        [(lambda xs, ys, bs: [(xs[i*bs:(i+1)*bs], ys[i*bs:(i+1)*bs]) for i in range(len(xs) // bs)], 'shorter batch is missing'),
         (lambda xs, ys, bs: [(xs[i:i+bs], ys[i:i+bs]) for i in range(len(xs))], 'overlap'),
         (lambda xs, ys, bs: [(xs[i:i+bs], ys[i+1:i+1+bs]) for i in range(0, len(xs), bs)], 'does not hold the inputs'),
         (_mb_shuffled, 'out of order'), (_mb_endless, 'does it ever stop'), (lambda xs, ys, bs: [xs[i:i+bs] for i in range(0, len(xs), bs)], 'pair'),
         (lambda xs, ys, bs: [(xs[i:i+bs-1], ys[i:i+bs-1]) for i in range(0, len(xs), bs)], 'stops one short'),
         (lambda xs, ys, bs: xs, 'not a list of batches'), (lambda xs, ys, bs: 3, 'not a list of batches'), (_mb_raises_midway, 'out of data'),
         (_unshowable, 'no iter'), (_bails, 'raised _Bail')]),
    'what-is-loss': (
        [lambda p, t: ((p - t)**2).mean(), F.mse_loss, lambda p, t: torch.square(t - p).mean(), lambda p, t: (p - t).pow(2).sum() / p.numel()],
        [(lambda p, t: ((p - t)**2).mean().sqrt(), 'square root is left in'), (lambda p, t: (p - t).abs().mean(), 'mean absolute error'),
         (lambda p, t: ((p - t)**2).sum(), 'sum of the squares'), (lambda p, t: ((p - t)**2).mean().item(), 'must stay a tensor'),
         (lambda p, t: (p - t).mean(), 'cancel out'), (lambda p, t: ((p - t)**2).sum() / len(p), 'first axis'),
         (lambda p, t: (p - t).mean()**2, 'square each difference first'), (lambda p, t: ((p - t)**2).mean() / 2, 'no ½'),
         (lambda p, t: (p - t)**2, 'not a single number'), (lambda p, t: p.sub_(t).pow(2).mean(), 'changed a tensor')]),
    'accuracy-as-loss': (
        [lambda p, t: ((p.view(-1) > 0).float() == t).float().mean(), lambda p, t: ((p.squeeze(1).sigmoid() > 0.5) == t.bool()).float().mean(),
         lambda p, t: ((p.view(-1) > 0) == (t == 1)).sum().item() / len(t), lambda p, t: ((p[:, 0] > 0).long() == t.long()).double().mean()],
        [(lambda p, t: ((p > 0).float() == t).float().mean(), 'N×N'), (lambda p, t: ((p.view(-1) > 0.5).float() == t).float().mean(), '0.5 is the threshold'),
         (lambda p, t: ((p > 0.5).float() == t).float().mean(), 'two slips'), (lambda p, t: ((p.sigmoid().view(-1) > 0).float() == t).float().mean(), 'always above 0'),
         (lambda p, t: ((p.view(-1) > 0).float() == t).float().sum(), 'number right'), (lambda p, t: ((p.view(-1) <= 0).float() == t).float().mean(), 'whose target is 1'),
         (lambda p, t: ((p.view(-1) > 0).float() != t).float().mean(), 'error rate'), (lambda p, t: (p.view(-1) > 0).float().mean(), 'compare each prediction'),
         (lambda p, t: ((p.view(-1) > 0) == t).mean(), 'needs numbers'), (lambda p, t: (p.view(-1) > 0).float() == t, 'not a single number'),
         (lambda p, t: p.sigmoid().mean(), 'smooth score')]),
    'sigmoid': (
        [Plotted(lambda x: 1 / (1 + torch.exp(-x)), -5, 5), Plotted(torch.sigmoid, -6, 6), Plotted(lambda x: 0.5 * (1 + torch.tanh(x / 2)), -5, 5),
         Plotted(lambda x: x.neg().exp().add(1).reciprocal(), -5, 5, alone=True)],
        [(torch.sigmoid, 'no plot of yours'), (Plotted(torch.sigmoid, -1, 1), 'too narrow'), (Plotted(torch.tanh, -5, 5, alone=True), 'is not sigmoid'),
         (lambda x: 1 / (1 + torch.exp(x)), 'sign in the exponent'), (lambda x: torch.exp(x) / (1 + torch.exp(x)), 'inf/inf is nan'),
         (torch.tanh, 'that is tanh'), (lambda x: 1 + torch.exp(-x), 'one over that'), (lambda x: 1 / (1 + 2 ** (-x)), 'not 2'),
         (lambda x: 1 / (1 + math.exp(-x)), 'single number'), (lambda x: x.neg_().exp_().add_(1).reciprocal_(), 'change the caller'),
         (lambda x: torch.from_numpy(1 / (1 + np.exp(-x.numpy()))), "cut autograd's record"), (lambda x: float(torch.sigmoid(x).mean()), 'not a tensor'),
         (lambda x: torch.sigmoid(x).sum(), 'work elementwise'), (lambda x: torch.exp(-x), 'alone'), (lambda x: torch.softmax(x, 0), 'softmax'),
         (lambda x: None, 'return'), (lambda x: 1 / (1 + np.exp(-x.numpy())), 'not a tensor')]),
    'loss-vs-metric': (
        [lambda p, t: (p.argmax(dim=1) == t).float().mean(), lambda p, t: (p.max(dim=1).indices == t).float().mean(),
         lambda p, t: (torch.argmax(p, 1) == t).sum() / len(t), lambda p, t: (p.softmax(dim=1).argmax(1) == t).double().mean().item()],
        [(lambda p, t: (p.argmin(dim=1) == t).float().mean(), '`argmin`'), (lambda p, t: (p.argmax(dim=1, keepdim=True) == t).float().mean(), 'N×N'),
         (lambda p, t: (p.argmax(dim=0) == t).float().mean(), 'down each column'), (lambda p, t: (p.argmax(dim=1) == t).sum(), 'number right'),
         (lambda p, t: ((p.softmax(dim=1) > 0.5).float().argmax(dim=1) == t).float().mean(), 'threshold'),
         (lambda p, t: (p.argmax() == t).float().mean(), 'without `dim`'), (lambda p, t: (p.max(dim=1).values == t).float().mean(), '`.max(dim=1)`'),
         (lambda p, t: (p.argmax(dim=1) != t).float().mean(), 'error rate'), (lambda p, t: (p.argmax(dim=1) == t).mean(), 'needs numbers'),
         (lambda p, t: (p.argmax(dim=1) == t).float(), 'not a single number')]),
    'weight-update': (
        [_step, _step_none, _step_data, _step_add],
        [(_step_no_no_grad, 'torch.no_grad()'), (_step_rebind, 'loop variable'), (_step_return_new, 'in place'),
         (lambda ps, lr: _step(ps, lr, 'plus'), 'uphill'), (lambda ps, lr: _step(ps, lr, 'nolr'), 'whole gradient'),
         (lambda ps, lr: _step(ps, lr, 'keep'), 'was not cleared'), (lambda ps, lr: _step(ps, lr, 'clear_first'), 'before you clear it'),
         (_step_frozen, 'trainable leaf'), (lambda ps, lr: _step(ps, lr, 'param'), 'parameter itself'), (_step_first_only, '`return` inside the loop'),
         (_step_grad_update, 'not the parameter'), (_bails, 'raised _Bail')]),
    'epoch-code': (
        [lambda m, b, l, lr: _epoch(m, b, l, lr), _epoch_opt, _epoch_zero_first, _epoch_reporting],
        [(lambda m, b, l, lr: _epoch(m, b, l, lr, swap=True), 'targets first'), (lambda m, b, l, lr: _epoch(m, b, l, lr, clear=False), 'never cleared'),
         (lambda m, b, l, lr: _epoch(m, b, l, lr, sign=1.), 'up the gradient'), (lambda m, b, l, lr: _epoch(m, b, l, lr, scale=1.), 'ignoring `lr`'),
         (lambda m, b, l, lr: _epoch(m, b, l, lr, inside=False), 'only one step'), (lambda m, b, l, lr: _epoch(m, b, l, lr, first_only=True), 'only the first batch'),
         (lambda m, b, l, lr: _epoch(m, b, l, lr, passes=2), 'twice'), (_epoch_no_step, 'did not change'), (_epoch_weight_only, 'model.parameters()'),
         (_epoch_all_no_grad, 'outside `torch.no_grad()`'), (lambda m, b, l, lr: _epoch(m, b, l, lr, zero_yb=True), 'changed the batches'),
         (lambda m, b, l, lr: _epoch(m, b, l, lr, step_first=True), 'backward()` comes before'), (_epoch_own_loss, 'the function you are given'),
         (lambda m, b, l, lr: _epoch(m, b, l, 0.05), 'differ from ours')]),
    'zip-pairs': (
        [lambda xs, ys: list(zip(xs, ys)), lambda xs, ys: [(xs[i], ys[i]) for i in range(len(xs))], lambda xs, ys: [(x, y) for x, y in zip(xs, ys)],
         lambda xs, ys: list(map(lambda x, y: (x, y), xs, ys))],
        [(lambda xs, ys: zip(xs, ys), '`zip` is lazy'), (lambda xs, ys: [[x, y] for x, y in zip(xs, ys)], 'a tuple'),
         (lambda xs, ys: list(zip(ys, xs)), 'wrong way round'), (lambda xs, ys: dict(zip(xs, ys)), 'one value per key'),
         (lambda xs, ys: tuple(zip(xs, ys)), 'not a list'), (lambda xs, ys: None, 'return'), (lambda xs, ys: [(xs[i], ys[i + 1]) for i in range(len(xs))], 'ran past the end'),
         (lambda xs, ys: list(enumerate(ys)), 'its position'), (lambda xs, ys: [(x, y) for x in xs for y in ys], 'nested loops'),
         (lambda xs, ys: [(xs[i], ys[i]) for i in range(len(xs) - 1)], 'last pair is missing'), (lambda xs, ys: [xs, ys], 'side by side'),
         (lambda xs, ys: [v for p in zip(xs, ys) for v in p], 'flat list'), (_unshowable, 'not a list'), (_exits, '`sys.exit()`')]),
    'view': (
        [lambda x: x.view(x.shape[0], -1), lambda x: x.reshape(len(x), -1), lambda x: x.flatten(1), lambda x: x.view(-1, x.shape[1] * x.shape[2])],
        [(lambda x: x.view(-1), 'one long row'), (lambda x: x.view(-1, 28*28), 'fits only one size'), (lambda x: x.view(x.shape[1]*x.shape[2], -1), 'N rows'),
         (lambda x: x.transpose(1, 2).reshape(len(x), -1), 'another order'), (lambda x: x.mul_(1 / 255).view(len(x), -1), 'changes both'),
         (lambda x: x.zero_().view(len(x), -1), 'changes both'), (lambda x: x.view(-1, x.shape[-1]), 'row of pixels'), (lambda x: x.squeeze(), '`squeeze`'),
         (lambda x: x.tolist(), 'not a tensor'), (lambda x: None, 'return x.view'), (lambda x: x.view(x.shape[0], x.shape[1]), 'as many numbers')]),
    'bias': (
        [lambda xb, w, b: xb @ w + b, lambda xb, w, b: F.linear(xb, w.T, b), lambda xb, w, b: torch.addmm(b, xb, w),
         lambda xb, w, b: (xb[:, :, None] * w[None]).sum(1) + b],
        [(lambda xb, w, b: xb @ w, 'bias was not added'), (lambda xb, w, b: w @ xb + b, 'last axis of `a`'), (lambda xb, w, b: xb * w + b, 'element by element'),
         (lambda xb, w, b: xb @ w - b, "don't subtract"), (lambda xb, w, b: xb @ (w + b), 'after the product'), (lambda xb, w, b: (xb @ w) * b, 'not multiplied'),
         (lambda xb, w, b: (xb @ w + b).sigmoid(), 'the sigmoid comes later'), (lambda xb, w, b: xb @ w + b.sum(), 'one number per output'),
         (lambda xb, w, b: (xb @ w + b).tolist(), 'not a tensor'), (lambda xb, w, b: xb.add_(1) @ w + b, 'change the caller')]),
    'matmul-operator': (
        [_mm, _mm_rows, _mm_bcast, _mm_lists, lambda a, b: torch.stack([torch.stack([(a[i] * b[:, j]).sum() for j in range(b.shape[1])]) for i in range(a.shape[0])])],
        [(lambda a, b: a @ b, 'uses @'), (lambda a, b: a * b, 'element by element'), (lambda a, b: (b[:, :, None] * a[None]).sum(1), '`b @ a`'),
         (lambda a, b: (b.T[:, :, None] * a.T[None]).sum(1), 'transpose of the answer'), (lambda a, b: _mm(a, b, assign=True), 'only the last product'),
         (lambda a, b: _mm(a, b, ks=lambda k: range(k - 1)), 'stops one short'), (lambda a, b: _mm(a, b, buffer=lambda a, b: torch.zeros(a.shape[0], b.shape[1], dtype=torch.long)), 'fractions'),
         (lambda a, b: _mm(a, b, buffer=lambda a, b: torch.zeros_like(a)), 'a.shape[0]'), (lambda a, b: _mm(a, b, ks=lambda k: range(1, k)), 'start at index 0'),
         (lambda a, b: (a[:, None, :] * b[None, :, :]).sum(2), 'not with row j'), (lambda a, b: None, 'return out')]),
    'zero-gradients': (
        [_ga, lambda f, w: _ga(f, w, 'zero_'), _ga_fresh_loss],
        [(lambda f, w: _ga(f, w, 'stale'), 'still includes the old gradient'), (_ga_weights, '`w.zero_()` would zero the weights'),
         (lambda f, w: _ga(f, w, 'data'), 'the values of `w` changed'), (lambda f, w: w.grad, 'you returned the old gradient'),
         (_ga_apart, 'does not hold it afterwards'), (_ga_zeroed_only, 'never called'), (lambda f, w: _ga(f, w, 'twice'), 'ran twice'),
         (_ga_value, 'is `w` itself'), (lambda f, w: float(f(w)), 'not the gradient'), (lambda f, w: w.detach_(), 'leaf')]),
    'learner-needs': (
        [_learner(), _learner(model=lambda: nn.Sequential(nn.Linear(28*28, 1))), _learner(metrics='a list'),
         _learner(model=lambda: nn.Sequential(nn.Flatten(), nn.Linear(28*28, 1)))],
        [(_learner(opt=_adam()), 'plain SGD'), (_learner(opt=torch.optim.SGD), 'not `torch.optim.SGD`'), (_learner(metrics=None), 'no metric'),
         (_learner(loss=F.mse_loss), 'is not mnist_loss'), (_learner(model=lambda: nn.Linear(28, 1)), '784 pixels'),
         (lambda dls: nn.Linear(28*28, 1), "not fastai's Learner"), (_learner(hand=True), 'by hand in lesson 8'), (_learner(other_dls=True), 'pass `dls` itself'),
         (_learner(model=lambda: nn.Sequential(nn.Linear(28*28, 30), nn.ReLU(), nn.Linear(30, 1))), 'not linear'),
         (_learner(model=lambda: nn.Linear(28*28, 2)), 'one output per image'), (_learner(loss=lambda p, t: ((p.sigmoid() - t)**2).mean()), 'is not mnist_loss')]),
    'training-loop': (
        [_loop(), _loop_shuffled, _loop_opt, _loop_zero_first],
        [(_loop(lambda n: 1), 'only one epoch'), (_loop(lambda n: n + 1), 'one epoch too many'), (_loop(clear=False), 'never cleared'),
         (_loop(sign=1.), 'up the gradient'), (_loop(lambda n: 0), 'did not change'), (_loop_tenth, 'not nearly as far'),
         (_loop_fixed_lr, 'differ from ours'), (_loop(swap=True), 'targets first'), (_loop(scale=1.), 'ignoring `lr`'),
         (_loop(zero_yb=True), 'changed the batches'), (_loop(lambda n: 2 * n), 'gone through'), (_loop(inside=False), 'only one step')]),
    'relu-plot': (
        [Plotted(lambda x: x.clamp(min=0), -2, 2), Plotted(torch.relu, -2, 2, alone=True), Plotted(lambda x: torch.where(x > 0, x, torch.zeros_like(x)), -2, 2),
         Plotted(lambda x: x * (x > 0), -2, 2), Plotted(lambda x: torch.maximum(x, torch.tensor(0.)), -2, 2)],
        [(torch.relu, 'no plot of yours'), (Plotted(torch.relu, -5, 5), 'asks for -2 to +2'), (Plotted(torch.abs, -2, 2, alone=True), 'is not ReLU'),
         (lambda x: x, 'must become 0'), (torch.abs, 'absolute value'), (lambda x: max(x, 0), "Python's `max()`"), (lambda x: torch.max(x, 0), '(values, indices)'),
         (lambda x: x.clamp_(min=0), 'change the caller'), (lambda x: (x > 0).float(), 'that is a step'), (lambda x: x.clamp(max=0), 'the negative part'),
         (lambda x: F.leaky_relu(x, 0.01), 'leaky'), (lambda x: x.clamp(0, 1), 'not be capped'), (lambda x: (-x).clamp(min=0), 'sign is flipped'),
         (lambda x: [max(v, 0.) for v in x.flatten().tolist()], 'not a tensor'), (np.array([0., 0., 1.]), 'expected a function')]),
    'relu-function-vs-module': (
        [_ReLUMod, _ReLUInit, _ReLUClamp, _ReLUMod()],
        [(F.relu, 'the function itself'), (nn.ReLU, "PyTorch's own"), (_NotModule, 'not a module'), (_NoSuper, 'super().__init__()'),
         (_NoSuperLayer, 'super().__init__()'), (_NoReturn, 'no `return`'), (_Calls, 'name the method `forward`'), (_Misspelt, 'name the method `forward`'),
         (_Weights, 'nothing to learn'), (_InPlace, 'change the caller'), (np.array([1., -1.]), 'expected your module class'),
         (torch.relu, 'the function itself'), (lambda x: F.relu(x), 'wrap it in a module'), (_Sigmoidal, 'that is sigmoid')]),
}

CASES = [(qid, 'right', i, v, None) for qid, (right, _) in CORPUS.items() for i, v in enumerate(right)] + \
        [(qid, 'wrong', i, v, says) for qid, (_, wrong) in CORPUS.items() for i, (v, says) in enumerate(wrong)]


def test_the_corpus_covers_every_check_with_3_right_and_8_wrong_answers():
    code = [q.id for q in QUESTIONS if q.kind == 'code']
    assert sorted(CORPUS) == sorted(code) and len(code) == 21
    for qid, (right, wrong) in CORPUS.items(): assert len(right) >= 3 and len(wrong) >= 8, qid


@pytest.mark.parametrize('qid, kind, i, value, says', CASES, ids=[f'{q}-{k}-{i}' for q, k, i, _, _ in CASES])
@pytest.mark.filterwarnings('ignore::RuntimeWarning', 'ignore::UserWarning')  # what the wrong answers themselves warn about
def test_corpus(qid, kind, i, value, says):
    t0 = time.monotonic()
    res = check(qid, _value(value), save=False)
    assert res.status not in ('error', 'timed out'), repr(res)  # never the grader's crash, never the time limit
    assert time.monotonic() - t0 < 5
    if kind == 'right': assert res.passed, repr(res)
    else:
        assert res.status == 'failed', repr(res)
        assert says in report(res), repr(res)
        assert all(h for ok, _, h in res.items if ok is False)  # every wrong finding comes with a hint
