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


def cpu_speed_sample(timeout: float = 60) -> float | None:
    """GFLOP/s of one core now (products in one second, pauses included), or None if it failed.

    A shared or virtual machine's speed can move by half within minutes; a run's wall
    times mean little without it. It runs in a fresh process pinned to one thread, so
    neither this process nor the kernels' thread settings change.
    """
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    try:
        out = subprocess.run([sys.executable, "-c", _GAUGE], env=env, capture_output=True,
                             text=True, timeout=timeout, check=True)
        return round(float(out.stdout.strip()), 2)
    except (subprocess.SubprocessError, OSError, ValueError):
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
    """Samples ``cpu_speed_sample`` at the start and then every ``interval`` seconds.

    About 1.5 s of one core per sample (Python, NumPy, then a second of products): about
    1% of a 2-core machine at one a minute.
    """

    def __init__(self, interval: float = 60):
        super().__init__(interval)
        self.samples = []

    def poll(self):
        value = cpu_speed_sample()
        if value is not None:
            self.samples.append(value)

    def summary(self) -> dict | None:
        """``{"median", "min", "max", "samples"}`` in GFLOP/s, or None without a sample."""
        if not self.samples:
            return None
        return {"median": round(statistics.median(self.samples), 2), "min": min(self.samples),
                "max": max(self.samples), "samples": list(self.samples)}




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
