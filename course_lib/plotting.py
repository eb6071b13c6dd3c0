"""Figures for the chapters; each function returns its matplotlib Figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .training import History


def _as_image(t: torch.Tensor) -> np.ndarray:
    """(C, H, W) tensor -> array for imshow: (H, W) for one channel, (H, W, C) for three."""
    if t.dim() != 3 or t.shape[0] not in (1, 3):
        raise ValueError(f"expected one image of shape (1 or 3, H, W), got {tuple(t.shape)}")
    a = t.detach().cpu().float().clamp(0, 1).numpy()
    return a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)


def _rgba(a: np.ndarray) -> np.ndarray:
    """An image from ``_as_image`` ((H, W) grey or (H, W, 3)) as opaque RGBA (H, W, 4)."""
    rgb = np.repeat(a[..., None], 3, axis=-1) if a.ndim == 2 else a
    return np.concatenate([rgb, np.ones((*rgb.shape[:2], 1), rgb.dtype)], axis=-1)


class Mosaic:
    """A grid of equally sized RGBA tiles in ONE array, for ONE ``imshow``.

    Drawing a grid of images as one picture instead of one Axes per image makes a figure
    of 7 rows x 8 digits about ten times quicker to build and save (seconds on a slow
    CPU), and a widget's figure quicker to redraw when a slider moves. The gaps between
    tiles are transparent, so they show the figure's background.
    """

    def __init__(self, n_rows: int, n_cols: int, height: int, width: int):
        self.gap = max(1, round(0.08 * max(height, width)))
        self.height, self.width = height, width
        self.array = np.zeros((n_rows * (height + self.gap) - self.gap,
                               n_cols * (width + self.gap) - self.gap, 4), dtype=np.float32)

    def _where(self, r: int, c: int) -> tuple[slice, slice]:
        top, left = r * (self.height + self.gap), c * (self.width + self.gap)
        return slice(top, top + self.height), slice(left, left + self.width)

    def put(self, r: int, c: int, rgba: np.ndarray) -> None:
        """Place tile (r, c): an (H, W, 4) array of this mosaic's tile size."""
        if rgba.shape != (self.height, self.width, 4):
            raise ValueError(f"every image in one figure must have the same size: expected "
                             f"{self.height}x{self.width}, got {rgba.shape[0]}x{rgba.shape[1]}")
        self.array[self._where(r, c)] = rgba

    def tile(self, r: int, c: int) -> np.ndarray:
        """The RGBA tile at row ``r``, column ``c`` (a view)."""
        return self.array[self._where(r, c)]

    def centres(self, n: int, size: int) -> list[float]:
        """Pixel positions of the centres of ``n`` tiles of ``size`` along one axis."""
        return [i * (size + self.gap) + (size - 1) / 2 for i in range(n)]

    def show(self, ax, row_names: Sequence[str], titles: Sequence[str] | None = None):
        """``imshow`` the mosaic on ``ax``, row names on the left, ``titles`` above the columns."""
        image = ax.imshow(self.array)
        ax.set_yticks(self.centres(len(row_names), self.height), row_names, fontsize=9)
        n_cols = (self.array.shape[1] + self.gap) // (self.width + self.gap)
        if titles is not None:
            ax.xaxis.tick_top()
            ax.set_xticks(self.centres(n_cols, self.width), list(titles)[:n_cols], fontsize=8)
        else:
            ax.set_xticks([])
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        return image


def image_rows(rows: Mapping[str, torch.Tensor], n: int = 10, titles: Sequence[str] | None = None,
               scale: float = 1.1) -> Figure:
    """One row of ``n`` images per entry of ``rows`` (name -> batch (B, C, H, W)), all one size."""
    if not rows:
        raise ValueError("rows must name at least one batch of images")
    n = min(n, *(len(v) for v in rows.values()))
    images = [[_rgba(_as_image(batch[c])) for c in range(n)] for batch in rows.values()]
    mosaic = Mosaic(len(rows), n, *images[0][0].shape[:2])
    for r, row in enumerate(images):
        for c, img in enumerate(row):
            mosaic.put(r, c, img)
    fig, ax = plt.subplots(figsize=(scale * n, scale * len(rows) + 0.3))
    mosaic.show(ax, list(rows), titles)
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
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.set_ylabel("loss")
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_latent_2d(z: torch.Tensor, y: torch.Tensor, classes: Sequence[str] | None = None,
                   title: str = "2-D code of each test image") -> Figure:
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
    ax.set_title(title)
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


