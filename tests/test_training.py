"Tests of mnist_sgd.training: the hand-written model, loss, metric, batches and epoch functions, against PyTorch."
import math
import pytest
import torch
from torch import nn
# imported under other names so that pytest does not collect them as tests
from fastcore.test import test_eq as check_eq, test_close as check_close, test_fail as check_fail
import warnings
from mnist_sgd import training
from mnist_sgd.training import (binary_xy, init_params, linear1, sigmoid, mnist_loss, batch_accuracy, TensorBatches,
                                calc_grad, train_epoch, validate_epoch, batch_size_for, as_count, accuracy_gap)
from mnist_sgd.data import load_digits
from mnist_sgd.baseline import baseline_accuracy


class _SGD:
    "Minimal optimizer for the tests (the course's own BasicOptim is tested in test_optim)."
    def __init__(self, params, lr): self.params, self.lr = list(params), lr
    def step(self):
        with torch.no_grad():
            for p in self.params: p -= self.lr * p.grad
    def zero_grad(self):
        for p in self.params: p.grad = None


# --- data --------------------------------------------------------------------------------------------------------------
def test_binary_xy_shapes_and_targets():
    x = torch.rand(6, 28, 28); y = torch.tensor([3, 7, 3, 3, 7, 7])
    xs, ys = binary_xy(x, y)
    check_eq(xs.shape, (6, 784)); check_eq(ys.shape, (6, 1)); check_eq(xs.dtype, torch.float32)
    check_eq(ys[:, 0], torch.tensor([1., 0., 1., 1., 0., 0.]))
    check_eq(xs[2], x[2].view(-1))
    check_eq(binary_xy(x, y, positive=7)[1], 1 - ys)
    check_eq(binary_xy(x.view(6, -1), y)[0], xs)   # already flat is fine


def test_binary_xy_errors():
    x = torch.rand(6, 28, 28); y = torch.tensor([3, 7, 3, 3, 7, 7])
    check_fail(lambda: binary_xy(x, y, positive=5), contains='no label equals positive=5')
    check_fail(lambda: binary_xy(x[:4], y), contains='x has 4 rows but y has 6')
    check_fail(lambda: binary_xy(x, y[:, None]), contains='1-D tensor')
    check_eq(binary_xy(x, y, positive=torch.tensor(7))[1], binary_xy(x, y, positive=7)[1])   # a 0-d integer tensor is a digit too


def test_binary_xy_refuses_bytes():
    "Issue 19: uint8 images became 0-255 floats without a word, and training then sat near 0.5 accuracy."
    x = (torch.rand(6, 28, 28) * 255).to(torch.uint8); y = torch.tensor([3, 7, 3, 3, 7, 7])
    with pytest.raises(TypeError) as e: binary_xy(x, y)
    assert 'binary_xy' in str(e.value) and 'torch.uint8' in str(e.value) and 'x.float() / 255' in str(e.value)
    check_eq(binary_xy(x.float() / 255, y)[0].max() <= 1, True)      # the fix it names works
    check_fail(lambda: binary_xy(x.long(), y), contains='x.float()')


@pytest.mark.parametrize('bad', ['3', 3.0, True, None])
def test_binary_xy_positive_must_be_a_digit(bad):
    "Issue 19: positive='3' raised \"'bool' object has no attribute 'any'\"."
    x = torch.rand(4, 28, 28); y = torch.tensor([3, 7, 3, 7])
    with pytest.raises(TypeError, match='positive must be a digit'): binary_xy(x, y, positive=bad)


def test_binary_xy_on_real_data(sample_path, data):
    xs, ys, vxs, vys = data
    x, y = load_digits(sample_path, 'train')
    check_eq(xs.shape, (len(x), 784)); check_eq(vxs.shape[1], 784)
    check_eq(ys.sum().item(), float((y == 3).sum()))   # one target 1 per three
    assert 0 <= xs.min() and xs.max() <= 1


