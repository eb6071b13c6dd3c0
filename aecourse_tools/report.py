"""The report of an ``aecourse run``: a table for the terminal, results.md for people, results.json for tools."""

from __future__ import annotations

import json
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




REFERENCE_GFLOPS = 70.0  # per core: the speed a normalised minute refers to
TARGET_MINUTES = {"full": 15.0, "fast": 3.0}  # the whole course, normalised, at --jobs 2
NOTEBOOK_TARGET_MINUTES = 8.0  # any one notebook, full mode, normalised


def normalised_minutes(wall_s: float, speed: dict | None) -> float | None:
    """Wall time as minutes on a CPU at ``REFERENCE_GFLOPS`` per core: wall x median gauge / 70.

    This machine kind's speed moves between sessions (9.7 to 110 GFLOP/s per core have been
    measured), so a time target means the same on every machine only in these units.
    """
    if not speed or not speed.get("median"):
        return None
    return wall_s * speed["median"] / REFERENCE_GFLOPS / 60.0


def over_target(results: list[dict], meta: dict) -> list[str]:
    """Which normalised time targets this run missed (nothing when it was not gauged)."""
    missed = []
    whole, target = meta.get("elapsed_normalised_min"), TARGET_MINUTES.get(meta["mode"])
    if whole is not None and target is not None and whole > target:
        missed.append(f"the whole run took {whole:.1f} normalised minutes (target {target:g})")
    if meta["mode"] == "full":
        missed += [f"{r['notebook']} took {r['normalised_min']:.1f} normalised minutes "
                   f"(target {NOTEBOOK_TARGET_MINUTES:g})" for r in results
                   if (r.get("normalised_min") or 0) > NOTEBOOK_TARGET_MINUTES]
    return missed


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
             "| notebook | status | wall time (s) | normalised minutes | peak memory (MB) | exercises "
             "| checks right | checks not yet |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['notebook']} | {r['status']} | {r['wall_s']:.1f} | {_minutes(r.get('normalised_min'))} "
                     f"| {r['peak_mb']} | {r.get('exercises', 0)} | {r.get('checks_passed', 0)} "
                     f"| {r.get('checks_not_yet', 0)} |")
    total = sum(r["wall_s"] for r in results)
    peak = max((r["peak_mb"] for r in results), default=0)
    lines += [f"| **sum of notebooks** | | **{total:.1f}** | | **{peak}** (largest) "
              f"| {sum(r.get('exercises', 0) for r in results)} | {sum(r.get('checks_passed', 0) for r in results)} "
              f"| {sum(r.get('checks_not_yet', 0) for r in results)} |", ""]
    if meta.get("elapsed_s") is not None:
        lines += [f"Whole run: **{meta['elapsed_s']:.1f} s** wall clock, "
                  f"**{_minutes(meta.get('elapsed_normalised_min'))} normalised minutes** "
                  f"(wall x median CPU gauge / {REFERENCE_GFLOPS:g} GFLOP/s; target "
                  f"{TARGET_MINUTES.get(meta['mode'], float('nan')):g}, and {NOTEBOOK_TARGET_MINUTES:g} per "
                  f"notebook in full mode), {meta.get('jobs', 1)} notebook(s) at a time.", ""]
        lines += [f"- over target: {m}" for m in meta.get("over_target", [])]
        lines += [""] if meta.get("over_target") else []
    for r in results:
        if not r["records"] and not r["claims"] and not r["error"]:
            continue
        lines += [f"## {r['notebook']}", ""]
        if r["error"]:
            lines += [f"Failed: `{r['error']}`", ""]
        if r["records"]:
            lines += ["| figure | value | 95% interval | unit | note |", "|---|---:|---|---|---|"]
            lines += [f"| {k} | {_fmt(v['value'])} | {_interval(v.get('interval'))} | {v['unit']} | {v['note']} |"
                      for k, v in r["records"].items()]
            lines.append("")
        for c in r["claims"]:
            mark = "holds" if c["holds"] else ("FAILS" if c["enforced"] else "does not hold (not enforced)")
            lines.append(f"- claim: {c['claim']}: **{mark}**")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _interval(interval: list[float] | None) -> str:
    return "" if not interval else f"{_fmt(interval[0])} to {_fmt(interval[1])}"


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _speed_line(speed: dict | None) -> list[str]:
    if not speed:
        return []
    return [f"- CPU speed during the run: median **{speed['median']:.1f} GFLOP/s** per core "
            f"(min {speed['min']:.1f}, max {speed['max']:.1f}; {len(speed['samples'])} samples, one a minute, "
            "each a second of one-thread float32 1024x1024 matrix products beside the running notebooks)"]


