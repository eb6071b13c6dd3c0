"""Quality measures: scikit-image's where it has them (PSNR and SSIM computed for a whole batch
at once, as scikit-image computes them per image; the tests compare the two)."""

from __future__ import annotations

import math

import numpy as np
import torch


def _check_same(x: torch.Tensor, x_hat: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or not isinstance(x_hat, torch.Tensor):
        raise ValueError(f"expected two tensors, got {type(x).__name__} and {type(x_hat).__name__}")
    if x.shape != x_hat.shape or x.dim() < 2:
        raise ValueError(f"expected two batches of the same shape (B, ...), got "
                         f"{tuple(x.shape)} and {tuple(x_hat.shape)}")


def _min_max(t: torch.Tensor) -> tuple[float, float]:
    """The smallest and largest value in one pass; NaN in ``t`` gives NaN for both."""
    lo, hi = torch.aminmax(t.detach() if t.dtype != torch.bool else t.detach().to(torch.uint8))
    return lo.item(), hi.item()


def _check_images_in_range(x: torch.Tensor, x_hat: torch.Tensor, data_range: float) -> None:
    """Refuse what would give a quietly wrong PSNR or SSIM: no pixels, NaN or infinity, a reference outside its range.

    ``x`` (the reference) must lie in [0, data_range]; ``x_hat`` may stray outside it (a noisy
    input or an unclipped output does), but must be on the same scale: both float or both integer.
    """
    if not isinstance(data_range, (int, float)) or isinstance(data_range, bool) or not 0 < data_range < math.inf:
        raise ValueError(f"data_range must be a positive, finite number (1.0 for images in [0, 1], 255 for "
                         f"bytes), got {data_range!r}")
    if x.numel() == 0:
        raise ValueError(f"x and x_hat are empty (shape {tuple(x.shape)}): there are no pixels to compare")
    if x.is_floating_point() != x_hat.is_floating_point():
        raise ValueError(f"x and x_hat must be on one scale, got dtypes {x.dtype} and {x_hat.dtype}: convert "
                         f"both to float in [0, 1] (bytes / 255)")
    for name, t in (("x", x), ("x_hat", x_hat)):
        if t.is_floating_point() and not all(map(math.isfinite, _min_max(t))):  # NaN and inf reach min or max
            bad = int((~torch.isfinite(t)).sum())
            raise ValueError(f"{name} holds {bad} NaN or infinite value(s) of {t.numel()}: the score would not "
                             f"be a number; find where they come from (a diverged model, a division by zero)")
    lo, hi = _min_max(x)
    if lo < 0 or hi > data_range:
        full = 255 if x.dtype == torch.uint8 else hi
        raise ValueError(f"x holds values from {lo:g} to {hi:g}, outside [0, data_range] = [0, {data_range:g}]: "
                         f"scale the images to [0, 1] (e.g. x.float() / 255) or pass data_range={full:g}")


def mse_per_item(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each item in a batch: shape (B,)."""
    _check_same(x, x_hat)
    return (x.float() - x_hat.float()).pow(2).flatten(1).mean(1)


def mse(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """Mean squared error over the whole batch."""
    return mse_per_item(x, x_hat).mean().item()


def psnr(x: torch.Tensor, x_hat: torch.Tensor, data_range: float = 1.0) -> float:
    """PSNR in dB of a batch of images in [0, data_range]: 10 log10(data_range^2 / MSE), where
    the squared error is pooled over every pixel of the batch (in float64).

    Pooled, not averaged per image: a per-image PSNR is infinite where an image is rebuilt
    exactly, and a mean of per-image values lets a few easy images outweigh the hard ones
    (``psnr_in_mask`` does the same inside holes). For one image it is scikit-image's
    ``peak_signal_noise_ratio``; a perfect batch gives ``inf``. Refuses (ValueError) empty
    batches, NaN or infinite values, and a reference ``x`` outside [0, data_range].
    """
    _check_same(x, x_hat)
    _check_images_in_range(x, x_hat, data_range)
    pooled = (x.detach().cpu().double() - x_hat.detach().cpu().double()).pow(2).mean().item()
    return float("inf") if pooled == 0 else float(10 * np.log10(data_range ** 2 / pooled))


def _box_mean(t: torch.Tensor, win: int) -> torch.Tensor:
    """Mean of every ``win`` x ``win`` window that fits inside the last two dimensions."""
    pad = torch.nn.functional.pad
    c = pad(t.cumsum(-1), (1, 0))
    t = c[..., win:] - c[..., :-win]
    c = pad(t.cumsum(-2), (0, 0, 1, 0))
    return (c[..., win:, :] - c[..., :-win, :]) / (win * win)


def ssim(x: torch.Tensor, x_hat: torch.Tensor, data_range: float = 1.0) -> float:
    """Mean SSIM over a batch of images (B, C, H, W).

    scikit-image's ``structural_similarity`` with its defaults (7x7 uniform window, sample
    covariances, K1 = 0.01, K2 = 0.03, the 3-pixel border left out of the mean, channels
    averaged), computed for the whole batch at once in float64: inside the border every
    7x7 window lies within the image, so the mean of each window that fits (running sums
    along each axis, faster here than ``avg_pool2d`` in float64) gives exactly the local
    means scikit-image averages. Tests check it against scikit-image image by image.
    """
    _check_same(x, x_hat)
    if x.dim() != 4 or min(x.shape[-2:]) < 7:
        raise ValueError(f"expected images (B, C, H, W) with H, W >= 7, got {tuple(x.shape)}")
    _check_images_in_range(x, x_hat, data_range)
    win = 7
    a = x.detach().cpu().double().flatten(0, 1)  # (B*C, H, W)
    b = x_hat.detach().cpu().double().flatten(0, 1)
    ux, uy, uxx, uyy, uxy = _box_mean(torch.stack([a, b, a * a, b * b, a * b]), win)
    cov_norm = win * win / (win * win - 1)  # sample covariance, as scikit-image by default
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    per_image = s.reshape(len(x), -1).mean(1)  # every channel has as many pixels: mean of means
    return per_image.mean().item()


# --------------------------------------------------------------------------- inside a mask (chapter 05)

def _check_mask(x: torch.Tensor, x_hat: torch.Tensor, mask: torch.Tensor) -> None:
    _check_same(x, x_hat)
    if x.dim() != 4 or not isinstance(mask, torch.Tensor) or mask.shape != (len(x), 1, *x.shape[2:]):
        raise ValueError(f"expected images (B, C, H, W) and a mask (B, 1, H, W), got "
                         f"{tuple(x.shape)} and {tuple(getattr(mask, 'shape', ()))}")
    if (mask.flatten(1).sum(1) == 0).any():
        raise ValueError("every mask needs at least one masked pixel")


def mse_in_mask(x: torch.Tensor, x_hat: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each image over the pixels where ``mask`` is 1: shape (B,)."""
    _check_mask(x, x_hat, mask)
    m = mask.float().expand_as(x)
    return ((x.float() - x_hat.float()).pow(2) * m).flatten(1).sum(1) / m.flatten(1).sum(1)


def psnr_in_mask(x: torch.Tensor, x_hat: torch.Tensor, mask: torch.Tensor) -> float:
    """PSNR in dB (images in [0, 1]) of the squared error pooled over every masked pixel of the batch.

    Pooled, not averaged per image: a hole that happens to lie on blank background is
    filled exactly by a smooth method, and its per-image PSNR is infinite (or a cap);
    averaging such values lets a few easy holes outweigh every hard one.
    """
    _check_mask(x, x_hat, mask)
    _check_images_in_range(x, x_hat, 1.0)
    m = mask.float().expand_as(x)
    pooled = ((x.double() - x_hat.double()).pow(2) * m).sum() / m.sum().clamp_min(1)
    return _psnr_of_pooled(pooled)


def _psnr_of_pooled(pooled: torch.Tensor) -> float:
    """PSNR in dB (images in [0, 1]) of a pooled mean squared error."""
    return float(10 * torch.log10(1.0 / pooled.clamp_min(1e-20)))


def psnr_in_mask_interval(x: torch.Tensor, x_hat: torch.Tensor, mask: torch.Tensor, *,
                          against: torch.Tensor | None = None, n_resamples: int = 1000, level: float = 0.95,
                          seed: int = 0) -> tuple[float, float]:
    """A bootstrap interval over the images for ``psnr_in_mask``, pooled within each resample.

    With ``against`` (another fill of the same holes) it is the interval of the lead
    ``psnr_in_mask(x, x_hat) - psnr_in_mask(x, against)``, both scored on the same resampled images.
    """
    fills = [x_hat] if against is None else [x_hat, against]
    for fill in fills:
        _check_mask(x, fill, mask)
        _check_images_in_range(x, fill, 1.0)
    # each image's squared error and hole size, summed once: a resample pools them as psnr_in_mask pools pixels
    m = mask.double().expand_as(x)
    counts = m.flatten(1).sum(1)
    errors = [((x.double() - fill.double()).pow(2) * m).flatten(1).sum(1) for fill in fills]

    def pooled_psnr(error, i):
        return _psnr_of_pooled(error[i].sum() / counts[i].sum().clamp_min(1))

    def statistic(i):
        value = pooled_psnr(errors[0], i)
        return value if against is None else value - pooled_psnr(errors[1], i)

    return bootstrap_interval(statistic, len(x), n_resamples=n_resamples, level=level, seed=seed)


def psnr_in_mask_per_image(x: torch.Tensor, x_hat: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """PSNR in dB inside each image's hole, shape (B,); ``inf`` where a fill is exact. Summarise with the median."""
    return 10 * torch.log10(1.0 / mse_in_mask(x, x_hat, mask).double())


# --------------------------------------------------------------------------- segmentation (chapter 06)

def confusion_matrix(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Pixel counts (num_classes, num_classes): row = true label, column = predicted label."""
    if not isinstance(y_true, torch.Tensor) or not isinstance(y_pred, torch.Tensor) \
            or y_true.shape != y_pred.shape or y_true.is_floating_point() or y_pred.is_floating_point():
        raise ValueError(f"expected two integer label tensors of the same shape, got "
                         f"{tuple(getattr(y_true, 'shape', ()))} and {tuple(getattr(y_pred, 'shape', ()))}")
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.numel() and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"{name} must hold labels in 0..{num_classes - 1}, got {y.min()}..{y.max()}")
    flat = y_true.flatten().long() * num_classes + y_pred.flatten().long()
    return torch.bincount(flat, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def _check_cm(cm: torch.Tensor) -> torch.Tensor:
    if not isinstance(cm, torch.Tensor) or cm.dim() != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"expected a square confusion matrix, got {tuple(getattr(cm, 'shape', ()))}")
    return cm.double()


def iou_per_class(cm: torch.Tensor) -> torch.Tensor:
    """Intersection over union of each class, TP / (TP + FP + FN); NaN for a class never seen."""
    cm = _check_cm(cm)
    tp = cm.diag()
    union = cm.sum(0) + cm.sum(1) - tp
    return torch.where(union > 0, tp / union.clamp_min(1), torch.nan)


def dice_per_class(cm: torch.Tensor) -> torch.Tensor:
    """Dice (F1) of each class, 2 TP / (2 TP + FP + FN); NaN for a class never seen."""
    cm = _check_cm(cm)
    tp = cm.diag()
    total = cm.sum(0) + cm.sum(1)
    return torch.where(total > 0, 2 * tp / total.clamp_min(1), torch.nan)


def pixel_accuracy(cm: torch.Tensor) -> float:
    """Share of pixels whose predicted label is right."""
    cm = _check_cm(cm)
    return (cm.diag().sum() / cm.sum().clamp_min(1)).item()


def segmentation_scores(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int,
                        ignore: tuple[int, ...] = (0,)) -> dict:
    """IoU and Dice per class, their means over the classes not in ``ignore``, and pixel accuracy."""
    if isinstance(y_true, torch.Tensor) and y_true.numel() == 0:
        raise ValueError(f"y_true and y_pred are empty (shape {tuple(y_true.shape)}): there are no pixels to score")
    cm = confusion_matrix(y_true, y_pred, num_classes)
    iou, dice = iou_per_class(cm), dice_per_class(cm)
    keep = [c for c in range(num_classes) if c not in ignore]
    if iou[keep].isnan().all():
        raise ValueError(f"no class outside ignore={tuple(ignore)} occurs in y_true or y_pred: their mean IoU "
                         f"and Dice are undefined; score labels that hold at least one such class")
    return {"confusion": cm, "iou": iou, "dice": dice, "mean_iou": iou[keep].nanmean().item(),
            "mean_dice": dice[keep].nanmean().item(), "pixel_accuracy": pixel_accuracy(cm)}


def mean_iou_interval(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int, *,
                      ignore: tuple[int, ...] = (0,), n_resamples: int = 1000, level: float = 0.95,
                      seed: int = 0) -> tuple[float, float]:
    """A bootstrap interval for ``segmentation_scores``' mean IoU, over the scenes of (B, H, W) labels.

    Each resample draws B scenes with replacement and pools their pixels into one
    confusion matrix before the IoU is taken, exactly as the figure itself is computed.
    """
    if y_true.dim() != 3 or y_true.shape != y_pred.shape:
        raise ValueError(f"expected two (B, H, W) label tensors, got {tuple(y_true.shape)} and {tuple(y_pred.shape)}")
    per_scene = torch.stack([confusion_matrix(t, p, num_classes) for t, p in zip(y_true, y_pred, strict=True)])
    keep = [c for c in range(num_classes) if c not in ignore]
    return bootstrap_interval(lambda i: iou_per_class(per_scene[i].sum(0))[keep].nanmean(), len(per_scene),
                              n_resamples=n_resamples, level=level, seed=seed)


def _check_labels(y: torch.Tensor, name: str) -> None:
    if not isinstance(y, torch.Tensor) or y.dim() != 3 or y.is_floating_point() or y.dtype == torch.bool:
        raise ValueError(f"{name}: expected integer labels (B, H, W), got "
                         f"{type(y).__name__} {tuple(getattr(y, 'shape', ()))} {getattr(y, 'dtype', '')}")


def boundaries(y: torch.Tensor) -> torch.Tensor:
    """The label map's borders as lines one pixel thick, (B, H, W) bool.

    A pixel is on a border when its right or lower neighbour has another label: one side
    of each border only, so a two-pixel stroke gives two thin outlines, not a band that
    holds the whole stroke.
    """
    _check_labels(y, "boundaries")
    edge = torch.zeros_like(y, dtype=torch.bool)
    edge[:, :-1, :] |= y[:, 1:, :] != y[:, :-1, :]
    edge[:, :, :-1] |= y[:, :, 1:] != y[:, :, :-1]
    return edge


def _near(edge: torch.Tensor, tolerance: int) -> torch.Tensor:
    """Pixels within ``tolerance`` (in both directions, a square window) of an ``edge`` pixel."""
    window = 2 * tolerance + 1
    return torch.nn.functional.max_pool2d(edge[:, None].float(), window, stride=1, padding=tolerance)[:, 0] > 0


def boundary_counts(y_true: torch.Tensor, y_pred: torch.Tensor, tolerance: int = 1) -> torch.Tensor:
    """Per scene: predicted border pixels near a true border, all predicted ones, true ones near a
    predicted border, all true ones; shape (B, 4). ``boundary_f_score`` pools them."""
    _check_labels(y_true, "y_true")
    _check_labels(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {tuple(y_true.shape)} and "
                         f"{tuple(y_pred.shape)}")
    if not isinstance(tolerance, int) or tolerance < 0:
        raise ValueError(f"tolerance must be a whole number of pixels >= 0, got {tolerance!r}")
    true_edge, pred_edge = boundaries(y_true), boundaries(y_pred)
    hit_pred = pred_edge & _near(true_edge, tolerance)
    hit_true = true_edge & _near(pred_edge, tolerance)
    return torch.stack([t.flatten(1).sum(1) for t in (hit_pred, pred_edge, hit_true, true_edge)], 1)


def _boundary_f(counts: torch.Tensor) -> dict[str, float]:
    hit_pred, n_pred, hit_true, n_true = counts.sum(0).double().tolist()
    precision = hit_pred / n_pred if n_pred else float("nan")
    recall = hit_true / n_true if n_true else float("nan")
    f = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f": f}


def boundary_f_score(y_true: torch.Tensor, y_pred: torch.Tensor, tolerance: int = 1) -> dict[str, float]:
    """The boundary F-score of a segmentation (Csurka et al., 2013), pooled over the scenes.

    Precision: the share of predicted border pixels within ``tolerance`` pixels of a true
    border; recall: the share of true border pixels within ``tolerance`` of a predicted one;
    F is their harmonic mean. It scores where the borders are drawn, not the ink: a mask
    that fills a stroke's whole width gets the interior right and still scores well only if
    its outline follows the stroke's to within ``tolerance``.
    """
    counts = boundary_counts(y_true, y_pred, tolerance)
    if counts[:, 3].sum() == 0:
        raise ValueError("boundary_f_score: the true labels have no border at all (one label everywhere)")
    return _boundary_f(counts)


def boundary_f_interval(y_true: torch.Tensor, y_pred: torch.Tensor, tolerance: int = 1, *,
                        n_resamples: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """A bootstrap interval over the scenes for ``boundary_f_score``'s F, pooled within each resample."""
    counts = boundary_counts(y_true, y_pred, tolerance)
    return bootstrap_interval(lambda i: _boundary_f(counts[i])["f"], len(counts), n_resamples=n_resamples,
                              level=level, seed=seed)


# --------------------------------------------------------------------------- what a code is worth (chapter 02)

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


def linear_probe_correct(z_train: torch.Tensor, y_train: torch.Tensor, z_test: torch.Tensor,
                         y_test: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Whether a linear classifier (scikit-learn's ridge classifier on standardised codes), fitted on the
    training codes, labels each test code right: (N,) bool. Its mean is ``linear_probe_accuracy``;
    ``mean_interval`` of it gives the accuracy's bootstrap interval over the test items."""
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
    return torch.from_numpy(probe.predict(z_test.double().numpy()) == y_test.numpy())


def linear_probe_accuracy(z_train: torch.Tensor, y_train: torch.Tensor, z_test: torch.Tensor,
                          y_test: torch.Tensor, alpha: float = 1.0) -> float:
    """Test accuracy of a linear classifier (scikit-learn's ridge classifier) on standardised codes."""
    return linear_probe_correct(z_train, y_train, z_test, y_test, alpha).double().mean().item()


def neighbour_label_share(z: torch.Tensor, y: torch.Tensor, k: int = 10) -> torch.Tensor:
    """For each item, the share of its ``k`` nearest other items (Euclidean, in ``z``) that share its label: (N,).

    ``z`` is anything with one row per item: pixels (N, C, H, W) or codes (N, latent_dim).
    Its mean says how well distances in that space group like with like.
    """
    if not isinstance(z, torch.Tensor) or not isinstance(y, torch.Tensor) or y.dim() != 1 or len(z) != len(y):
        raise ValueError(f"expected items (N, ...) and labels (N,), got {tuple(getattr(z, 'shape', ()))} and "
                         f"{tuple(getattr(y, 'shape', ()))}")
    if not isinstance(k, int) or not 1 <= k < len(z):
        raise ValueError(f"k must be an int from 1 to N - 1 = {len(z) - 1}, got {k!r}")
    flat = z.flatten(1).double()
    d = torch.cdist(flat, flat)
    d.fill_diagonal_(float("inf"))                      # an item is not its own neighbour
    nearest = d.topk(k, largest=False).indices          # (N, k)
    return (y[nearest] == y[:, None]).double().mean(1)


# --------------------------------------------------------------------------- uncertainty

def mean_interval(values: torch.Tensor, *, n_resamples: int = 1000, level: float = 0.95,
                  seed: int = 0) -> tuple[float, tuple[float, float]]:
    """The mean of per-item ``values`` (any shape; booleans give a share) and its bootstrap interval over the items.

    Computed in float64, so a share is the exact fraction: 9,325 right of 10,000 is 0.9325, which
    prints as 0.932 like any other count divided in Python (float32 would hold 0.93250000476 and print 0.933).
    """
    if not isinstance(values, torch.Tensor) or values.numel() < 2:
        raise ValueError(f"expected a tensor of at least 2 values, got {type(values).__name__}")
    flat = values.flatten().double()
    ci = bootstrap_interval(lambda i: flat[i].mean(), len(flat), n_resamples=n_resamples, level=level, seed=seed)
    return flat.mean().item(), ci


def bootstrap_interval(statistic, n_items: int, *, n_resamples: int = 1000, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float]:
    """A percentile-bootstrap interval: ``statistic(index)`` recomputed on resampled test items.

    ``statistic`` takes a LongTensor of item indices (drawn with replacement, as many as
    there are items) and returns a number, e.g. ``lambda i: mse(x[i], x_hat[i])``; the
    interval is its middle ``level`` share over ``n_resamples`` resamples. It says how much
    the figure depends on which test items happened to be drawn, not on training.
    """
    if n_items < 2 or n_resamples < 10 or not 0 < level < 1:
        raise ValueError(f"need n_items >= 2, n_resamples >= 10 and 0 < level < 1, got "
                         f"{n_items}, {n_resamples} and {level}")
    g = torch.Generator().manual_seed(seed)
    values = np.array([float(statistic(torch.randint(n_items, (n_items,), generator=g)))
                       for _ in range(n_resamples)])
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)