# --- parameters and model ---------------------------------------------------------------------------------------------
def test_init_params():
    a = init_params((784, 1), generator=torch.Generator().manual_seed(0))
    b = init_params((784, 1), generator=torch.Generator().manual_seed(0))
    check_eq(a, b); assert a.requires_grad and a.is_leaf
    check_eq(init_params(1).shape, (1,))
    big = init_params(20_000, std=0.5, generator=torch.Generator().manual_seed(1))
    check_close(big.std().item(), 0.5, eps=0.02); check_close(big.mean().item(), 0., eps=0.02)


def test_linear1_matches_nn_linear():
    torch.manual_seed(0)
    xb = torch.rand(16, 784)
    w, b = init_params((784, 1)), init_params(1)
    lin = nn.Linear(784, 1)
    with torch.no_grad(): lin.weight.copy_(w.T); lin.bias.copy_(b)
    check_close(linear1(xb, w, b), lin(xb), eps=1e-4)
    check_eq(linear1(xb, w, b).shape, (16, 1))


def test_linear1_refuses_float64_with_the_fix():
    "Issue 19: a float64 batch raised torch's raw dtype error."
    w, b = init_params((784, 1)), init_params(1)
    xb = torch.rand(4, 784, dtype=torch.float64)
    with pytest.raises(TypeError) as e: linear1(xb, w, b)
    assert 'linear1' in str(e.value) and 'torch.float64' in str(e.value) and 'xb.float()' in str(e.value)
    check_close(linear1(xb.float(), w, b), xb.float() @ w + b)      # the fix it names works
    w64, b64 = w.double(), b.double()
    check_close(linear1(xb, w64, b64), xb @ w64 + b64)             # float64 throughout is fine


def test_linear1_shape_error():
    w, b = init_params((784, 1)), init_params(1)
    with pytest.raises(ValueError) as e: linear1(torch.rand(5, 28, 28), w, b)
    msg = str(e.value)
    assert '(5, 28, 28)' in msg and '(784, 1)' in msg and 'xb.view(-1, 28*28)' in msg
    check_fail(lambda: linear1(torch.rand(5, 100), w, b), contains='last dim of xb (100)')


# --- sigmoid, loss, metric --------------------------------------------------------------------------------------------
def test_sigmoid_vs_torch():
    x = torch.linspace(-300, 300, 6001)
    check_close(sigmoid(x), torch.sigmoid(x), eps=1e-6)
    xg = torch.tensor([-500., -100., -3., 0., 0.5, 100., 500.], requires_grad=True)
    sigmoid(xg).sum().backward()
    xr = xg.detach().clone().requires_grad_(); torch.sigmoid(xr).sum().backward()
    check_close(xg.grad, xr.grad, eps=1e-7)
    assert torch.isfinite(xg.grad).all()
    check_close(xg.grad[3], 0.25)   # the slope at 0


def test_mnist_loss_hand_cases():
    ln4 = math.log(4)   # sigmoid(ln 4) = 0.8
    check_close(mnist_loss(torch.tensor([[ln4]]), torch.tensor([[1.]])), 0.2)
    check_close(mnist_loss(torch.tensor([[ln4]]), torch.tensor([[0.]])), 0.8)
    check_close(mnist_loss(torch.tensor([[0.]]), torch.tensor([[1.]])), 0.5)
    check_close(mnist_loss(torch.tensor([[ln4], [-ln4], [0.]]), torch.tensor([[1.], [1.], [0.]])), 0.5)
    check_close(mnist_loss(torch.tensor([ln4, -ln4]), torch.tensor([0, 0])), 0.5)           # integer targets
    check_close(mnist_loss(torch.tensor([ln4, -ln4]), torch.tensor([True, False])), 0.2)   # boolean targets


