"""Metrics refuse what would give a quietly wrong figure (probes 9, 10 and 11 of PROBES-2026-12-05)."""

import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from course_lib.metrics import psnr, psnr_in_mask, segmentation_scores, ssim


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 12, 12, generator=g)
    return x, (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)


@pytest.mark.parametrize("metric", [psnr, ssim])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_nan_or_infinite_pixel_is_named_not_scored(images, metric, bad):
    """Probe 9: one NaN in x_hat gave a PSNR and SSIM of nan."""
    x, x_hat = images
    x_hat = x_hat.clone()
    x_hat[1, 0, 3, 4] = bad
    with pytest.raises(ValueError, match=r"x_hat holds 1 NaN or infinite value\(s\) of 576"):
        metric(x, x_hat)
    with pytest.raises(ValueError, match=r"^x holds 1 NaN"):
        metric(x_hat, x)


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_an_empty_batch_is_refused(metric):
    """Probe 9: psnr of (0, 1, 8, 8) batches was nan."""
    empty = torch.zeros(0, 1, 8, 8)
    with pytest.raises(ValueError, match=r"empty \(shape \(0, 1, 8, 8\)\): there are no pixels"):
        metric(empty, empty)


@pytest.mark.parametrize("metric", [psnr, ssim])
def test_bytes_with_the_default_data_range_are_refused_and_the_fix_is_named(images, metric):
    """Probe 10: uint8 images 0..255 with data_range=1 gave 2.78 dB, silently."""
    x = (images[0] * 255).round().to(torch.uint8)
    x_hat = (x.int() + 1).clamp(max=255).to(torch.uint8)  # at most one grey level off
    with pytest.raises(ValueError, match=r"x holds values from 0 to 25\d, outside \[0, data_range\] = \[0, 1\].*"
                                         r"x.float\(\) / 255.*data_range=255"):
        metric(x, x_hat)
    with pytest.raises(ValueError, match=r"x and x_hat must be on one scale.*float32 and torch.uint8"):
        metric(images[0], x_hat)
    # with the right range the figure is scikit-image's
    expected = peak_signal_noise_ratio(x.numpy(), x_hat.numpy(), data_range=255)
    assert psnr(x, x_hat, data_range=255) == pytest.approx(expected, rel=1e-9)
    assert psnr(x, x_hat, data_range=255) > 45
    expected_ssim = structural_similarity(x[0, 0].numpy(), x_hat[0, 0].numpy(), data_range=255)
    assert ssim(x[:1], x_hat[:1], data_range=255) == pytest.approx(expected_ssim, abs=1e-9)


def test_a_reconstruction_may_stray_outside_the_range_and_a_perfect_batch_is_still_inf(images):
    x, _ = images
    noisy = x + 0.5 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))  # unclipped noise
    assert noisy.min() < 0 and noisy.max() > 1
    assert psnr(x, noisy) == pytest.approx(peak_signal_noise_ratio(x.numpy(), noisy.numpy(), data_range=1))
    assert psnr(x, x) == float("inf")


@pytest.mark.parametrize("data_range", [0, -1, float("nan"), float("inf")])
def test_data_range_must_be_positive_and_finite(images, data_range):
    with pytest.raises(ValueError, match="data_range must be a positive, finite number"):
        psnr(*images, data_range=data_range)


def test_psnr_in_mask_refuses_nan_too(images):
    x, x_hat = images
    mask = torch.zeros(4, 1, 12, 12)
    mask[..., 2:6, 2:6] = 1
    x_hat = x_hat.clone()
    x_hat[0, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="x_hat holds 1 NaN"):
        psnr_in_mask(x, x_hat, mask)


def test_segmentation_scores_of_empty_labels_are_refused():
    """Probe 11: empty label tensors gave mean IoU nan, mean Dice nan and pixel accuracy 0.0."""
    empty = torch.zeros(0, 8, 8, dtype=torch.long)
    with pytest.raises(ValueError, match=r"y_true and y_pred are empty \(shape \(0, 8, 8\)\)"):
        segmentation_scores(empty, empty, 11)


def test_segmentation_scores_without_any_scored_class_are_refused():
    background = torch.zeros(2, 8, 8, dtype=torch.long)
    with pytest.raises(ValueError, match=r"no class outside ignore=\(0,\) occurs"):
        segmentation_scores(background, background, 11)
    y = background.clone()
    y[0, :2, :2] = 3  # one digit seen, never predicted: IoU 0 is a real score
    assert segmentation_scores(y, background, 11)["mean_iou"] == 0.0
