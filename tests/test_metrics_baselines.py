import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio
from sklearn.decomposition import PCA

from course_lib.baselines import PCAReconstructor
from course_lib.metrics import mse, mse_per_item, psnr


def test_mse_matches_numpy():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(6, 1, 5, 5, generator=g), torch.rand(6, 1, 5, 5, generator=g)
    assert mse(a, b) == pytest.approx(float(np.mean((a.numpy() - b.numpy()) ** 2)), rel=1e-6)
    assert mse_per_item(a, b).shape == (6,)


@pytest.mark.parametrize("shape", [(4, 1, 8, 8), (3, 3, 5, 7)])
def test_psnr_pools_the_squared_error_over_the_batch(shape):
    g = torch.Generator().manual_seed(1)
    a = torch.rand(*shape, generator=g)
    b = (a + 0.1 * torch.randn(*shape, generator=g)).clamp(0, 1)
    for data_range in (1.0, 2.0):
        one = peak_signal_noise_ratio(a[0].numpy().astype(float), b[0].numpy().astype(float), data_range=data_range)
        assert psnr(a[:1], b[:1], data_range) == pytest.approx(one, rel=1e-12)  # one image: scikit-image's
        pooled = 10 * np.log10(data_range ** 2 / ((a.double() - b.double()) ** 2).mean().item())
        assert psnr(a, b, data_range) == pytest.approx(pooled, rel=1e-12)
    assert psnr(a, a) == float("inf")
    b[0] = a[0]  # a perfect image lowers the pooled error; it does not add an infinite (or capped) term
    per_image = [peak_signal_noise_ratio(x.numpy().astype(float), y.numpy().astype(float), data_range=1.0)
                 for x, y in zip(a[1:], b[1:])]
    assert np.isfinite(psnr(a, b)) and psnr(a, b) < max(per_image) + 10 * np.log10(len(a))


@pytest.mark.parametrize("f", [mse, psnr])
def test_metrics_reject_mismatched_shapes(f):
    with pytest.raises(ValueError, match="same shape"):
        f(torch.rand(2, 3), torch.rand(2, 4))


def test_pca_reconstructor_matches_scikit_learn(low_rank_images):
    x = low_rank_images
    ours = PCAReconstructor(3).fit(x)
    ref = PCA(3).fit(x.reshape(len(x), -1).numpy().astype(float))
    expected = ref.inverse_transform(ref.transform(x.reshape(len(x), -1).numpy().astype(float)))
    assert np.allclose(ours(x).reshape(len(x), -1).numpy(), expected, atol=1e-5)
    assert ours.encode(x).shape == (512, 3)


def test_pca_is_exact_on_data_of_its_rank(low_rank_images):
    # mixtures of 4 patterns span a 4-dim affine space: PCA-4 rebuilds them exactly
    x = low_rank_images
    assert mse(x, PCAReconstructor(4).fit(x)(x)) < 1e-10
    assert mse(x, PCAReconstructor(2).fit(x)(x)) > 1e-5


def test_pca_reconstructor_checks_its_inputs(low_rank_images):
    with pytest.raises(ValueError, match="fit"):
        PCAReconstructor(2).encode(low_rank_images)
    with pytest.raises(ValueError, match="at least"):
        PCAReconstructor(100).fit(low_rank_images[:10])
    with pytest.raises(ValueError):
        PCAReconstructor(0)
    with pytest.raises(ValueError, match="shape"):
        PCAReconstructor(2).fit(low_rank_images).encode(torch.rand(3, 1, 4, 4))


def test_mean_interval_gives_a_share_and_its_bootstrap_interval():
    from course_lib.metrics import mean_interval
    flags = torch.arange(200) % 4 == 0  # a share of exactly 0.25
    share, (lo, hi) = mean_interval(flags, n_resamples=300)
    assert share == pytest.approx(0.25) and lo < 0.25 < hi and hi - lo < 0.15
    grid, _ = mean_interval(flags.reshape(20, 10), n_resamples=50)  # any shape: its items are pooled
    assert grid == pytest.approx(0.25)
    with pytest.raises(ValueError):
        mean_interval(torch.ones(1))


def test_mean_interval_share_is_the_exact_fraction():
    """9,325 right of 10,000 is 0.9325 and prints as 0.932, as the same count divided in Python does.

    Chapter 02 printed one probe as 0.932 in one table and 0.933 in the next: float32 holds 0.9325 as
    0.93250000476.
    """
    from course_lib.metrics import mean_interval
    right = torch.arange(10_000) < 9_325
    share, _ = mean_interval(right, n_resamples=20)
    assert share == 9_325 / 10_000 and f"{share:.3f}" == f"{right.double().mean().item():.3f}" == "0.932"
