"""Noise and masks that make the corrupted inputs of chapters 04 (denoising) and 05 (inpainting).

Every function takes images (B, C, H, W) in [0, 1] and a torch generator, so
the same seed gives the same corruption, and is usable as ``fit(transform=...)``
through ``functools.partial``.
"""

from __future__ import annotations

import torch

from .training import predict

# --------------------------------------------------------------------------- noise (chapter 04)

NOISE_KINDS = ("gaussian", "salt-and-pepper", "masking")


def _check_batch(x: torch.Tensor, generator: torch.Generator) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or not x.is_floating_point():
        raise ValueError(f"expected a float batch of images (B, C, H, W), got "
                         f"{type(x).__name__} of shape {tuple(getattr(x, 'shape', ()))}")
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"expected a torch.Generator, got {type(generator).__name__}")


def _check_level(name: str, value: float, high: float) -> None:
    if not isinstance(value, (int, float)) or not 0.0 <= value <= high:
        raise ValueError(f"{name} must be a number in [0, {high:g}], got {value!r}")


def gaussian_noise(x: torch.Tensor, generator: torch.Generator, sigma: float = 0.5,
                   clip: bool = True) -> torch.Tensor:
    """``x`` plus N(0, sigma^2) noise on every pixel, clipped to [0, 1] unless ``clip=False``."""
    _check_batch(x, generator)
    _check_level("sigma", sigma, 10.0)
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    x_noisy = x + sigma * noise.to(x.device)
    return x_noisy.clamp(0.0, 1.0) if clip else x_noisy


def salt_and_pepper(x: torch.Tensor, generator: torch.Generator, amount: float = 0.2) -> torch.Tensor:
    """Set a share ``amount`` of pixels to 0 or 1 (half each, on average)."""
    _check_batch(x, generator)
    _check_level("amount", amount, 1.0)
    u = torch.rand(x.shape, generator=generator).to(x.device)
    x_noisy = x.clone()
    x_noisy[u < amount / 2] = 0.0
    x_noisy[(u >= amount / 2) & (u < amount)] = 1.0
    return x_noisy


def masking_noise(x: torch.Tensor, generator: torch.Generator, fraction: float = 0.3) -> torch.Tensor:
    """Set a random share ``fraction`` of pixels to 0 (Vincent et al., 2008)."""
    _check_batch(x, generator)
    _check_level("fraction", fraction, 1.0)
    keep = torch.rand(x.shape, generator=generator).to(x.device) >= fraction
    return x * keep


def add_noise(x: torch.Tensor, generator: torch.Generator, kind: str = "gaussian",
              level: float = 0.5) -> torch.Tensor:
    """One entry point: ``kind`` in NOISE_KINDS at ``level`` (sigma, amount or fraction)."""
    makers = {"gaussian": gaussian_noise, "salt-and-pepper": salt_and_pepper,
              "masking": masking_noise}
    if kind not in makers:
        raise ValueError(f"kind must be one of {NOISE_KINDS}, got {kind!r}")
    return makers[kind](x, generator, level)


def random_noise(x: torch.Tensor, generator: torch.Generator,
                 menu: tuple[tuple[str, float, float], ...] = (("gaussian", 0.1, 0.7),)) -> torch.Tensor:
    """Each image gets one (kind, level) drawn from ``menu``: kinds and level ranges (low, high).

    A denoiser trained with this as its ``fit`` transform handles every level in the menu.
    """
    _check_batch(x, generator)
    if not menu or any(k not in NOISE_KINDS or not 0 <= lo <= hi for k, lo, hi in menu):
        raise ValueError(f"menu must be non-empty (kind, low, high) triples with kinds in "
                         f"{NOISE_KINDS} and 0 <= low <= high, got {menu!r}")
    which = torch.randint(len(menu), (len(x),), generator=generator)
    u = torch.rand(len(x), generator=generator)
    x_noisy = torch.empty_like(x)
    for i, (kind, lo, hi) in enumerate(menu):
        idx = (which == i).nonzero().flatten()
        for j in idx.tolist():
            level = float(lo + (hi - lo) * u[j])
            x_noisy[j:j + 1] = add_noise(x[j:j + 1], generator, kind, level)
    return x_noisy


# --------------------------------------------------------------------------- masks (chapter 05)

MASK_KINDS = ("blocks", "centre", "strokes")


