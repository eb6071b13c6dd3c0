"""Anomaly detection by reconstruction error: scores, a threshold from normal data, metrics.

The anomaly is the positive class (label 1) everywhere: precision, recall
and F1 are about finding anomalies. The threshold is chosen from the scores
of held-out NORMAL validation data only; test labels never choose anything.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn import metrics as skm
from torch import nn

from .metrics import mse_per_item
from .tables import format_table
from .training import predict


def _as_numpy(values, name: str) -> np.ndarray:
    """A 1-D float array from a tensor or array-like; ValueError if empty or not finite."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 1 or len(a) == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be a non-empty 1-D array of finite numbers, got shape "
                         f"{a.shape}")
    return a


def _as_labels(y, n: int) -> np.ndarray:
    """Anomaly labels as a 0/1 int array of length ``n`` holding both classes."""
    labels = _as_numpy(y, "y_anomaly")
    if len(labels) != n or not set(np.unique(labels)) == {0.0, 1.0}:
        raise ValueError(f"y_anomaly must be {n} labels, 1 = anomaly, 0 = normal, with both "
                         f"present; got {len(labels)} labels with values {np.unique(labels)[:5]}")
    return labels.astype(int)


def reconstruction_scores(model: nn.Module, x: torch.Tensor, *, device: str | None = None) -> torch.Tensor:
    """Anomaly score of each item: its mean squared reconstruction error, shape (N,)."""
    return mse_per_item(x, predict(model, x, device=device))


def threshold_from_normal(normal_val_scores, percentile: float = 95.0) -> float:
    """The ``percentile``-th percentile of the scores of held-out NORMAL validation data.

    It takes only those scores: no labels, no test data. About (100 - percentile)%
    of normal items will score above it (the false-alarm rate we accept).
    """
    scores = _as_numpy(normal_val_scores, "normal_val_scores")
    if not 0.0 < percentile <= 100.0:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    return float(np.percentile(scores, percentile))


def confusion(y_anomaly, scores, threshold: float) -> dict[str, int]:
    """Counts tn, fp, fn, tp when items scoring above ``threshold`` are called anomalies."""
    s = _as_numpy(scores, "scores")
    y = _as_labels(y_anomaly, len(s))
    tn, fp, fn, tp = skm.confusion_matrix(y, (s > threshold).astype(int), labels=[0, 1]).ravel()
    return {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)}


def threshold_metrics(y_anomaly, scores, threshold: float) -> dict[str, float]:
    """Precision, recall, F1 (anomaly = positive) and false-alarm rate at ``threshold``."""
    s = _as_numpy(scores, "scores")
    y = _as_labels(y_anomaly, len(s))
    y_pred = (s > threshold).astype(int)
    counts = confusion(y, s, threshold)
    return {"precision": float(skm.precision_score(y, y_pred, pos_label=1, zero_division=0)),
            "recall": float(skm.recall_score(y, y_pred, pos_label=1, zero_division=0)),
            "f1": float(skm.f1_score(y, y_pred, pos_label=1, zero_division=0)),
            "false_alarm_rate": counts["fp"] / max(counts["fp"] + counts["tn"], 1)}


def ranking_metrics(y_anomaly, scores) -> dict[str, float]:
    """AUROC and AUPRC (average precision) with the anomaly as the positive class."""
    s = _as_numpy(scores, "scores")
    y = _as_labels(y_anomaly, len(s))
    return {"auroc": float(skm.roc_auc_score(y, s)),
            "auprc": float(skm.average_precision_score(y, s, pos_label=1)),
            "anomaly_share": float(y.mean())}