def test_mnist_loss_vs_formula_and_autograd():
    torch.manual_seed(1)
    pr = torch.randn(64, 1, requires_grad=True); tg = (torch.rand(64, 1) > 0.5).float()
    loss = mnist_loss(pr, tg); loss.backward()
    pr2 = pr.detach().clone().requires_grad_()
    p = torch.sigmoid(pr2); ref = (tg * (1 - p) + (1 - tg) * p).mean(); ref.backward()
    check_close(loss, ref); check_close(pr.grad, pr2.grad)


def test_mnist_loss_refuses_broadcasting_shapes():
    with pytest.raises(ValueError) as e: mnist_loss(torch.zeros(5, 1), torch.zeros(5))
    msg = str(e.value)
    assert 'preds has shape (5, 1)' in msg and 'targs has shape (5,)' in msg and '(5, 5)' in msg
    assert 'targs.view(-1, 1)' in msg
    check_fail(lambda: mnist_loss(torch.zeros(5), torch.zeros(5, 1)), contains='preds.view(-1, 1)')
    check_fail(lambda: mnist_loss(torch.zeros(5, 1), torch.zeros(4, 1)), contains='do not pair up')
    check_fail(lambda: batch_accuracy(torch.zeros(5, 1), torch.zeros(5)), contains='batch_accuracy: preds has shape (5, 1)')


def test_mnist_loss_refuses_digit_labels():
    with pytest.raises(ValueError) as e: mnist_loss(torch.zeros(3, 1), torch.tensor([[3.], [7.], [3.]]))
    assert 'targets must be 0 or 1' in str(e.value) and '3.0' in str(e.value) and 'binary_xy' in str(e.value)
    check_fail(lambda: mnist_loss(torch.zeros(2), torch.tensor([0.5, 1.])), contains='0.5')


def test_batch_accuracy():
    preds = torch.tensor([[0.9], [-0.4], [-3.], [2.], [0.1]])
    targs = torch.tensor([[1.], [0.], [1.], [0.], [1.]])
    check_close(batch_accuracy(preds, targs), 3 / 5)
    torch.manual_seed(2)
    p, t = torch.randn(100, 1), (torch.rand(100, 1) > 0.5).float()
    check_close(batch_accuracy(p, t), ((torch.sigmoid(p) > 0.5).float() == t).float().mean())


# --- batches ----------------------------------------------------------------------------------------------------------
def _ids(tb): return torch.cat([xb[:, 0] for xb, _ in tb])


def test_tensor_batches_every_row_once_and_last_partial():
    ids = torch.arange(1000.)[:, None]
    tb = TensorBatches(ids, ids * 2, bs=256, seed=0)
    check_eq(len(tb), 4)
    sizes = [len(xb) for xb, _ in tb]
    check_eq(sizes, [256, 256, 256, 232])
    for _ in range(3): check_eq(_ids(tb).sort().values, torch.arange(1000.))
    for xb, yb in tb: check_eq(yb, xb * 2)   # pairs stay together


def test_tensor_batches_reproducible():
    ids = torch.arange(500.)[:, None]
    a, b = TensorBatches(ids, ids, bs=64, seed=7), TensorBatches(ids, ids, bs=64, seed=7)
    ea1, ea2 = _ids(a), _ids(a)
    check_eq(ea1, _ids(b)); check_eq(ea2, _ids(b))       # the same sequence of epochs
    assert not torch.equal(ea1, ea2)                    # but each epoch has a new order
    assert not torch.equal(ea1, _ids(TensorBatches(ids, ids, bs=64, seed=8)))
    torch.manual_seed(3); g1 = _ids(TensorBatches(ids, ids, bs=64))
    torch.manual_seed(3); g2 = _ids(TensorBatches(ids, ids, bs=64))
    check_eq(g1, g2)                                     # without a seed: torch's global generator
    check_eq(_ids(TensorBatches(ids, ids, bs=64, shuffle=False)), torch.arange(500.))


