"Helpers shared by the questionnaire tests: our reference solutions, run from the text `reveal` shows."
import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn
import torch.nn.functional as F
from mnist_sgd.core import plot_function
from mnist_sgd.quiz.questionnaire import CheckResult, question


@pytest.fixture(autouse=True)  # imported by each questionnaire test module
def home(tmp_path, monkeypatch):
    "Each test has its own MNIST_SGD_HOME, so nothing lands in ~ or in another test's answers."
    monkeypatch.setenv('MNIST_SGD_HOME', str(tmp_path/'home'))
    monkeypatch.delenv('MNIST_SGD_ANSWERS', raising=False)
    yield tmp_path/'home'
    plt.close('all')


def report(res: CheckResult) -> str: return '\n'.join(res.problems + res.hints)


def solution_code(qn) -> str:
    "The Python code blocks of our reference answer."
    return '\n'.join(part.split('```')[0] for part in qn.reference.split('```python\n')[1:])


def solution(qid):
    "Our reference solution, run from the very text `reveal` shows."
    from fastai.learner import Learner
    from fastai.optimizer import SGD
    from mnist_sgd.training import mnist_loss, batch_accuracy
    qn = question(qid)
    ns = {'torch': torch, 'nn': nn, 'F': F, 'plot_function': plot_function, 'Learner': Learner, 'SGD': SGD,
          'mnist_loss': mnist_loss, 'batch_accuracy': batch_accuracy}
    exec(solution_code(qn), ns)
    names = [n.strip() for n in qn.answer_name.split(',')]
    return ns[names[0]] if len(names) == 1 else tuple(ns[n] for n in names)


def _odds_neq(numbers): return [n * 2 for n in numbers if n % 2 != 0]
def _pairs_by_index(xs, ys): return [(xs[i], ys[i]) for i in range(len(xs))]


# Right answers written in two common ways, used by the checks' tests and by the corpus.
def epoch_with_optim(model, batches, loss_func, lr):
    "One epoch with torch.optim.SGD."
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for xb, yb in batches:
        opt.zero_grad(); loss_func(model(xb), yb).backward(); opt.step()


def epoch_zero_first(model, batches, loss_func, lr):
    "One epoch by hand, clearing the gradients before each backward pass."
    for xb, yb in batches:
        model.zero_grad()
        loss = loss_func(model(xb), yb); loss.backward()
        for p in model.parameters(): p.data -= lr * p.grad.data


# Wrong ReLU modules (Q36), written the ways learners write them.
class _NotAModule:
    def forward(self, x): return F.relu(x)
class _NoSuperInit(nn.Module):
    def __init__(self): self.inner = nn.ReLU()
    def forward(self, x): return F.relu(x)
class _Misspelt(nn.Module):
    def foward(self, x): return F.relu(x)
class _WithWeights(nn.Module):
    def __init__(self):
        super().__init__(); self.lin = nn.Linear(1, 1)
    def forward(self, x): return F.relu(x)
class _InPlace(nn.Module):
    def forward(self, x): return F.relu(x, inplace=True)
