"""ECG5000 heartbeats: the UCR archive's text format, its download and its classes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from .downloads import ChecksumError, DamagedFileError, DownloadError, download
from .examples import Examples

ECG5000_URL = "https://www.timeseriesclassification.com/aeon-toolkit/ECG5000.zip"
ECG5000_TRAIN_SHA256 = "a5940ecbe2130d77470afeea7c5fd67812db83bdbbf0f4c1b1d6af6e77175ab1"
ECG5000_FILES = ("ECG5000_TRAIN.txt", "ECG5000_TEST.txt")
ECG_CLASSES = ("normal", "R-on-T premature ventricular contraction",
               "premature ventricular contraction", "supraventricular premature or ectopic beat",
               "unclassified beat")
GENERATED_ECG_CLASSES = ("normal", "wide inverted QRS", "ST elevation", "early beat", "noise burst")
BEAT_LENGTH = 140


def anomaly_labels(y: torch.Tensor) -> torch.Tensor:
    """Map ECG5000 classes 1-5 to anomaly labels: class 1 (normal) -> 0, classes 2-5 -> 1."""
    if not isinstance(y, torch.Tensor) or y.dim() != 1:
        raise ValueError(f"y must be a 1-D tensor of classes, got {getattr(y, 'shape', type(y))}")
    if len(y) and (y.min() < 1 or y.max() > 5):
        raise ValueError(f"ECG5000 classes are 1-5, got values from {y.min()} to {y.max()}")
    return (y != 1).long()


def parse_ucr(text: str, length: int = BEAT_LENGTH) -> Examples:
    """Parse UCR text format: one series a line, the class first, then ``length`` values."""
    lines = [line.split() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"expected rows of 1 class + {length} values, got no rows")
    for i, line in enumerate(lines, 1):
        if len(line) != length + 1:
            raise ValueError(f"expected rows of 1 class + {length} values, row {i} has {len(line)} columns")
    try:
        rows = np.array(lines, dtype=np.float64)
    except ValueError as e:
        raise ValueError(f"UCR text must be numbers separated by whitespace: {e}") from None
    finite = np.isfinite(rows)
    if not finite.all():
        bad = np.flatnonzero(~finite.all(1))
        raise ValueError(f"{len(bad)} row(s) hold a value that is not a finite number (row {bad[0] + 1}: "
                         f"{lines[bad[0]][int(np.flatnonzero(~finite[bad[0]])[0])]!r})")
    labels = rows[:, 0]
    if not np.all(labels == np.round(labels)):
        raise ValueError("the first column (the class) must hold whole numbers")
    x = torch.from_numpy(rows[:, 1:]).float().unsqueeze(1)  # (N, 1, length)
    return Examples(x, torch.from_numpy(labels).long())


def read_ecg5000(data_dir: Path) -> tuple[Examples, Examples]:
    """Read both ECG5000 files from ``data_dir/ECG5000``: (train, test).

    FileNotFoundError if one is missing; DamagedFileError, naming the file, if one is not
    UCR text of 141 columns, holds a value that is not a finite number (``nan``, ``inf``)
    or a class outside 1-5.
    """
    folder = Path(data_dir) / "ECG5000"
    parts = []
    for name in ECG5000_FILES:
        path = folder / name
        try:
            beats = parse_ucr(path.read_bytes().decode("ascii"))
            anomaly_labels(beats.y)  # classes 1-5
        except UnicodeDecodeError:
            raise DamagedFileError(path, "not text (binary data)") from None
        except ValueError as e:
            raise DamagedFileError(path, str(e)) from None
        parts.append(beats)
    return parts[0], parts[1]


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


