"""The results report that ``aecourse run`` writes: markdown for people, JSON for tools."""

from __future__ import annotations

import os
import platform
import sys
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
             f"- data: {meta['data']}", f"- date: {meta['date']}", "",
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


def command_line() -> str:
    """How this process was started, as a person would type it."""
    return " ".join(["aecourse", *sys.argv[1:]]) if sys.argv else "aecourse"
