"Tests of mnist_sgd.images: the picture of a rank-3 tensor that lesson 1 draws."
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
import pytest
import torch

from mnist_sgd.images import show_rank3


def test_show_rank3_draws_the_first_n_images_and_labels_the_axes():
    stack = torch.rand(7, 28, 28)
    fig = show_rank3(stack, n=3)
    ax = fig.axes[0]
    assert len(ax.get_images()) == 3  # one sheet per image drawn, no empty panel
    drawn = sorted(ax.get_images(), key=lambda im: im.get_zorder(), reverse=True)
    torch.testing.assert_close(torch.as_tensor(drawn[0].get_array().data), 1 - stack[0])  # the front sheet is image 0
    texts = ' '.join(t.get_text() for t in ax.texts)
    assert '7 in all' in texts and 'row (28)' in texts and 'column (28)' in texts
    assert ax.get_title() == 'A rank-3 tensor of shape (7, 28, 28)'
    plt.close(fig)


def test_show_rank3_any_size_and_fewer_images_than_asked():
    fig = show_rank3(torch.rand(2, 10, 12), n=4)
    assert len(fig.axes[0].get_images()) == 2 and 'column (12)' in ' '.join(t.get_text() for t in fig.axes[0].texts)
    plt.close(fig)


@pytest.mark.parametrize('shape', [(28, 28), (2, 1, 28, 28), (784,)])
def test_show_rank3_refuses_other_ranks(shape):
    with pytest.raises(ValueError, match=r'rank-3 tensor \(N×H×W\), got shape \(' + ', '.join(map(str, shape))):
        show_rank3(torch.zeros(shape))