def _check_mask_size(n: int, size: tuple[int, int]) -> tuple[int, int]:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if len(size) != 2 or min(size) < 2:
        raise ValueError(f"size must be (H, W) with both >= 2, got {size!r}")
    return int(size[0]), int(size[1])


def centre_mask(n: int, size: tuple[int, int], hole: int = 12) -> torch.Tensor:
    """``n`` masks (n, 1, H, W) with a ``hole`` x ``hole`` square of 1s in the centre."""
    h, w = _check_mask_size(n, size)
    if not isinstance(hole, int) or not 1 <= hole <= min(h, w):
        raise ValueError(f"hole must be an int in [1, {min(h, w)}], got {hole!r}")
    mask = torch.zeros(n, 1, h, w)
    top, left = (h - hole) // 2, (w - hole) // 2
    mask[:, :, top:top + hole, left:left + hole] = 1.0
    return mask


def block_masks(n: int, size: tuple[int, int], generator: torch.Generator, num_blocks: int = 1,
                block: tuple[int, int] = (8, 14)) -> torch.Tensor:
    """``n`` masks with ``num_blocks`` rectangles of 1s, sides drawn from ``block`` = (min, max)."""
    h, w = _check_mask_size(n, size)
    lo, hi = block
    if not isinstance(num_blocks, int) or num_blocks < 1 or not 1 <= lo <= hi <= min(h, w):
        raise ValueError(f"need num_blocks >= 1 and 1 <= block min <= max <= {min(h, w)}, "
                         f"got num_blocks={num_blocks!r}, block={block!r}")
    sides = torch.randint(lo, hi + 1, (2, n, num_blocks), generator=generator)  # heights, widths
    top = (torch.rand(n, num_blocks, generator=generator) * (h - sides[0] + 1)).long()
    left = (torch.rand(n, num_blocks, generator=generator) * (w - sides[1] + 1)).long()
    rows, cols = torch.arange(h).view(1, 1, h, 1), torch.arange(w).view(1, 1, 1, w)
    inside = ((rows >= top[..., None, None]) & (rows < (top + sides[0])[..., None, None])
              & (cols >= left[..., None, None]) & (cols < (left + sides[1])[..., None, None]))
    return inside.any(1, keepdim=True).float()  # (n, 1, H, W)


