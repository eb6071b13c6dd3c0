"""Two commits' whole course side by side, on one machine at one sitting: wall times, gauges, claims.

Each commit is exported (``git archive``) into a clean folder outside the repository, the data
folder is copied in, and that checkout's own ``aecourse run`` runs its own notebooks with
``PYTHONPATH`` pointing at it, so its own ``course_lib`` and ``aecourse_tools`` are used; a probe
notebook run the same way first proves that a kernel really imports that checkout's code. The
runs go one after the other: the old commit, then the new one (at each of ``--seeds``). Then it
prints, per notebook, both commits' wall seconds and their ratio, the ratio of the sums, both
runs' gauges, and whether every claim held in each run.

    python benchmarks/compare_commits.py 64b2279 HEAD --seeds 0 1 2        # the full comparison (about an hour)
    python benchmarks/compare_commits.py 64b2279 HEAD --fast --notebooks notebooks/01_autoencoder_from_scratch.ipynb

Defaults: ``--full --no-cache --jobs 2`` runs (``--fast`` for a quick check), the work folder
``/tmp/aecourse-compare``, the data from this checkout's ``data/``. The summary is also written to
``<work>/comparison.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE_CELL = ("import aecourse_tools, course_lib\nfrom course_lib import report\n"
              "report.record('probe', 1.0, note=course_lib.__file__ + '|' + aecourse_tools.__file__);")


def git(*args: str, cwd: Path = REPO) -> str:
    """A git command's output in the repository (raises on failure)."""
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def export(commit: str, dest: Path, data: Path | None) -> Path:
    """A clean copy of ``commit``'s tree in ``dest`` (replaced if there), with ``data`` copied into its data/."""
    full = git("rev-parse", "--verify", f"{commit}^{{commit}}")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", full], cwd=REPO, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    if data is not None and data.is_dir():
        shutil.copytree(data, dest / "data", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("README.md", ".gitignore"))
    (dest / "COMMIT").write_text(full + "\n")
    return dest


def environment(checkout: Path, seed: int) -> dict[str, str]:
    """The run's environment: this checkout first on the path, its data, the seed; nothing from ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSE_")}
    env.update(PYTHONPATH=str(checkout), COURSE_SEED=str(seed), COURSE_DATA_DIR=str(checkout / "data"),
               PYTHONDONTWRITEBYTECODE="1")
    return env


def run_course(checkout: Path, build: Path, args: list[str], seed: int, log: Path) -> dict:
    """That checkout's ``aecourse run`` (its own code), into ``build``; its results.json."""
    mode = "fast" if "--full" not in args else "full"
    command = [sys.executable, "-m", "aecourse_tools.cli", "run", *args, "--build-dir", str(build)]
    with open(log, "w") as out:
        subprocess.run(command, cwd=checkout, env=environment(checkout, seed), stdout=out, stderr=subprocess.STDOUT,
                       check=False)
    results = build / mode / "results.json"
    if not results.exists():
        raise SystemExit(f"no results.json from {checkout.name} (see {log})")
    return json.loads(results.read_text())


def check_imports(checkout: Path, work: Path) -> str:
    """Run a one-cell notebook with that checkout's runner; raise unless its kernel imported that checkout's code."""
    import nbformat

    probe = work / f"probe-{checkout.name}"
    probe.mkdir(parents=True, exist_ok=True)
    nb = probe / "00_probe.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE_CELL)]), nb)
    results = run_course(checkout, probe / "build", [str(nb)], 0, probe / "log.txt")
    (row,) = results["notebooks"]
    paths = row["records"].get("probe", {}).get("note", "").split("|")
    inside = [Path(p).resolve().is_relative_to(checkout.resolve()) for p in paths if p]
    if len(inside) != 2 or not all(inside):
        raise SystemExit(f"the kernel of {checkout.name} imported {paths}, not {checkout}'s course_lib and "
                         "aecourse_tools: the comparison would measure the wrong code")
    return paths[0]


def claims_line(results: dict) -> str:
    """'all notebooks ok; 30 of 30 claims hold (30 enforced)' or what failed."""
    rows = results["notebooks"]
    failed = [r["notebook"] for r in rows if r["status"] != "ok"]
    claims = [c for r in rows for c in r.get("claims", [])]
    broken = [c["claim"] for c in claims if not c["holds"]]
    text = (f"{sum(c['holds'] for c in claims)} of {len(claims)} claims hold "
            f"({sum(c.get('enforced', False) for c in claims)} enforced)")
    text += f"; failing: {broken}" if broken else ""
    return (f"FAILED notebooks {failed}; " if failed else "all notebooks ok; ") + text