def test_tensor_batches_errors_and_device():
    x, y = torch.rand(10, 3), torch.rand(10, 1)
    check_fail(lambda: TensorBatches(x, y[:9]), contains='x has 10 rows but y has 9')
    check_fail(lambda: TensorBatches(x, y, bs=0), contains='bs must be')
    check_fail(lambda: TensorBatches(x, y, bs=2.5), contains='bs must be')
    for bad in (float('nan'), float('inf'), '4', True):   # issue 19: nan and inf raised int()'s raw error
        check_fail(lambda: TensorBatches(x, y, bs=bad), contains='TensorBatches: bs must be a whole number')
    check_eq(TensorBatches(x, y, bs=4.0).bs, 4)
    tb = TensorBatches(x, y, bs=4, device='cpu')
    check_eq(tb.device, torch.device('cpu')); assert tb.to('cpu') is tb
    check_eq(len(TensorBatches(x, y, bs=10)), 1); check_eq(len(TensorBatches(x, y, bs=3)), 4)
    assert 'TensorBatches(10 items, bs=4' in repr(tb)


def test_tensor_batches_moves_to_meta_device():
    "`device` really moves the data (the meta device stands in for a GPU)."
    tb = TensorBatches(torch.rand(10, 3), torch.rand(10, 1), bs=4, device='meta')
    check_eq(tb.device.type, 'meta')
    xb, yb = next(iter(tb))
    check_eq(xb.device.type, 'meta'); check_eq(xb.shape, (4, 3))


# --- gradients and epochs ---------------------------------------------------------------------------------------------
def test_calc_grad_vs_hand_gradient(data):
    xs, ys, _, _ = data
    w = init_params((784, 1), generator=torch.Generator().manual_seed(0)); b = init_params(1)
    xb, yb = xs[:32], ys[:32]
    loss = calc_grad(xb, yb, lambda x: linear1(x, w, b))
    check_close(loss, mnist_loss(linear1(xb, w, b), yb))
    with torch.no_grad():
        p = torch.sigmoid(xb @ w + b)
        dz = torch.where(yb == 1, -p * (1 - p), p * (1 - p)) / len(xb)
    check_close(w.grad, xb.T @ dz, eps=1e-6); check_close(b.grad, dz.sum(0), eps=1e-6)
    g = b.grad.clone(); calc_grad(xb, yb, lambda x: linear1(x, w, b))
    check_close(b.grad, 2 * g)   # backward adds to .grad


def test_train_epoch_is_sgd_by_hand(data):
    xs, ys, _, _ = data
    w = init_params((784, 1), generator=torch.Generator().manual_seed(0)); b = init_params(1, generator=torch.Generator().manual_seed(1))
    w2, b2 = w.detach().clone(), b.detach().clone()
    dl = TensorBatches(xs, ys, bs=256, shuffle=False)
    mean_loss = train_epoch(lambda x: linear1(x, w, b), dl, _SGD([w, b], 0.5))
    losses = []
    for xb, yb in dl:   # the same steps, written out
        w2.requires_grad_(); b2.requires_grad_()
        loss = (lambda p: torch.where(yb == 1, 1 - p, p).mean())(torch.sigmoid(xb @ w2 + b2))
        gw, gb = torch.autograd.grad(loss, (w2, b2))
        w2, b2 = (w2 - 0.5 * gw).detach(), (b2 - 0.5 * gb).detach()
        losses.append(loss.item() * len(xb))
    check_close(w, w2, eps=1e-5); check_close(b, b2, eps=1e-5)
    check_close(mean_loss, sum(losses) / len(xs), eps=1e-5)
    assert w.grad is None   # the optimizer zeroed the gradients


def test_train_epoch_empty_loader():
    w = init_params((3, 1))
    check_fail(lambda: train_epoch(lambda x: linear1(x, w, w[0]), [], _SGD([w], 1.)), contains='no batches')
    check_fail(lambda: validate_epoch(lambda x: x, []), contains='no batches')


