"""scikit-image's public-domain photos, for the denoising and inpainting chapters' real-photo demos."""

from __future__ import annotations

import numpy as np
import torch

# scikit-image's bundled photos whose docstrings say CC0 or public domain
PUBLIC_DOMAIN_PHOTOS = ("camera", "astronaut", "coffee", "chelsea", "rocket", "clock")


def bundled_photo(name: str, grey: bool = True, scale: float = 0.5) -> torch.Tensor:
    """One of scikit-image's CC0 / public-domain photos as a (C, H, W) tensor in [0, 1]."""
    import skimage.data
    from skimage.color import rgb2gray
    from skimage.transform import rescale

    if name not in PUBLIC_DOMAIN_PHOTOS:
        raise ValueError(f"name must be one of {PUBLIC_DOMAIN_PHOTOS}, got {name!r}")
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    img = getattr(skimage.data, name)().astype(np.float64)
    img = img / 255.0 if img.max() > 1 else img
    if img.ndim == 3:
        img = rgb2gray(img[..., :3]) if grey else img[..., :3]
    img = rescale(img, scale, anti_aliasing=True, channel_axis=-1 if img.ndim == 3 else None)
    t = torch.from_numpy(np.clip(img, 0, 1)).float()
    return t.unsqueeze(0) if t.dim() == 2 else t.permute(2, 0, 1).contiguous()
