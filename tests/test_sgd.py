"Tests of mnist_sgd.sgd: gradients, losses and SGD steps, checked against autograd, F.mse_loss and torch.optim.SGD."
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
import pytest
import torch
import torch.nn.functional as F

import numpy as np
from mnist_sgd.sgd import (descend, make_speed_data, quadratic, mse, rmse, quadratic_loss, apply_step, sgd_path, sgd_losses,
                           best_quadratic, show_fit, show_seven_steps, SEVEN_STEPS)


@pytest.fixture
def quad_data():
    return make_speed_data()


@pytest.fixture
def start():
    return torch.randn(3, generator=torch.Generator().manual_seed(0))


def x_squared(x): return x**2


# ---- descend -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('lr', [0.02, 0.3, 0.7, 1.05])
def test_descend_matches_closed_form_for_x_squared(lr):
    xs = descend(x_squared, 1.5, lr, steps=8)
    torch.testing.assert_close(xs, 1.5 * (1 - 2 * lr) ** torch.arange(9.))


def test_descend_small_good_large_lr():
    small, good, large = (descend(x_squared, 1.5, lr, 8)[-1].abs() for lr in (0.02, 0.3, 1.05))
    assert 1.0 < small < 1.5 and good < 0.01 and large > 1.5


def test_descend_other_function_uses_its_gradient():
    "One step on (x - 2)³ from 0: gradient 3(x - 2)² = 12, so x moves to -lr·12."
    xs = descend(lambda x: (x - 2)**3, 0., 0.01, 1)
    torch.testing.assert_close(xs, torch.tensor([0., -0.12]))


def test_descend_steps():
    assert descend(x_squared, 1.5, 0.1, 0).tolist() == [1.5]
    with pytest.raises(ValueError, match='descend: steps must be a whole number above 0, not -1. 0 is allowed too'):
        descend(x_squared, 1.5, 0.1, -1)
    for bad in (float('nan'), 2.5, '3'):
        with pytest.raises(ValueError, match='steps must be a whole number'): descend(x_squared, 1.5, 0.1, bad)


# ---- autograd basics, as the notebook shows them -------------------------------------------------------------------
def test_autograd_scalar_and_vector():
    x = torch.tensor(3.).requires_grad_()
    (x**2).backward()
    assert x.grad.item() == 6.
    v = torch.tensor([3., 4., 10.]).requires_grad_()
    (v**2).sum().backward()
    torch.testing.assert_close(v.grad, torch.tensor([6., 8., 20.]))


# ---- data and model ------------------------------------------------------------------------------------------------
def test_make_speed_data_seeded_and_shaped():
    time, speed = make_speed_data()
    assert time.shape == speed.shape == (20,) and time.dtype == speed.dtype == torch.float32
    torch.testing.assert_close(time, torch.arange(20.))
    t2, s2 = make_speed_data(seed=42)
    assert torch.equal(speed, s2) and torch.equal(time, t2)
    assert not torch.equal(speed, make_speed_data(seed=1)[1])
    # without noise the curve is 4 + 0.5·(t - 11)²: slowest, 4, at the crest, step 11 of 0..19 (3/5 of the way)
    t0, s0 = make_speed_data(noise=0.)
    torch.testing.assert_close(s0, 4 + 0.5 * (t0 - 11)**2)
    assert s0.argmin().item() == 11 and s0[0] > s0[-1]           # a lopsided U: the climb is longer than the drop
    torch.testing.assert_close((speed - s0).std(), torch.tensor(3.), atol=1.2, rtol=0)   # noise of about 3
    assert make_speed_data(n=7)[0].shape == (7,)


def test_make_speed_data_does_not_touch_global_rng():
    torch.manual_seed(0); a = torch.rand(1)
    torch.manual_seed(0); make_speed_data(); b = torch.rand(1)
    assert torch.equal(a, b)


def test_quadratic_values_and_inputs():
    t = torch.tensor([0., 1., 2., -3.])
    expected = 2 * t**2 - t + 5
    torch.testing.assert_close(quadratic(t, torch.tensor([2., -1., 5.])), expected)
    torch.testing.assert_close(quadratic(t, (2., -1., 5.)), expected)


