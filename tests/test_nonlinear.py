"Tests for mnist_sgd.nonlinear: simple_net, ReLU, why linear layers collapse, and a seeded training run on 3s vs 7s."
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from fastcore.test import test_eq as check_eq, test_close as check_close

from mnist_sgd.nonlinear import simple_net


def reference_net(n_in=784, n_hidden=30, n_out=1):
    "The same three layers, built directly with PyTorch."
    return nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out))


# simple_net: structure, shapes, parameters

def test_simple_net_layers_and_shapes():
    net = simple_net()
    check_eq([type(m) for m in net], [nn.Linear, nn.ReLU, nn.Linear])
    check_eq((net[0].in_features, net[0].out_features, net[2].in_features, net[2].out_features), (784, 30, 30, 1))
    check_eq(net(torch.rand(7, 784)).shape, (7, 1))
    check_eq(simple_net(10, 4, 3)(torch.zeros(2, 10)).shape, (2, 3))
    check_eq(simple_net(n_hidden=5)[0].out_features, 5)


def test_simple_net_matches_reference_same_seed():
    torch.manual_seed(123); net = simple_net()
    torch.manual_seed(123); ref = reference_net()
    x = torch.rand(16, 784)
    for (k1, v1), (k2, v2) in zip(net.state_dict().items(), ref.state_dict().items()):
        check_eq(k1, k2); check_eq(v1, v2)
    check_close(net(x), ref(x), eps=1e-6)


@pytest.mark.parametrize('sizes', [(784, 30, 1), (784, 100, 1), (20, 7, 3), (1, 1, 1)])
def test_parameter_count(sizes):
    n_in, n_hidden, n_out = sizes
    expected = n_in*n_hidden + n_hidden + n_hidden*n_out + n_out
    check_eq(sum(p.numel() for p in simple_net(*sizes).parameters()), expected)
    check_eq(sum(p.numel() for p in reference_net(*sizes).parameters()), expected)
    if sizes == (784, 30, 1): check_eq(expected, 23_581)


@pytest.mark.parametrize('kwargs, name', [({'n_in': 0}, 'n_in'), ({'n_hidden': -3}, 'n_hidden'), ({'n_out': 1.5}, 'n_out'),
                                          ({'n_hidden': '30'}, 'n_hidden'), ({'n_in': True}, 'n_in')])
def test_simple_net_bad_sizes(kwargs, name):
    with pytest.raises(ValueError, match=f"simple_net: {name} must be a whole number"): simple_net(**kwargs)


def test_simple_net_takes_whole_floats_as_ints():
    check_eq(simple_net(784.0)[0].in_features, 784)
    assert isinstance(simple_net(784.0)[0].in_features, int)


def test_simple_net_accepts_numpy_ints():
    import numpy as np
    check_eq(simple_net(np.int64(12), np.int32(3), 2)(torch.zeros(1, 12)).shape, (1, 2))


# ReLU

def test_relu_by_hand_matches_torch():
    x = torch.randn(10_000) * 3
    by_hand = x.clamp_min(0.)
    check_eq(by_hand, F.relu(x))
    check_eq(by_hand, nn.ReLU()(x))
    check_eq(by_hand, torch.where(x > 0, x, torch.zeros_like(x)))
    check_eq(F.relu(torch.tensor([-2., -0.5, 0., 0.5, 2.])), torch.tensor([0., 0., 0., 0.5, 2.]))
    check_eq(list(nn.ReLU().parameters()), [])


def test_relu_gradient_is_step():
    x = torch.tensor([-2., -0.1, 0.1, 3.], requires_grad=True)
    F.relu(x).sum().backward()
    check_eq(x.grad, torch.tensor([0., 0., 1., 1.]))


# Two linear layers collapse into one; a ReLU between them does not

def _collapsed(layer1, layer2):
    "The single nn.Linear equal to layer2(layer1(x))."
    one = nn.Linear(layer1.in_features, layer2.out_features)
    with torch.no_grad():
        one.weight.copy_(layer2.weight @ layer1.weight)
        one.bias.copy_(layer2.weight @ layer1.bias + layer2.bias)
    return one


@pytest.mark.parametrize('sizes', [(784, 30, 1), (10, 50, 4)])
def test_two_linear_layers_collapse(sizes):
    torch.manual_seed(0)
    n_in, n_hidden, n_out = sizes
    l1, l2 = nn.Linear(n_in, n_hidden), nn.Linear(n_hidden, n_out)
    one = _collapsed(l1, l2)
    x = torch.rand(32, n_in)
    with torch.no_grad(): check_close(l2(l1(x)), one(x), eps=1e-5)


def test_relu_breaks_the_collapse():
    torch.manual_seed(0)
    net = simple_net()
    one = _collapsed(net[0], net[2])
    x = torch.rand(32, 784)
    with torch.no_grad(): assert (net(x) - one(x)).abs().max() > 1e-2


