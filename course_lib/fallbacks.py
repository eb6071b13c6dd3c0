"""Offline stand-ins, made from what installed packages ship or generated: digits, shapes, heartbeats.

They keep every notebook running without the real datasets; the figures then differ,
and the chapters say so.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .ecg import BEAT_LENGTH
from .examples import Examples


def sklearn_digits_28() -> Examples:
    """scikit-learn's 1,797 bundled 8x8 digits, resized to MNIST's 28x28 layout."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (N, 1, 8, 8)
    x = F.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False)  # (N, 1, 20, 20)
    x = F.pad(x, (4, 4, 4, 4)).clamp_(0.0, 1.0)  # (N, 1, 28, 28), digit centred like MNIST
    return Examples(x, torch.tensor(bunch.target, dtype=torch.long))


SHAPE_CLASSES = ("rectangle", "ellipse", "triangle", "cross", "ring")


def generated_shapes(n: int, size: int = 28, seed: int = 0) -> Examples:
    """``n`` filled outline shapes of random size and place, labelled by ``SHAPE_CLASSES``."""
    if n < 1 or size < 12:
        raise ValueError(f"need n >= 1 and size >= 12, got n={n}, size={size}")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    x = np.zeros((n, 1, size, size), np.float32)
    y = rng.integers(0, len(SHAPE_CLASSES), n)
    for i in range(n):
        cy, cx = rng.uniform(0.35, 0.65, 2) * size
        ry, rx = rng.uniform(0.15, 0.32, 2) * size
        u, v = (yy - cy) / ry, (xx - cx) / rx
        kind = SHAPE_CLASSES[y[i]]
        if kind == "rectangle":
            mask = (np.abs(u) <= 1) & (np.abs(v) <= 1)
        elif kind == "ellipse":
            mask = u**2 + v**2 <= 1
        elif kind == "triangle":
            mask = (u <= 1) & (np.abs(v) <= (u + 1) / 2)
        elif kind == "cross":
            mask = ((np.abs(u) <= 1) & (np.abs(v) <= 0.3)) | ((np.abs(v) <= 1) & (np.abs(u) <= 0.3))
        else:
            r2 = u**2 + v**2
            mask = (r2 <= 1) & (r2 >= 0.45)
        x[i, 0] = mask * rng.uniform(0.6, 1.0)
    return Examples(torch.from_numpy(x), torch.from_numpy(y).long())


def _bump(t: np.ndarray, centre: np.ndarray, width: np.ndarray, height: np.ndarray) -> np.ndarray:
    """Gaussian bumps, one per row: (N, 1) parameters over time points (L,) -> (N, L)."""
    return height * np.exp(-0.5 * ((t - centre) / width) ** 2)


def generated_ecg(n: int, anomaly_share: float = 0.4, seed: int = 0,
                  length: int = BEAT_LENGTH) -> Examples:
    """``n`` ECG-like beats (P, QRS, T waves as Gaussian bumps), z-normalised like ECG5000.

    Class 1 is normal; classes 2-5 (``GENERATED_ECG_CLASSES``) are injected
    anomalies: a wide inverted QRS, an ST elevation, an early beat, a noise burst.
    """
    if n < 1 or not 0.0 <= anomaly_share <= 1.0 or length < 40:
        raise ValueError(f"need n >= 1, 0 <= anomaly_share <= 1 and length >= 40, got n={n}, "
                         f"anomaly_share={anomaly_share}, length={length}")
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, length)
    y = np.where(rng.random(n) < anomaly_share, rng.integers(2, 6, n), 1)
    jitter = lambda scale: rng.normal(0.0, scale, (n, 1))  # noqa: E731
    shift = jitter(0.005) - np.where(y == 4, 0.12, 0.0)[:, None]  # class 4: the beat comes early
    r_sign = np.where(y == 2, -0.7, 1.0)[:, None]                # class 2: inverted, wide QRS
    r_width = np.where(y == 2, 0.035, 0.012)[:, None]
    x = (_bump(t, 0.22 + shift, 0.025, 0.15 + jitter(0.02))
         + _bump(t, 0.33 + shift, 0.008, -0.12 + jitter(0.02))
         + _bump(t, 0.36 + shift, r_width, r_sign * (1.0 + jitter(0.08)))
         + _bump(t, 0.39 + shift, 0.01, -0.25 + jitter(0.03))
         + _bump(t, 0.62 + shift, 0.05, 0.3 + jitter(0.04)))
    st = (y == 3)[:, None] & (t > 0.41 + shift) & (t < 0.58 + shift)
    x = x + 0.45 * st                                            # class 3: raised ST segment
    burst = (y == 5)[:, None] & (np.abs(t - rng.uniform(0.5, 0.9, (n, 1))) < 0.06)
    x = x + burst * rng.normal(0.0, 0.35, (n, length))           # class 5: a burst of noise
    x = x + rng.normal(0.0, 0.02, (n, length))
    x = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)
    return Examples(torch.from_numpy(x).float().unsqueeze(1), torch.from_numpy(y).long())


def unseen_inputs(x: torch.Tensor, seed: int = 0) -> dict[str, torch.Tensor]:
    """Inputs of kinds a digit model never saw, as many as ``x`` holds (N, 1, H, W) digits.

    Uniform noise, inverted digits, digits turned a quarter and generated shapes.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 1 or len(x) == 0:
        raise ValueError(f"expected grey images (N, 1, H, W), got {tuple(getattr(x, 'shape', ()))}")
    g = torch.Generator().manual_seed(seed)
    return {"uniform noise": torch.rand(x.shape, generator=g),
            "inverted digits": 1.0 - x,
            "rotated digits": torch.rot90(x, 1, dims=(2, 3)).contiguous(),
            "shapes": generated_shapes(len(x), size=x.shape[-1], seed=seed).x}