def line_panels(xs: Sequence[float], panels: Mapping[str, Mapping[str, Sequence[float]]],
                xlabel: str, logx: bool = False,
                intervals: Mapping[str, Mapping[str, Sequence[tuple[float, float]]]] | None = None,
                hline: float | None = None) -> Figure:
    """Side-by-side panels (title -> {series name -> y values over ``xs``}) with markers.

    ``intervals``, shaped like ``panels`` (any subset of it), gives a (low, high) interval per
    point, drawn as an error bar. Whole-number ``xs`` (epochs, sizes) get whole-number ticks.
    ``hline`` draws a reference level (e.g. 0 for a difference) in every panel.
    """
    if not panels or any(len(v) != len(xs) for p in panels.values() for v in p.values()):
        raise ValueError(f"every series needs one value per x ({len(xs)} xs)")
    intervals = intervals or {}
    if any(len(v) != len(xs) for p in intervals.values() for v in p.values()):
        raise ValueError(f"every interval series needs one (low, high) per x ({len(xs)} xs)")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.4), squeeze=False)
    for ax, (title, series) in zip(axes[0], panels.items()):
        for i, (name, ys) in enumerate(series.items()):
            ys = np.array([np.nan if y is None else y for y in ys], dtype=float)
            ax.plot(xs, ys, "o-", color=f"C{i}", label=name, ms=4)
            if name in intervals.get(title, {}):
                lo, hi = np.array(intervals[title][name], dtype=float).T
                ax.errorbar(xs, ys, yerr=[ys - lo, hi - ys], fmt="none", ecolor=f"C{i}", capsize=3, lw=1)
        if logx:
            ax.set_xscale("log", base=2)
            ax.set_xticks(list(xs), [f"{x:g}" for x in xs])
        elif all(float(x).is_integer() for x in xs):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if hline is not None:
            ax.axhline(hline, color="k", lw=0.8, ls="--")
        ax.set_xlabel(xlabel)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- anomaly detection

def _scores_and_labels(scores, y_anomaly) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(torch.as_tensor(scores).detach().cpu(), dtype=np.float64)
    y = np.asarray(torch.as_tensor(y_anomaly).detach().cpu()).astype(int)
    if s.ndim != 1 or s.shape != y.shape or not set(np.unique(y)) <= {0, 1} or len(s) < 2:
        raise ValueError(f"expected scores (N,) and 0/1 anomaly labels (N,), got shapes "
                         f"{s.shape} and {y.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"scores hold {int((~np.isfinite(s)).sum())} NaN or infinite value(s) of {len(s)}: "
                         f"a histogram cannot place them; find where they come from (a diverged model?)")
    return s, y


def _score_bins(s: np.ndarray, n: int = 40) -> tuple[np.ndarray, bool]:
    """``n`` bin edges over the scores, logarithmic when all are positive; a bin around them when all are equal."""
    lo, hi = float(s.min()), float(s.max())
    log = lo > 0
    if lo == hi:  # one value: a single visible bar, a tenth of the value wide (or 1 wide at 0)
        half = abs(lo) * 0.05 or 0.5
        lo, hi = lo - half, hi + half
        log = log and lo > 0
    return (np.geomspace(lo, hi, n) if log else np.linspace(lo, hi, n)), log


def _hist_scores(ax, s: np.ndarray, y: np.ndarray, shares: bool = False) -> None:
    """Overlaid histograms of normal (blue) and anomalous (orange) scores, log x when positive.

    On a log axis the bins are equally wide in log units, so a bar's height compares with
    every other bar's. ``shares``: each group's bars show the share of that group's items in
    the bin (each group sums to 1), so a rare group is as visible as a common one; a density
    per linear unit would shrink every bar on the right of a log axis.
    """
    bins, log = _score_bins(s)
    for label, name in enumerate(("normal", "anomaly")):
        group = s[y == label]
        weights = np.full(len(group), 1 / max(len(group), 1)) if shares else None
        ax.hist(group, bins=bins, alpha=0.6, color=f"C{label}", weights=weights,
                label=f"{name} ({len(group)})")
    if log:
        ax.set_xscale("log")
    ax.set_xlabel("anomaly score" + (" (log scale)" if log else ""))
    ax.set_ylabel("share of the group per bin" if shares else "count")
    ax.legend(fontsize=8)


