"""scikit-image's public-domain photos, and patches cut from them, for the denoising and inpainting
chapters' real-photo demos."""

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
