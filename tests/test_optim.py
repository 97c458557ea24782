"Tests of mnist_sgd.optim: BasicOptim against torch.optim.SGD, train_model against plain PyTorch and fastai's Learner."
import copy
from unittest import mock
import pytest
import torch
from torch import nn
# imported under other names so that pytest does not collect them as tests
from fastcore.test import test_eq as check_eq, test_close as check_close, test_fail as check_fail
from mnist_sgd.data import load_digits
from mnist_sgd.training import (binary_xy, init_params, linear1, mnist_loss, batch_accuracy, TensorBatches, validate_epoch,
                                batch_size_for)
from mnist_sgd.baseline import baseline_accuracy
from mnist_sgd.optim import BasicOptim, train_model, mnist_dls


def _seeded_linear(seed=0):
    torch.manual_seed(seed)
    return nn.Linear(784, 1)


# --- BasicOptim -------------------------------------------------------------------------------------------------------
def test_basic_optim_by_hand():
    t = torch.tensor([2., -1.], requires_grad=True)
    (t ** 2).sum().backward()
    opt = BasicOptim([t], lr=0.25)
    opt.step()
    check_eq(t.detach(), torch.tensor([1., -0.5]))
    opt.zero_grad(); check_eq(t.grad, None)
    assert 'lr=0.25' in repr(opt)
    u = torch.zeros(2, requires_grad=True)
    (t ** 2).sum().backward(); BasicOptim([t, u], lr=0.25).step()
    check_eq(u.detach(), torch.zeros(2))                          # a parameter without a gradient is left alone


def test_basic_optim_steps_match_torch_sgd(data):
    xs, ys, _, _ = data
    ours, theirs = _seeded_linear(), _seeded_linear()
    o1, o2 = BasicOptim(ours.parameters(), lr=0.3), torch.optim.SGD(theirs.parameters(), lr=0.3)
    for i in range(5):   # several steps, each on its own batch
        xb, yb = xs[i*50:(i+1)*50], ys[i*50:(i+1)*50]
        for m, o in ((ours, o1), (theirs, o2)):
            mnist_loss(m(xb), yb).backward(); o.step(); o.zero_grad()
        check_close(ours.weight, theirs.weight, eps=1e-7); check_close(ours.bias, theirs.bias, eps=1e-7)
    assert ours.weight.grad is None and theirs.weight.grad is None


def test_basic_optim_accepts_a_generator_once():
    m = nn.Linear(3, 1)
    opt = BasicOptim(m.parameters(), lr=1.)   # a generator: must be kept as a list, not exhausted after one use
    m(torch.ones(2, 3)).sum().backward()
    before = m.bias.detach().clone()
    opt.step(); opt.step()
    check_close(m.bias, before - 2 * 2.)      # d(sum)/d(bias) = 2 (two rows), two steps


def test_basic_optim_errors():
    check_fail(lambda: BasicOptim([], lr=1.), contains='got no parameters')
    check_fail(lambda: BasicOptim(iter([]), lr=1.), contains='got no parameters')
    check_fail(lambda: BasicOptim([torch.zeros(3, 2)], lr=1.), contains='(3, 2)')
    check_fail(lambda: BasicOptim([torch.zeros(3, 2)], lr=1.), contains='requires_grad_()')
    check_fail(lambda: BasicOptim(5, lr=1.), contains='got int')
    check_fail(lambda: BasicOptim([torch.zeros(2, requires_grad=True), 'w'], lr=1.), contains='parameter 1 is a str, not a tensor')
    with pytest.raises(TypeError, match='not a tensor'): BasicOptim([1., 2.], lr=1.)


# --- issue 13, finding 7: a tensor where a list of parameters belongs ---------------------------------------------------
def test_basic_optim_refuses_a_bare_tensor():
    "BasicOptim(w, lr) used to take w's rows as parameters: they never get a gradient, so training changed nothing."
    w = init_params((784, 1), generator=torch.Generator().manual_seed(0))
    with pytest.raises(TypeError) as e: BasicOptim(w, lr=1.)
    msg = str(e.value)
    assert 'single tensor of shape (784, 1)' in msg and 'BasicOptim([weights, bias], lr)' in msg and 'model.parameters()' in msg
    check_fail(lambda: BasicOptim(torch.zeros(3, requires_grad=True), lr=1.), contains='single tensor of shape (3,)')
    opt = BasicOptim([w], lr=1.)                         # the fix: a list holding the tensor trains it
    before = w.detach().clone()
    (w ** 2).sum().backward(); opt.step()
    assert not torch.equal(w.detach(), before)


