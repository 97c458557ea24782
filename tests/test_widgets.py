"""The logic behind the widgets (losses, SGD replays, the baseline's view, turning a drawing into MNIST input, predictions),
and the widgets themselves driven from Python: moving a slider or drawing a stroke changes what they show."""
import io, math
import matplotlib
matplotlib.use('Agg')
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from PIL import Image

from mnist_sgd.sgd import make_speed_data, quadratic
from mnist_sgd.baseline import baseline_accuracy
from mnist_sgd.data import load_digits
from mnist_sgd.sgd import best_quadratic, sgd_losses
from mnist_sgd.widgets import fig_png, natural_layout
from mnist_sgd.widgets.fit import sgd_verdict, show_lr_paths, show_fit_grid, QuadraticFitter, _draw_loss_paths, _loss
from mnist_sgd.widgets.baseline import baseline_view, baseline_mistakes, show_baseline_examples, BaselineExplorer
from mnist_sgd.widgets.draw import (image_to_mnist, strokes_to_mnist, demo_strokes, digit_probs, predict_digit, show_drawing,
                                   DigitDrawer, _render_strokes)


@pytest.fixture(scope='module')
def speed_data():
    return make_speed_data()


@pytest.fixture(scope='module')
def start():
    return torch.randn(3, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope='module')
def data37(sample_path):
    tx, ty = load_digits(sample_path, 'train')
    vx, vy = load_digits(sample_path, 'valid')
    return tx, ty, vx, vy, tx[ty == 3].mean(0), tx[ty == 7].mean(0)


