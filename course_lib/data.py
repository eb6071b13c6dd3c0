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
import sys
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

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
    except (TimeoutError, OSError, ValueError) as e:
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

@dataclass(frozen=True)
class MnistFamily:
    """Where an MNIST-style dataset lives: the same folder, files and md5 sums torchvision uses."""

    folder: str
    mirrors: tuple[str, ...]
    resources: tuple[tuple[str, str], ...]
    classes: tuple[str, ...]


MNIST_FAMILY = {
    "mnist": MnistFamily(
        "MNIST", ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        (("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
         ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
         ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
         ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")),
        ("0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
         "8 - eight", "9 - nine")),
    "fashion-mnist": MnistFamily(
        "FashionMNIST", ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        (("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
         ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
         ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
         ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")),
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
         "Ankle boot")),
}


def mnist_family(name: str) -> MnistFamily:
    """The folder, files and mirrors of ``"mnist"`` or ``"fashion-mnist"``.

    The course reads these files itself (the IDX format is a short header and raw
    bytes) instead of through ``torchvision.datasets``: importing torchvision costs
    several seconds per notebook, and the layout on disk stays torchvision's.
    """
    if name not in MNIST_FAMILY:
        raise ValueError(f"dataset name must be one of {sorted(MNIST_FAMILY)}, got {name!r}")
    return MNIST_FAMILY[name]


def read_idx(path: Path) -> torch.Tensor:
    """Read one uncompressed IDX file (MNIST's format) of unsigned bytes into a uint8 tensor."""
    raw = Path(path).read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    count = int(np.prod(shape)) if shape else 0
    if len(raw) != offset + count:
        raise ValueError(f"{path}: header says {shape} ({count} bytes), file has {len(raw) - offset}")
    return torch.from_numpy(np.frombuffer(raw, dtype=np.uint8, offset=offset).copy()).reshape(shape)


def fetch_mnist_family(name: str, data_dir: Path, timeout: float = 30.0) -> Path:
    """Download MNIST or Fashion-MNIST into ``data_dir`` (torchvision's layout), checking md5."""
    info = mnist_family(name)
    raw = Path(data_dir) / info.folder / "raw"
    for filename, md5 in info.resources:
        target = raw / filename.removesuffix(".gz")
        if target.exists():
            continue
        archive = raw / filename
        errors = []
        for mirror in info.mirrors:
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
    info = mnist_family(name)
    raw = Path(data_dir) / info.folder / "raw"
    files = [raw / f.removesuffix(".gz") for f, _ in info.resources]
    if not all(f.exists() for f in files):
        raise RuntimeError(f"{name} not found in {raw}")
    parts = []
    for images, labels in (files[:2], files[2:]):
        x, y = read_idx(images), read_idx(labels)
        if x.dim() != 3 or y.shape != (len(x),):
            raise RuntimeError(f"{images} and {labels} do not match: {tuple(x.shape)} and {tuple(y.shape)}")
        parts.append(Images(x.unsqueeze(1).float().div_(255.0), y.long()))  # (N, 1, 28, 28)
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
    info = mnist_family(name)
    try:
        pool, test = _read_mnist_family(name, cfg.data_dir)
        source = f"{cfg.data_dir / info.folder}"
    except RuntimeError:
        if _try_download(name, cfg):
            pool, test = _read_mnist_family(name, cfg.data_dir)
            source = f"{cfg.data_dir / info.folder} (downloaded)"
        else:
            return _fallback(name, cfg)
    train, val, test = _split(pool, test, cfg)
    return Splits(train, val, test, name=name, source=source, is_real=True, classes=info.classes)


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
        info = mnist_family(name)
        raw = Path(data_dir) / info.folder / "raw"
        status[name] = all((raw / f.removesuffix(".gz")).exists() for f, _ in info.resources)
    status["ecg5000"] = all((Path(data_dir) / "ECG5000" / f).exists() for f in ECG5000_FILES)
    return status


# --------------------------------------------------------------------------- ECG5000

ECG5000_URL = "https://www.timeseriesclassification.com/aeon-toolkit/ECG5000.zip"
ECG5000_TRAIN_SHA256 = "a5940ecbe2130d77470afeea7c5fd67812db83bdbbf0f4c1b1d6af6e77175ab1"
ECG5000_FILES = ("ECG5000_TRAIN.txt", "ECG5000_TEST.txt")
ECG_CLASSES = ("normal", "R-on-T premature ventricular contraction",
               "premature ventricular contraction", "supraventricular premature or ectopic beat",
               "unclassified beat")
GENERATED_ECG_CLASSES = ("normal", "wide inverted QRS", "ST elevation", "early beat", "noise burst")
BEAT_LENGTH = 140


class Beats(NamedTuple):
    """Heartbeats ``x`` of shape (N, 1, 140) and their classes ``y`` (N,): 1 = normal, 2-5 anomalous."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.x)

    @property
    def is_anomaly(self) -> torch.Tensor:
        """Anomaly labels (N,): 1 for every class but 1 (normal), 0 for normal beats."""
        return anomaly_labels(self.y)


def anomaly_labels(y: torch.Tensor) -> torch.Tensor:
    """Map ECG5000 classes 1-5 to anomaly labels: class 1 (normal) -> 0, classes 2-5 -> 1."""
    if not isinstance(y, torch.Tensor) or y.dim() != 1:
        raise ValueError(f"y must be a 1-D tensor of classes, got {getattr(y, 'shape', type(y))}")
    if len(y) and (y.min() < 1 or y.max() > 5):
        raise ValueError(f"ECG5000 classes are 1-5, got values from {y.min()} to {y.max()}")
    return (y != 1).long()


def parse_ucr(text: str, length: int = BEAT_LENGTH) -> Beats:
    """Parse UCR text format: one series a line, the class first, then ``length`` values."""
    try:
        rows = np.array([line.split() for line in text.strip().splitlines() if line.strip()],
                        dtype=np.float64)
    except ValueError as e:
        raise ValueError(f"UCR text must be numbers separated by whitespace: {e}") from None
    if rows.ndim != 2 or rows.shape[1] != length + 1:
        raise ValueError(f"expected rows of 1 class + {length} values, got shape {rows.shape}")
    labels = rows[:, 0]
    if not np.all(labels == np.round(labels)):
        raise ValueError("the first column (the class) must hold whole numbers")
    x = torch.from_numpy(rows[:, 1:]).float().unsqueeze(1)  # (N, 1, length)
    return Beats(x, torch.from_numpy(labels).long())


def _read_ecg5000(data_dir: Path) -> tuple[Beats, Beats]:
    """Read both ECG5000 files from ``data_dir/ECG5000``; FileNotFoundError if one is missing."""
    folder = Path(data_dir) / "ECG5000"
    train, test = (parse_ucr((folder / name).read_text()) for name in ECG5000_FILES)
    return train, test


def fetch_ecg5000(data_dir: Path, timeout: float = 30.0, url: str = ECG5000_URL,
                  train_sha256: str = ECG5000_TRAIN_SHA256) -> Path:
    """Download the UCR archive's ECG5000 zip, check the TRAIN file's sha256, keep both text files.

    A mismatch raises ``ChecksumError`` and keeps nothing; files already on
    disk are left alone (they are not checked: only downloads are).
    """
    import zipfile

    folder = Path(data_dir) / "ECG5000"
    if all((folder / name).exists() for name in ECG5000_FILES):
        return folder
    archive = download(url, folder / "ECG5000.zip", timeout=timeout)
    try:
        with zipfile.ZipFile(archive) as z:
            members = {Path(m).name: m for m in z.namelist()}
            missing = [name for name in ECG5000_FILES if name not in members]
            if missing:
                raise DownloadError(f"{url} does not contain {', '.join(missing)}")
            contents = {name: z.read(members[name]) for name in ECG5000_FILES}
    except zipfile.BadZipFile as e:
        raise DownloadError(f"{url} is not a readable zip archive: {e}") from e
    finally:
        archive.unlink(missing_ok=True)
    got = hashlib.sha256(contents[ECG5000_FILES[0]]).hexdigest()
    if got != train_sha256:
        raise ChecksumError(f"{url}: ECG5000_TRAIN.txt expected sha256 {train_sha256}, got {got}; "
                            f"file refused")
    for blob in contents.values():
        parse_ucr(blob.decode("ascii"))  # refuse files that are not UCR text before keeping them
    for name, blob in contents.items():
        part = folder / (name + ".part")
        part.write_bytes(blob)
        part.replace(folder / name)
    return folder


def _bump(t: np.ndarray, centre: np.ndarray, width: np.ndarray, height: np.ndarray) -> np.ndarray:
    """Gaussian bumps, one per row: (N, 1) parameters over time points (L,) -> (N, L)."""
    return height * np.exp(-0.5 * ((t - centre) / width) ** 2)


def generated_ecg(n: int, anomaly_share: float = 0.4, seed: int = 0,
                  length: int = BEAT_LENGTH) -> Beats:
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
    return Beats(torch.from_numpy(x).float().unsqueeze(1), torch.from_numpy(y).long())


@dataclass(frozen=True)
class ECGSplits:
    """ECG5000 split for anomaly detection; the test split is never used to choose anything.

    ``train`` and ``val`` hold normal beats of the TRAIN file only (val sets the
    threshold); ``test`` is the whole TEST file; ``train_anomalous`` keeps the
    TRAIN file's anomalous beats, which the chapter does not train on.
    """

    train: Beats
    val: Beats
    test: Beats
    train_anomalous: Beats
    source: str
    is_real: bool
    classes: tuple[str, ...]
    name: str = "ecg5000"

    def describe(self) -> str:
        """One line: source, split sizes and the test set's share of anomalies."""
        share = self.test.is_anomaly.float().mean().item()
        return (f"{self.name} from {self.source}: train {len(self.train)} normal beats, "
                f"val {len(self.val)} normal beats, test {len(self.test)} beats "
                f"({share:.0%} anomalous), beat shape {tuple(self.train.x.shape[1:])}")


def split_normal_beats(train_file: Beats, test_file: Beats, cfg: Config,
                       val_share: float = 0.2) -> tuple[Beats, Beats, Beats, Beats]:
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
    take = lambda d, i: Beats(d.x[i].contiguous(), d.y[i].contiguous())  # noqa: E731
    anomalous = (train_file.y != 1).nonzero().squeeze(1)
    return (take(train_file, train_idx), take(train_file, val_idx), take(test_file, test_idx),
            take(train_file, anomalous))


def _try_fetch_ecg(cfg: Config) -> bool:
    if cfg.offline:
        return False
    try:
        fetch_ecg5000(cfg.data_dir, timeout=cfg.download_timeout, url=ECG5000_URL)
        return True
    except (DownloadError, OSError, ValueError) as e:
        announce_once("download-ecg5000", f"[course_lib] could not download ecg5000: {e}")
        return False


def load_ecg5000(cfg: Config) -> ECGSplits:
    """ECG5000 heartbeats: disk (as is, unchecked), then download (checked), then generated beats."""
    folder = cfg.data_dir / "ECG5000"
    try:
        train_file, test_file = _read_ecg5000(cfg.data_dir)
        source = str(folder)
    except FileNotFoundError:
        if _try_fetch_ecg(cfg):
            train_file, test_file = _read_ecg5000(cfg.data_dir)
            source = f"{folder} (downloaded)"
        else:
            return _ecg_fallback(cfg)
    parts = split_normal_beats(train_file, test_file, cfg)
    return ECGSplits(*parts, source=source, is_real=True, classes=ECG_CLASSES)


def _ecg_fallback(cfg: Config) -> ECGSplits:
    what = "generated ECG-like beats with injected, labelled anomalies"
    announce_once("fallback-ecg5000", (
        f"[course_lib] ECG5000 is not in {cfg.data_dir} and could not be downloaded: using "
        f"{what} instead. Figures will differ from the real dataset's; run "
        f"`aecourse fetch-data` online to get the real one."))
    train_file = generated_ecg(500, seed=cfg.seed)
    test_file = generated_ecg(1000, seed=cfg.seed + 1)
    parts = split_normal_beats(train_file, test_file, cfg)
    return ECGSplits(*parts, source=f"offline fallback: {what}", is_real=False,
                     classes=GENERATED_ECG_CLASSES)


def fetch_dataset(name: str, data_dir: Path, timeout: float = 30.0) -> Path:
    """Download one of ``dataset_status``'s datasets into ``data_dir``."""
    if name == "ecg5000":
        return fetch_ecg5000(data_dir, timeout=timeout, url=ECG5000_URL, train_sha256=ECG5000_TRAIN_SHA256)
    return fetch_mnist_family(name, data_dir, timeout=timeout)


# --------------------------------------------------------------------------- bundled photos (chapter 03)

# scikit-image's bundled photos whose docstrings say CC0 or public domain
PUBLIC_DOMAIN_PHOTOS = ("camera", "astronaut", "coffee", "chelsea", "rocket", "clock")


def bundled_photo(name: str, grey: bool = True, scale: float = 0.5) -> torch.Tensor:
    """One of scikit-image's CC0 / public-domain photos as a (C, H, W) tensor in [0, 1]."""
    import skimage.data
    from skimage.color import rgb2gray
    from skimage.transform import rescale

    if name not in PUBLIC_DOMAIN_PHOTOS:
        raise ValueError(f"name must be one of {PUBLIC_DOMAIN_PHOTOS}, got {name!r}")
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    img = getattr(skimage.data, name)().astype(np.float64)
    img = img / 255.0 if img.max() > 1 else img
    if img.ndim == 3:
        img = rgb2gray(img[..., :3]) if grey else img[..., :3]
    img = rescale(img, scale, anti_aliasing=True, channel_axis=-1 if img.ndim == 3 else None)
    t = torch.from_numpy(np.clip(img, 0, 1)).float()
    return t.unsqueeze(0) if t.dim() == 2 else t.permute(2, 0, 1).contiguous()