def test_basic_optim_refuses_non_leaf_tensors():
    w = torch.randn(3, requires_grad=True)
    with pytest.raises(ValueError) as e: BasicOptim([w * 0.1], lr=1.)
    assert 'not a leaf tensor' in str(e.value) and '.requires_grad_()' in str(e.value)
    check_fail(lambda: BasicOptim([torch.ones(2), w], lr=1.), contains='parameter 0 (shape (2,)) does not track gradients')
    check_fail(lambda: BasicOptim(list(w), lr=1.), contains='not a leaf tensor')   # rows of a tensor are not leaves either
    BasicOptim([(torch.randn(3) * 0.1).requires_grad_()], lr=1.)                    # the fix the message names
    moved = w.to(torch.float64)                      # like .to(device) of a parameter: a copy computed from it
    check_fail(lambda: BasicOptim([moved], lr=1.), contains='.to(device)')


# --- issue 13, finding 8: step() before backward() -------------------------------------------------------------------
def test_step_without_backward_raises():
    m = nn.Linear(3, 1)
    opt = BasicOptim(m.parameters(), lr=1.)
    before = [p.detach().clone() for p in m.parameters()]
    with pytest.raises(RuntimeError) as e: opt.step()
    assert 'every .grad is None' in str(e.value) and 'loss.backward() before opt.step()' in str(e.value)
    m(torch.ones(2, 3)).sum().backward(); opt.zero_grad()            # zero_grad between backward and step: the same slip
    check_fail(lambda: opt.step(), contains='backward()')
    for p, b in zip(m.parameters(), before): check_eq(p.detach(), b)
    m(torch.ones(2, 3)).sum().backward(); opt.step()                  # with gradients, it steps
    assert not torch.equal(m.bias.detach(), before[1])


# --- issue 13, finding 9: the learning rate ---------------------------------------------------------------------------
@pytest.mark.parametrize('lr, msg', [(0, 'never move'), (0., 'never move'), (-0.5, 'uphill'), (float('nan'), 'finite'),
                                     (float('inf'), 'finite'), ('0.1', "got '0.1' (str)"), ([0.1], 'got [0.1] (list)'),
                                     (None, 'one number'), (True, 'one number'), (torch.tensor(0.1), 'one number')])
def test_basic_optim_refuses_bad_lr(lr, msg):
    check_fail(lambda: BasicOptim([torch.zeros(2, requires_grad=True)], lr=lr), contains=msg)


def test_basic_optim_accepts_numbers():
    import numpy as np
    p = torch.zeros(2, requires_grad=True)
    for lr in (1, 0.1, np.float32(0.5), np.float64(2.), 1e-8):
        opt = BasicOptim([p], lr=lr)
        assert isinstance(opt.lr, float) and opt.lr == float(lr)


# --- train_model ------------------------------------------------------------------------------------------------------
def test_train_model_returns_metric_per_epoch(data, capsys):
    xs, ys, vxs, vys = data
    m = _seeded_linear()
    valid_dl = TensorBatches(vxs, vys, shuffle=False)
    accs = train_model(m, 3, TensorBatches(xs, ys, seed=0), valid_dl, BasicOptim(m.parameters(), 1.), device='cpu', verbose=True)
    check_eq(len(accs), 3); assert all(isinstance(a, float) for a in accs)
    check_close(accs[-1], validate_epoch(m, valid_dl))
    out = capsys.readouterr().out
    assert 'epoch 1/3: batch_accuracy' in out and 'epoch 3/3' in out
    losses = train_model(m, 1, TensorBatches(xs, ys, seed=0), valid_dl, BasicOptim(m.parameters(), 1.), metric=mnist_loss, device='cpu')
    check_close(losses[0], validate_epoch(m, valid_dl, mnist_loss))