@pytest.fixture(scope='module')
def logreg37(data37):
    "A logistic regression (3 = target 1) trained full-batch for a moment on the embedded 3s and 7s."
    tx, ty = data37[:2]
    torch.manual_seed(0)
    model = nn.Linear(784, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    xs, ys = tx.view(len(tx), -1), (ty == 3).float()[:, None]
    for _ in range(150):
        loss = F.binary_cross_entropy_with_logits(model(xs), ys)
        opt.zero_grad(); loss.backward(); opt.step()
    return model


def _png_size(b): return Image.open(io.BytesIO(b)).size


# ---- fit by hand, then SGD ------------------------------------------------------------------------------------------------

def test_fig_png():
    from matplotlib.figure import Figure
    fig = Figure(figsize=(2, 1)); fig.add_subplot().plot([0, 1])
    b = fig_png(fig, dpi=50)
    assert b[:8] == b'\x89PNG\r\n\x1a\n' and Image.open(io.BytesIO(b)).format == 'PNG'
    assert natural_layout().align_self == 'flex-start'








def test_learning_rates_crawl_converge_diverge(speed_data, start):
    t, speed = speed_data
    crawl, good, wild = (sgd_losses(start, lr, 20, t, speed) for lr in (1e-7, 1e-5, 1e-3))
    assert 0.5 * crawl[0] < crawl[-1] < crawl[0]       # too small: barely moves
    assert good[-1] < 0.05 * good[0]                   # about right: most of the loss gone
    assert not (math.isfinite(wild[-1]) and wild[-1] < wild[0])  # too large: blows up


def test_sgd_verdict(speed_data, start):
    t, speed = speed_data
    words = {lr: sgd_verdict(sgd_losses(start, lr, 20, t, speed)).split(':')[0] for lr in (1e-7, 1e-6, 1e-5, 2e-5, 4e-5, 1e-3)}
    assert words == {1e-7: 'it crawls', 1e-6: 'it crawls', 1e-5: 'it levelled off', 2e-5: 'it levelled off',
                     4e-5: 'it blows up', 1e-3: 'it blows up'}
    assert sgd_verdict([5., float('nan')]).startswith('it blows up') and sgd_verdict([5.]).startswith('it levelled off')
    assert sgd_verdict([100., 50., 49.9], tol=0.01).startswith('it levelled off')
    assert sgd_verdict([100., 50., 49.9], tol=0.001).startswith('it crawls')


def test_static_pictures_of_the_fit(speed_data, start):
    t, speed = speed_data
    fig = show_lr_paths(t, speed, start, lrs=(1e-7, 1e-5, 5e-5), steps=5)
    ax = fig.axes[0]
    assert len(ax.lines) == 3 and ax.get_yscale() == 'log'
    assert [len(l.get_xdata()) for l in ax.lines] == [6, 6, 6]
    assert 'diverges' in ax.get_legend().get_texts()[2].get_text()
    fig = show_fit_grid(t, speed, [start, best_quadratic(t, speed), [0., 0., 0.], [1., 1., 1.]], ncols=3)
    assert len(fig.axes) == 6 and sum(a.axison for a in fig.axes) == 4
    assert 'loss 7.3' in fig.axes[1].get_title()


def test_draw_loss_paths_leaves_out_infinite_losses():
    import matplotlib.pyplot as plt
    _, ax = plt.subplots()
    _draw_loss_paths(ax, {1e-3: [10., 1e20, float('inf'), float('nan')]})
    assert list(ax.lines[0].get_ydata()) == [10., 1e20]
    plt.close('all')


def test_fit_quadratic_widget_follows_its_sliders(speed_data, start):
    t, speed = speed_data
    w = QuadraticFitter(t, speed, start)
    assert 'mnist-sgd-fit-quadratic' in w._dom_classes
    best = best_quadratic(t, speed).tolist()
    for s, v, p in zip(w.sliders, best, start.tolist()):
        assert s.min < min(v, p) and max(v, p) < s.max  # both the start and the best fit can be reached
    assert w.params == pytest.approx(start.tolist())
    text, img = w.fit_text.value, w.fit_img.value
    for s, v in zip(w.sliders, best): s.value = v
    assert w.params == pytest.approx(best)
    assert w.fit_text.value != text and w.fit_img.value != img and _png_size(w.fit_img.value)[0] > 100
    assert f'loss <b>{_loss(w.params, t, speed):.3f}</b>' in w.fit_text.value
    assert f'{_loss(best, t, speed):.3f}' in w.fit_text.value  # the yardstick
    verdicts = {}
    for lr in (1e-7, 1e-5, 1e-3):
        img = w.sgd_img.value; w.lr.value = lr
        verdicts[lr] = w.sgd_text.value
        assert w.sgd_img.value != img
    assert 'crawls' in verdicts[1e-7] and 'levelled off' in verdicts[1e-5] and 'blows up' in verdicts[1e-3]
    losses = sgd_losses(start, 1e-5, 20, t, speed)
    assert f'{losses[-1]:.3g}' in verdicts[1e-5]  # the replay starts where the sliders started, not where they are now


# ---- baseline explorer ----------------------------------------------------------------------------------------------------

def test_baseline_view(data37):
    _, _, vx, vy, m3, m7 = data37
    v = baseline_view(vx[0], m3, m7, vy[0])
    assert v['dist3'] == pytest.approx(F.l1_loss(vx[0], m3).item(), rel=1e-5)
    assert v['dist7'] == pytest.approx(F.l1_loss(vx[0], m7).item(), rel=1e-5)
    assert v['pred'] == (3 if v['dist3'] < v['dist7'] else 7) and v['correct'] == (v['pred'] == int(vy[0]))
    assert baseline_view(vx[0], m3, m7)['correct'] is None
    with pytest.raises(ValueError, match=r'28×28.*valid_x\[i\]'): baseline_view(vx[:2], m3, m7)


def test_baseline_mistakes_agree_with_baseline_accuracy(data37):
    _, _, vx, vy, m3, m7 = data37
    wrong = baseline_mistakes(vx, vy, m3, m7)
    acc = baseline_accuracy(vx[vy == 3], vx[vy == 7], m3, m7)['overall']
    assert 1 - len(wrong) / len(vy) == pytest.approx(acc)
    assert all(baseline_view(vx[i], m3, m7, vy[i])['correct'] is False for i in wrong)
    assert 0 < len(wrong) < 0.15 * len(vy)


def test_show_baseline_examples(data37):
    _, _, vx, vy, m3, m7 = data37
    wrong = baseline_mistakes(vx, vy, m3, m7)
    fig = show_baseline_examples(vx, vy, m3, m7, [0, wrong[0]])
    assert len(fig.axes) == 6
    assert '✗' in fig.axes[4].get_title() and 'dist' in fig.axes[3].get_title()


def test_baseline_explorer_steps_through_images_and_mistakes(data37):
    _, _, vx, vy, m3, m7 = data37
    w = BaselineExplorer(vx, vy, m3, m7)
    assert w.index.max == len(vx) - 1
    assert 'validation image 0:' in w.text.value
    acc = baseline_accuracy(vx[vy == 3], vx[vy == 7], m3, m7)
    assert w.accuracy == acc and f'accuracy <b>{acc["overall"]:.3f}</b>' in w.children[0].value  # the header's score
    text, img = w.text.value, w.img.value
    w.index.value = 5
    assert 'validation image 5:' in w.text.value and w.img.value != img
    v = baseline_view(vx[5], m3, m7, vy[5])
    assert f'{v["dist3"]:.4f}' in w.text.value and f'{v["dist7"]:.4f}' in w.text.value
    w.only_mistakes.value = True
    assert w.index.max == len(w.mistakes) - 1 and w.current == w.mistakes[0] and 'wrong' in w.text.value
    w.index.value = w.index.max
    assert w.current == w.mistakes[-1] and f'validation image {w.mistakes[-1]}:' in w.text.value
    w.only_mistakes.value = False
    assert w.current == 0 and w.index.max == len(vx) - 1
    with pytest.raises(ValueError, match='pair up'): BaselineExplorer(vx, vy[:-1], m3, m7)
    with pytest.raises(ValueError, match='empty'): BaselineExplorer(vx[:0], vy[:0], m3, m7)


# ---- drawing → MNIST input ------------------------------------------------------------------------------------------------

def _com(x):
    yy, xx = torch.meshgrid(torch.arange(28.), torch.arange(28.), indexing='ij')
    return ((x * yy).sum() / x.sum()).item(), ((x * xx).sum() / x.sum()).item()


def _diff_up_to_a_pixel(a, b):
    "Mean absolute difference of two 28×28 images, allowing either to sit one pixel off (rounding of the centre of mass)."
    return min((torch.roll(a, (i, j), (0, 1)) - b).abs().mean().item() for i in (-1, 0, 1) for j in (-1, 0, 1))


def _ink_box(x, thr=0.5):
    rows, cols = (x > thr).any(1).nonzero().flatten(), (x > thr).any(0).nonzero().flatten()
    return rows[-1].item() - rows[0].item() + 1, cols[-1].item() - cols[0].item() + 1


@pytest.mark.parametrize('h, w, expect', [(60, 30, (20, 10)), (30, 120, (5, 20)), (8, 8, (20, 20))])
def test_image_to_mnist_crops_scales_to_20_keeps_aspect_and_centres(h, w, expect):
    page = torch.ones(200, 240); page[130:130 + h, 10:10 + w] = 0  # dark ink on paper, far from the centre
    x = image_to_mnist(page)
    assert x.shape == (28, 28) and x.dtype == torch.float32
    assert x.min() == 0 and x.max() == pytest.approx(1.)
    assert _ink_box(x) == expect
    r, c = _com(x)
    assert abs(r - 14) <= 0.5 and abs(c - 14) <= 0.5  # where MNIST puts the centre of mass


def test_image_to_mnist_inputs_and_ink():
    page = torch.ones(100, 100); page[20:70, 40:55] = 0
    x = image_to_mnist(page)
    torch.testing.assert_close(image_to_mnist((page.numpy() * 255).astype(np.uint8)), x)
    torch.testing.assert_close(image_to_mnist(1 - page), x)                   # bright ink found by itself
    torch.testing.assert_close(image_to_mnist(1 - page, ink='bright'), x)
    torch.testing.assert_close(image_to_mnist(page, ink='dark'), x)
    rgb = (page[..., None].repeat(1, 1, 3).numpy() * 255).astype(np.uint8)
    torch.testing.assert_close(image_to_mnist(rgb), x)
    torch.testing.assert_close(image_to_mnist(Image.fromarray(rgb)), x)
    rgba = np.zeros((100, 100, 4), np.uint8); rgba[20:70, 40:55, 3] = 255      # black ink on a transparent canvas
    torch.testing.assert_close(image_to_mnist(rgba), x)
    assert torch.equal(image_to_mnist(torch.ones(40, 40)), torch.zeros(28, 28))  # blank
    with pytest.raises(ValueError, match='2-D grayscale'): image_to_mnist(torch.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match="'bright', 'dark' or 'auto'"): image_to_mnist(page, ink='white')


def test_real_mnist_digits_are_already_prepared(data37):
    vx = data37[2][:100]
    redo = torch.stack([image_to_mnist(im) for im in vx])
    assert (redo - vx).abs().mean() < 0.01


def test_render_strokes():
    img = _render_strokes([[(20, 50), (200, 50)], [(100, 200)]], size=280, line_width=20)
    assert img.shape == (280, 280) and img.max() == 1 and img.min() == 0
    assert img[50, 20:201].min() == 1 and img[42:58, 100].min() == 1 and img[35, 100] == 0 and img[65, 100] == 0
    assert img[200, 100] == 1 and img[200, 115] == 0  # a single click leaves a round dot of the pen's size
    assert img[50, 5] == 0 and img[50, 12] == 1       # round ends reach half the pen beyond the end points


def test_strokes_to_mnist():
    x7 = strokes_to_mnist(demo_strokes(7))
    assert x7.shape == (28, 28) and x7.max() == pytest.approx(1.)
    torch.testing.assert_close(strokes_to_mnist(_render_strokes(demo_strokes(7))), x7)      # strokes or their picture
    torch.testing.assert_close(strokes_to_mnist((_render_strokes(demo_strokes(7)) * 255).byte().numpy()), x7)
    half = [[(x / 2, y / 2) for x, y in s] for s in demo_strokes(7, size=280)]
    assert _diff_up_to_a_pixel(strokes_to_mnist(half, size=140, line_width=10), x7) < 0.03  # the same drawing, smaller canvas
    big = strokes_to_mnist(demo_strokes(3, size=560), size=560, line_width=40)
    assert _diff_up_to_a_pixel(big, strokes_to_mnist(demo_strokes(3))) < 0.03
    assert torch.equal(strokes_to_mnist([]), torch.zeros(28, 28)) and torch.equal(strokes_to_mnist([[]]), torch.zeros(28, 28))
    with pytest.raises(ValueError, match=r'\(x, y\) points'): strokes_to_mnist([[(1, 2, 3)]])
    with pytest.raises(ValueError, match='1, 3 and 7'): demo_strokes(5)


# ---- predictions ----------------------------------------------------------------------------------------------------------

def test_digit_probs_binary_uses_sigmoid():
    torch.manual_seed(0)
    lin = nn.Linear(784, 1)
    x = torch.rand(5, 28, 28)
    probs, labels = digit_probs(lin, x)
    p3 = torch.sigmoid(lin(x.view(5, -1))).flatten().detach()
    torch.testing.assert_close(probs, torch.stack([p3, 1 - p3], 1))
    assert labels == [3, 7]
    probs2, labels2 = digit_probs(lambda xb: lin(xb).view(-1), x, labels=('yes', 'no'), layout='flat')  # an N-vector of logits, a plain function
    torch.testing.assert_close(probs2, probs); assert labels2 == ['yes', 'no']
    label, p = predict_digit(lin, x[0])
    assert label == (3 if p3[0] >= 0.5 else 7) and p == pytest.approx(max(p3[0].item(), 1 - p3[0].item()))


def test_digit_probs_ten_classes_softmax_and_image_shaped_models():
    torch.manual_seed(0)
    conv = nn.Sequential(nn.Conv2d(1, 10, 28), nn.Flatten())  # takes N×1×28×28 only
    conv.train()
    x = torch.rand(3, 28, 28)
    probs, labels = digit_probs(conv, x)
    torch.testing.assert_close(probs, F.softmax(conv(x[:, None]), 1).detach())
    assert labels == list(range(10)) and conv.training           # the model's mode is left as it was
    mlp = nn.Sequential(nn.Linear(784, 10)).eval()
    digit_probs(mlp, x); assert not mlp.training
    assert predict_digit(mlp, x[1])[0] == F.softmax(mlp(x[1].view(1, -1)), 1).argmax().item()


def test_digit_probs_is_told_or_reads_the_layout():
    "The input layout comes from the argument or the model's first layer, never from trying the model and catching errors."
    torch.manual_seed(0)
    x = torch.rand(4, 28, 28)
    calls = []
    def flat_only(xb):
        calls.append(tuple(xb.shape)); return xb.sum(1, keepdim=True)
    digit_probs(flat_only, x, layout='flat'); assert calls == [(4, 784)]
    def image_only(xb):
        calls.append(tuple(xb.shape)); return xb.flatten(1)[:, :10]
    digit_probs(image_only, x, layout='image'); assert calls[-1] == (4, 1, 28, 28) and len(calls) == 2
    bug = nn.Sequential(nn.Linear(784, 5), nn.Linear(4, 1))  # a real bug inside the model surfaces as itself
    with pytest.raises(RuntimeError, match='shapes cannot be multiplied'): digit_probs(bug, x)
    resnet_like = nn.Sequential(nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU()), nn.AdaptiveAvgPool2d(1),
                                nn.Flatten(), nn.Linear(4, 10))
    probs, _ = digit_probs(resnet_like, x)  # the first layer with weights is the convolution: images
    with torch.no_grad(): torch.testing.assert_close(probs, F.softmax(resnet_like.eval()(x[:, None]), 1))


