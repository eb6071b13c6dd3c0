"""Datasets as in-memory tensors, with an offline chain.

Each loader looks for the dataset on disk (``cfg.data_dir``), then tries to
download it (with a timeout and a checksum), and, when that fails, says so
once and falls back to data that ships inside installed packages or is
generated, so every notebook still runs offline.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import socket
import sys
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .config import Config


class DownloadError(RuntimeError):
    """A download failed, hung past its timeout, or was refused."""


class ChecksumError(DownloadError):
    """A downloaded file did not match its expected checksum."""


class Images(NamedTuple):
    """Images ``x`` of shape (N, C, H, W) in [0, 1] and integer labels ``y`` (N,)."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class Splits:
    """Train / validation / test splits of one dataset and where they came from."""

    train: Images
    val: Images
    test: Images
    name: str
    source: str
    is_real: bool
    classes: tuple[str, ...]

    def describe(self) -> str:
        """One line: name, source and split sizes."""
        return (f"{self.name} from {self.source}: train {len(self.train)}, "
                f"val {len(self.val)}, test {len(self.test)}, image shape "
                f"{tuple(self.train.x.shape[1:])}")


# --------------------------------------------------------------------------- downloads

def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file (``md5`` or ``sha256``)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _run_with_deadline(fn: Callable[[], None], seconds: float) -> None:
    """Run ``fn`` in a daemon thread; raise DownloadError if it outlives ``seconds``."""
    errors: list[BaseException] = []

    def target():
        try:
            fn()
        except BaseException as e:  # re-raised in the caller's thread
            errors.append(e)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise DownloadError(f"gave up after {seconds:g} s without an answer")
    if errors:
        raise errors[0]