def test_validate_epoch_weights_batches_and_restores_mode(data):
    _, _, vxs, vys = data
    lin = nn.Linear(784, 1)
    dl = TensorBatches(vxs, vys, bs=64, shuffle=False)   # 200 = 3×64 + 8
    with torch.no_grad(): whole = batch_accuracy(lin(vxs), vys).item()
    lin.train()
    v = validate_epoch(lin, dl)
    assert isinstance(v, float) and lin.training
    check_close(v, whole, eps=1e-6)
    lin.eval(); validate_epoch(lin, dl); assert not lin.training
    seen = []
    class Probe(nn.Module):
        def forward(self, x):
            seen.append((self.training, torch.is_grad_enabled())); return lin(x)
    validate_epoch(Probe(), dl)
    assert all(s == (False, False) for s in seen)


def test_device_argument_moves_batches():
    "With `device`, each batch is moved before the model sees it."
    seen = []
    def model(xb): seen.append(xb.device.type); return torch.zeros(len(xb), 1, device=xb.device)
    dl = [(torch.rand(4, 3), torch.zeros(4, 1))]
    with pytest.raises(Exception): validate_epoch(model, dl, device='meta')   # float() of a meta tensor fails after the move
    check_eq(seen, ['meta'])


def _train_linear1(data, bs, epochs=20):
    from fastai.torch_core import set_seed
    xs, ys, vxs, vys = data
    set_seed(42, reproducible=True)
    w, b = init_params((784, 1)), init_params(1)
    model, opt = (lambda x: linear1(x, w, b)), _SGD([w, b], 1.)
    train_dl, valid_dl = TensorBatches(xs, ys, bs=bs, seed=42), TensorBatches(vxs, vys, bs=256, shuffle=False)
    start = validate_epoch(model, valid_dl)
    accs = [(train_epoch(model, train_dl, opt), validate_epoch(model, valid_dl))[1] for _ in range(epochs)]
    return start, accs


def test_hand_linear_training_learns_and_is_never_clearly_worse_than_the_baseline(data, baseline):
    "The notebook's run: 20 epochs of linear1 with the batch size chosen from the data's size; no claim finer than the noise."
    start, accs = _train_linear1(data, batch_size_for(len(data[0])))
    gap = accuracy_gap(accs[-1], baseline, len(data[2]))
    assert start < 0.7 and accs[-1] > accs[0] and not (gap.clear and gap.diff > 0), (start, accs, baseline, gap)


# --- the size of the data sets the batch size ------------------------------------------------------------------------
def test_batch_size_for():
    check_eq(batch_size_for(12_396), 256)    # fastai's MNIST_SAMPLE: the book's batch size
    check_eq(batch_size_for(800), 16)        # a small subset gets small batches, so as many steps
    check_eq(batch_size_for(60_000), 1024); check_eq(batch_size_for(1), 1); check_eq(batch_size_for(48), 1)
    for n in range(1, 200_000, 997):
        bs = batch_size_for(n)
        assert bs & (bs - 1) == 0                                  # a power of two
        if n >= 48: assert 48 / 2**0.5 <= n / bs <= 48 * 2**0.5    # about 48 steps per epoch
    check_eq(batch_size_for(1000, steps=10), 128)
    for bad in (0, -5, 2.5):
        check_fail(lambda: batch_size_for(bad), contains='batch_size_for: n must be a whole number')
    check_fail(lambda: batch_size_for(100, steps=0), contains='steps must be a whole number')


# --- issue 13, finding 18: lists and bytes get a clear message ----------------------------------------------------------
def test_mnist_loss_refuses_lists():
    check_fail(lambda: mnist_loss([0.5, -1.], torch.tensor([1., 0.])), contains='mnist_loss: preds must be a torch.Tensor, got list')
    check_fail(lambda: mnist_loss(torch.tensor([0.5, -1.]), [1., 0.]), contains='targs must be a torch.Tensor, got list')
    check_fail(lambda: batch_accuracy([0.5], [1.]), contains='batch_accuracy: preds must be a torch.Tensor')