@pytest.mark.parametrize('bad', [torch.randn(4), torch.randn(2), torch.randn(3, 1)])
def test_quadratic_rejects_wrong_params(bad):
    with pytest.raises(ValueError, match=r'shape \(3,\); got shape ' + re_shape(bad.shape)):
        quadratic(torch.arange(5.), bad)


def re_shape(shape): return r'\(' + ', '.join(map(str, shape)) + (',' if len(shape) == 1 else '') + r'\)'


# ---- losses --------------------------------------------------------------------------------------------------------
def test_mse_rmse_match_pytorch():
    g = torch.Generator().manual_seed(1)
    preds, targs = torch.randn(50, generator=g), torch.randn(50, generator=g)
    torch.testing.assert_close(mse(preds, targs), F.mse_loss(preds, targs))
    torch.testing.assert_close(rmse(preds, targs), F.mse_loss(preds, targs).sqrt())
    preds2, targs2 = torch.randn(4, 5, generator=g), torch.randn(4, 5, generator=g)
    torch.testing.assert_close(mse(preds2, targs2), F.mse_loss(preds2, targs2))


def test_rmse_is_the_square_root():
    preds, targs = torch.tensor([1., 2., 3.]), torch.tensor([1., 2., 7.])
    torch.testing.assert_close(mse(preds, targs), torch.tensor(16 / 3))
    torch.testing.assert_close(rmse(preds, targs), torch.tensor((16 / 3) ** 0.5))


@pytest.mark.parametrize('loss', [mse, rmse])
def test_losses_refuse_broadcasting_shapes(loss):
    name = loss.__name__
    with pytest.raises(ValueError, match=rf'{name}: preds has shape \(20, 1\) but targs has shape \(20,\).*broadcast to \(20, 20\).*targs\.view\(-1, 1\)'):
        loss(torch.zeros(20, 1), torch.zeros(20))
    with pytest.raises(ValueError, match=r'preds has shape \(20,\) but targs has shape \(5,\)'):
        loss(torch.zeros(20), torch.zeros(5))


def test_quadratic_loss(quad_data):
    time, speed = quad_data
    p = torch.tensor([0.5, -8., 40.])
    preds = p[0] * time**2 + p[1] * time + p[2]
    torch.testing.assert_close(quadratic_loss(p, time, speed), F.mse_loss(preds, speed))
    torch.testing.assert_close(quadratic_loss((0.5, -8., 40.), time, speed, loss_func=rmse), F.mse_loss(preds, speed).sqrt())
    # the exact curve the data was made from fits far better than a random guess
    assert quadratic_loss((0.5, -11., 4 + 0.5 * 11**2), time, speed) < 15 < quadratic_loss(p, time, speed)


def test_hand_gradient_of_quadratic_loss_matches_autograd(quad_data, start):
    time, speed = quad_data
    p = start.clone().requires_grad_()
    quadratic_loss(p, time, speed).backward()
    err = quadratic(time, start) - speed
    hand = torch.stack([(2 * err * time**2).mean(), (2 * err * time).mean(), (2 * err).mean()])
    torch.testing.assert_close(p.grad, hand, rtol=1e-4, atol=1e-3)


# ---- apply_step ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('loss_func,torch_loss', [(mse, F.mse_loss), (rmse, lambda p, t: F.mse_loss(p, t).sqrt())])
def test_apply_step_matches_torch_optim_sgd(quad_data, start, loss_func, torch_loss):
    time, speed = quad_data
    ours, theirs = start.clone().requires_grad_(), start.clone().requires_grad_()
    opt = torch.optim.SGD([theirs], lr=1e-5)
    for _ in range(3):
        preds, loss = apply_step(ours, 1e-5, time, speed, loss_func=loss_func)
        opt.zero_grad()
        ref_loss = torch_loss(quadratic(time, theirs), speed)
        ref_loss.backward(); opt.step()
        torch.testing.assert_close(loss, ref_loss.detach())
        torch.testing.assert_close(ours.detach(), theirs.detach())
    assert not preds.requires_grad and not loss.requires_grad
    assert ours.grad is None  # cleared, so the next step does not add to an old gradient


