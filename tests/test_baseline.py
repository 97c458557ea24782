"Tests of mnist_sgd.baseline: the pixel-similarity baseline, checked against PyTorch's own losses."
import pytest
import torch
import torch.nn.functional as F

from mnist_sgd.baseline import mnist_distance, is_3, baseline_accuracy
from mnist_sgd.data import load_digits


@pytest.fixture(scope='module')
def digits(sample_path):
    "Train and valid threes and sevens of the embedded sample, and the two mean images."
    t3, _ = load_digits(sample_path, 'train', [3]); t7, _ = load_digits(sample_path, 'train', [7])
    v3, _ = load_digits(sample_path, 'valid', [3]); v7, _ = load_digits(sample_path, 'valid', [7])
    return dict(train3=t3, train7=t7, valid3=v3, valid7=v7, mean3=t3.mean(0), mean7=t7.mean(0))


def test_distance_one_image_matches_l1_loss():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(28, 28, generator=g), torch.rand(28, 28, generator=g)
    d = mnist_distance(a, b)
    assert d.shape == ()
    torch.testing.assert_close(d, F.l1_loss(a, b))


def test_distance_is_not_rmse():
    "mnist_distance is L1; RMSE (sqrt of F.mse_loss) gives a different number for the same images."
    a, b = torch.zeros(28, 28), torch.zeros(28, 28)
    b[0, :4] = 1.  # four pixels differ by 1
    torch.testing.assert_close(mnist_distance(a, b), torch.tensor(4 / 784))
    torch.testing.assert_close(F.mse_loss(a, b).sqrt(), torch.tensor((4 / 784) ** 0.5))


def test_distance_batch_broadcasts_against_one_image(digits):
    v3, m3 = digits['valid3'], digits['mean3']
    d = mnist_distance(v3, m3)
    assert d.shape == (len(v3),)
    torch.testing.assert_close(d, torch.stack([F.l1_loss(x, m3) for x in v3]))
    torch.testing.assert_close(mnist_distance(m3, v3), d)  # symmetric, either order broadcasts


def test_distance_two_batches_pairwise(digits):
    a, b = digits['valid3'][:7], digits['valid7'][:7]
    torch.testing.assert_close(mnist_distance(a, b), torch.stack([F.l1_loss(x, y) for x, y in zip(a, b)]))
    torch.testing.assert_close(mnist_distance(a, a), torch.zeros(7))


def test_distance_integer_images_do_not_wrap():
    "uint8 images are compared as numbers, not with uint8 wrap-around (0 - 255 must not become 1)."
    a, b = torch.zeros(28, 28, dtype=torch.uint8), torch.full((28, 28), 255, dtype=torch.uint8)
    torch.testing.assert_close(mnist_distance(a, b), torch.tensor(255.))


@pytest.mark.parametrize('shape', [(784,), (28,), (5, 784), (28, 27), (3, 27, 28)])
def test_distance_rejects_non_28x28(shape):
    with pytest.raises(ValueError, match=r"last two axes are 28×28.*a has shape \(" + ', '.join(map(str, shape))):
        mnist_distance(torch.zeros(shape), torch.zeros(28, 28))


def test_distance_rejects_bad_b_and_names_it():
    with pytest.raises(ValueError, match=r"b has shape \(784,\).*\.view\(-1, 28, 28\)"):
        mnist_distance(torch.zeros(28, 28), torch.zeros(784))


def test_distance_rejects_batches_that_do_not_broadcast():
    with pytest.raises(ValueError, match=r"cannot broadcast a of shape \(5, 28, 28\) against b of shape \(3, 28, 28\)"):
        mnist_distance(torch.zeros(5, 28, 28), torch.zeros(3, 28, 28))


def test_is_3_matches_reference(digits):
    m3, m7 = digits['mean3'], digits['mean7']
    x = torch.cat([digits['valid3'][:20], digits['valid7'][:20]])
    ref = torch.tensor([bool(F.l1_loss(img, m3) < F.l1_loss(img, m7)) for img in x])
    got = is_3(x, m3, m7)
    assert got.dtype == torch.bool and got.shape == (40,)
    assert torch.equal(got, ref)
    assert is_3(m3, m3, m7).item() is True and is_3(m7, m3, m7).item() is False


def test_baseline_accuracy_floor_and_consistency(digits):
    v3, v7, m3, m7 = digits['valid3'], digits['valid7'], digits['mean3'], digits['mean7']
    acc = baseline_accuracy(v3, v7, m3, m7)
    assert set(acc) == {'threes', 'sevens', 'overall'}
    # seeded embedded data gives 0.92 / 0.99 / 0.955
    assert acc['threes'] >= 0.90 and acc['sevens'] >= 0.96 and acc['overall'] >= 0.94
    ref3 = sum(bool(F.l1_loss(x, m3) < F.l1_loss(x, m7)) for x in v3) / len(v3)
    ref7 = sum(bool(F.l1_loss(x, m3) >= F.l1_loss(x, m7)) for x in v7) / len(v7)
    assert acc['threes'] == pytest.approx(ref3) and acc['sevens'] == pytest.approx(ref7)
    assert acc['overall'] == pytest.approx((ref3 * len(v3) + ref7 * len(v7)) / (len(v3) + len(v7)))


def test_baseline_accuracy_weights_by_count(digits):
    "Overall accuracy counts images, so unequal group sizes are weighted, not averaged."
    m3, m7 = digits['mean3'], digits['mean7']
    acc = baseline_accuracy(m3.expand(3, 28, 28), m3[None], m3, m7)  # 3 right threes, 1 seven called a three
    assert acc == pytest.approx({'threes': 1., 'sevens': 0., 'overall': 0.75})


def test_baseline_accuracy_on_training_set(digits):
    acc_train = baseline_accuracy(digits['train3'], digits['train7'], digits['mean3'], digits['mean7'])
    assert acc_train['overall'] >= 0.92  # 0.936 on the embedded data


def test_the_baseline_works_for_any_pair_of_digits():
    "Nothing in mnist_distance, is_3 or baseline_accuracy is tied to threes and sevens: the same code tells 2s from 4s."
    from mnist_sgd.data import mnist_sample
    p = mnist_sample(digits=(2, 4), source='embedded', verbose=False)
    (t2, _), (t4, _) = load_digits(p, 'train', [2]), load_digits(p, 'train', [4])
    (v2, _), (v4, _) = load_digits(p, 'valid', [2]), load_digits(p, 'valid', [4])
    acc = baseline_accuracy(v2, v4, t2.mean(0), t4.mean(0))  # 'threes' is the first digit, 'sevens' the second
    assert acc['overall'] > 0.8
    ref = sum(bool(F.l1_loss(x, t2.mean(0)) < F.l1_loss(x, t4.mean(0))) for x in v2) / len(v2)
    assert acc['threes'] == pytest.approx(ref)
