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


def tune_filters(noisy_val: torch.Tensor, clean_val: torch.Tensor, grids: dict | None = None,
                 correct: bool = False) -> dict[str, tuple[dict, IntensityCorrection | None]]:
    """For each filter, the parameters with the best validation PSNR (and, if ``correct``,
    an intensity correction fitted on the same validation pairs)."""
    grids = FILTER_GRIDS if grids is None else grids
    if noisy_val.shape != clean_val.shape or noisy_val.dim() != 4:
        raise ValueError(f"expected noisy and clean validation images of one shape (B, C, H, W), got "
                         f"{tuple(noisy_val.shape)} and {tuple(clean_val.shape)}")
    unknown = set(grids) - set(CLASSICAL_FILTERS)
    if unknown or not grids:
        raise ValueError(f"grids must name filters among {sorted(CLASSICAL_FILTERS)}, got {sorted(grids)}")
    tuned = {}
    for name, grid in grids.items():
        best = None
        for params in grid:
            y = CLASSICAL_FILTERS[name](noisy_val, **params)
            corr = IntensityCorrection().fit(y, clean_val) if correct else None
            score = psnr(clean_val, corr(y) if corr else y)
            if best is None or score > best[0]:
                best = (score, params, corr)
        tuned[name] = (best[1], best[2])
    return tuned


def apply_filters(noisy: torch.Tensor, tuned: dict) -> dict[str, torch.Tensor]:
    """Run every tuned filter (from ``tune_filters``) on ``noisy``; name -> denoised images."""
    out = {}
    for name, (params, corr) in tuned.items():
        y = CLASSICAL_FILTERS[name](noisy, **params)
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
