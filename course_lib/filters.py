"""Classical denoisers (scipy and scikit-image filters, not re-written), and their tuning on validation data.

Chapter 04 compares its denoisers with these, each filter's setting chosen on
validation images (``tune_filters``), optionally followed by an intensity correction.
"""

from __future__ import annotations

import numpy as np
import torch

from .metrics import psnr


def _per_image(x: torch.Tensor, fn) -> torch.Tensor:
    """Apply ``fn`` to each image of (B, C, H, W) as an (H, W, C) array; same shape back."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"expected a batch of images (B, C, H, W), got {tuple(getattr(x, 'shape', ()))}")
    a = x.detach().cpu().double().numpy().transpose(0, 2, 3, 1)  # (B, H, W, C)
    out = np.stack([fn(img).reshape(img.shape) for img in a])
    return torch.from_numpy(out.transpose(0, 3, 1, 2).copy()).float()


def gaussian_filter(x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Gaussian blur of each image (scipy.ndimage), ``sigma`` in pixels."""
    from scipy import ndimage

    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    return _per_image(x, lambda img: ndimage.gaussian_filter(img, sigma=(sigma, sigma, 0)))


def median_filter(x: torch.Tensor, size: int = 3) -> torch.Tensor:
    """Median of each ``size`` x ``size`` neighbourhood (scipy.ndimage)."""
    from scipy import ndimage

    if not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    return _per_image(x, lambda img: ndimage.median_filter(img, size=(size, size, 1)))


def nl_means(x: torch.Tensor, h: float = 0.3, patch_size: int = 3, patch_distance: int = 5) -> torch.Tensor:
    """Non-local means (scikit-image): averages pixels whose surrounding patches look alike."""
    from skimage.restoration import denoise_nl_means

    if h <= 0:
        raise ValueError(f"h must be positive, got {h}")
    return _per_image(x, lambda img: denoise_nl_means(
        img, h=h, patch_size=patch_size, patch_distance=patch_distance, channel_axis=-1, fast_mode=True))


def tv_denoise(x: torch.Tensor, weight: float = 0.2) -> torch.Tensor:
    """Total-variation denoising (scikit-image's Chambolle): flat regions, kept edges."""
    from skimage.restoration import denoise_tv_chambolle

    if weight <= 0:
        raise ValueError(f"weight must be positive, got {weight}")
    return _per_image(x, lambda img: denoise_tv_chambolle(img, weight=weight, channel_axis=-1))


CLASSICAL_FILTERS = {"Gaussian": gaussian_filter, "median": median_filter,
                     "non-local means": nl_means, "total variation": tv_denoise}


class IntensityCorrection:
    """A monotone map of pixel values (scikit-learn's isotonic regression), output in [0, 1].

    Clipped noise shifts the mean of dark pixels up; fitted on validation pairs
    (filtered, clean) it undoes that shift, making a classical filter a fairer rival.
    """

    def __init__(self, max_pixels: int = 200_000, seed: int = 0):
        from sklearn.isotonic import IsotonicRegression

        if max_pixels < 2:
            raise ValueError(f"max_pixels must be at least 2, got {max_pixels}")
        self.max_pixels, self.seed = max_pixels, seed
        self.iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        self.fitted = False

    def fit(self, y: torch.Tensor, x: torch.Tensor) -> IntensityCorrection:
        """Fit on filtered images ``y`` and the clean images ``x`` they came from."""
        if not isinstance(y, torch.Tensor) or not isinstance(x, torch.Tensor) or y.shape != x.shape:
            raise ValueError(f"y and x must be tensors of the same shape, got "
                             f"{tuple(getattr(y, 'shape', ()))} and {tuple(getattr(x, 'shape', ()))}")
        g = torch.Generator().manual_seed(self.seed)
        idx = torch.randperm(y.numel(), generator=g)[:self.max_pixels]
        self.iso.fit(y.flatten()[idx].double().numpy(), x.flatten()[idx].double().numpy())
        self.fitted = True
        return self

    def __call__(self, y: torch.Tensor) -> torch.Tensor:
        if not self.fitted:
            raise ValueError("call fit() before applying the correction")
        values = self.iso.predict(y.flatten().double().numpy())
        return torch.from_numpy(values).float().reshape(y.shape)


# parameter grids searched on validation data, per filter
FILTER_GRIDS = {  # wide enough that chapter 04 chooses no setting at an edge (but see SMALLEST_FILTERS)
    "Gaussian": [dict(sigma=s) for s in (0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5)],
    "median": [dict(size=s) for s in (3, 5, 7)],
    "non-local means": [dict(h=h) for h in (0.04, 0.08, 0.15, 0.3, 0.5, 0.8)],
    "total variation": [dict(weight=w) for w in (0.02, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6)],
}


