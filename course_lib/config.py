"""One frozen run configuration, read from the environment in one place.

Environment variables (all optional):

- ``COURSE_FAST=1``: fast mode (tiny subsets, 1 epoch), what CI runs.
- ``COURSE_DATA_DIR``: dataset folder (default: the repository's ``data/``).
- ``COURSE_CACHE_DIR``: trained-weights cache folders, separated by ``os.pathsep`` (``:`` on
  Linux and macOS), searched in order; the first writable one receives new entries
  (default: ``build/cache``). A class shares one: ``$HOME/weights:/srv/shared-weights``.
- ``COURSE_CACHE=0``: never read or write the weights cache.
- ``COURSE_SEED``: random seed (default 0).
- ``COURSE_DEVICE``: ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (default: the best one present);
  one that this machine does not have is refused here, not at the first training.
- ``COURSE_OFFLINE=1``: never try to download; use what is on disk or the fallbacks.
- ``COURSE_DOWNLOAD_TIMEOUT``: seconds before a download is given up (default 30, at most a day).

A bad value raises ``SettingError`` (a ValueError) naming the variable, the value and what is allowed.
"""

from __future__ import annotations

import math
import os
import random
import re
from dataclasses import dataclass, replace
from pathlib import Path

from .downloads import MAX_TIMEOUT
from .sizes import data_sizes

PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """The repository root when run from a checkout, else ``~/.aecourse``."""
    root = PACKAGE_DIR.parent
    if (root / "pyproject.toml").exists():
        return root
    return Path.home() / ".aecourse"


class SettingError(ValueError):
    """An environment setting (``COURSE_*``) that the course cannot use; its message names the fix."""


def present_devices() -> list[str]:
    """The devices torch can use on this machine: ``cpu``, then ``cuda:0``... and ``mps`` where present."""
    import torch

    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def check_device(device, name: str = "device") -> str:
    """``device`` as a string if this machine has it (``cuda`` means ``cuda:0``); else a ValueError naming ``name``."""
    text = str(device)
    if text not in {"cpu", "cuda", "mps"} and not re.fullmatch(r"cuda:\d+", text):
        raise ValueError(f"{name}={text!r}: expected cpu, cuda, cuda:N or mps")
    present = present_devices()
    if (text if text != "cuda" else "cuda:0") not in present:
        raise ValueError(f"{name}={text!r}: this machine has no such device (present: {', '.join(present)}); "
                         f"use one of those, or leave it out for the best one present")
    return text


def best_device() -> str:
    """CUDA, then Apple MPS, then CPU."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def _flag(env, name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    v = value.strip().lower()
    if v in {"1", "true", "yes", "on"}:
        return True
    if v in {"0", "false", "no", "off"}:
        return False
    raise SettingError(f"{name}={value!r}: expected 1/0, true/false, yes/no or on/off")


MAX_SEED = 2**32 - 1  # NumPy's seeds stop here


def _seed(env, name: str = "COURSE_SEED") -> int:
    value = env.get(name, "0")
    try:
        seed = int(value)
    except ValueError:
        seed = -1
    if not 0 <= seed <= MAX_SEED:
        raise SettingError(f"{name}={value!r}: expected a whole number from 0 to {MAX_SEED}")
    return seed


def _folders(env, name: str, default: Path) -> tuple[Path, ...]:
    value = env.get(name)
    if value is None or value.strip() == "":
        return (default,)
    parts = value.split(os.pathsep)
    if not all(p.strip() for p in parts):
        raise ValueError(f"{name}={value!r}: expected folders separated by {os.pathsep!r}, none of them empty")
    folders = tuple(Path(p).expanduser() for p in parts)
    for folder in folders:
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"{name}={value!r}: expected folders, but {folder} is a file")
    return folders


def _seconds(env, name: str, default: float) -> float:
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_TIMEOUT:
        raise SettingError(f"{name}={value!r}: expected a positive, finite number of seconds up to "
                           f"{MAX_TIMEOUT:g} (a day), e.g. 30")
    return seconds


@dataclass(frozen=True)
class Config:
    """Sizes and switches of one run; chapters read every size from here."""

    fast: bool
    seed: int
    device: str
    data_dir: Path
    cache_dirs: tuple[Path, ...]  # searched in order; the first writable one receives new entries
    use_cache: bool
    offline: bool
    n_train: int
    n_val: int
    n_test: int
    batch_size: int
    num_epochs: int
    download_timeout: float

    @property
    def mode(self) -> str:
        """``"fast"`` or ``"full"``."""
        return "fast" if self.fast else "full"

    def pick(self, *, full, fast):
        """``full`` normally, ``fast`` in fast mode (``sizes.of`` reads the table with it)."""
        return fast if self.fast else full

    def replace(self, **changes) -> Config:
        """A copy with some fields changed."""
        return replace(self, **changes)


FULL_SIZES = data_sizes(fast=False)  # both from sizes.DATA
FAST_SIZES = data_sizes(fast=True)


def get_config(environ: dict | None = None) -> Config:
    """Build the configuration from the environment (``os.environ`` by default)."""
    env = os.environ if environ is None else environ
    fast = _flag(env, "COURSE_FAST", default=False)
    root = project_root()
    data_dir = Path(env.get("COURSE_DATA_DIR") or root / "data").expanduser()
    device = env.get("COURSE_DEVICE") or best_device()
    try:
        check_device(device, "COURSE_DEVICE")
    except ValueError as e:
        raise SettingError(str(e)) from None
    sizes = FAST_SIZES if fast else FULL_SIZES
    return Config(
        fast=fast,
        seed=_seed(env),
        device=device,
        data_dir=data_dir,
        cache_dirs=_folders(env, "COURSE_CACHE_DIR", root / "build" / "cache"),
        use_cache=_flag(env, "COURSE_CACHE", default=True),
        offline=_flag(env, "COURSE_OFFLINE", default=False),
        download_timeout=_seconds(env, "COURSE_DOWNLOAD_TIMEOUT", default=30.0),
        **sizes,
    )


def seed_everything(seed: int):
    """Seed Python, NumPy and torch; return a torch generator with that seed."""
    import numpy as np
    import torch

    if not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