def test_apply_step_returns_values_from_before_the_step(quad_data, start):
    time, speed = quad_data
    p = start.clone().requires_grad_()
    preds, loss = apply_step(p, 1e-5, time, speed)
    torch.testing.assert_close(preds, quadratic(time, start))
    torch.testing.assert_close(loss, mse(quadratic(time, start), speed))
    assert quadratic_loss(p, time, speed) < loss


def test_apply_step_with_another_model():
    "A line through the origin, y = w·x: one step moves w by -lr·mean(2(w·x - y)·x)."
    x, y = torch.tensor([1., 2., 3.]), torch.tensor([2., 4., 6.])
    w = torch.tensor([0.]).requires_grad_()
    apply_step(w, 0.1, x, y, model=lambda t, p: p * t)
    torch.testing.assert_close(w.detach(), torch.tensor([0.1 * (2 * 2 * 1 + 2 * 4 * 2 + 2 * 6 * 3) / 3]))


def test_apply_step_needs_requires_grad(quad_data, start):
    with pytest.raises(ValueError, match=r'track gradients.*requires_grad_\(\)'):
        apply_step(start.clone(), 1e-5, *quad_data)


# ---- sgd_path ------------------------------------------------------------------------------------------------------
def test_sgd_path_shape_and_start(quad_data, start):
    path = sgd_path(start, 1e-5, 8, *quad_data)
    assert len(path) == 9
    assert all(isinstance(loss, float) and p.shape == (3,) and not p.requires_grad for p, loss in path)
    torch.testing.assert_close(path[0][0], start)
    assert path[0][1] == pytest.approx(quadratic_loss(start, *quad_data).item())


def test_sgd_path_equals_repeated_apply_step(quad_data, start):
    time, speed = quad_data
    path = sgd_path(start, 1e-5, 5, time, speed)
    p = start.clone().requires_grad_()
    for k in range(5):
        torch.testing.assert_close(path[k][0], p.detach())
        _, loss = apply_step(p, 1e-5, time, speed)
        assert path[k][1] == pytest.approx(loss.item())
    torch.testing.assert_close(path[5][0], p.detach())
    assert path[5][1] == pytest.approx(quadratic_loss(p, time, speed).item(), rel=1e-5)


def test_sgd_path_leaves_params0_alone(quad_data, start):
    p0 = start.clone().requires_grad_()
    sgd_path(p0, 1e-5, 3, *quad_data)
    torch.testing.assert_close(p0.detach(), start)
    assert p0.grad is None
    # and the same start always gives the same path
    a, b = sgd_path(start, 1e-5, 4, *quad_data), sgd_path(start, 1e-5, 4, *quad_data)
    assert [l for _, l in a] == [l for _, l in b]


def test_sgd_path_small_lr_decreases(quad_data, start):
    losses = [l for _, l in sgd_path(start, 1e-6, 20, *quad_data)]
    assert all(a > b for a, b in zip(losses, losses[1:]))


def test_sgd_path_good_lr_decreases_fast(quad_data, start):
    losses = [l for _, l in sgd_path(start, 1e-5, 8, *quad_data)]
    assert all(a >= b for a, b in zip(losses, losses[1:]))
    assert losses[-1] < losses[0] / 50


def test_sgd_path_large_lr_grows(quad_data, start):
    losses = [l for _, l in sgd_path(start, 4e-5, 20, *quad_data)]
    assert all(a < b for a, b in zip(losses, losses[1:]))
    assert losses[-1] > 1e3 * losses[0]


def test_sgd_path_on_scaled_time_reaches_least_squares(quad_data, start):
    time, speed = quad_data
    u = (time - 9.5) / 10
    best = torch.linalg.lstsq(torch.stack([u**2, u, torch.ones_like(u)], 1), speed[:, None]).solution.squeeze()
    final, loss = sgd_path(start, 0.5, 100, u, speed)[-1]
    torch.testing.assert_close(final, best, atol=0.05, rtol=0)
    assert loss == pytest.approx(quadratic_loss(best, u, speed).item(), rel=1e-3)


def test_sgd_path_accepts_plain_numbers_and_zero_steps(quad_data):
    path = sgd_path((1., 2., 3.), 1e-5, 0, *quad_data)
    assert len(path) == 1
    torch.testing.assert_close(path[0][0], torch.tensor([1., 2., 3.]))
    with pytest.raises(ValueError, match='sgd_path: steps must be a whole number'):
        sgd_path((1., 2., 3.), 1e-5, -2, *quad_data)


