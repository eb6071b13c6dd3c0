"""Helpers for chapter 02: train one model per code size and measure what each code is worth."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .fallbacks import generated_shapes
from .training import History, fit_cached


def compression_ratio(input_shape: tuple[int, ...], latent_dim: int) -> float:
    """How many input numbers each code number stands for: prod(input_shape) / latent_dim."""
    if not isinstance(latent_dim, int) or latent_dim < 1 or any(s < 1 for s in input_shape):
        raise ValueError(f"need a positive input shape and latent_dim, got {input_shape} and {latent_dim!r}")
    return math.prod(input_shape) / latent_dim


def unreconstructed_share(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """Share of the inputs' energy the reconstruction misses: sum((x - x_hat)^2) / sum(x^2).

    0 means a perfect copy, 1 means no better than an all-black output.
    """
    if not isinstance(x, torch.Tensor) or not isinstance(x_hat, torch.Tensor) or x.shape != x_hat.shape:
        raise ValueError(f"expected two tensors of the same shape, got "
                         f"{tuple(getattr(x, 'shape', ()))} and {tuple(getattr(x_hat, 'shape', ()))}")
    energy = x.double().pow(2).sum()
    if energy == 0:
        raise ValueError("x is all zeros: the share of its energy is undefined")
    return float((x.double() - x_hat.double()).pow(2).sum() / energy)


def linear_probe_accuracy(z_train: torch.Tensor, y_train: torch.Tensor, z_test: torch.Tensor,
                          y_test: torch.Tensor, alpha: float = 1.0) -> float:
    """Test accuracy of a linear classifier (scikit-learn's ridge classifier) on standardised codes."""
    from sklearn.linear_model import RidgeClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    for name, z, y in (("train", z_train, y_train), ("test", z_test, y_test)):
        if z.dim() != 2 or y.dim() != 1 or len(z) != len(y) or len(z) == 0:
            raise ValueError(f"{name}: expected codes (N, k) and labels (N,), got "
                             f"{tuple(z.shape)} and {tuple(y.shape)}")
    if z_train.shape[1] != z_test.shape[1]:
        raise ValueError(f"train and test codes differ in size: {z_train.shape[1]} vs {z_test.shape[1]}")
    if alpha <= 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    probe = make_pipeline(StandardScaler(), RidgeClassifier(alpha=alpha))
    probe.fit(z_train.double().numpy(), y_train.numpy())
    return float(probe.score(z_test.double().numpy(), y_test.numpy()))


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


def train_sweep(make_model: Callable[[int], nn.Module], latent_dims, cache_dir: Path | None, name: str,
                x: torch.Tensor, seed: int = 0, **fit_kwargs) -> dict[int, tuple[nn.Module, History]]:
    """One model per code size: ``make_model(k)`` trained by ``fit_cached`` as ``{name}-k{k}``."""
    latent_dims = list(latent_dims)
    if not latent_dims or any(not isinstance(k, int) or k < 1 for k in latent_dims):
        raise ValueError(f"latent_dims must be positive ints, got {latent_dims!r}")
    results = {}
    for k in latent_dims:
        torch.manual_seed(seed + k)
        model = make_model(k)
        history = fit_cached(model, cache_dir, f"{name}-k{k}", x, seed=seed, **fit_kwargs)
        results[k] = (model, history)
    return results


def sweep_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """A plain-text table: ``columns`` are (key, header, format) and rows are dicts."""
    if not columns:
        raise ValueError("columns must name at least one (key, header, format)")
    widths = [max(len(h), 8) for _, h, _ in columns]
    lines = ["  ".join(f"{h:>{w}}" for (_, h, _), w in zip(columns, widths))]
    for row in rows:
        cells = [("-" if row.get(key) is None or (isinstance(row.get(key), float) and np.isnan(row[key]))
                  else format(row[key], fmt)) for key, _, fmt in columns]
        lines.append("  ".join(f"{c:>{w}}" for c, w in zip(cells, widths)))
    return "\n".join(lines)
