"""Which mix of the two CPU gauges makes the course's normalised time move least between runs.

A normalised minute scales wall time by ``(matmul / 70) ** w * (conv / ref_conv) ** (1 - w)``
(``aecourse_tools.report.GAUGE_WEIGHTS``). Given the ``results.json`` of several runs of the same
commit and mode (``--jobs 1`` and ``--jobs 2``, different days, different machines), this finds
the weight ``w`` of the matrix-product gauge, from 0 to 1, under which the runs' normalised totals
spread least (the standard deviation of their logarithms), and prints how much each unit moves:
the matrix products alone (the former unit), the conv gauge alone, the weights in use and the
fitted ones. Runs without a conv gauge (made before it existed) cannot be used and are named.

    python benchmarks/fit_unit.py build/run/full/results.json other/results.json ... [--total elapsed|sum]

``--total elapsed`` (default) compares the whole run's wall clock, what the targets are about;
``sum`` compares the sum of the notebooks' wall times.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

from aecourse_tools import report

STEPS = 100  # the weight is searched on a grid of this many steps from 0 to 1


def load_run(path: Path, total: str) -> dict:
    """One run's wall seconds (``total``), per-notebook seconds, gauge medians and what it was."""
    data = json.loads(Path(path).read_text())
    meta = data["meta"]
    walls = {r["notebook"]: float(r["wall_s"]) for r in data["notebooks"]}
    seconds = meta.get("elapsed_s") if total == "elapsed" else sum(walls.values())
    return {"path": str(path), "seconds": seconds, "notebooks": walls, "jobs": meta.get("jobs"),
            "mode": meta.get("mode"), "commit": meta.get("commit"), "date": meta.get("date"),
            "matmul": (meta.get("cpu_gflops") or {}).get("median"),
            "conv": (meta.get("conv_gflops") or {}).get("median")}


def minutes(run: dict, weight: float, seconds: float | None = None) -> float:
    """The run's time in normalised minutes with the matrix-product gauge's weight ``weight``."""
    weights = {"matmul": weight, "conv": 1.0 - weight}
    gauges = {"matmul": {"median": run["matmul"]}, "conv": {"median": run["conv"]}}
    return (run["seconds"] if seconds is None else seconds) * report.speed_factor(gauges, weights) / 60


def spread(values: list[float]) -> float:
    """The standard deviation of the logarithms: about the relative spread (0.05: values move by ~5%)."""
    logs = [math.log(v) for v in values]
    return statistics.pstdev(logs)


def best_weight(runs: list[dict]) -> float:
    """The matrix-product gauge's weight in [0, 1] under which the runs' normalised totals spread least."""
    grid = [i / STEPS for i in range(STEPS + 1)]
    return min(grid, key=lambda w: (spread([minutes(r, w) for r in runs]), abs(w - 0.5)))


def notebook_spread(runs: list[dict], weight: float) -> float:
    """The median over notebooks (those in every run) of each notebook's spread across runs."""
    shared = set.intersection(*(set(r["notebooks"]) for r in runs))
    per = [spread([minutes(r, weight, r["notebooks"][nb]) for r in runs]) for nb in sorted(shared)
           if all(r["notebooks"][nb] > 0 for r in runs)]
    return statistics.median(per) if per else float("nan")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="results.json files of runs of one commit and mode")
    parser.add_argument("--total", choices=("elapsed", "sum"), default="elapsed",
                        help="the whole run's wall clock (default) or the sum of the notebooks' wall times")
    args = parser.parse_args(argv)
    loaded = [load_run(p, args.total) for p in args.results]
    runs = [r for r in loaded if r["matmul"] and r["conv"] and r["seconds"]]
    for r in loaded:
        if r not in runs:
            print(f"left out (no conv gauge or no time): {r['path']}")
    if len(runs) < 2:
        raise SystemExit(f"need at least two runs with both gauges, got {len(runs)}")
    for key in ("mode", "commit"):
        if len({r[key] for r in runs}) > 1:
            print(f"warning: the runs differ in {key} ({sorted({str(r[key]) for r in runs})}): "
                  "a unit can only be fitted on runs of the same work")
    fitted, current = best_weight(runs), report.GAUGE_WEIGHTS.get("matmul", 0.0)
    units = {"matrix products only (former unit)": 1.0, "conv gauge only": 0.0,
             f"in use (matmul weight {current:g})": current, f"fitted (matmul weight {fitted:g})": fitted}
    print(f"{len(runs)} runs, {args.total} seconds; references: matmul {report.REFERENCE_GFLOPS:g}, "
          f"conv {report.REFERENCE_CONV_GFLOPS:g} GFLOP/s")
    print(f"{'run':<44} {'jobs':>4} {'wall s':>8} {'matmul':>7} {'conv':>6}  " + "  ".join(
        f"{w:>6.2f}" for w in units.values()))
    for r in runs:
        print(f"{r['path'][-44:]:<44} {r['jobs']!s:>4} {r['seconds']:>8.1f} {r['matmul']:>7.1f} {r['conv']:>6.2f}  "
              + "  ".join(f"{minutes(r, w):>6.2f}" for w in units.values()))
    moves = {}
    print("\nhow much each unit moves across these runs (std of log; 0.05 = about 5%), and max/min - 1:")
    for name, w in units.items():
        totals = [minutes(r, w) for r in runs]
        moves[name] = {"matmul_weight": w, "spread": spread(totals), "max_over_min": max(totals) / min(totals) - 1,
                       "notebook_spread": notebook_spread(runs, w)}
        m = moves[name]
        print(f"  {name:<40} total {m['spread']:.3f} (max/min - 1: {m['max_over_min']:.1%}); "
              f"median notebook {m['notebook_spread']:.3f}")
    ratio = statistics.median(r["conv"] / r["matmul"] for r in runs)
    suggestion = {"GAUGE_WEIGHTS": {"matmul": fitted, "conv": round(1 - fitted, 2)},
                  "REFERENCE_CONV_GFLOPS": round(report.REFERENCE_GFLOPS * ratio, 2)}
    print(f"\nsuggested in aecourse_tools/report.py: GAUGE_WEIGHTS = {suggestion['GAUGE_WEIGHTS']}; "
          f"REFERENCE_CONV_GFLOPS = {suggestion['REFERENCE_CONV_GFLOPS']} (the median conv/matmul ratio of "
          f"these runs x {report.REFERENCE_GFLOPS:g}, so that on these machines the new unit reads like the "
          "former one)")
    return {"fitted_matmul_weight": fitted, "moves": moves, **suggestion}


if __name__ == "__main__":
    main()