def stroke_masks(n: int, size: tuple[int, int], generator: torch.Generator, num_strokes: int = 2,
                 vertices: int = 4, width: float = 2.5) -> torch.Tensor:
    """``n`` free-form masks: ``num_strokes`` brush strokes (random polylines ``width`` px wide)."""
    h, w = _check_mask_size(n, size)
    if not isinstance(num_strokes, int) or num_strokes < 1 or not isinstance(vertices, int) \
            or vertices < 2 or not 0 < width <= min(h, w):
        raise ValueError(f"need num_strokes >= 1, vertices >= 2, 0 < width <= {min(h, w)}, got "
                         f"{num_strokes!r}, {vertices!r}, {width!r}")
    scale = torch.tensor([h - 1.0, w - 1.0])
    start = torch.rand(n, num_strokes, 1, 2, generator=generator) * scale
    steps = (torch.rand(n, num_strokes, vertices - 1, 2, generator=generator) - 0.5) * scale * 0.6
    points = torch.cat([start, start + steps.cumsum(2)], 2).clamp(torch.zeros(2), scale)
    a, b = points[:, :, :-1].reshape(n, -1, 1, 2), points[:, :, 1:].reshape(n, -1, 1, 2)
    grid = torch.stack(torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij"), -1)
    p = grid.reshape(1, 1, h * w, 2).float()                     # (1, 1, H*W, 2)
    ab = b - a
    t = (((p - a) * ab).sum(-1) / ab.pow(2).sum(-1).clamp_min(1e-6)).clamp(0, 1)
    dist = (p - (a + t[..., None] * ab)).norm(dim=-1)             # (n, segments, H*W)
    return (dist.min(1).values <= width / 2).float().reshape(n, 1, h, w)


def make_masks(kind: str, n: int, size: tuple[int, int], generator: torch.Generator,
               **options) -> torch.Tensor:
    """One entry point: ``kind`` in MASK_KINDS; 1 marks a missing pixel, shape (n, 1, H, W)."""
    if kind not in MASK_KINDS:
        raise ValueError(f"kind must be one of {MASK_KINDS}, got {kind!r}")
    if kind == "centre":
        return centre_mask(n, size, **options)
    maker = block_masks if kind == "blocks" else stroke_masks
    return maker(n, size, generator, **options)


def as_float_mask(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A mask of True/False (e.g. ``x > 0.5``) as 1.0/0.0 in ``x``'s dtype; any other mask as it is."""
    return mask.to(x.dtype) if mask.dtype == torch.bool else mask


def apply_mask(x: torch.Tensor, mask: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """``x`` with the pixels where ``mask`` is 1 (or True) replaced by ``fill``."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"expected images (B, C, H, W), got {tuple(getattr(x, 'shape', ()))}")
    if not isinstance(mask, torch.Tensor) or mask.shape != (len(x), 1, *x.shape[2:]):
        raise ValueError(f"expected a mask of shape {(len(x), 1, *x.shape[2:])}, got "
                         f"{tuple(getattr(mask, 'shape', ()))}")
    mask = as_float_mask(mask, x)
    return x * (1 - mask) + fill * mask


def inpainting_input(x: torch.Tensor, mask: torch.Tensor, with_mask_channel: bool = True,
                     fill: float = 0.0) -> torch.Tensor:
    """What an inpainting network sees: the masked image, plus the mask as a last channel."""
    x_masked = apply_mask(x, mask, fill)
    return torch.cat([x_masked, as_float_mask(mask, x)], 1) if with_mask_channel else x_masked  # (B, C+1, H, W)


def random_inpainting_input(x: torch.Tensor, generator: torch.Generator, kind: str = "blocks",
                            with_mask_channel: bool = True, **options) -> torch.Tensor:
    """A ``fit`` transform: fresh masks of ``kind`` for every batch, then ``inpainting_input``."""
    mask = make_masks(kind, len(x), tuple(x.shape[-2:]), generator, **options)
    return inpainting_input(x, mask.to(x.device), with_mask_channel)


class InpaintingTransform:
    """``random_inpainting_input`` with fixed options, as a ``fit`` transform whose repr names them.

    Its repr (unlike a ``functools.partial``'s) is the same in every session, so
    ``fit_cached`` finds the weights a previous run trained with the same masks.
    """

    def __init__(self, kind: str = "blocks", with_mask_channel: bool = True, **options):
        if kind not in MASK_KINDS:
            raise ValueError(f"kind must be one of {MASK_KINDS}, got {kind!r}")
        self.kind, self.with_mask_channel, self.options = kind, with_mask_channel, options

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return random_inpainting_input(x, generator, self.kind, self.with_mask_channel, **self.options)

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in sorted(self.options.items()))
        return f"InpaintingTransform({self.kind!r}, with_mask_channel={self.with_mask_channel}, {options})"


@torch.no_grad()
def fill_hole(model: torch.nn.Module, x_masked: torch.Tensor, mask: torch.Tensor,
              device: str | None = None, batch_size: int = 256) -> torch.Tensor:
    """The inpainting ``model``'s output inside the hole, the known pixels outside it.

    The model gets the mask as an extra channel when it has one more input channel than the
    images; it runs on ``device``, by default the one it is on.
    """
    with_mask = getattr(model, "in_channels", None) == x_masked.shape[1] + 1
    mask = as_float_mask(mask, x_masked)
    x_hat = predict(model, inpainting_input(x_masked, mask, with_mask), batch_size=batch_size, device=device)
    return x_masked * (1 - mask) + x_hat * mask


class Noise:
    """A noise maker with a readable, stable repr, for ``fit(transform=...)`` and its cache key.

    ``Noise("gaussian", 0.5)`` adds one kind at one level; ``Noise(menu=...)`` draws a kind
    and level per image like ``random_noise``.
    """

    def __init__(self, kind: str | None = None, level: float | None = None, menu=None):
        if (menu is None) == (kind is None):
            raise ValueError(f"give either kind and level or a menu, got kind={kind!r}, menu={menu!r}")
        if kind is not None and (kind not in NOISE_KINDS or level is None):
            raise ValueError(f"kind must be one of {NOISE_KINDS} with a level, got {kind!r}, {level!r}")
        self.kind, self.level, self.menu = kind, level, None if menu is None else tuple(map(tuple, menu))

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.menu is not None:
            return random_noise(x, generator, menu=self.menu)
        return add_noise(x, generator, self.kind, self.level)

    def __repr__(self) -> str:
        if self.menu is not None:
            return f"Noise(menu={self.menu!r})"
        return f"Noise({self.kind!r}, {self.level!r})"
