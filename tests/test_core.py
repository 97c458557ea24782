"Device choice (both branches, with CUDA mocked on a CPU machine) and the picture helpers."
import matplotlib
matplotlib.use('Agg')
from unittest import mock
import pytest
import torch
from mnist_sgd.core import default_device, digit_table, plot_function, show_digits


@pytest.mark.parametrize('cuda, env, cpu, expected', [
    (True, None, None, 'cuda'), (True, 'cpu', None, 'cpu'), (True, None, True, 'cpu'), (True, 'auto', None, 'cuda'),
    (False, None, None, 'cpu'), (False, 'auto', None, 'cpu'), (True, 'cuda', None, 'cuda'), (True, 'CUDA ', None, 'cuda')])
def test_default_device(monkeypatch, cuda, env, cpu, expected):
    if env is None: monkeypatch.delenv('MNIST_SGD_DEVICE', raising=False)
    else: monkeypatch.setenv('MNIST_SGD_DEVICE', env)
    with mock.patch('torch.cuda.is_available', return_value=cuda):
        assert default_device(cpu=cpu) == torch.device(expected)


def test_default_device_is_decided_at_call_time(monkeypatch):
    monkeypatch.delenv('MNIST_SGD_DEVICE', raising=False)
    with mock.patch('torch.cuda.is_available', return_value=False): assert default_device().type == 'cpu'
    with mock.patch('torch.cuda.is_available', return_value=True): assert default_device().type == 'cuda'


def test_device_errors(monkeypatch):
    monkeypatch.setenv('MNIST_SGD_DEVICE', 'cuda')
    with mock.patch('torch.cuda.is_available', return_value=False):
        with pytest.raises(RuntimeError, match='sees no CUDA GPU'): default_device()
    monkeypatch.setenv('MNIST_SGD_DEVICE', 'gpu0')
    with pytest.raises(ValueError, match="'cpu', 'cuda' or 'auto'"): default_device()


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
def test_real_cuda_device(monkeypatch):
    monkeypatch.delenv('MNIST_SGD_DEVICE', raising=False)
    assert (torch.ones(2, device=default_device()) * 2).sum().item() == 4


def test_pictures():
    fig = show_digits(torch.rand(10, 28, 28), titles=list('abcdefghij'), ncols=4)
    assert len(fig.axes) == 12 and fig.axes[9].get_title() == 'j' and not fig.axes[11].images
    with pytest.raises(ValueError, match='got shape'): show_digits(torch.rand(2, 2, 28, 28))
    sty = digit_table(torch.arange(784).view(28, 28), rows=slice(0, 3), cols=slice(0, 4))
    assert sty.data.shape == (3, 4) and sty.data.iloc[2, 3] == 59
    with pytest.raises(ValueError, match='one 2-D image'): digit_table(torch.zeros(3, 28, 28))
    ax = plot_function(torch.relu, -2, 2, title='ReLU')
    assert ax.get_title() == 'ReLU' and ax.lines[0].get_ydata().min() == 0


def test_cpu_flag_is_keyword_only():
    "fastai's default_device(True) asks for the GPU; ours must not silently read a bare True as 'force the CPU'."
    with pytest.raises(TypeError, match='positional'): default_device(True)