def test_relu_net_is_not_affine():
    "Affine maps send the midpoint of two inputs to the midpoint of their outputs; a ReLU net does not, so no single layer equals it."
    torch.manual_seed(0)
    net = simple_net()
    l1, l2 = net[0], net[2]
    a, b = torch.rand(64, 784), torch.rand(64, 784)
    with torch.no_grad():
        lin = lambda x: l2(l1(x))
        check_close(lin((a + b) / 2), (lin(a) + lin(b)) / 2, eps=1e-5)
        assert ((net((a + b) / 2) - (net(a) + net(b)) / 2).abs().max()) > 1e-3


# Training on the embedded 3s and 7s

def _lesson_run(path, model, epochs=12):
    "The lesson's run: fastai Learner, SGD, mnist_loss, batch_accuracy, lr 1.0, batch size from the size of the data."
    from fastai.vision.all import Learner, SGD, set_seed
    from mnist_sgd.training import mnist_loss, batch_accuracy
    from mnist_sgd.optim import mnist_dls
    from mnist_sgd.data import load_digits
    from mnist_sgd.training import batch_size_for
    bs = batch_size_for(len(load_digits(path, 'train')[0]))
    set_seed(42, reproducible=True)
    dls = mnist_dls(path, bs=bs, seed=42, device='cpu')
    learn = Learner(dls, model, opt_func=SGD, loss_func=mnist_loss, metrics=batch_accuracy)
    with learn.no_bar(), learn.no_logging(): learn.fit(epochs, lr=1.0)
    return learn, dls


def _baseline(path):
    from mnist_sgd.data import load_digits
    from mnist_sgd.baseline import baseline_accuracy
    x, y = load_digits(path, 'train'); vx, vy = load_digits(path, 'valid')
    return baseline_accuracy(vx[vy == 3], vx[vy == 7], x[y == 3].mean(0), x[y == 7].mean(0))['overall']


def test_simple_net_learner_beats_linear_and_baseline(sample_path):
    "The lesson's story on the embedded data: both models above the pixel baseline, and the net fits the training images better."
    from mnist_sgd.data import load_digits
    from mnist_sgd.training import binary_xy, mnist_loss, TensorBatches, validate_epoch
    net, dls = _lesson_run(sample_path, simple_net())
    lin, _ = _lesson_run(sample_path, nn.Linear(784, 1))
    check_eq(len(dls.train), 50)                        # bs chosen from the data: about 50 steps an epoch
    (_, _, net_acc), (_, _, lin_acc) = net.recorder.values[-1], lin.recorder.values[-1]
    base = _baseline(sample_path)
    assert lin_acc > base and net_acc > base, (base, lin_acc, net_acc)
    # no order between the two accuracies: on 200 validation images they are within the noise of each other
    all_train = TensorBatches(*binary_xy(*load_digits(sample_path, 'train')), bs=1024, shuffle=False)
    net_train, lin_train = (validate_epoch(m.model, all_train, mnist_loss, device='cpu') for m in (net, lin))
    assert net_train < lin_train, (net_train, lin_train)
    assert net.recorder.values[0][0] > 3 * net_train    # it really learned: the loss fell a lot


def test_too_few_steps_is_what_the_batch_size_rule_fixes(sample_path):
    "With the book's bs=256 on 800 images (4 steps an epoch) the same 12 epochs leave the linear model short of the lesson's run."
    from fastai.vision.all import Learner, SGD, set_seed
    from mnist_sgd.training import mnist_loss, batch_accuracy
    from mnist_sgd.optim import mnist_dls
    set_seed(42, reproducible=True)
    dls = mnist_dls(sample_path, bs=256, seed=42, device='cpu')
    few = Learner(dls, nn.Linear(784, 1), opt_func=SGD, loss_func=mnist_loss, metrics=batch_accuracy)
    with few.no_bar(), few.no_logging(): few.fit(12, lr=1.0)
    many, _ = _lesson_run(sample_path, nn.Linear(784, 1))
    check_eq(len(dls.train), 4)
    assert few.recorder.values[-1][0] > 2 * many.recorder.values[-1][0]   # far less trained: a much higher training loss


def test_simple_net_hand_loop_reaches_accuracy(sample_path):
    "The same net with the course's own loop (BasicOptim, TensorBatches, train_model) learns too (seed 0 reaches 0.965)."
    from mnist_sgd.data import load_digits
    from mnist_sgd.training import binary_xy, TensorBatches
    from mnist_sgd.optim import BasicOptim, train_model
    torch.manual_seed(0)
    train = TensorBatches(*binary_xy(*load_digits(sample_path, 'train')), bs=256, seed=0)
    valid = TensorBatches(*binary_xy(*load_digits(sample_path, 'valid')), bs=256, shuffle=False)
    net = simple_net()
    accs = train_model(net, 40, train, valid, BasicOptim(net.parameters(), lr=1.0), device='cpu')
    check_eq(len(accs), 40)
    assert accs[-1] >= 0.95, accs[-1]
