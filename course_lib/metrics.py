"""Quality measures, computed by scikit-image where it has them."""

from __future__ import annotations

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio


def _check_same(x: torch.Tensor, x_hat: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or not isinstance(x_hat, torch.Tensor):
        raise ValueError(f"expected two tensors, got {type(x).__name__} and {type(x_hat).__name__}")
    if x.shape != x_hat.shape or x.dim() < 2:
        raise ValueError(f"expected two batches of the same shape (B, ...), got "
                         f"{tuple(x.shape)} and {tuple(x_hat.shape)}")


def mse_per_item(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each item in a batch: shape (B,)."""
    _check_same(x, x_hat)
    return (x.float() - x_hat.float()).pow(2).flatten(1).mean(1)


def mse(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """Mean squared error over the whole batch."""
    return mse_per_item(x, x_hat).mean().item()


def psnr(x: torch.Tensor, x_hat: torch.Tensor, data_range: float = 1.0) -> float:
    """Mean PSNR in dB over a batch of images in [0, data_range] (scikit-image's, per image).

    Perfect reconstructions (infinite PSNR) are capped at 100 dB.
    """
    _check_same(x, x_hat)
    if data_range <= 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    a, b = x.detach().cpu().double().numpy(), x_hat.detach().cpu().double().numpy()
    with np.errstate(divide="ignore"):
        values = [peak_signal_noise_ratio(ai, bi, data_range=data_range) for ai, bi in zip(a, b)]
    return float(np.mean(np.minimum(values, 100.0)))