def download(url: str, dest: Path, *, checksum: tuple[str, str] | None = None,
             timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest`` with a total ``timeout`` and an optional checksum.

    Args:
        checksum: ``(algorithm, hexdigest)``, e.g. ``("md5", "f68b...")``; a
            mismatch deletes the file and raises ``ChecksumError``.
    """
    if timeout <= 0:
        raise ValueError(f"timeout must be positive seconds, got {timeout!r}")
    if checksum is not None and checksum[0] not in {"md5", "sha256"}:
        raise ValueError(f"checksum algorithm must be md5 or sha256, got {checksum[0]!r}")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")

    def fetch():
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as f:
            shutil.copyfileobj(response, f)

    try:
        _run_with_deadline(fetch, timeout)
    except DownloadError:
        raise DownloadError(f"download of {url} gave up after {timeout:g} s") from None
    except (OSError, ValueError, socket.timeout) as e:
        part.unlink(missing_ok=True)
        raise DownloadError(f"download of {url} failed: {e}") from e
    if checksum is not None:
        algorithm, expected = checksum
        got = file_digest(part, algorithm)
        if got != expected:
            part.unlink(missing_ok=True)
            raise ChecksumError(f"{url}: expected {algorithm} {expected}, got {got}; file refused")
    part.replace(dest)
    return dest


# --------------------------------------------------------------------------- MNIST family

def _torchvision_class(name: str):
    import torchvision.datasets as tvd

    classes = {"mnist": tvd.MNIST, "fashion-mnist": tvd.FashionMNIST}
    if name not in classes:
        raise ValueError(f"dataset name must be one of {sorted(classes)}, got {name!r}")
    return classes[name]


def fetch_mnist_family(name: str, data_dir: Path, timeout: float = 30.0) -> Path:
    """Download MNIST or Fashion-MNIST into ``data_dir`` (torchvision's layout), checking md5."""
    cls = _torchvision_class(name)
    raw = Path(data_dir) / cls.__name__ / "raw"
    for filename, md5 in cls.resources:
        target = raw / filename.removesuffix(".gz")
        if target.exists():
            continue
        archive = raw / filename
        errors = []
        for mirror in cls.mirrors:
            try:
                download(mirror + filename, archive, checksum=("md5", md5), timeout=timeout)
                break
            except DownloadError as e:
                errors.append(str(e))
        else:
            raise DownloadError(f"could not download {name}: " + "; ".join(errors))
        with gzip.open(archive, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
        archive.unlink()
    return raw


def _read_mnist_family(name: str, data_dir: Path) -> tuple[Images, Images]:
    """Read a torchvision-layout dataset from disk; RuntimeError if it is not there."""
    cls = _torchvision_class(name)
    parts = []
    for train in (True, False):
        ds = cls(root=str(data_dir), train=train, download=False)
        x = ds.data.unsqueeze(1).float().div_(255.0)  # (N, 1, 28, 28)
        parts.append(Images(x, ds.targets.long().clone()))
    return parts[0], parts[1]


_ANNOUNCED: set[str] = set()


def announce_once(key: str, message: str) -> None:
    """Print ``message`` to stderr the first time ``key`` is seen in this process."""
    if key not in _ANNOUNCED:
        _ANNOUNCED.add(key)
        print(message, file=sys.stderr)


def sklearn_digits_28() -> Images:
    """scikit-learn's 1,797 bundled 8x8 digits, resized to MNIST's 28x28 layout."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (N, 1, 8, 8)
    x = F.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False)  # (N, 1, 20, 20)
    x = F.pad(x, (4, 4, 4, 4)).clamp_(0.0, 1.0)  # (N, 1, 28, 28), digit centred like MNIST
    return Images(x, torch.tensor(bunch.target, dtype=torch.long))


SHAPE_CLASSES = ("rectangle", "ellipse", "triangle", "cross", "ring")


def generated_shapes(n: int, size: int = 28, seed: int = 0) -> Images:
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
    return Images(torch.from_numpy(x), torch.from_numpy(y).long())


def _split(pool: Images, test: Images, cfg: Config) -> tuple[Images, Images, Images]:
    """Carve train and validation from ``pool`` (seeded); cap every split to cfg's sizes."""
    g = torch.Generator().manual_seed(cfg.seed)
    perm = torch.randperm(len(pool), generator=g)
    n_val = min(cfg.n_val, len(pool) // 6)
    val_idx, train_idx = perm[:n_val], perm[n_val:n_val + cfg.n_train]
    test_idx = torch.randperm(len(test), generator=g)[:cfg.n_test]
    take = lambda d, i: Images(d.x[i].contiguous(), d.y[i].contiguous())  # noqa: E731
    return take(pool, train_idx), take(pool, val_idx), take(test, test_idx)


def _fallback_split(images: Images, test_share: float, seed: int) -> tuple[Images, Images]:
    g = torch.Generator().manual_seed(seed + 1)
    perm = torch.randperm(len(images), generator=g)
    n_test = int(round(test_share * len(images)))
    pool, test = perm[n_test:], perm[:n_test]
    return Images(images.x[pool], images.y[pool]), Images(images.x[test], images.y[test])


def _try_download(name: str, cfg: Config) -> bool:
    if cfg.offline:
        return False
    try:
        fetch_mnist_family(name, cfg.data_dir, timeout=cfg.download_timeout)
        return True
    except (DownloadError, OSError) as e:
        announce_once(f"download-{name}", f"[course_lib] could not download {name}: {e}")
        return False


def load_mnist_family(cfg: Config, name: str = "mnist") -> Splits:
    """MNIST or Fashion-MNIST as train/val/test tensors: disk, then download, then fallback.

    The fallbacks: scikit-learn's bundled digits for MNIST, generated shapes
    for Fashion-MNIST. The test split is never used to choose anything.
    """
    cls = _torchvision_class(name)
    try:
        pool, test = _read_mnist_family(name, cfg.data_dir)
        source = f"{cfg.data_dir / cls.__name__}"
    except RuntimeError:
        if _try_download(name, cfg):
            pool, test = _read_mnist_family(name, cfg.data_dir)
            source = f"{cfg.data_dir / cls.__name__} (downloaded)"
        else:
            return _fallback(name, cfg)
    train, val, test = _split(pool, test, cfg)
    classes = tuple(getattr(cls, "classes", [str(i) for i in range(10)]))
    return Splits(train, val, test, name=name, source=source, is_real=True, classes=classes)


def _fallback(name: str, cfg: Config) -> Splits:
    if name == "mnist":
        images, what = sklearn_digits_28(), "scikit-learn's 1,797 bundled 8x8 digits resized to 28x28"
        classes = tuple(str(i) for i in range(10))
    else:
        images, what = generated_shapes(3000, seed=cfg.seed), "3,000 generated shapes"
        classes = SHAPE_CLASSES
    announce_once(f"fallback-{name}", (
        f"[course_lib] {name} is not in {cfg.data_dir} and could not be downloaded: "
        f"using {what} instead. Figures will differ from the real dataset's; run "
        f"`aecourse fetch-data` online to get the real one."))
    pool, test = _fallback_split(images, test_share=0.2, seed=cfg.seed)
    train, val, test = _split(pool, test, cfg)
    return Splits(train, val, test, name=name, source=f"offline fallback: {what}",
                  is_real=False, classes=classes)


def dataset_status(data_dir: Path) -> dict[str, bool]:
    """Which datasets are on disk in ``data_dir``."""
    status = {}
    for name in ("mnist", "fashion-mnist"):
        cls = _torchvision_class(name)
        raw = Path(data_dir) / cls.__name__ / "raw"
        status[name] = all((raw / f.removesuffix(".gz")).exists() for f, _ in cls.resources)
    return status