def test_linear1_refuses_bytes_and_lists():
    w, b = init_params((784, 1)), init_params(1)
    raw = torch.randint(0, 256, (3, 784), dtype=torch.uint8)
    with pytest.raises(TypeError) as e: linear1(raw, w, b)
    assert 'torch.uint8' in str(e.value) and 'xb.float() / 255' in str(e.value)
    check_close(linear1(raw.float() / 255, w, b), (raw.float() / 255) @ w + b)   # the fix it names works
    check_fail(lambda: linear1(raw.long(), w, b), contains='xb.float()')
    check_fail(lambda: linear1(torch.rand(2, 784).tolist(), w, b), contains='xb must be a torch.Tensor, got list')
    check_fail(lambda: linear1(torch.rand(2, 784), w.tolist(), b), contains='weights must be a torch.Tensor')
    check_fail(lambda: linear1(raw.view(3, 28, 28), w, b), contains='xb.view(-1, 28*28)')   # shape is reported first


def test_tensor_batches_refuses_lists():
    check_fail(lambda: TensorBatches([[0.], [1.]], torch.zeros(2, 1)), contains='TensorBatches: x must be a torch.Tensor, got list')
    check_fail(lambda: TensorBatches(torch.zeros(2, 1), [0., 1.]), contains='TensorBatches: y must be a torch.Tensor, got list')


def test_loss_and_metric_use_the_shared_shape_check():
    "Both refuse mismatched shapes with check_same_shape's message, and digit labels with the same words."
    for f in (mnist_loss, batch_accuracy):
        check_fail(lambda: f(torch.zeros(3, 1), torch.ones(3)), contains=f'{f.__name__}: preds has shape (3, 1) but targs has shape (3,)')
        check_fail(lambda: f(torch.zeros(2, 1), torch.tensor([[3.], [7.]])), contains='targets must be 0 or 1')


# --- issue 13, finding 10: a broken model must not get a plausible score ---------------------------------------------
def test_batch_accuracy_refuses_nan():
    preds, targs = torch.full((6, 1), float('nan')), torch.tensor([[1.], [0.], [1.], [0.], [1.], [0.]])
    with pytest.raises(ValueError) as e: batch_accuracy(preds, targs)
    assert '6 of 6 predictions are nan' in str(e.value) and 'learning rate' in str(e.value)
    preds[2] = 1.5; check_fail(lambda: batch_accuracy(preds, targs), contains='5 of 6')
    p = torch.randn(6, 1); p[0] = float('nan')
    check_fail(lambda: batch_accuracy(p, targs), contains='1 of 6')


def test_batch_accuracy_warns_when_sigmoid_was_already_applied():
    torch.manual_seed(0)
    raw, targs = torch.randn(64, 1) * 3, (torch.rand(64, 1) > 0.5).float()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        squashed = batch_accuracy(torch.sigmoid(raw), targs)
    check_eq(len(caught), 1)
    msg = str(caught[0].message)
    assert 'sigmoid is already inside the metric and the loss' in msg and '\n' not in msg
    assert caught[0].filename == __file__                  # it points at the caller's line
    check_close(squashed, (targs == 1).float().mean())    # what the warning is about: every item counted as positive
    with warnings.catch_warnings(record=True) as caught:  # an untrained sigmoid-headed model: outputs gathered around 0.5
        warnings.simplefilter('always')
        batch_accuracy(torch.sigmoid(raw / 20), targs)
    check_eq(len(caught), 1)
    with warnings.catch_warnings():
        warnings.simplefilter('error')                    # raw outputs, or a tiny batch, give no warning
        batch_accuracy(raw, targs); batch_accuracy(torch.tensor([[0.3], [0.9]]), torch.tensor([[1.], [1.]]))
        batch_accuracy(raw.clone().requires_grad_(), targs)   # predictions that track gradients: no torch warning either


