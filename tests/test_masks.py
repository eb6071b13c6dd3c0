import numpy as np
import pytest
import torch
from skimage.restoration import inpaint_biharmonic

from course_lib.baselines import biharmonic_inpaint, mean_fill
from course_lib.corruptions import (
    MASK_KINDS,
    apply_mask,
    block_masks,
    centre_mask,
    fill_hole,
    inpainting_input,
    make_masks,
    random_inpainting_input,
    stroke_masks,
)
from course_lib.metrics import mse_in_mask, psnr_in_mask


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_masks_are_binary_seeded_and_shaped(kind):
    a, b = make_masks(kind, 6, (20, 24), gen(1)), make_masks(kind, 6, (20, 24), gen(1))
    assert a.shape == (6, 1, 20, 24) and torch.equal(a, b)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert (a.flatten(1).sum(1) > 0).all()


def test_centre_mask_is_the_centre_square():
    m = centre_mask(2, (28, 28), hole=12)
    assert m.sum() == 2 * 144 and m[0, 0, 8:20, 8:20].all() and m[0, 0, :8].sum() == 0


def test_block_sides_stay_in_range_and_seeds_differ():
    m = block_masks(200, (28, 28), gen(0), num_blocks=1, block=(5, 7))
    rows, cols = m[:, 0].amax(2).sum(1), m[:, 0].amax(1).sum(1)
    assert rows.min() >= 5 and rows.max() <= 7 and cols.min() >= 5 and cols.max() <= 7
    assert not torch.equal(m, block_masks(200, (28, 28), gen(1), num_blocks=1, block=(5, 7)))


def test_each_stroke_is_one_connected_line_as_thick_as_its_width():
    from scipy import ndimage

    for width in (2.0, 4.0):
        m = stroke_masks(50, (32, 32), gen(2), num_strokes=1, width=width)
        depth = []  # per mask: the largest distance from a hole pixel to the nearest known one
        for mask in m[:, 0].numpy().astype(bool):
            _, pieces = ndimage.label(mask, structure=np.ones((3, 3)))
            assert pieces == 1, "one stroke is one connected piece"
            depth.append(ndimage.distance_transform_edt(np.pad(mask, 1)).max())
        # half the width from the line's centre, plus a pixel; where the line folds back on itself, twice that
        assert np.median(depth) <= width / 2 + 1 and max(depth) <= width + 1
        assert m.sum((1, 2, 3)).min() >= width * 3, "a stroke is a line, not a dot"
    two = stroke_masks(50, (32, 32), gen(3), num_strokes=2, width=2.0)
    assert (two.sum((1, 2, 3)) > stroke_masks(50, (32, 32), gen(3), num_strokes=1, width=2.0).sum((1, 2, 3))).any()


@pytest.mark.parametrize("call", [
    lambda: centre_mask(2, (28, 28), hole=40),
    lambda: block_masks(0, (28, 28), gen()),
    lambda: block_masks(2, (28, 28), gen(), block=(10, 5)),
    lambda: stroke_masks(2, (28, 28), gen(), width=0),
    lambda: make_masks("circle", 2, (28, 28), gen()),
    lambda: apply_mask(torch.rand(2, 1, 8, 8), torch.ones(2, 1, 8, 7)),
])
def test_bad_mask_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_inpainting_input_hides_the_hole_and_appends_the_mask():
    x = torch.rand(3, 3, 8, 8) + 0.1
    m = centre_mask(3, (8, 8), hole=4)
    x_in = inpainting_input(x, m)
    assert x_in.shape == (3, 4, 8, 8) and torch.equal(x_in[:, 3:], m)
    assert (x_in[:, :3] * m).sum() == 0 and torch.equal(x_in[:, :3] * (1 - m), x * (1 - m))
    assert random_inpainting_input(x, gen(), kind="strokes", with_mask_channel=False).shape == x.shape


def test_biharmonic_matches_scikit_image_and_keeps_known_pixels():
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 16), torch.linspace(0, 1, 16), indexing="ij")
    x = ((yy + xx) / 2).reshape(1, 1, 16, 16).repeat(2, 1, 1, 1)
    m = centre_mask(2, (16, 16), hole=6)
    filled = biharmonic_inpaint(apply_mask(x, m), m)
    ref = inpaint_biharmonic(apply_mask(x, m)[0, 0].double().numpy(), m[0, 0].numpy() > 0)
    assert np.allclose(filled[0, 0].numpy(), ref, atol=1e-6)
    assert torch.allclose(filled * (1 - m), x * (1 - m))
    assert mse_in_mask(x, filled, m).max() < 1e-4  # a linear ramp is filled almost exactly
    assert mse_in_mask(x, mean_fill(apply_mask(x, m), m, torch.full((1, 16, 16), 0.5)), m).max() > 1e-4