def bootstrap_aurocs(y_anomaly, *scores, n_resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """The AUROC of each set of ``scores`` on ``n_resamples`` bootstrap resamples of the test items.

    Returns (n_resamples, len(scores)). Anomalies and normal items are resampled
    separately (each with replacement, as many as there are), so every resample holds
    both in the test set's proportion; all score sets see the same resamples, so the
    difference of two columns is a *paired* comparison of two detectors.
    """
    y = _as_labels(y_anomaly, len(_as_numpy(scores[0], "scores")) if scores else 0)
    s = [_as_numpy(v, "scores") for v in scores]
    if not s or any(len(v) != len(y) for v in s) or n_resamples < 10:
        raise ValueError(f"need one or more score sets of {len(y)} items and n_resamples >= 10")
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if not len(pos) or not len(neg):
        raise ValueError("the AUROC needs both anomalies and normal items among the test labels")
    rng = np.random.default_rng(seed)
    aurocs = [_WeightedAuroc(y, v) for v in s]
    out = np.empty((n_resamples, len(s)))
    for r in range(n_resamples):
        i = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        times = np.bincount(i, minlength=len(y))  # how often each test item was drawn
        out[r] = [auroc(times) for auroc in aurocs]
    return out


class _WeightedAuroc:
    """The AUROC of one score set on a resample given as how often each item was drawn.

    The same number as ``roc_auc_score(y[i], scores[i])`` (to rounding): the share of
    (anomaly, normal) pairs the scores put in the right order, ties counting half. The
    scores are sorted once; each resample then costs a few passes over the items instead
    of scikit-learn's checks and sort, which took 2-4 ms a call and most of chapter 07's
    intervals (14,000 calls in a full run).
    """

    def __init__(self, y: np.ndarray, scores: np.ndarray):
        self.order = np.argsort(scores, kind="stable")
        ranked = scores[self.order]
        self.starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])  # first item of each tied value
        self.is_anomaly = y[self.order] == 1

    def __call__(self, times: np.ndarray) -> float:
        w = times[self.order].astype(np.float64)
        anomalies = np.add.reduceat(np.where(self.is_anomaly, w, 0.0), self.starts)  # drawn per distinct score
        normals = np.add.reduceat(np.where(self.is_anomaly, 0.0, w), self.starts)
        below = np.cumsum(normals) - normals  # normal items drawn with a lower score
        return float((anomalies * (below + 0.5 * normals)).sum() / (anomalies.sum() * normals.sum()))


def auroc_interval(y_anomaly, scores, *, level: float = 0.95, n_resamples: int = 1000,
                   seed: int = 0) -> tuple[float, float]:
    """A percentile-bootstrap interval for the AUROC (``bootstrap_aurocs``): how much it
    depends on which test items happened to be drawn."""
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(bootstrap_aurocs(y_anomaly, scores, n_resamples=n_resamples, seed=seed)[:, 0],
                           [tail, 100 - tail])
    return float(lo), float(hi)


def evaluate_detector(normal_val_scores, test_scores, y_test_anomaly,
                      percentile: float = 95.0, *, n_resamples: int = 0) -> dict[str, float]:
    """Threshold from normal validation scores, then every metric on the test set.

    With ``n_resamples`` > 0 it adds ``auroc_low`` and ``auroc_high``, the AUROC's 95%
    bootstrap interval (``auroc_interval``).
    """
    threshold = threshold_from_normal(normal_val_scores, percentile)
    row = {"threshold": threshold, **ranking_metrics(y_test_anomaly, test_scores),
           **threshold_metrics(y_test_anomaly, test_scores, threshold)}
    if n_resamples:
        row["auroc_low"], row["auroc_high"] = auroc_interval(y_test_anomaly, test_scores, n_resamples=n_resamples)
    return row


def worst_mistakes(y_anomaly, scores, threshold: float, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``n`` worst false positives (highest-scoring normals) and false negatives."""
    s = _as_numpy(scores, "scores")
    y = _as_labels(y_anomaly, len(s))
    fp = np.flatnonzero((y == 0) & (s > threshold))
    fn = np.flatnonzero((y == 1) & (s <= threshold))
    return fp[np.argsort(-s[fp])][:n], fn[np.argsort(s[fn])][:n]


def leave_one_class_out(x: torch.Tensor, y: torch.Tensor, anomaly_class: int) -> torch.Tensor:
    """Anomaly labels (N,) for a labelled set: 1 where ``y == anomaly_class``, 0 elsewhere."""
    if not isinstance(y, torch.Tensor) or y.dim() != 1 or len(x) != len(y):
        raise ValueError(f"expected items (N, ...) and labels (N,), got {tuple(x.shape)} and "
                         f"{tuple(getattr(y, 'shape', ()))}")
    if not (y == anomaly_class).any():
        raise ValueError(f"anomaly_class {anomaly_class} does not occur in the labels")
    return (y == anomaly_class).long()


def format_results(rows: dict[str, dict[str, float]], title: str = "") -> str:
    """A plain-text table: one row per detector, AUROC (and its interval, where the rows
    have one), AUPRC, precision, recall, F1."""
    if not rows:
        raise ValueError("rows must hold at least one detector's metrics")
    table = [{"detector": name, **m} for name, m in rows.items()]
    columns = [("detector", "detector", "s"), ("auroc", "auroc", ".3f")]
    if any("auroc_low" in m for m in rows.values()):
        for row in table:
            if "auroc_low" in row:
                row["interval"] = f"[{row['auroc_low']:.3f}, {row['auroc_high']:.3f}]"
        columns.append(("interval", "95% interval", "s"))
    columns += [(k, k, ".3f") for k in ("auprc", "precision", "recall", "f1")]
    return format_table(table, columns, title)