def plot_score_histograms(scores, y_anomaly, threshold: float | None = None, title: str = "") -> Figure:
    """Histograms of the scores of normal and anomalous items, each as shares of its group, and the threshold."""
    s, y = _scores_and_labels(scores, y_anomaly)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    _hist_scores(ax, s, y, shares=True)
    if threshold is not None:
        ax.axvline(threshold, color="k", ls="--", lw=1)
        ax.text(threshold, ax.get_ylim()[1] * 0.95, " threshold", va="top", fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def threshold_view(scores, y_anomaly, threshold: float):
    """Score histograms with a threshold line beside the confusion matrix at that threshold.

    Returns ``(fig, update)``: ``update(threshold)`` moves the line, redraws the
    matrix and title in place and returns the counts and metrics it shows.
    """
    s, y = _scores_and_labels(scores, y_anomaly)
    fig, (ax_h, ax_m) = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [1.8, 1]})
    _hist_scores(ax_h, s, y)
    line = ax_h.axvline(threshold, color="k", ls="--", lw=1)
    shown = ax_m.imshow(np.zeros((2, 2)), cmap="Blues", vmin=0, vmax=max(len(s) // 2, 1))
    texts = [[ax_m.text(j, i, "", ha="center", va="center", fontsize=11) for j in range(2)]
             for i in range(2)]
    ax_m.set_xticks([0, 1], ["called normal", "called anomaly"], fontsize=8)
    ax_m.set_yticks([0, 1], ["normal", "anomaly"], fontsize=8)

    def update(t: float) -> dict:
        pred = s > t
        m = np.array([[np.sum(~pred & (y == 0)), np.sum(pred & (y == 0))],
                      [np.sum(~pred & (y == 1)), np.sum(pred & (y == 1))]])
        (tn, fp), (fn, tp) = m
        precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-12)
        line.set_xdata([t, t])
        shown.set_data(m)
        for i in range(2):
            for j in range(2):
                texts[i][j].set_text(str(m[i, j]))
                texts[i][j].set_color("white" if m[i, j] > len(s) / 4 else "black")
        fig.suptitle(f"threshold {t:.4g}: precision {precision:.2f}, recall {recall:.2f}, "
                     f"F1 {f1:.2f} (anomaly = positive)", fontsize=10)
        return {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp),
                "precision": float(precision), "recall": float(recall), "f1": float(f1)}

    update(threshold)
    fig.tight_layout()
    return fig, update


def plot_threshold(scores, y_anomaly, threshold: float) -> Figure:
    """The static twin of the threshold explorer: histograms, threshold, confusion matrix."""
    return threshold_view(scores, y_anomaly, threshold)[0]


def plot_beats(x: torch.Tensor, x_hat: torch.Tensor, titles: Sequence[str] | None = None) -> Figure:
    """Each series (B, 1, L) with its reconstruction on top and the per-sample squared error below."""
    if x.shape != x_hat.shape or x.dim() != 3 or x.shape[1] != 1:
        raise ValueError(f"expected two batches of series (B, 1, L) of the same shape, got "
                         f"{tuple(x.shape)} and {tuple(x_hat.shape)}")
    n = len(x)
    fig, axes = plt.subplots(2, n, figsize=(3.6 * n, 4), squeeze=False, sharex=True,
                             gridspec_kw={"height_ratios": [2, 1]})
    a, b = x[:, 0].detach().cpu().numpy(), x_hat[:, 0].detach().cpu().numpy()
    err = (a - b) ** 2
    for i in range(n):
        axes[0, i].plot(a[i], color="k", lw=1.2, label="beat x")
        axes[0, i].plot(b[i], color="C3", lw=1.2, ls="--", label="reconstruction x_hat")
        axes[1, i].fill_between(np.arange(a.shape[1]), err[i], color="C1")
        axes[1, i].set_ylim(0, max(err.max(), 1e-6) * 1.05)
        axes[1, i].set_xlabel("sample")
        if titles is not None:
            axes[0, i].set_title(titles[i], fontsize=9)
    axes[0, 0].legend(fontsize=7)
    axes[1, 0].set_ylabel("squared error")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- segmentation (chapter 06)