# ---- sgd_losses and best_quadratic ----------------------------------------------------------------------------------
def test_sgd_losses_match_torch_optim_sgd(quad_data, start):
    t, speed = quad_data
    p = start.clone().requires_grad_(); opt = torch.optim.SGD([p], lr=1e-5); ref = []
    for _ in range(12):
        loss = F.mse_loss(quadratic(t, p), speed); ref.append(loss.item())
        opt.zero_grad(); loss.backward(); opt.step()
    ref.append(F.mse_loss(quadratic(t, p), speed).item())
    ours = sgd_losses(start, 1e-5, 12, t, speed)
    assert len(ours) == 13 and all(isinstance(l, float) for l in ours)
    np.testing.assert_allclose(ours, ref, rtol=1e-4)
    assert ours == [l for _, l in sgd_path(start, 1e-5, 12, t, speed)]


def test_sgd_losses_with_another_model_and_loss(start):
    t = torch.linspace(-1, 1, 9); targs = 2 * t + 1
    line = lambda t, p: p[0] * t + p[1]
    p = torch.zeros(2, requires_grad=True); opt = torch.optim.SGD([p], lr=0.1); ref = []
    for _ in range(5):
        loss = F.l1_loss(line(t, p), targs); ref.append(loss.item())
        opt.zero_grad(); loss.backward(); opt.step()
    ref.append(F.l1_loss(line(t, p), targs).item())
    np.testing.assert_allclose(sgd_losses(torch.zeros(2), 0.1, 5, t, targs, model=line, loss_func=F.l1_loss), ref, rtol=1e-5)


def test_sgd_losses_blow_up_to_inf_or_nan(quad_data, start):
    losses = sgd_losses(start, 1e-2, 60, *quad_data)
    assert not np.isfinite(losses[-1]) or losses[-1] > 1e30


def test_best_quadratic_matches_numpy_polyfit(quad_data):
    t, speed = quad_data
    np.testing.assert_allclose(best_quadratic(t, speed).numpy(), np.polyfit(t.numpy(), speed.numpy(), 2), rtol=1e-4, atol=1e-3)
    p = torch.tensor([0.5, -3., 20.])
    torch.testing.assert_close(best_quadratic(t, quadratic(t, p)), p, atol=1e-3, rtol=1e-4)
    assert best_quadratic(t, speed).dtype == torch.float32 and best_quadratic(t, speed).shape == (3,)


def test_best_quadratic_is_a_minimum_sgd_reaches(quad_data, start):
    t, speed = quad_data
    best = best_quadratic(t, speed)
    for d in torch.cat([torch.eye(3), -torch.eye(3)]) * 0.01:
        assert quadratic_loss(best + d, t, speed) >= quadratic_loss(best, t, speed)
    u = (t - 9.5) / 10
    torch.testing.assert_close(sgd_path(start, 0.5, 300, u, speed)[-1][0], best_quadratic(u, speed), atol=1e-3, rtol=0)
    # lists of numbers and column vectors work too
    torch.testing.assert_close(best_quadratic(t.tolist(), speed[:, None]), best)


# ---- pictures ------------------------------------------------------------------------------------------------------
def test_show_fit_draws_data_and_curve(quad_data, start):
    ax = show_fit(*quad_data, start)
    assert len(ax.collections) == 1 and len(ax.lines) == 1
    assert ax.get_title() == f'mse {quadratic_loss(start, *quad_data).item():.1f}'
    plt.close(ax.figure)


def test_show_seven_steps_needs_no_graphviz(monkeypatch):
    import shutil
    monkeypatch.setattr(shutil, 'which', lambda *a, **k: None)  # as if no `dot` binary were installed
    monkeypatch.setenv('PATH', '')
    ax = show_seven_steps()
    texts = [t.get_text() for t in ax.texts]
    for name in ['init', 'predict', 'loss', 'gradient', 'step', 'stop', 'repeat']: assert name in texts
    assert [n for n, _ in SEVEN_STEPS] == ['init', 'predict', 'loss', 'gradient', 'step', 'stop']
    plt.close(ax.figure)
