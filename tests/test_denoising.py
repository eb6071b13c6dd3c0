import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage.metrics import structural_similarity
from skimage.restoration import denoise_tv_chambolle

from course_lib import filters, plotting, widgets
from course_lib.corruptions import gaussian_noise
from course_lib.filters import (
    CLASSICAL_FILTERS,
    IntensityCorrection,
    apply_filters,
    gaussian_filter,
    median_filter,
    nl_means,
    tune_filters,
    tune_filters_both,
    tv_denoise,
)
from course_lib.metrics import psnr, ssim
from course_lib.photos import PUBLIC_DOMAIN_PHOTOS, bundled_photo, crop_to_multiple, random_patches


def _squares(n=8, size=16):
    x = torch.zeros(n, 1, size, size)
    for i in range(n):
        x[i, 0, 3 + i % 4:10 + i % 4, 4:12] = 0.8
    return x


@pytest.mark.parametrize("shape", [(3, 1, 12, 12), (2, 3, 10, 13), (4, 1, 28, 28), (2, 1, 7, 7)])
def test_ssim_is_scikit_images_mean_per_image(shape):
    g = torch.Generator().manual_seed(0)
    a = torch.rand(*shape, generator=g)
    b = (a + 0.1 * torch.randn(*shape, generator=g)).clamp(0, 1)
    for data_range in (1.0, 2.0):
        expected = np.mean([structural_similarity(x.numpy().astype(float), y.numpy().astype(float),
                                                  data_range=data_range, channel_axis=0)
                            for x, y in zip(a, b)])
        assert ssim(a, b, data_range) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert ssim(a, a) == pytest.approx(1.0)
    assert ssim(a, b) < 0.99


def test_ssim_checks_its_inputs():
    a = torch.rand(3, 1, 12, 12)
    b = torch.rand(3, 1, 12, 12)
    with pytest.raises(ValueError):
        ssim(torch.rand(2, 1, 4, 4), torch.rand(2, 1, 4, 4))
    with pytest.raises(ValueError):
        ssim(a, b[:2])


def test_filters_match_scipy_and_scikit_image_and_keep_shape():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 1, 12, 12, generator=g)
    img = x[0, 0].double().numpy()
    assert np.allclose(gaussian_filter(x, 1.0)[0, 0].numpy(), ndimage.gaussian_filter(img, 1.0), atol=1e-6)
    assert np.allclose(median_filter(x, 3)[0, 0].numpy(), ndimage.median_filter(img, 3), atol=1e-6)
    assert np.allclose(tv_denoise(x, 0.2)[0, 0].numpy(), denoise_tv_chambolle(img, weight=0.2), atol=1e-5)
    rgb = torch.rand(2, 3, 12, 12, generator=g)
    for f in CLASSICAL_FILTERS.values():
        assert f(x).shape == x.shape and f(rgb).shape == rgb.shape


def test_filters_denoise_and_reject_bad_settings():
    x = _squares()
    noisy = gaussian_noise(x, torch.Generator().manual_seed(0), 0.2, clip=False)
    for f in CLASSICAL_FILTERS.values():
        assert psnr(x, f(noisy).clamp(0, 1)) > psnr(x, noisy.clamp(0, 1)) + 1
    for call in (lambda: gaussian_filter(x, 0), lambda: median_filter(x, 0), lambda: nl_means(x, h=-1),
                 lambda: tv_denoise(x, 0), lambda: gaussian_filter(torch.rand(4, 4))):
        with pytest.raises(ValueError):
            call()


def test_intensity_correction_undoes_a_brightness_shift():
    x = _squares()
    shifted = 0.2 + 0.5 * x
    corr = IntensityCorrection().fit(shifted, x)
    assert torch.allclose(corr(shifted), x, atol=1e-6)
    assert corr(torch.full((1, 1, 2, 2), 5.0)).max() <= 1.0
    with pytest.raises(ValueError):
        IntensityCorrection()(x)
    with pytest.raises(ValueError):
        IntensityCorrection().fit(x, x[:2])


def test_tune_filters_picks_the_best_setting_on_validation():
    x = _squares()
    noisy = gaussian_noise(x, torch.Generator().manual_seed(0), 0.3)
    grids = {"Gaussian": [dict(sigma=0.1), dict(sigma=1.0)]}
    tuned = tune_filters(noisy, x, grids=grids)
    assert tuned["Gaussian"][0] == dict(sigma=1.0) and tuned["Gaussian"][1] is None
    corrected = tune_filters(noisy, x, grids=grids, correct=True)
    out, out_c = apply_filters(noisy, tuned), apply_filters(noisy, corrected)
    assert psnr(x, out_c["Gaussian"]) > psnr(x, out["Gaussian"])  # the correction removes the shift
    with pytest.raises(ValueError):
        tune_filters(noisy, x, grids={"wavelet": [{}]})