# Ten colours that stay apart on a black background (after Sasha Trubetskoy's "20 distinct
# colours"); tab10 puts 0 (blue) and 9 (cyan) too close together.
LABEL_COLOURS = ("#e6194b", "#f58231", "#ffe119", "#3cb44b", "#42d4f4",
                 "#4363d8", "#911eb4", "#f032e6", "#ffffff", "#9a6324")


def label_colours(num_classes: int):
    """A colour map with black for label 0 (background) and a distinct colour per other label."""
    from matplotlib.colors import ListedColormap, to_rgba

    return ListedColormap([(0, 0, 0, 1)] + [to_rgba(LABEL_COLOURS[i % 10]) for i in range(num_classes - 1)])


def _label_legend(fig: Figure, classes: Sequence[str]) -> None:
    """One swatch per label (background included) in a row under the figure."""
    from matplotlib.patches import Patch

    cmap = label_colours(len(classes))
    fig.legend(handles=[Patch(facecolor=cmap(i), edgecolor="0.5", label=c) for i, c in enumerate(classes)],
               loc="lower center", ncol=len(classes), fontsize=8, frameon=False, handlelength=1.2,
               columnspacing=0.9)


def segmentation_rows(x: torch.Tensor, rows: Mapping[str, torch.Tensor], num_classes: int,
                      n: int = 8, classes: Sequence[str] | None = None) -> Figure:
    """Images on top, then one row of label maps (B, H, W) per entry of ``rows``.

    ``classes`` (one name per label, e.g. ``Scenes.classes``) adds a colour legend.
    """
    if x.dim() != 4 or any(v.dim() != 3 or v.shape[0] != x.shape[0] for v in rows.values()):
        raise ValueError(f"expected images (B, C, H, W) and label maps (B, H, W), got {tuple(x.shape)} "
                         f"and {[tuple(v.shape) for v in rows.values()]}")
    n = min(n, len(x))
    cmap = label_colours(num_classes)
    mosaic = Mosaic(1 + len(rows), n, *x.shape[-2:])
    for c in range(n):
        mosaic.put(0, c, _rgba(_as_image(x[c])))
        for r, labels in enumerate(rows.values(), start=1):
            mosaic.put(r, c, cmap(labels[c].cpu().numpy().clip(0, num_classes - 1)).astype(np.float32))
    legend = 0.35 if classes is not None else 0.0
    width = max(1.3 * n, 7.5 if classes is not None else 0)  # room for the legend's 11 swatches
    fig, ax = plt.subplots(figsize=(width, 1.3 * (1 + len(rows)) + 0.3 + legend))
    mosaic.show(ax, ["image", *rows])
    if classes is not None:
        if len(classes) != num_classes:
            raise ValueError(f"classes must name all {num_classes} labels, got {len(classes)}")
        _label_legend(fig, classes)
        fig.tight_layout(rect=(0, legend / fig.get_figheight(), 1, 1))
    else:
        fig.tight_layout()
    return fig


def plot_confusion(cm: torch.Tensor, classes: Sequence[str]) -> Figure:
    """Confusion matrix with each row (true label) normalised to shares; log colour scale."""
    from matplotlib.colors import LogNorm

    if cm.dim() != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(classes):
        raise ValueError(f"expected a square matrix with one row per class ({len(classes)}), "
                         f"got {tuple(cm.shape)}")
    shares = (cm.double() / cm.sum(1, keepdim=True).clamp_min(1)).numpy()
    fig, ax = plt.subplots(figsize=(6, 5))
    im = ax.imshow(np.maximum(shares, 1e-4), cmap="viridis", norm=LogNorm(1e-4, 1))
    ax.set_xticks(range(len(classes)), classes, rotation=45, fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    fig.colorbar(im, ax=ax, label="share of the true label's pixels")
    fig.tight_layout()
    return fig