def test_train_model_hand_loop_equals_plain_pytorch(data):
    xs, ys, vxs, vys = data
    start = _seeded_linear(1)
    hand, plain = copy.deepcopy(start), copy.deepcopy(start)
    valid_dl = TensorBatches(vxs, vys, shuffle=False)
    train_model(hand, 4, TensorBatches(xs, ys, seed=3), valid_dl, BasicOptim(hand.parameters(), 1.), device='cpu')
    opt, dl = torch.optim.SGD(plain.parameters(), lr=1.), TensorBatches(xs, ys, seed=3)
    for _ in range(4):   # the plain PyTorch loop
        plain.train()
        for xb, yb in dl:
            loss = mnist_loss(plain(xb), yb); loss.backward(); opt.step(); opt.zero_grad()
    check_close(hand.weight, plain.weight, eps=1e-6); check_close(hand.bias, plain.bias, eps=1e-6)


def test_train_model_with_a_hand_written_model(data):
    xs, ys, vxs, vys = data
    g = torch.Generator().manual_seed(0)
    w, b = init_params((784, 1), std=0.01, generator=g), init_params(1, std=0.01, generator=g)
    accs = train_model(lambda xb: linear1(xb, w, b), 3, TensorBatches(xs, ys, seed=0),
                       TensorBatches(vxs, vys, shuffle=False), BasicOptim([w, b], 1.), device='cpu')
    assert accs[-1] > 0.85, accs


def test_learner_and_hand_loop_same_weights(sample_path):
    "BasicOptim + train_model and fastai's Learner + SGD, from the same start on the same batches, end identical."
    from fastai.learner import Learner
    from fastai.optimizer import SGD
    import fastai.callback.progress  # gives Learner its no_bar (fastai.vision.all would import it too)
    start = _seeded_linear(2)
    hand, theirs = copy.deepcopy(start), copy.deepcopy(start)
    d1 = mnist_dls(sample_path, seed=11, device='cpu')
    accs = train_model(hand, 3, d1.train, d1.valid, BasicOptim(hand.parameters(), 1.), device='cpu')
    learn = Learner(mnist_dls(sample_path, seed=11, device='cpu'), theirs, opt_func=SGD, loss_func=mnist_loss, metrics=batch_accuracy)
    with learn.no_bar(), learn.no_logging(): learn.fit(3, lr=1.)
    check_close(hand.weight, theirs.weight, eps=1e-6); check_close(hand.bias, theirs.bias, eps=1e-6)
    check_close(accs, [float(v[2]) for v in learn.recorder.values], eps=1e-6)


def test_learner_beats_the_baseline(sample_path, data, baseline):
    "The notebook's run: Learner(nn.Linear, SGD, mnist_loss), 10 epochs at lr 1, seed 42, bs from the data's size."
    from fastai.learner import Learner
    from fastai.optimizer import SGD
    from fastai.torch_core import set_seed
    import fastai.callback.progress
    set_seed(42, reproducible=True)
    dls = mnist_dls(sample_path, bs=batch_size_for(len(data[0])), seed=0, device='cpu')
    learn = Learner(dls, nn.Linear(28*28, 1), opt_func=SGD, loss_func=mnist_loss, metrics=batch_accuracy)
    with learn.no_bar(), learn.no_logging(): learn.fit(10, lr=1.)
    accs = [float(v[2]) for v in learn.recorder.values]
    assert accs[-1] > baseline, (accs, baseline)


def test_hand_loop_beats_the_baseline(data, baseline):
    "train_model with BasicOptim, 10 epochs, bs from the data's size, beats the pixel baseline and linear1 with init_params."
    from fastai.torch_core import set_seed
    xs, ys, vxs, vys = data
    bs = batch_size_for(len(xs))
    set_seed(42, reproducible=True)
    m = nn.Linear(28*28, 1)
    accs = train_model(m, 10, TensorBatches(xs, ys, bs=bs, seed=42), TensorBatches(vxs, vys, shuffle=False),
                       BasicOptim(m.parameters(), 1.), device='cpu')
    set_seed(42, reproducible=True)
    w, b = init_params((784, 1)), init_params(1)
    lin1 = train_model(lambda x: linear1(x, w, b), 10, TensorBatches(xs, ys, bs=bs, seed=42), TensorBatches(vxs, vys, shuffle=False),
                       BasicOptim([w, b], 1.), device='cpu')
    assert accs[-1] > baseline, (accs, baseline)
    # the two accuracies differ by a few of 200 images (within the noise); the training loss shows the better start
    all_train = TensorBatches(xs, ys, bs=1024, shuffle=False)
    lin1_loss = validate_epoch(lambda x: linear1(x, w, b), all_train, mnist_loss)
    assert validate_epoch(m, all_train, mnist_loss) < lin1_loss