def gauges_line(results: dict) -> str:
    meta = results["meta"]
    parts = [f"{name} median {g['median']:.2f} GFLOP/s ({len(g['samples'])} samples)"
             for name, g in (("matmul", meta.get("cpu_gflops")), ("conv", meta.get("conv_gflops"))) if g]
    return "; ".join(parts) or "not gauged"


def compare(runs: dict[str, dict]) -> dict:
    """Per notebook wall seconds of every run, the sums, and each run's ratio of sums to the first run's."""
    names = list(runs)
    notebooks = list(dict.fromkeys(r["notebook"] for res in runs.values() for r in res["notebooks"]))
    walls = {name: {r["notebook"]: r["wall_s"] for r in res["notebooks"]} for name, res in runs.items()}
    shared = [nb for nb in notebooks if all(nb in walls[n] for n in names)]
    sums = {n: sum(walls[n][nb] for nb in shared) for n in names}
    return {"notebooks": notebooks, "walls": walls, "shared": shared, "sums": sums,
            "ratio_of_sums": {n: sums[n] / sums[names[0]] if sums[names[0]] else None for n in names},
            "elapsed_s": {n: runs[n]["meta"].get("elapsed_s") for n in names},
            "claims": {n: claims_line(runs[n]) for n in names}, "gauges": {n: gauges_line(runs[n]) for n in names}}


def print_comparison(summary: dict) -> None:
    names = list(summary["walls"])
    width = max(len(nb) for nb in summary["notebooks"]) + 2
    print("\n" + "notebook".ljust(width) + "".join(f"{n:>22}" for n in names) + "   2nd/1st")
    for nb in summary["notebooks"]:
        cells = [summary["walls"][n].get(nb) for n in names]
        ratio = f"{cells[1] / cells[0]:.2f}" if len(cells) > 1 and cells[0] and cells[1] else "-"
        print(nb.ljust(width) + "".join(f"{'-' if c is None else f'{c:.1f}':>22}" for c in cells) + f"   {ratio:>7}")
    print("sum (notebooks in every run)".ljust(width) + "".join(f"{summary['sums'][n]:>22.1f}" for n in names))
    print("whole run, wall clock".ljust(width) + "".join(f"{summary['elapsed_s'][n] or 0:>22.1f}" for n in names))
    for n in names[1:]:
        ratio = summary["ratio_of_sums"][n]
        print(f"ratio of the sums, {n} / {names[0]}: {ratio:.3f} ({1 - ratio:.1%} less time)")
    for n in names:
        print(f"{n}: gauges {summary['gauges'][n]}; {summary['claims'][n]}")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", nargs="?", default="64b2279")
    parser.add_argument("new", nargs="?", default="HEAD")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="COURSE_SEEDs of the new commit's runs")
    parser.add_argument("--fast", action="store_true", help="fast mode (a quick check; default: full mode)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--notebooks", nargs="*", default=[],
                        help="notebook paths relative to the repository (default: every notebook)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/aecourse-compare"))
    parser.add_argument("--data", type=Path, default=REPO / "data", help="copied into each checkout's data/")
    args = parser.parse_args(argv)
    if REPO in args.work.resolve().parents or args.work.resolve() == REPO:
        raise SystemExit(f"--work must be outside the repository, got {args.work}")
    run_args = [*([] if args.fast else ["--full"]), "--no-cache", "--jobs", str(args.jobs), *args.notebooks]
    plan = [("old", args.old, 0)] + [("new", args.new, s) for s in args.seeds]
    checkouts = {}
    for role, commit in (("old", args.old), ("new", args.new)):
        short = git("rev-parse", "--short", f"{commit}^{{commit}}")
        checkouts[role] = (short, export(commit, args.work / f"{role}-{short}", args.data))
        print(f"{role}: {commit} = {short}, exported to {checkouts[role][1]}; kernel imports "
              f"{check_imports(checkouts[role][1], args.work)}", flush=True)
    runs = {}
    for role, _, seed in plan:
        short, checkout = checkouts[role]
        name = f"{role} {short} seed {seed}"
        print(f"running {name}: aecourse run {' '.join(run_args)} ...", flush=True)
        start = time.perf_counter()
        runs[name] = run_course(checkout, args.work / f"build-{role}-seed{seed}", run_args, seed,
                                args.work / f"log-{role}-seed{seed}.txt")
        print(f"  {time.perf_counter() - start:.0f} s; {claims_line(runs[name])}", flush=True)
    summary = compare(runs)
    print_comparison(summary)
    given = argv if argv is not None else sys.argv[1:]
    summary["command"] = " ".join(["python benchmarks/compare_commits.py", *given])
    summary["commits"] = {role: short for role, (short, _) in checkouts.items()}
    (args.work / "comparison.json").write_text(json.dumps(summary, indent=1))
    print(f"\nsummary in {args.work / 'comparison.json'}")
    return summary


if __name__ == "__main__":
    main()