def test_a_setting_chosen_at_the_edge_of_its_grid_is_named():
    from course_lib.filters import grid_edges

    x = _squares()
    noisy = gaussian_noise(x, torch.Generator().manual_seed(0), 0.3)
    wide = {"Gaussian": [dict(sigma=0.1), dict(sigma=1.0), dict(sigma=8.0)]}
    low = {"Gaussian": [dict(sigma=0.05), dict(sigma=0.1), dict(sigma=0.2)]}
    assert grid_edges(tune_filters(noisy, x, grids=wide), wide) == []  # the best lies inside the grid
    assert grid_edges(tune_filters(noisy, x, grids=low), low) == ["Gaussian sigma=0.2 (the largest tried)"]


def test_the_smallest_filter_there_is_is_not_an_edge_but_its_neighbours_are():
    from course_lib.filters import grid_edges

    grids = {"median": [dict(size=3), dict(size=5)], "Gaussian": [dict(sigma=0.5), dict(sigma=1.0)]}
    chosen = {"median": (dict(size=3), None), "Gaussian": (dict(sigma=0.5), None)}
    assert grid_edges(chosen, grids) == ["Gaussian sigma=0.5 (the smallest tried)"]  # a median of 1 is no filter
    chosen["median"] = (dict(size=5), None)
    assert grid_edges(chosen, grids) == ["median size=5 (the largest tried)", "Gaussian sigma=0.5 (the smallest tried)"]


def test_tuning_both_ways_at_once_matches_tuning_each_and_reuses_filter_runs(monkeypatch):
    x = _squares()
    noisy = gaussian_noise(x, torch.Generator().manual_seed(1), 0.4)
    grids = {"Gaussian": [dict(sigma=0.5), dict(sigma=1.0), dict(sigma=2.0)], "median": [dict(size=3)]}
    plain, corrected = tune_filters_both(noisy, x, grids=grids)
    assert {k: v[0] for k, v in plain.items()} == {k: v[0] for k, v in tune_filters(noisy, x, grids=grids).items()}
    assert all(v[1] is None for v in plain.values()) and all(v[1] is not None for v in corrected.values())
    calls = []
    real = filters.CLASSICAL_FILTERS["Gaussian"]
    monkeypatch.setitem(filters.CLASSICAL_FILTERS, "Gaussian", lambda z, **p: calls.append(p) or real(z, **p))
    reuse = {}
    a = apply_filters(noisy, {"Gaussian": (dict(sigma=1.0), None)}, reuse=reuse)
    b = apply_filters(noisy, {"Gaussian": (dict(sigma=1.0), corrected["Gaussian"][1])}, reuse=reuse)
    assert len(calls) == 1 and not torch.equal(a["Gaussian"], b["Gaussian"])

def test_patches_crops_and_photos():
    img = torch.arange(2 * 20 * 30, dtype=torch.float32).reshape(2, 20, 30)
    p = random_patches([img], 5, size=8, seed=0)
    assert p.shape == (5, 2, 8, 8)
    assert torch.equal(p, random_patches([img], 5, size=8, seed=0))
    assert torch.all(p[:, :, 0, 1] - p[:, :, 0, 0] == 1)  # neighbouring pixels stay neighbours
    assert crop_to_multiple(img, 8).shape == (2, 16, 24)
    with pytest.raises(ValueError):
        random_patches([img], 5, size=25)
    photo = bundled_photo("camera", scale=0.25)
    assert photo.shape == (1, 128, 128) and 0 <= photo.min() and photo.max() <= 1
    assert bundled_photo("coffee", grey=False, scale=0.25).shape[0] == 3
    assert "camera" in PUBLIC_DOMAIN_PHOTOS
    with pytest.raises(ValueError):
        bundled_photo("lena")


def test_image_rows_explorer_swaps_images_when_the_slider_moves():
    options = {level: {"noisy": torch.full((3, 1, 4, 4), level), "clean": torch.zeros(3, 1, 4, 4)}
               for level in (0.1, 0.5)}
    box = widgets.image_rows_explorer(options, description="sigma", n=3)
    assert box.output.outputs
    first = box.output.outputs[0]["data"]["image/png"]
    assert np.allclose(box.tile("noisy", 0)[..., :3], 0.1) and np.allclose(box.tile("clean", 2)[..., :3], 0)
    box.slider.value = 0.5
    assert np.allclose(box.tile("noisy", 2)[..., :3], 0.5)
    assert np.allclose(np.asarray(box.artist.get_array())[:4, :4, :3], 0.5)  # the picture shown holds them
    assert box.output.outputs[0]["data"]["image/png"] != first  # the figure shown was redrawn
    with pytest.raises(ValueError):
        widgets.image_rows_explorer({1: {"a": torch.zeros(1, 1, 4, 4)}, 2: {"b": torch.zeros(1, 1, 4, 4)}})


def test_line_panels_returns_a_figure_and_checks_lengths():
    fig = plotting.line_panels([1, 2, 4], {"a": {"x": [1, 2, 3]}, "b": {"y": [3, 2, 1], "z": [1, 1, 1]}},
                               xlabel="k", logx=True)
    assert len(fig.axes) == 2
    with pytest.raises(ValueError):
        plotting.line_panels([1, 2], {"a": {"x": [1]}}, xlabel="k")