def test_hole_metrics_count_only_the_hole():
    x, x_hat = torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)
    m = torch.zeros(2, 1, 4, 4)
    m[:, :, :2, :2] = 1
    x_hat[:, :, :2, :2] = 0.1
    x_hat[:, :, 3, 3] = 1.0  # outside the hole: ignored
    assert torch.allclose(mse_in_mask(x, x_hat, m), torch.tensor([0.01, 0.01]))
    assert psnr_in_mask(x, x_hat, m) == pytest.approx(20.0)
    with pytest.raises(ValueError, match="masked pixel"):
        mse_in_mask(x, x_hat, torch.zeros(2, 1, 4, 4))


def test_inpainting_explorer_refills_when_the_hole_moves():
    from course_lib.widgets import inpainting_explorer

    image = torch.linspace(0, 1, 16).repeat(1, 16, 1)  # (1, 16, 16): brighter to the right
    box = inpainting_explorer(image, {"mean": lambda xm, m: xm * (1 - m) + 0.5 * m}, start=(2, 2, 4))
    top, left, side = box.sliders
    assert box.output.outputs and box.artists[0].get_array()[3, 3] == 0  # the hole shows black
    left.value = 10
    masked, filled = box.artists[0].get_array(), box.artists[1].get_array()
    assert masked[3, 3] > 0 and masked[3, 11] == 0 and filled[3, 11] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        inpainting_explorer(torch.rand(16, 16), {"mean": lambda xm, m: xm})


def test_hole_psnr_pools_the_error_so_an_exact_easy_hole_cannot_outweigh_a_hard_one():
    from course_lib.metrics import psnr_in_mask_per_image

    x, x_hat, m = torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)
    m[0, :, :2, :2] = 1          # a hole of 4 pixels, filled exactly
    m[1, :, :, :] = 1            # a hole of 16 pixels, every one off by 0.1
    x_hat[1] = 0.1
    per_image = psnr_in_mask_per_image(x, x_hat, m)
    assert per_image[0] == float("inf") and per_image[1].item() == pytest.approx(20.0)
    # pooled: 16 pixels of 0.01 and 4 of 0 -> MSE 0.008 -> 20.97 dB (a capped mean would give 60 dB)
    assert psnr_in_mask(x, x_hat, m) == pytest.approx(10 * np.log10(1 / 0.008))


def test_the_inpainter_paints_only_the_hole_so_the_loss_counts_only_the_hole():
    from course_lib.models import Inpainter, UNet

    torch.manual_seed(0)
    x = torch.rand(3, 1, 8, 8)
    m = centre_mask(3, (8, 8), hole=4)
    for sees_mask in (True, False):
        model = Inpainter(UNet(2 if sees_mask else 1, 1, channels=(4, 8)), sees_mask=sees_mask).eval()
        with torch.no_grad():
            out = model(inpainting_input(x, m))
        assert torch.equal(out * (1 - m), x * (1 - m)), "known pixels pass through"
        assert not torch.equal(out * m, x * m)
        whole = torch.nn.functional.mse_loss(out, x, reduction="sum")
        assert whole == pytest.approx(((out - x) ** 2 * m).sum().item())
        assert torch.allclose(fill_hole(model, apply_mask(x, m), m), out)
    with pytest.raises(ValueError, match="mask as last channel"):
        model(x)


def test_hole_psnr_interval_pools_each_resample_and_pairs_a_rival_fill():
    from course_lib.metrics import psnr_in_mask_interval

    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 1, 8, 8, generator=g)
    m = torch.zeros(40, 1, 8, 8)
    m[..., 2:6, 2:6] = 1.0
    good = (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    bad = (x + 0.2 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    lo, hi = psnr_in_mask_interval(x, good, m, n_resamples=200)
    assert lo < psnr_in_mask(x, good, m) < hi and hi - lo < 3
    lead_lo, lead_hi = psnr_in_mask_interval(x, good, m, against=bad, n_resamples=200)
    lead = psnr_in_mask(x, good, m) - psnr_in_mask(x, bad, m)
    assert 0 < lead_lo < lead < lead_hi  # the same resampled images for both fills: a clear lead stays clear
    with pytest.raises(ValueError):
        psnr_in_mask_interval(x, good[:-1], m)


def test_a_true_false_mask_works_as_its_ones_and_zeros():
    """Probe 16: apply_mask with a bool mask failed in torch (subtraction with a bool tensor)."""
    from course_lib.models import Inpainter, UNet

    x = torch.rand(3, 1, 8, 8, generator=gen())
    m = centre_mask(3, (8, 8), hole=4)
    assert torch.equal(apply_mask(x, m > 0.5, fill=0.5), apply_mask(x, m, fill=0.5))
    x_in = inpainting_input(x, m.bool())
    assert x_in.dtype == torch.float32 and torch.equal(x_in, inpainting_input(x, m))
    torch.manual_seed(0)
    net = Inpainter(UNet(in_channels=2, channels=(4, 8)))
    assert torch.equal(fill_hole(net, apply_mask(x, m), m.bool()), fill_hole(net, apply_mask(x, m), m))