def test_digit_probs_restores_every_layers_mode():
    net = nn.Sequential(nn.Linear(784, 8), nn.Dropout(0.5), nn.Linear(8, 1))
    net.train(); net[1].eval()  # a mixed state, on purpose
    digit_probs(net, torch.rand(2, 28, 28))
    assert [m.training for m in net.modules()] == [True, True, False, True]


def test_digit_probs_errors():
    x = torch.rand(28, 28)
    with pytest.raises(ValueError, match='takes 100 inputs'): digit_probs(nn.Linear(100, 1), x)
    with pytest.raises(ValueError, match="layout='flat'"): digit_probs(lambda xb: xb.sum(1), x)
    with pytest.raises(ValueError, match="use 'flat'"): digit_probs(nn.Linear(784, 1), x, layout='NCHW')
    with pytest.raises(ValueError, match='one label per class'): digit_probs(nn.Linear(784, 10), x, labels=(3, 7))
    with pytest.raises(ValueError, match='28×28'): digit_probs(nn.Linear(784, 1), torch.rand(20, 20))
    with pytest.raises(ValueError, match=r'output has shape \(1, 10, 1, 1\)'): digit_probs(nn.Conv2d(1, 10, 28), x)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
def test_digit_probs_on_a_gpu_model():
    lin = nn.Linear(784, 10).cuda()
    probs, _ = digit_probs(lin, torch.rand(2, 28, 28))
    assert probs.device.type == 'cpu' and probs.shape == (2, 10)


