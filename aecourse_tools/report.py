"""The report of an ``aecourse run``: a table for the terminal, results.md for people, results.json for tools."""

from __future__ import annotations

import json
import math
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




REFERENCE_GFLOPS = 70.0  # per core: the matrix-product gauge's speed a normalised minute refers to
# per core: the conv gauge's speed on the same reference CPU. The conv gauge read 0.133 of the matrix
# products on this Intel machine (2026-12-05; six interleaved pairs of cpu_speed_sample, 0.131-0.139 but
# one outlier): 70 x 0.133, so that here the new unit reads like the former one. Re-set with fit_unit.py.
REFERENCE_CONV_GFLOPS = 9.3
# A normalised minute is a minute on a CPU whose two gauges read the references. The time is scaled
# by the weighted geometric mean of gauge / reference: these are its exponents (they add up to 1, so a
# CPU twice as fast on both gauges halves nothing). benchmarks/fit_unit.py finds the weights under
# which the course's normalised time moves least across runs; MATMUL_ONLY is the unit used before.
GAUGE_WEIGHTS = {"matmul": 0.5, "conv": 0.5}
MATMUL_ONLY = {"matmul": 1.0}
REFERENCES = {"matmul": REFERENCE_GFLOPS, "conv": REFERENCE_CONV_GFLOPS}
# Targets in this unit, set on 2026-12-06 from that day's runs on the 2-core Intel machine (RESULTS.md, "Targets
# in the new unit") with about 10% headroom: the whole course at --jobs 2 took 17.8-18.4 normalised minutes in full
# mode and 2.85 in fast mode; chapter 06, the longest notebook, 8.1.
TARGET_MINUTES = {"full": 20.0, "fast": 3.2}  # the whole course, normalised, at --jobs 2
NOTEBOOK_TARGET_MINUTES = 9.0  # any one notebook, full mode, normalised


def speed_factor(gauges: dict[str, dict | None], weights: dict[str, float] | None = None) -> float | None:
    """How much faster than the reference CPU this one was: prod((median / reference) ** weight), or None.

    ``gauges``: ``{"matmul": summary, "conv": summary}`` (``SpeedGauge.summary``); None where a
    weighted gauge has no median.
    """
    weights = GAUGE_WEIGHTS if weights is None else weights
    if abs(sum(weights.values()) - 1) > 1e-9 or not set(weights) <= set(REFERENCES):
        raise ValueError(f"weights must be gauges of {sorted(REFERENCES)} adding up to 1, got {weights}")
    factor = 1.0
    for gauge, weight in weights.items():
        median = (gauges.get(gauge) or {}).get("median")
        if weight and not median:
            return None
        factor *= (median / REFERENCES[gauge]) ** weight if weight else 1.0
    return factor


def normalised_minutes(wall_s: float, speed: dict | None, conv_speed: dict | None = None,
                       weights: dict[str, float] | None = None) -> float | None:
    """Wall time as minutes on the reference CPU: wall x ``speed_factor`` / 60 (None without the gauges).

    This machine kind's speed moves between sessions (9.7 to 110 GFLOP/s per core have been
    measured), so a time target means the same on every machine only in these units.
    ``weights=MATMUL_ONLY`` gives the former unit, wall x median matrix-product gauge / 70.
    """
    factor = speed_factor({"matmul": speed, "conv": conv_speed}, weights)
    return None if factor is None else wall_s * factor / 60.0


def add_compute(results: list[dict], speed: dict | None, conv_speed: dict | None) -> float:
    """Each notebook's ``trained_tflop``, and each workload's speed and its share of the gauges; the run's TFLOP.

    A workload's ``gauge_ratio`` is its training steps' GFLOP/s over the matrix-product gauge's
    median times the threads its kernel used (``conv_gauge_ratio`` the same for the conv gauge).
    """
    total = 0.0
    for r in results:
        flops = 0.0
        for w in r.setdefault("workloads", []):
            flops += w["train_flops"]
            rate = w["images"] / w["train_seconds"] if w["train_seconds"] > 0 else None
            w["images_per_second"] = None if rate is None else round(rate, 1)
            w["gflops_per_second"] = None if rate is None else round(rate * w["flops_per_image"] / 1e9, 3)
            for key, gauge in (("gauge_ratio", speed), ("conv_gauge_ratio", conv_speed)):
                w[key] = (round(w["gflops_per_second"] / (gauge["median"] * w["threads"]), 3)
                          if rate and gauge and gauge.get("median") else None)
        r["trained_tflop"] = _significant(flops / 1e12)
        total += flops
    return _significant(total / 1e12)


def _significant(value: float, digits: int = 4) -> float:
    return float(f"{value:.{digits}g}")


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
             *_speed_line(meta.get("cpu_gflops")), *_conv_speed_line(meta.get("conv_gflops")), "",
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
                  f"({_unit_words(meta)}; target "
                  f"{TARGET_MINUTES.get(meta['mode'], float('nan')):g}, and {NOTEBOOK_TARGET_MINUTES:g} per "
                  f"notebook in full mode), {meta.get('jobs', 1)} notebook(s) at a time.", ""]
        if meta.get("elapsed_normalised_min_matmul") is not None:
            lines += [f"In the former unit (wall x median matrix-product gauge / {REFERENCE_GFLOPS:g}): "
                      f"{_minutes(meta['elapsed_normalised_min_matmul'])} normalised minutes.", ""]
        lines += [f"- over target: {m}" for m in meta.get("over_target", [])]
        lines += [""] if meta.get("over_target") else []
    lines += _compute_table(results, meta)
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