# --- issue 19: train_model(epochs=-1) returned [] ---------------------------------------------------------------------
@pytest.mark.parametrize('epochs', [-1, 0, 2.5, '3', True])
def test_train_model_refuses_a_bad_number_of_epochs(data, epochs):
    "A negative (or zero, fractional, text) number of epochs used to train nothing and return [] without a word."
    xs, ys, vxs, vys = data
    m = _seeded_linear()
    with pytest.raises(ValueError, match='epochs must be a whole number'):
        train_model(m, epochs, TensorBatches(xs, ys), TensorBatches(vxs, vys, shuffle=False), BasicOptim(m.parameters(), 1.), device='cpu')


def test_train_model_takes_numpy_epochs(data):
    import numpy as np
    xs, ys, vxs, vys = data
    m = _seeded_linear()
    accs = train_model(m, np.int64(2), TensorBatches(xs[:64], ys[:64]), TensorBatches(vxs, vys, shuffle=False),
                       BasicOptim(m.parameters(), 1.), device='cpu')
    check_eq(len(accs), 2)


# --- device -----------------------------------------------------------------------------------------------------------
def test_train_model_asks_default_device_at_run_time(data):
    xs, ys, vxs, vys = data
    m = _seeded_linear()
    train_dl, valid_dl = TensorBatches(xs[:64], ys[:64]), TensorBatches(vxs, vys, shuffle=False)
    with mock.patch('mnist_sgd.optim.default_device', return_value=torch.device('cpu')) as dd, \
         mock.patch.object(m, 'to', wraps=m.to) as to, \
         mock.patch.object(train_dl, 'to', wraps=train_dl.to) as tdl:
        train_model(m, 1, train_dl, valid_dl, BasicOptim(m.parameters(), 0.1))
    dd.assert_called_once(); to.assert_called_once_with(torch.device('cpu')); tdl.assert_called_once_with(torch.device('cpu'))
    with mock.patch('mnist_sgd.optim.default_device') as dd:
        train_model(m, 1, train_dl, valid_dl, BasicOptim(m.parameters(), 0.1), device='cpu')
    dd.assert_not_called()


def test_train_model_moves_batches_to_the_device(data):
    "On a (mocked) GPU the model and every batch are sent there: the meta device stands in for CUDA."
    xs, ys, _, _ = data
    seen = []
    class Probe(nn.Module):
        def __init__(self): super().__init__(); self.lin = nn.Linear(784, 1)
        def forward(self, xb): seen.append(xb.device.type); return self.lin(xb)
    m = Probe()
    fake = torch.device('meta')
    with mock.patch('mnist_sgd.optim.default_device', return_value=fake), pytest.raises(Exception):
        # training itself runs on meta tensors; reading a metric value back as a float is where it stops
        train_model(m, 1, [(xs[:8], ys[:8])], [(xs[:8], ys[:8])], BasicOptim(m.parameters(), 0.1))
    check_eq(m.lin.weight.device.type, 'meta'); assert seen and set(seen) == {'meta'}


def test_mnist_dls(sample_path, data):
    _, _, vxs, vys = data
    dls = mnist_dls(sample_path, bs=128, seed=0, device='cpu')
    check_eq(len(dls.train.dataset), len(data[0])); check_eq(len(dls.valid.dataset), len(vxs))
    check_eq([d.fake_l.num_workers for d in dls.loaders], [0, 0])   # no worker processes (Windows-safe)
    xb, yb = dls.one_batch()
    check_eq(xb.shape, (128, 784)); check_eq(yb.shape, (128, 1))
    vx, vy = map(torch.cat, zip(*dls.valid))
    check_eq(torch.as_tensor(vx), vxs); check_eq(torch.as_tensor(vy), vys)
    a = torch.cat([yb for _, yb in mnist_dls(sample_path, seed=4, device='cpu').train])
    b = torch.cat([yb for _, yb in mnist_dls(sample_path, seed=4, device='cpu').train])
    check_eq(a, b)
    check_eq(mnist_dls(sample_path, positive=7, device='cpu').valid.dataset[0][1], 1 - vys[0])
    with mock.patch('mnist_sgd.optim.default_device', return_value=torch.device('cpu')) as dd:
        check_eq(mnist_dls(sample_path).device, torch.device('cpu'))
    dd.assert_called_once()
