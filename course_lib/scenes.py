"""Generated segmentation scenes for chapter 06: several digits on one canvas, a label per pixel.

Label 0 is the background; a pixel of digit ``d`` has label ``d + 1``. Where
two digits overlap, the brighter stroke wins the pixel, so labels and pixels
always agree: a pixel is labelled a digit exactly when its value reaches
``threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

SCENE_CLASSES = ("background",) + tuple(str(d) for d in range(10))


@dataclass(frozen=True)
class Scenes:
    """Canvases ``x`` (N, 1, S, S) in [0, 1] and per-pixel labels ``y`` (N, S, S) in 0..10."""

    x: torch.Tensor
    y: torch.Tensor
    classes: tuple[str, ...] = SCENE_CLASSES

    def __len__(self) -> int:
        return len(self.x)

    @property
    def num_classes(self) -> int:
        """Number of labels, background included."""
        return len(self.classes)


def _check_scene_args(digits_x, digits_y, n, size, per_scene, digit_size, max_overlap, threshold):
    if not isinstance(digits_x, torch.Tensor) or digits_x.dim() != 4 or digits_x.shape[1] != 1:
        raise ValueError(f"digits must be images (N, 1, H, W), got {tuple(getattr(digits_x, 'shape', ()))}")
    if len(digits_x) == 0:
        raise ValueError(f"digits_x holds no digits (shape {tuple(digits_x.shape)}): give at least one to paste")
    if not digits_x.is_floating_point():
        raise ValueError(f"digits_x must be float images in [0, 1], got dtype {digits_x.dtype}: "
                         f"pass digits_x.float() / 255 for bytes")
    lo, hi = torch.aminmax(digits_x)
    if not 0 <= lo <= hi <= 1:
        raise ValueError(f"digits_x must be images in [0, 1], got values from {lo.item():g} to {hi.item():g}"
                         + (": pass digits_x / 255 for bytes" if hi > 1 else ""))
    if not isinstance(digits_y, torch.Tensor) or digits_y.shape != (len(digits_x),) \
            or digits_y.min() < 0 or digits_y.max() > 9:
        raise ValueError(f"labels must be (N,) integers 0..9 matching the digits, got "
                         f"{tuple(getattr(digits_y, 'shape', ()))}")
    lo, hi = digit_size
    if not isinstance(n, int) or n < 1 or not isinstance(size, int) or size < 8:
        raise ValueError(f"need n >= 1 and size >= 8, got n={n!r}, size={size!r}")
    if not 4 <= lo <= hi <= size:
        raise ValueError(f"digit_size must be (min, max) with 4 <= min <= max <= size={size}, "
                         f"got {digit_size!r}")
    if per_scene[0] < 1 or per_scene[0] > per_scene[1]:
        raise ValueError(f"digits per scene must be (min, max) with 1 <= min <= max, got {per_scene!r}")
    if not 0.0 <= max_overlap <= 1.0 or not 0.0 < threshold < 1.0:
        raise ValueError(f"need 0 <= max_overlap <= 1 and 0 < threshold < 1, got {max_overlap!r}, "
                         f"{threshold!r}")


def _paste(x, y, scene, tiles, labels, ink, top, left) -> None:
    """Paste square ``tiles`` (k, s, s) into canvases ``scene`` (k,) at (top, left); brighter ink wins."""
    s = tiles.shape[-1]
    rows = (top[:, None] + torch.arange(s))[:, :, None]   # (k, s, 1)
    cols = (left[:, None] + torch.arange(s))[:, None, :]  # (k, 1, s)
    where = (scene[:, None, None], rows, cols)
    current = x[where]                                     # (k, s, s)
    wins = tiles > current
    x[where] = torch.where(wins, tiles, current)
    y[where] = torch.where(wins & ink, labels[:, None, None] + 1, y[where])


def _place(x, y, scene, tiles, labels, threshold, max_overlap, g) -> torch.Tensor:
    """Paste each tile at a random spot where its ink overlaps earlier ink by at most ``max_overlap``.

    Returns which tiles found no such spot (they are left out).

    One grouped convolution counts, for every spot at once, how much of each
    tile's ink would land on ink already in its scene.
    """
    size, s = x.shape[-1], tiles.shape[-1]
    ink = tiles >= threshold
    taken = (y[scene] > 0).float().unsqueeze(0)                              # (1, k, S, S)
    shared = F.conv2d(taken, ink.float().unsqueeze(1), groups=len(tiles))[0]  # (k, S-s+1, S-s+1)
    allowed = max_overlap * ink.flatten(1).sum(1).clamp_min(1)
    fits = (shared <= allowed[:, None, None] + 0.5).flatten(1)
    placed = fits.any(1)
    score = torch.rand(fits.shape, generator=g).masked_fill_(~fits, -1.0)
    spot = score.argmax(1)                                   # a random spot among those that fit
    top, left = spot // (size - s + 1), spot % (size - s + 1)
    _paste(x, y, scene[placed], tiles[placed], labels[placed], ink[placed], top[placed], left[placed])
    return ~placed


def _rotate(images: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Turn each image (N, 1, H, W) about its centre by its angle in ``degrees`` (N,)."""
    a = torch.deg2rad(degrees)
    cos, sin, zero = a.cos(), a.sin(), torch.zeros_like(a)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)  # (N, 2, 3)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def make_scenes(digits_x: torch.Tensor, digits_y: torch.Tensor, n: int, size: int = 48,
                per_scene: tuple[int, int] = (2, 2), digit_size: tuple[int, int] = (20, 28),
                max_overlap: float = 0.15, threshold: float = 0.3, seed: int = 0,
                max_rotation: float = 0.0) -> Scenes:
    """``n`` canvases of ``size`` x ``size`` with ``per_scene`` = (min, max) digits each.

    Args:
        digits_x, digits_y: source digits (N, 1, 28, 28) and their labels, e.g. MNIST's train split.
        digit_size: side (min, max) of each pasted 28x28 tile, in pixels.
        max_overlap: largest share of a new digit's ink that may fall on earlier digits.
        threshold: ink level from which a pixel is labelled as its digit.
        max_rotation: each digit turned by a random angle in [-max_rotation, max_rotation]
            degrees before it is pasted (augmentation for training scenes; 0 = upright).
    """
    _check_scene_args(digits_x, digits_y, n, size, per_scene, digit_size, max_overlap, threshold)
    if not 0 <= max_rotation <= 180:
        raise ValueError(f"max_rotation must be in [0, 180] degrees, got {max_rotation}")
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(per_scene[0], per_scene[1] + 1, (n,), generator=g)
    x = torch.zeros(n, size, size)
    y = torch.zeros(n, size, size, dtype=torch.long)
    for slot in range(per_scene[1]):
        scene = (counts > slot).nonzero().flatten()
        idx = torch.randint(0, len(digits_x), (len(scene),), generator=g)
        sides = torch.randint(digit_size[0], digit_size[1] + 1, (len(scene),), generator=g)
        source = digits_x[idx].float()
        if max_rotation > 0:
            source = _rotate(source, (torch.rand(len(idx), generator=g) * 2 - 1) * max_rotation)
        for side in sides.unique().tolist():
            k = (sides == side).nonzero().flatten()
            tiles = F.interpolate(source[k], size=(side, side), mode="bilinear",
                                  align_corners=False).clamp_(0, 1)[:, 0]  # (k, side, side)
            left_out = _place(x, y, scene[k], tiles, digits_y[idx[k]].long(), threshold, max_overlap, g)
            if left_out.any():  # a crowded scene (rare): try those digits once more at the smallest side
                k = k[left_out]
                tiles = F.interpolate(source[k], size=(digit_size[0],) * 2, mode="bilinear",
                                      align_corners=False).clamp_(0, 1)[:, 0]
                if _place(x, y, scene[k], tiles, digits_y[idx[k]].long(), threshold, max_overlap, g).any():
                    raise ValueError(f"could not place a digit with overlap <= {max_overlap} on a "
                                     f"{size}x{size} canvas; use a larger canvas, smaller or fewer "
                                     f"digits, or a larger max_overlap")
    return Scenes(x.unsqueeze(1), y)