def _unit_words(meta: dict) -> str:
    unit = meta.get("unit") or {"weights": MATMUL_ONLY, "reference_gflops": REFERENCES}
    parts = [f"(gauge {g} / {unit['reference_gflops'][g]:g})^{w:g}" for g, w in unit["weights"].items() if w]
    return "wall x " + " x ".join(parts) + " of the medians"


def _compute_table(results: list[dict], meta: dict) -> list[str]:
    """Each training's compute: FLOPs per image, speed and share of the gauges (cache hits trained nothing)."""
    rows = [(r["notebook"], w) for r in results for w in r.get("workloads", [])]
    if not rows:
        return []
    lines = [f"## Compute: {meta.get('trained_tflop', 0):.3g} TFLOP trained", "",
             "Per training: FLOPs of one training step per image (forward, loss, backward; counted by PyTorch), "
             "images through the training steps per second, their GFLOP/s and its share of each gauge's median "
             "per kernel thread.", "",
             "| notebook | training | MFLOP/image | images | images/s | steps s | fit s | GFLOP/s "
             "| of matmul gauge | of conv gauge |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for notebook, w in rows:
        def cell(key, fmt):
            return "" if w.get(key) is None else format(w[key], fmt)
        lines.append(f"| {notebook} | {w['name']}{' (cached)' if w.get('cached') else ''} "
                     f"| {w['flops_per_image'] / 1e6:.3g} | {w['images']} | {cell('images_per_second', '.0f')} "
                     f"| {w['train_seconds']:.1f} | {w['seconds']:.1f} | {cell('gflops_per_second', '.2f')} "
                     f"| {cell('gauge_ratio', '.2f')} | {cell('conv_gauge_ratio', '.2f')} |")
    return lines + [""]


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


def _conv_speed_line(speed: dict | None) -> list[str]:
    if not speed:
        return []
    return [f"- conv gauge during the run: median **{speed['median']:.2f} GFLOP/s** per core "
            f"(min {speed['min']:.2f}, max {speed['max']:.2f}; {len(speed['samples'])} samples, each a second of "
            "one-thread training steps of a small conv net, sampled after the matrix products)"]


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

    root = project_root()  # an installed (not editable) course has no checkout: the current folder's, if any
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=root if root.is_dir() else None)

    head = git("rev-parse", "--short", "HEAD")
    if head.returncode != 0 or not head.stdout.strip():
        return None
    return head.stdout.strip() + ("" if git("diff", "--quiet", "HEAD").returncode == 0 else "+changes")


def strict_json(obj, indent: int = 2) -> str:
    """``obj`` as JSON that every parser reads: a NaN or infinity becomes null (json.dumps would write NaN/Infinity).

    ``course_lib.report.record`` refuses them, so only a number measured here (a time, a speed) could be one.
    """
    def finite(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: finite(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [finite(v) for v in value]
        return value

    return json.dumps(finite(obj), indent=indent, allow_nan=False)


def write_report(results: list[dict], out_dir: Path, mode: str, elapsed: float | None = None,
                 jobs: int = 1, speed: dict | None = None, conv_speed: dict | None = None) -> dict:
    """results.json (machine, run and every figure) and results.md beside the executed notebooks.

    Adds each notebook's ``normalised_min`` (and ``normalised_min_matmul``, the former unit) and its
    compute (``add_compute``) to its row; returns the run's ``meta``.
    """
    from course_lib.config import get_config
    from course_lib.data import dataset_status

    cfg = get_config()
    present = [name for name, ok in dataset_status(cfg.data_dir).items() if ok]
    meta = {**machine_info(), "mode": mode, "command": command_line(), "commit": current_commit(),
            "data": f"{cfg.data_dir} ({', '.join(present) or 'nothing: offline fallbacks'})",
            "jobs": jobs, "elapsed_s": None if elapsed is None else round(elapsed, 1),
            "elapsed_normalised_min": None if elapsed is None else _round(
                normalised_minutes(elapsed, speed, conv_speed)),
            "elapsed_normalised_min_matmul": None if elapsed is None else _round(
                normalised_minutes(elapsed, speed, weights=MATMUL_ONLY)),
            "reference_gflops": REFERENCE_GFLOPS, "cpu_gflops": speed, "conv_gflops": conv_speed,
            "unit": {"weights": GAUGE_WEIGHTS, "reference_gflops": REFERENCES},
            "trained_tflop": add_compute(results, speed, conv_speed)}
    for r in results:
        r["normalised_min"] = _round(normalised_minutes(r["wall_s"], speed, conv_speed))
        r["normalised_min_matmul"] = _round(normalised_minutes(r["wall_s"], speed, weights=MATMUL_ONLY))
    meta["over_target"] = over_target(results, meta)
    (out_dir / "results.json").write_text(strict_json({"meta": meta, "notebooks": results}, indent=2))
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
            "elapsed_normalised_min", "cpu_gflops", "elapsed_normalised_min_matmul", "conv_gflops", "unit",
            "trained_tflop")
    rows = [{k: r.get(k) for k in ("notebook", "status", "wall_s", "normalised_min", "peak_mb", "records", "claims",
                                   "echoes", "normalised_min_matmul", "trained_tflop", "workloads", "exercises",
                                   "checks_passed", "checks_not_yet")} for r in results]
    commit = meta.get("commit") or current_commit()
    path.write_text(strict_json({"meta": {**{k: meta.get(k) for k in keep}, "commit": commit}, "notebooks": rows},
                                indent=1) + "\n")
    return path
