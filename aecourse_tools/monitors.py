"""What ``aecourse run`` measures beside the notebooks: the kernels' peak memory and the CPU's speed."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import threading
from abc import ABC, abstractmethod

# One core's speed right now: float32 1024x1024 matrix products (NumPy) for a second: 12 MB,
# more than a core's cache, so it also feels what other tenants do to the shared cache.
_GAUGE = """
import time
import numpy as np
a = np.random.default_rng(0).random((1024, 1024), dtype=np.float32)
b = a.T.copy()
a @ b
n, start = 0, time.perf_counter()
while time.perf_counter() - start < 1.0:
    a @ b
    n += 1
print(n * 2 * 1024**3 / (time.perf_counter() - start) / 1e9)
"""


# The second gauge: training steps (forward, loss, backward) of a small convolutional network on a
# fixed batch of 32 one-channel 28x28 images, one thread, for a second; GFLOP/s from the FLOPs PyTorch
# counts in one step. Small convolutions, batch norm and transposed convolution run far below a core's
# matrix-product speed, and that share differs between CPUs: this gauge sees what the first cannot.
# It is defined once, here, as a generic small conv net and NEVER tuned to the course's networks:
# changing it changes the unit every run is measured in.
_CONV_GAUGE = """
import time
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
torch.set_num_threads(1)
torch.manual_seed(0)
net = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),             # (32, 16, 28, 28)
    nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),  # (32, 32, 14, 14)
    nn.ConvTranspose2d(32, 16, 2, stride=2), nn.ReLU(),                        # (32, 16, 28, 28)
    nn.Conv2d(16, 1, 3, padding=1))                                            # (32, 1, 28, 28)
x = torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(0))
def step():
    net.zero_grad(set_to_none=True)
    nn.functional.mse_loss(net(x), x).backward()
with FlopCounterMode(display=False) as counter:
    step()
flops = counter.get_total_flops()
n, start = 0, time.perf_counter()
while time.perf_counter() - start < 1.0:
    step()
    n += 1
print(n * flops / (time.perf_counter() - start) / 1e9)
"""

GAUGES = {"matmul": _GAUGE, "conv": _CONV_GAUGE}  # name -> the program that measures it


def cpu_speed_sample(timeout: float = 60, gauge: str = "matmul") -> float | None:
    """GFLOP/s of one core now (one second of ``gauge``'s work, pauses included), or None if it failed.

    A shared or virtual machine's speed can move by half within minutes; a run's wall
    times mean little without it. It runs in a fresh process pinned to one thread, so
    neither this process nor the kernels' thread settings change. ``gauge``: ``"matmul"``
    (float32 matrix products) or ``"conv"`` (a small conv net's training steps).
    """
    if gauge not in GAUGES:
        raise ValueError(f"gauge must be one of {sorted(GAUGES)}, got {gauge!r}")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    try:
        out = subprocess.run([sys.executable, "-c", GAUGES[gauge]], env=env, capture_output=True,
                             text=True, timeout=timeout, check=True)
        return round(float(out.stdout.strip().splitlines()[-1]), 2)
    except (subprocess.SubprocessError, OSError, ValueError, IndexError):
        return None


class Poller(ABC):
    """Calls ``poll`` in a thread until the ``with`` block ends: first at once, then every
    ``interval`` seconds (``aecourse run``'s memory and CPU-speed monitors)."""

    def __init__(self, interval: float):
        self.interval, self._stop = interval, threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @abstractmethod
    def poll(self) -> None:
        """One measurement; subclasses keep what they measure."""

    def _loop(self):
        while True:
            self.poll()
            if self._stop.wait(self.interval):
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class SpeedGauge(Poller):
    """Samples both gauges (``GAUGES``) one after the other, at the start and then every ``interval`` seconds.

    About 4 s of one core per minute (Python, NumPy and torch start-up, then a second of each
    gauge's work): about 3% of a 2-core machine. ``samples`` are the matrix-product gauge's,
    ``conv_samples`` the conv gauge's.
    """

    def __init__(self, interval: float = 60):
        super().__init__(interval)
        self.samples, self.conv_samples = [], []

    def poll(self):
        for kept, gauge in ((self.samples, "matmul"), (self.conv_samples, "conv")):
            value = cpu_speed_sample(gauge=gauge)
            if value is not None:
                kept.append(value)

    def summary(self, gauge: str = "matmul") -> dict | None:
        """``{"median", "min", "max", "samples"}`` in GFLOP/s for ``gauge``, or None without a sample."""
        samples = {"matmul": self.samples, "conv": self.conv_samples}[gauge]
        if not samples:
            return None
        return {"median": round(statistics.median(samples), 2), "min": min(samples),
                "max": max(samples), "samples": list(samples)}



class PeakMemory(Poller):
    """The largest resident memory of this process's children (the kernel), polled in a thread."""

    def __init__(self, interval: float = 0.5):
        super().__init__(interval)
        self.peak = 0

    def poll(self):
        import psutil

        total = 0
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        self.peak = max(self.peak, total)