def test_a_trained_3_vs_7_model_reads_the_drawn_digits(logreg37, data37):
    vx, vy = data37[2:4]
    acc = (torch.where(digit_probs(logreg37, vx)[0][:, 0] > 0.5, 3, 7) == vy).float().mean().item()
    assert acc > 0.9
    assert predict_digit(logreg37, strokes_to_mnist(demo_strokes(7)))[0] == 7
    assert predict_digit(logreg37, strokes_to_mnist(demo_strokes(3)))[0] == 3


def test_show_drawing(logreg37):
    fig = show_drawing(demo_strokes(3), logreg37)
    a0, a1, a2 = fig.axes
    assert a1.get_images()[0].get_array().shape == (28, 28) and a0.get_images()[0].get_array().shape == (280, 280)
    assert len(a2.patches) == 2 and a2.get_title().startswith('says 3')


# ---- the drawing widget ---------------------------------------------------------------------------------------------------

def _draw(w, strokes):
    for s in strokes:
        w._down(*s[0])
        for p in s[1:]: w._move(*p)
        w._up(*s[-1])


def test_draw_digit_widget_predicts_after_each_stroke_and_clears(logreg37):
    w = DigitDrawer(logreg37)
    assert w.canvas.width == 280 and w.canvas.layout.width == '280px' and w.canvas.layout.height == '280px'
    blank, text = w.preview.value, w.result.value
    _draw(w, demo_strokes(7)[:1])
    assert 'It looks like a' in w.result.value and w.preview.value != blank
    _draw(w, demo_strokes(7)[1:])
    assert len(w.strokes) == 2 and 'looks like a <b style="font-size:1.4em">7</b>' in w.result.value
    label, p = predict_digit(logreg37, strokes_to_mnist(demo_strokes(7)))
    assert f'probability {p:.2f}' in w.result.value
    w._move(10, 10)                 # moving without the button down draws nothing
    assert len(w.strokes) == 2 and len(w.strokes[-1]) == len(demo_strokes(7)[1])
    w.clear_button.click()
    assert w.strokes == [] and w.result.value == text and w.preview.value == blank


def test_draw_digit_widget_on_the_button_only_and_with_touch(logreg37):
    w = DigitDrawer(logreg37, labels=('three', 'seven'), live=False)
    before = w.result.value
    _draw(w, demo_strokes(3))
    assert w.result.value == before                       # not live: nothing until the button
    w.predict_button.click()
    assert 'three' in w.result.value
    w.clear()
    w.predict_button.click(); assert 'Nothing drawn' in w.result.value
    w2 = DigitDrawer(nn.Linear(784, 10))
    w2._touch_start([(50., 60.)]); w2._touch_move([(200., 60.)]); w2._touch_end([])
    assert w2.strokes == [[(50., 60.), (200., 60.)]] and 'It looks like a' in w2.result.value