def _check_tuning(noisy_val, clean_val, grids):
    if noisy_val.shape != clean_val.shape or noisy_val.dim() != 4:
        raise ValueError(f"expected noisy and clean validation images of one shape (B, C, H, W), got "
                         f"{tuple(noisy_val.shape)} and {tuple(clean_val.shape)}")
    unknown = set(grids) - set(CLASSICAL_FILTERS)
    if unknown or not grids:
        raise ValueError(f"grids must name filters among {sorted(CLASSICAL_FILTERS)}, got {sorted(grids)}")


def tune_filters_both(noisy_val: torch.Tensor, clean_val: torch.Tensor,
                      grids: dict | None = None) -> tuple[dict, dict]:
    """``tune_filters`` without and with the intensity correction, running each filter setting once.

    Returns ``(plain, corrected)``, each shaped like ``tune_filters``' result; the
    best setting may differ between the two.
    """
    grids = FILTER_GRIDS if grids is None else grids
    _check_tuning(noisy_val, clean_val, grids)
    plain, corrected = {}, {}
    for name, grid in grids.items():
        best_plain = best_corr = None
        for params in grid:
            y = CLASSICAL_FILTERS[name](noisy_val, **params)
            score = psnr(clean_val, y)
            if best_plain is None or score > best_plain[0]:
                best_plain = (score, params)
            corr = IntensityCorrection().fit(y, clean_val)
            score = psnr(clean_val, corr(y))
            if best_corr is None or score > best_corr[0]:
                best_corr = (score, params, corr)
        plain[name] = (best_plain[1], None)
        corrected[name] = (best_corr[1], best_corr[2])
    return plain, corrected


def tune_filters(noisy_val: torch.Tensor, clean_val: torch.Tensor, grids: dict | None = None,
                 correct: bool = False) -> dict[str, tuple[dict, IntensityCorrection | None]]:
    """For each filter, the parameters with the best validation PSNR (and, if ``correct``,
    an intensity correction fitted on the same validation pairs)."""
    grids = FILTER_GRIDS if grids is None else grids
    if correct:
        return tune_filters_both(noisy_val, clean_val, grids)[1]
    _check_tuning(noisy_val, clean_val, grids)
    tuned = {}
    for name, grid in grids.items():
        scores = [(-psnr(clean_val, CLASSICAL_FILTERS[name](noisy_val, **params)), i)
                  for i, params in enumerate(grid)]
        tuned[name] = (grid[min(scores)[1]], None)  # the best PSNR; the first setting on a tie
    return tuned


# Nothing smaller lies beyond these: a 1-pixel median changes nothing; a Gaussian of sigma 0.3 gives each
# neighbour a weight of 0.004 against the centre's 1; non-local means with h = 0.04 gives a patch that differs
# from the centre's by noise of sigma 0.1 a weight of exp(-0.02 / 0.04^2) = 4e-6. Each is all but no filter.
SMALLEST_FILTERS = {"median": dict(size=3), "Gaussian": dict(sigma=0.3), "non-local means": dict(h=0.04)}


def grid_edges(tuned: dict, grids: dict | None = None) -> list[str]:
    """The filters whose chosen setting is the first or last of its grid: the best value may lie beyond it.

    ``tuned`` is ``tune_filters``' result; returns lines such as ``"Gaussian sigma=1.5 (the largest tried)"``.
    """
    grids = FILTER_GRIDS if grids is None else grids
    found = []
    for name, (params, _) in tuned.items():
        grid = grids[name]
        if len(grid) > 1 and params in (grid[0], grid[-1]) and params != SMALLEST_FILTERS.get(name):
            setting = ", ".join(f"{k}={v:g}" for k, v in params.items())
            found.append(f"{name} {setting} (the {'smallest' if params == grid[0] else 'largest'} tried)")
    return found


def apply_filters(noisy: torch.Tensor, tuned: dict, reuse: dict | None = None) -> dict[str, torch.Tensor]:
    """Run every tuned filter (from ``tune_filters``) on ``noisy``; name -> denoised images.

    ``reuse``: a dict shared between calls on the same ``noisy`` images, so a filter
    setting that two tunings chose runs once.
    """
    reuse = {} if reuse is None else reuse
    out = {}
    for name, (params, corr) in tuned.items():
        key = (name, tuple(sorted(params.items())))
        if key not in reuse:
            reuse[key] = CLASSICAL_FILTERS[name](noisy, **params)
        y = reuse[key]
        out[name] = corr(y) if corr is not None else y
    return out
