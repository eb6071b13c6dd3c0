import os

# Under pytest-xdist the workers share the cores: one torch thread pool each, and the
# notebook kernels they start inherit the same limit.
if os.environ.get("PYTEST_XDIST_WORKER"):
    _workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _workers)))

import pytest
import torch

from course_lib.config import get_config


@pytest.fixture
def cfg(tmp_path):
    """A fast-mode config with an empty data folder and a private cache."""
    return get_config({"COURSE_FAST": "1", "COURSE_DATA_DIR": str(tmp_path / "data"),
                       "COURSE_CACHE_DIR": str(tmp_path / "cache"), "COURSE_DEVICE": "cpu"})


@pytest.fixture
def low_rank_images():
    """512 learnable 1x8x8 images: non-negative mixtures of 4 fixed patterns, in [0, 1]."""
    g = torch.Generator().manual_seed(0)
    patterns = torch.rand(4, 64, generator=g)
    weights = torch.rand(512, 4, generator=g)
    x = (weights @ patterns) / 4.0
    return x.reshape(512, 1, 8, 8).clamp(0, 1)