def command_line() -> str:
    """How this process was started, as a person would type it."""
    return " ".join(["aecourse", *sys.argv[1:]]) if sys.argv else "aecourse"


def format_table(results: list[dict]) -> str:
    """A plain-text table: notebook, status, wall time, peak memory, headline figures."""
    from course_lib.tables import format_table as table

    rows = [{**r, "checks": exercise_cell(r),
             "figures": ", ".join(f"{k}={v['value']:.4g}{v['unit'] and ' ' + v['unit']}"
                                  for k, v in r["records"].items())}
            for r in results]
    columns = [("notebook", "notebook", "s"), ("status", "status", "s"), ("wall_s", "wall s", ".1f"),
               ("normalised_min", "norm. min", ".2f"), ("peak_mb", "peak MB", "d"), ("checks", "exercises", "s"),
               ("figures", "figures", "s")]
    header, *lines = table(rows, columns).splitlines()
    indent = " " * (max(len("notebook"), *(len(r["notebook"]) for r in results)) + 2) if results else ""
    out = [header]
    for r, line in zip(results, lines):
        out.append(line)
        if r["error"]:
            out.append(f"{indent}error: {r['error']}")
    out.append(f"sum of notebook wall times {sum(r['wall_s'] for r in results):.1f} s")
    return "\n".join(out)


def exercise_cell(r: dict) -> str:
    """A row's exercises for the terminal: how many, and what their checks said ('-' for none)."""
    held, right, not_yet = r.get("exercises", 0), r.get("checks_passed", 0), r.get("checks_not_yet", 0)
    if not held and not right and not not_yet:
        return "-"
    return f"{held}: {right} right, {not_yet} not yet"


def current_commit() -> str | None:
    """The repository's short commit hash, with "+changes" when the work tree differs from it; None outside git."""
    import subprocess

    from course_lib.config import project_root

    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=project_root())

    head = git("rev-parse", "--short", "HEAD")
    if head.returncode != 0 or not head.stdout.strip():
        return None
    return head.stdout.strip() + ("" if git("diff", "--quiet", "HEAD").returncode == 0 else "+changes")


def write_report(results: list[dict], out_dir: Path, mode: str, elapsed: float | None = None,
                 jobs: int = 1, speed: dict | None = None) -> dict:
    """results.json (machine, run and every figure) and results.md beside the executed notebooks.

    Adds each notebook's ``normalised_min`` to its row; returns the run's ``meta``.
    """
    from course_lib.config import get_config
    from course_lib.data import dataset_status

    cfg = get_config()
    present = [name for name, ok in dataset_status(cfg.data_dir).items() if ok]
    meta = {**machine_info(), "mode": mode, "command": command_line(), "commit": current_commit(),
            "data": f"{cfg.data_dir} ({', '.join(present) or 'nothing: offline fallbacks'})",
            "jobs": jobs, "elapsed_s": None if elapsed is None else round(elapsed, 1),
            "elapsed_normalised_min": None if elapsed is None else _round(normalised_minutes(elapsed, speed)),
            "reference_gflops": REFERENCE_GFLOPS, "cpu_gflops": speed}
    for r in results:
        r["normalised_min"] = _round(normalised_minutes(r["wall_s"], speed))
    meta["over_target"] = over_target(results, meta)
    (out_dir / "results.json").write_text(json.dumps({"meta": meta, "notebooks": results}, indent=2))
    (out_dir / "results.md").write_text(markdown_report(results, meta))
    return meta


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def remove_report(out_dir: Path) -> None:
    """Remove a former run's results.json and results.md, so that none looks current if this run dies."""
    for name in ("results.json", "results.md"):
        (out_dir / name).unlink(missing_ok=True)


def committed_results_path(mode: str = "full") -> Path:
    """``results/<mode>.json`` in the repository: the run whose figures the chapters may quote."""
    from course_lib.config import project_root

    return project_root() / "results" / f"{mode}.json"


def save_committed(results: list[dict], meta: dict) -> Path:
    """Write a run's figures and claims (no machine-specific paths) to ``committed_results_path``."""
    path = committed_results_path(meta["mode"])
    path.parent.mkdir(parents=True, exist_ok=True)
    keep = ("mode", "command", "cpu", "cores", "python", "torch", "course", "date", "jobs", "elapsed_s",
            "elapsed_normalised_min", "cpu_gflops")
    keep_row = ("notebook", "status", "wall_s", "normalised_min", "peak_mb", "records", "claims", "exercises",
                "checks_passed", "checks_not_yet")
    rows = [{k: r[k] for k in keep_row if k in r} for r in results]
    commit = meta.get("commit") or current_commit()
    path.write_text(json.dumps({"meta": {**{k: meta.get(k) for k in keep}, "commit": commit}, "notebooks": rows},
                               indent=1) + "\n")
    return path
