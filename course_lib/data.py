"""The course's datasets as in-memory tensors, each from one call: disk, then download, then an offline fallback.

``load_mnist_family(cfg, "mnist")`` and ``load_ecg5000(cfg)`` return ``Splits`` of
``Examples``. Where the files live and how they are read: ``mnist``, ``ecg``; the
download-or-fallback routine: ``downloads``; the stand-ins: ``fallbacks``; photos: ``photos``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from . import ecg, fallbacks, mnist
from .config import Config
from .downloads import announce_once, load_or_fallback
from .examples import Examples, Splits

__all__ = ["Examples", "Splits", "dataset_status", "fetch_dataset", "load_ecg5000", "load_mnist_family",
           "split_normal_beats"]


def _split(pool: Examples, test: Examples, cfg: Config) -> tuple[Examples, Examples, Examples]:
    """Carve train and validation from ``pool`` (seeded); cap every split to cfg's sizes."""
    g = torch.Generator().manual_seed(cfg.seed)
    perm = torch.randperm(len(pool), generator=g)
    n_val = min(cfg.n_val, len(pool) // 6)
    val_idx, train_idx = perm[:n_val], perm[n_val:n_val + cfg.n_train]
    test_idx = torch.randperm(len(test), generator=g)[:cfg.n_test]
    return pool.take(train_idx), pool.take(val_idx), test.take(test_idx)


def _fallback_split(images: Examples, test_share: float, seed: int) -> tuple[Examples, Examples]:
    g = torch.Generator().manual_seed(seed + 1)
    perm = torch.randperm(len(images), generator=g)
    n_test = int(round(test_share * len(images)))
    pool, test = perm[n_test:], perm[:n_test]
    return Examples(images.x[pool], images.y[pool]), Examples(images.x[test], images.y[test])


def _fallback_message(name: str, cfg: Config, what: str, why: str) -> None:
    reason = ("a file of it is damaged" if why == "damaged"
              else f"it is not in {cfg.data_dir} and could not be downloaded")
    announce_once(f"fallback-{name}", (
        f"[course_lib] {name}: {reason}; using {what} instead. Figures will differ from the "
        f"real dataset's; run `aecourse fetch-data` online to get the real one."))


def load_mnist_family(cfg: Config, name: str = "mnist") -> Splits:
    """MNIST or Fashion-MNIST as train/val/test tensors: disk, then download, then fallback.

    The fallbacks: scikit-learn's bundled digits for MNIST, generated shapes
    for Fashion-MNIST. The test split is never used to choose anything.
    """
    info = mnist.mnist_family(name)
    parts, origin = load_or_fallback(
        name, read=lambda: mnist.read_mnist_family(name, cfg.data_dir),
        fetch=lambda: mnist.fetch_mnist_family(name, cfg.data_dir, timeout=cfg.download_timeout),
        offline=cfg.offline)
    if parts is None:
        return _mnist_fallback(name, cfg, origin)
    source = f"{cfg.data_dir / info.folder}" + (" (downloaded)" if origin == "downloaded" else "")
    train, val, test = _split(*parts, cfg)
    return Splits(train, val, test, name=name, source=source, is_real=True, classes=info.classes)


def _mnist_fallback(name: str, cfg: Config, why: str) -> Splits:
    if name == "mnist":
        images, what = fallbacks.sklearn_digits_28(), "scikit-learn's 1,797 bundled 8x8 digits resized to 28x28"
        classes = tuple(str(i) for i in range(10))
    else:
        images, what = fallbacks.generated_shapes(3000, seed=cfg.seed), "3,000 generated shapes"
        classes = fallbacks.SHAPE_CLASSES
    _fallback_message(name, cfg, what, why)
    pool, test = _fallback_split(images, test_share=0.2, seed=cfg.seed)
    train, val, test = _split(pool, test, cfg)
    return Splits(train, val, test, name=name, source=f"offline fallback: {what}",
                  is_real=False, classes=classes)


def split_normal_beats(train_file: Examples, test_file: Examples, cfg: Config,
                       val_share: float = 0.2) -> tuple[Examples, Examples, Examples, Examples]:
    """Train/val from the TRAIN file's normal beats (seeded); the TEST file capped to cfg.n_test."""
    if not 0.0 < val_share < 1.0:
        raise ValueError(f"val_share must be between 0 and 1, got {val_share}")
    normal = (train_file.y == 1).nonzero().squeeze(1)
    if len(normal) < 4:
        raise ValueError(f"need at least 4 normal beats in the TRAIN file, got {len(normal)}")
    g = torch.Generator().manual_seed(cfg.seed)
    normal = normal[torch.randperm(len(normal), generator=g)]
    n_val = max(2, int(round(val_share * len(normal))))
    val_idx, train_idx = normal[:n_val], normal[n_val:n_val + cfg.n_train]
    test_idx = torch.randperm(len(test_file), generator=g)[:cfg.n_test].sort().values
    anomalous = (train_file.y != 1).nonzero().squeeze(1)
    return (train_file.take(train_idx), train_file.take(val_idx), test_file.take(test_idx),
            train_file.take(anomalous))


def load_ecg5000(cfg: Config) -> Splits:
    """ECG5000 heartbeats: disk (as is, unchecked), then download (checked), then generated beats."""
    folder = cfg.data_dir / "ECG5000"
    files, origin = load_or_fallback(
        "ecg5000", read=lambda: ecg.read_ecg5000(cfg.data_dir),
        fetch=lambda: ecg.fetch_ecg5000(cfg.data_dir, timeout=cfg.download_timeout, url=ecg.ECG5000_URL),
        offline=cfg.offline)
    if files is None:
        what = "generated ECG-like beats with injected, labelled anomalies"
        _fallback_message("ecg5000", cfg, what, origin)
        files = fallbacks.generated_ecg(500, seed=cfg.seed), fallbacks.generated_ecg(1000, seed=cfg.seed + 1)
        source, is_real, classes = f"offline fallback: {what}", False, ecg.GENERATED_ECG_CLASSES
    else:
        source = str(folder) + (" (downloaded)" if origin == "downloaded" else "")
        is_real, classes = True, ecg.ECG_CLASSES
    train, val, test, anomalous = split_normal_beats(*files, cfg)
    return Splits(train, val, test, name="ecg5000", source=source, is_real=is_real, classes=classes,
                  train_anomalous=anomalous)


def dataset_status(data_dir: Path) -> dict[str, bool]:
    """Which datasets are on disk in ``data_dir``."""
    status = {}
    for name in ("mnist", "fashion-mnist"):
        info = mnist.mnist_family(name)
        raw = Path(data_dir) / info.folder / "raw"
        status[name] = all((raw / f.removesuffix(".gz")).exists() for f, _ in info.resources)
    status["ecg5000"] = all((Path(data_dir) / "ECG5000" / f).exists() for f in ecg.ECG5000_FILES)
    return status


def fetch_dataset(name: str, data_dir: Path, timeout: float = 30.0) -> Path:
    """Download one of ``dataset_status``'s datasets into ``data_dir``."""
    if name == "ecg5000":
        return ecg.fetch_ecg5000(data_dir, timeout=timeout, url=ecg.ECG5000_URL,
                                 train_sha256=ecg.ECG5000_TRAIN_SHA256)
    return mnist.fetch_mnist_family(name, data_dir, timeout=timeout)
