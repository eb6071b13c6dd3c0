"""The results report that ``aecourse run`` writes: markdown for people, JSON for tools."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import threading
from abc import ABC, abstractmethod
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    """What the figures were measured on: CPU, cores, memory, accelerator, versions."""
    import psutil
    import torch

    info = {"cpu": _cpu_name(), "cores": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "accelerator": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU)",
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    try:
        info["course"] = metadata.version("aecourse")
    except metadata.PackageNotFoundError:
        info["course"] = "not installed"
    return info


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


def _fmt(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"


def markdown_report(results: list[dict], meta: dict) -> str:
    """The whole run as markdown: a summary table, then each notebook's figures and claims."""
    lines = [f"# Course results: {meta['mode']} run", "",
             f"- command: `{meta['command']}`",
             f"- machine: {meta['cpu']}, {meta['cores']} cores, {meta['memory_gb']} GB; "
             f"accelerator: {meta['accelerator']}",
             f"- software: Python {meta['python']}, torch {meta['torch']} "
             f"({meta['torch_threads']} threads), aecourse {meta['course']}",
             f"- data: {meta['data']}", f"- date: {meta['date']}",
             *_speed_line(meta.get("cpu_gflops")), "",
             "| notebook | status | wall time (s) | peak memory (MB) |", "|---|---|---:|---:|"]
    for r in results:
        lines.append(f"| {r['notebook']} | {r['status']} | {r['wall_s']:.1f} | {r['peak_mb']} |")
    total = sum(r["wall_s"] for r in results)
    peak = max((r["peak_mb"] for r in results), default=0)
    lines += [f"| **sum of notebooks** | | **{total:.1f}** | **{peak}** (largest) |", ""]
    if meta.get("elapsed_s") is not None:
        lines += [f"Whole run: **{meta['elapsed_s']:.1f} s** wall clock, {meta.get('jobs', 1)} notebook(s) "
                  "at a time.", ""]
    if meta.get("trained_twice"):
        lines += ["**Trained twice** with different settings (a solution did not reuse its chapter's "
                  f"model): {', '.join(meta['trained_twice'])}", ""]
    for r in results:
        if not r["records"] and not r["claims"] and not r["error"]:
            continue
        lines += [f"## {r['notebook']}", ""]
        if r["error"]:
            lines += [f"Failed: `{r['error']}`", ""]
        if r["records"]:
            lines += ["| figure | value | unit | note |", "|---|---:|---|---|"]
            lines += [f"| {k} | {_fmt(v['value'])} | {v['unit']} | {v['note']} |"
                      for k, v in r["records"].items()]
            lines.append("")
        for c in r["claims"]:
            mark = "holds" if c["holds"] else ("FAILS" if c["enforced"] else "does not hold (not enforced)")
            lines.append(f"- claim: {c['claim']}: **{mark}**")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _speed_line(speed: dict | None) -> list[str]:
    if not speed:
        return []
    return [f"- CPU speed during the run: median **{speed['median']:.1f} GFLOP/s** per core "
            f"(min {speed['min']:.1f}, max {speed['max']:.1f}; {len(speed['samples'])} samples, one a minute, "
            "each a second of one-thread float32 1024x1024 matrix products beside the running notebooks)"]


def command_line() -> str:
    """How this process was started, as a person would type it."""
    return " ".join(["aecourse", *sys.argv[1:]]) if sys.argv else "aecourse"
