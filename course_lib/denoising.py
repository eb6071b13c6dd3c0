"""Helpers for chapter 03: classical filters tuned on validation data, and photo patches."""

from __future__ import annotations

import torch

from .baselines import CLASSICAL_FILTERS, IntensityCorrection
from .metrics import psnr

# parameter grids searched on validation data, per filter
FILTER_GRIDS = {
    "Gaussian": [dict(sigma=s) for s in (0.5, 0.75, 1.0, 1.5)],
    "median": [dict(size=s) for s in (3, 5)],
    "non-local means": [dict(h=h) for h in (0.15, 0.3, 0.5)],
    "total variation": [dict(weight=w) for w in (0.1, 0.2, 0.4)],
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


def random_patches(images: list[torch.Tensor], n: int, size: int, seed: int = 0) -> torch.Tensor:
    """``n`` square patches (n, C, size, size) cut at random places from (C, H, W) images."""
    if not images or n < 1 or size < 1:
        raise ValueError(f"need at least one image, n >= 1 and size >= 1, got {len(images)}, {n}, {size}")
    if any(img.dim() != 3 or min(img.shape[1:]) < size for img in images):
        raise ValueError(f"every image must be (C, H, W) with H, W >= {size}, got "
                         f"{[tuple(i.shape) for i in images]}")
    g = torch.Generator().manual_seed(seed)
    which = torch.randint(len(images), (n,), generator=g)
    patches = []
    for i in which.tolist():
        _, h, w = images[i].shape
        top = int(torch.randint(h - size + 1, (1,), generator=g))
        left = int(torch.randint(w - size + 1, (1,), generator=g))
        patches.append(images[i][:, top:top + size, left:left + size])
    return torch.stack(patches)


def crop_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Crop (..., H, W) from the bottom right so that H and W are multiples of ``multiple``."""
    if multiple < 1 or x.dim() < 2 or min(x.shape[-2:]) < multiple:
        raise ValueError(f"need multiple >= 1 and an image at least that large, got {multiple} and "
                         f"{tuple(x.shape)}")
    h, w = x.shape[-2] // multiple * multiple, x.shape[-1] // multiple * multiple
    return x[..., :h, :w]