def test_no_sigmoid_warning_for_an_untrained_linear_model(data):
    "A fresh nn.Linear's raw outputs on real digits often all lie just above 0: that alone must not warn."
    _, _, vxs, vys = data
    torch.manual_seed(0)
    lin = nn.Linear(784, 1)
    with torch.no_grad():
        lin.bias -= lin(vxs).min()                      # push every output to 0 or above, as can happen by chance
        preds = lin(vxs)
    assert bool(((preds >= 0) & (preds <= 1)).all())
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        batch_accuracy(preds, vys); validate_epoch(lin, TensorBatches(vxs, vys, bs=64, shuffle=False))


def test_validate_epoch_restores_every_submodule_mode(data):
    "validate_epoch uses mnist_sgd.checks.evaluating: a layer that was in eval mode stays so, the rest go back to training."
    _, _, vxs, vys = data
    net = nn.Sequential(nn.Linear(784, 1), nn.Dropout(0.5)); net[1].eval()
    validate_epoch(net, TensorBatches(vxs, vys, bs=64, shuffle=False))
    check_eq([m.training for m in net.modules()], [True, True, False])


# --- honest comparisons -----------------------------------------------------------------------------------------------
def test_as_count():
    check_eq(as_count(1995 / 2038, 2038), "1,995 of 2,038 (97.9%)")
    check_eq(as_count(torch.tensor(0.5), 200), "100 of 200 (50.0%)")
    check_fail(lambda: as_count(1.2, 10), contains='acc must be a fraction')
    check_fail(lambda: as_count(0.5, 0), contains='n must be a whole number')


def test_accuracy_gap_fields_and_verdict():
    g = accuracy_gap(1976 / 2038, 1938 / 2038, 2038, names=('linear1', 'baseline'))
    pa, pb = 1976 / 2038, 1938 / 2038
    check_close(g.diff, pb - pa); check_close(g.se, math.sqrt((pa * (1 - pa) + pb * (1 - pb)) / 2038))
    check_close(g.z, g.diff / g.se); assert g.clear and g.z < -3
    r = repr(g)
    assert '1,976 of 2,038' in r and '1,938 of 2,038' in r and 'linear1' in r and 'larger than the noise' in r
    tie = accuracy_gap(0.965, 0.955, 200)                   # two images of 200: the embedded set's kind of gap
    assert not tie.clear and 'within the noise' in repr(tie)
    same = accuracy_gap(1.0, 1.0, 200)                      # both perfect: the floor keeps se above 0, z is 0
    assert same.se > 0 and same.z == 0 and not same.clear
    # the verdict agrees with a simulation: two models of the same true accuracy rarely differ by 3 standard errors
    gen = torch.Generator().manual_seed(0)
    a, b = (torch.rand(2000, 500, generator=gen) < 0.95).float().mean(1), (torch.rand(2000, 500, generator=gen) < 0.95).float().mean(1)
    false_alarms = sum(accuracy_gap(x.item(), y.item(), 500).clear for x, y in zip(a, b))
    assert false_alarms <= 20, false_alarms                  # 3 standard errors: about 0.3% by chance


def test_accuracy_gap_refuses_bad_input():
    check_fail(lambda: accuracy_gap(97, 95, 200), contains='acc_a must be a fraction')        # percentages, not fractions
    check_fail(lambda: accuracy_gap(0.9, float('nan'), 200), contains='acc_b must be a fraction')
    check_fail(lambda: accuracy_gap(0.9, 0.8, 0), contains='n must be a whole number')
    check_fail(lambda: accuracy_gap(0.9, 0.8, 20.5), contains='n must be a whole number')
