"""MNIST and Fashion-MNIST on disk: torchvision's folders and files, read by the course's own IDX reader."""

from __future__ import annotations

import gzip
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .downloads import DamagedFileError, DownloadError, download
from .examples import Examples


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


def _read_idx_on_disk(path: Path) -> torch.Tensor:
    try:
        return read_idx(path)
    except ValueError as e:
        raise DamagedFileError(path, str(e).removeprefix(f"{path}: ").removeprefix(f"{path} ")) from None


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


def read_mnist_family(name: str, data_dir: Path) -> tuple[Examples, Examples]:
    """Read a torchvision-layout dataset from disk: (train, test).

    FileNotFoundError if a file is missing; DamagedFileError, naming the file, if one is
    truncated, not IDX, its labels do not match its images or one is not a class (outside 0-9).
    """
    info = mnist_family(name)
    raw = Path(data_dir) / info.folder / "raw"
    files = [raw / f.removesuffix(".gz") for f, _ in info.resources]
    missing = [f.name for f in files if not f.exists()]
    if missing:
        raise FileNotFoundError(f"{name} not found in {raw}: no {', '.join(missing)}")
    parts = []
    for images, labels in (files[:2], files[2:]):
        x, y = _read_idx_on_disk(images), _read_idx_on_disk(labels)
        if x.dim() != 3:
            raise DamagedFileError(images, f"expected N images of H x W bytes, got shape {tuple(x.shape)}")
        if y.shape != (len(x),):
            raise DamagedFileError(labels, f"{tuple(y.shape)} labels for {len(x)} images in {images.name}")
        outside = y >= len(info.classes)
        if outside.any():
            raise DamagedFileError(labels, f"{int(outside.sum())} labels outside 0-{len(info.classes) - 1} "
                                           f"(up to {int(y.max())})")
        parts.append(Examples(x.unsqueeze(1).float().div_(255.0), y.long()))  # (N, 1, 28, 28)
    return parts[0], parts[1]


