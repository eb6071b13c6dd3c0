"""Figures for the chapters; each function returns its matplotlib Figure."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .training import History


def _as_image(t: torch.Tensor) -> np.ndarray:
    """(C, H, W) tensor -> array for imshow: (H, W) for one channel, (H, W, C) for three."""
    if t.dim() != 3 or t.shape[0] not in (1, 3):
        raise ValueError(f"expected one image of shape (1 or 3, H, W), got {tuple(t.shape)}")
    a = t.detach().cpu().float().clamp(0, 1).numpy()
    return a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)


def image_rows(rows: Mapping[str, torch.Tensor], n: int = 10, titles: Sequence[str] | None = None,
               scale: float = 1.1) -> Figure:
    """One row of ``n`` images per entry of ``rows`` (name -> batch (B, C, H, W))."""
    if not rows:
        raise ValueError("rows must name at least one batch of images")
    n = min(n, *(len(v) for v in rows.values()))
    fig, axes = plt.subplots(len(rows), n, figsize=(scale * n, scale * len(rows) + 0.3),
                             squeeze=False)
    for r, (name, batch) in enumerate(rows.items()):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(_as_image(batch[c]), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if titles is not None and r == 0:
                ax.set_title(titles[c], fontsize=8)
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    return fig


def show_reconstructions(x: torch.Tensor, x_hat: torch.Tensor, n: int = 10) -> Figure:
    """Originals on top, reconstructions below."""
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {tuple(x.shape)} and "
                         f"{tuple(x_hat.shape)}")
    return image_rows({"original": x, "reconstruction": x_hat}, n=n)


def plot_history(histories: Mapping[str, History] | History, log: bool = True) -> Figure:
    """Training (solid) and validation (dashed) loss per epoch; epoch 0 is before training."""
    if isinstance(histories, History):
        histories = {"model": histories}
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for i, (name, h) in enumerate(histories.items()):
        color = f"C{i}"
        ax.plot(range(len(h.train_loss)), h.train_loss, color=color, label=f"{name} train")
        if h.val_loss:
            ax.plot(range(len(h.val_loss)), h.val_loss, "--", color=color, label=f"{name} val")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_latent_2d(z: torch.Tensor, y: torch.Tensor, classes: Sequence[str] | None = None) -> Figure:
    """Scatter of 2-D codes coloured by label."""
    if z.dim() != 2 or z.shape[1] != 2 or len(z) != len(y):
        raise ValueError(f"expected codes (N, 2) and labels (N,), got {tuple(z.shape)} and "
                         f"{tuple(y.shape)}")
    fig, ax = plt.subplots(figsize=(5.5, 5))
    z, y = z.detach().cpu().numpy(), y.detach().cpu().numpy()
    for label in np.unique(y):
        pts = z[y == label]
        name = classes[label] if classes is not None else str(label)
        ax.scatter(pts[:, 0], pts[:, 1], s=4, alpha=0.6, color=plt.cm.tab10(label % 10), label=name)
    ax.legend(markerscale=3, fontsize=8, loc="best", ncol=2)
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.set_title("2-D code of each test image")
    fig.tight_layout()
    return fig


def latent_grid(decode, z_range: tuple[float, float, float, float], n: int = 12) -> torch.Tensor:
    """Decode an ``n`` x ``n`` grid over the 2-D code box (z0_min, z0_max, z1_min, z1_max)."""
    z0 = torch.linspace(z_range[0], z_range[1], n)
    z1 = torch.linspace(z_range[3], z_range[2], n)  # top row = largest z1
    grid = torch.stack(torch.meshgrid(z1, z0, indexing="ij"), -1).reshape(-1, 2).flip(1)
    with torch.no_grad():
        return decode(grid)


def plot_latent_manifold(decode, z_range: tuple[float, float, float, float], n: int = 12) -> Figure:
    """The images a 2-D decoder draws over a grid of codes: the static twin of the explorer."""
    images = latent_grid(decode, z_range, n)
    _, c, h, w = images.shape
    canvas = images.reshape(n, n, c, h, w).permute(2, 0, 3, 1, 4).reshape(c, n * h, n * w)
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(_as_image(canvas), cmap="gray", vmin=0, vmax=1,
              extent=(z_range[0], z_range[1], z_range[2], z_range[3]), aspect="auto")
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.set_title("What the decoder draws at each point of the code space")
    fig.tight_layout()
    return fig


def bar_table(values: Mapping[str, float], ylabel: str, title: str = "") -> Figure:
    """A bar chart of named numbers, each bar labelled with its value."""
    fig, ax = plt.subplots(figsize=(1.2 * len(values) + 2, 3.2))
    bars = ax.bar(list(values), list(values.values()), color=[f"C{i}" for i in range(len(values))])
    ax.bar_label(bars, fmt="%.4g", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig
