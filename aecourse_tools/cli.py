"""The ``aecourse`` command: check the set-up, fetch data, run notebooks headless, sync the Colab cells."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from urllib.parse import urlparse

from course_lib.config import SettingError, get_config, project_root

from . import report, runner
from .monitors import SpeedGauge

PACKAGES = ("torch", "torchvision", "numpy", "matplotlib", "scikit-learn", "scikit-image",
            "ipywidgets", "jupyterlab", "nbclient", "nbval", "tqdm")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to ``url``'s host opens within ``timeout`` seconds."""
    import socket

    from course_lib.downloads import DownloadError, run_with_deadline

    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)

    def connect():
        socket.create_connection((parsed.hostname, port), timeout=timeout).close()

    try:
        run_with_deadline(connect, timeout)
        return True
    except (DownloadError, OSError):
        return False


def _check_seconds(flag: str, value: float) -> None:
    """SystemExit unless ``value`` is a positive number of seconds the clock can wait (up to a day)."""
    from course_lib.downloads import check_timeout

    try:
        check_timeout(value, flag)
    except ValueError as e:
        raise SystemExit(str(e)) from None


def writable_folder(path: Path) -> None:
    """SystemExit in one line unless ``path`` can be made and a file written in it (before any notebook runs)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".aecourse-can-write-"):
            pass
    except OSError as e:
        raise SystemExit(f"the build folder {path} cannot be written ({e.strerror or e}): make it writable "
                         "or choose another with --build-dir") from None


def cmd_check(args) -> int:
    """Print versions, device, data folder, datasets present and what will fall back."""
    from course_lib.data import dataset_status
    from course_lib.ecg import ECG5000_URL
    from course_lib.mnist import mnist_family

    cfg = get_config()
    print(f"python        {platform.python_version()} ({sys.executable})")
    for p in PACKAGES:
        print(f"{p:<13} {_version(p)}")
    print(f"device        {cfg.device}")
    print(f"mode          {cfg.mode} (COURSE_FAST={os.environ.get('COURSE_FAST', '')!r})")
    print(f"data folder   {cfg.data_dir}")
    print(f"weights cache {os.pathsep.join(map(str, cfg.cache_dirs)) if cfg.use_cache else 'off'}")
    probe = not (cfg.offline or args.no_network)
    online = probe and _reachable(mnist_family("mnist").mirrors[0])
    ucr_online = probe and _reachable(ECG5000_URL)
    print(f"network       {'dataset host reachable' if online else 'dataset host NOT reachable'}")
    print(f"              {'UCR archive reachable' if ucr_online else 'UCR archive (ECG5000) NOT reachable'}")
    for name, present in dataset_status(cfg.data_dir).items():
        reachable = ucr_online if name == "ecg5000" else online
        fallback = "offline fallback" + (" (generated ECG-like beats)" if name == "ecg5000" else "")
        state = "on disk" if present else ("will download" if reachable else f"absent: {fallback}")
        print(f"  {name:<14} {state}")
    return 0


def cmd_fetch(args) -> int:
    """Download every dataset the course uses into the data folder, checking checksums."""
    from course_lib.data import dataset_status, fetch_dataset
    from course_lib.downloads import DownloadError

    cfg = get_config()
    if args.timeout is not None:
        _check_seconds("--timeout", args.timeout)
    timeout = cfg.download_timeout if args.timeout is None else args.timeout
    failed = 0
    for name, present in dataset_status(cfg.data_dir).items():
        if present:
            print(f"{name:<14} already in {cfg.data_dir}")
            continue
        try:
            fetch_dataset(name, cfg.data_dir, timeout=timeout)
            print(f"{name:<14} downloaded and verified")
        except (DownloadError, OSError) as e:
            failed += 1
            print(f"{name:<14} FAILED: {e}")
    return 1 if failed else 0


def cmd_run(args) -> int:
    """Execute notebooks headless, keep the executed copies, print the results table.

    A notebook that fails in any way gets a FAILED row and the others still run; the
    report is written for this run whatever happened, and the exit code is 1 on any failure.
    """
    notebooks = runner.find_notebooks(args.notebooks)
    mode = "full" if args.full else "fast"
    if args.jobs < 1:
        raise SystemExit(f"--jobs must be at least 1, got {args.jobs}")
    for flag, value in (("--timeout", args.timeout), ("--notebook-timeout", args.notebook_timeout)):
        if value is not None:
            _check_seconds(flag, value)
    get_config()  # a bad COURSE_* setting is named now, not after every notebook has failed on it
    out_dir = Path(args.build_dir).resolve() / mode  # absolute: kernels run in the notebook's folder
    writable_folder(out_dir)
    previous = runner.previous_wall_times(out_dir)
    report.remove_report(out_dir)  # no former report may look current if this run dies
    cache_dir = None
    if args.no_cache:  # a fresh cache for this run: every model trains once, solutions reuse them
        cache_dir = out_dir / "cache"
        shutil.rmtree(cache_dir, ignore_errors=True)
    jobs = min(args.jobs, len(notebooks))
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None
    kw = dict(fast=not args.full, cache_dir=cache_dir, timeout=args.timeout,
              notebook_timeout=args.notebook_timeout, threads=threads)
    start = time.perf_counter()
    print(f"running {len(notebooks)} notebook(s) in {mode} mode, {jobs} at a time ...", flush=True)
    try:
        with runner.stop_everything_on_signal(), SpeedGauge() as gauge:
            results = runner.run_all(notebooks, out_dir, jobs, kw, previous)
    except runner.Interrupted:
        print("stopped: every worker and kernel of this run was ended; no report written", flush=True)
        return 130
    elapsed = time.perf_counter() - start
    speed, conv_speed = gauge.summary(), gauge.summary("conv")
    meta = report.write_report(results, out_dir, mode, elapsed=elapsed, jobs=jobs, speed=speed, conv_speed=conv_speed)
    print(report.format_table(results))
    minutes = meta["elapsed_normalised_min"]
    print(f"whole run: {elapsed:.1f} s wall clock"
          + (f" = {minutes:.2f} normalised minutes (target {report.TARGET_MINUTES[mode]:g})" if minutes else "")
          + f", {jobs} notebook(s) at a time")
    if speed:
        print(f"CPU speed during the run: median {speed['median']:.1f} GFLOP/s per core "
              f"(min {speed['min']:.1f}, max {speed['max']:.1f}, {len(speed['samples'])} samples); "
              f"a normalised minute is a minute at {report.REFERENCE_GFLOPS:g}")
    if conv_speed:
        print(f"conv gauge: median {conv_speed['median']:.2f} GFLOP/s per core (reference "
              f"{report.REFERENCE_CONV_GFLOPS:g}); former unit (matrix products only): "
              f"{meta['elapsed_normalised_min_matmul']} normalised minutes; trained {meta['trained_tflop']:g} TFLOP")
    for missed in meta["over_target"]:
        print(f"OVER TARGET: {missed}")
    for r in results:
        for echo in r.get("echoes", []):
            print(f"STRAY OUTPUT: {r['notebook']} cell {echo['cell']} shows {echo['text']!r} under it "
                  "(end the line with ';' or do not return a value)")
    failed = [r["notebook"] for r in results if r["status"] != "ok"]
    if failed:
        print(f"FAILED: {', '.join(failed)}")
    print(f"executed notebooks, results.md and results.json in {out_dir}")
    if args.save:
        if failed or args.notebooks:
            print("not saved to results/: --save needs a run of every notebook, all passing")
            return 1
        print(f"saved the figures to {report.save_committed(results, meta)}")
    return 1 if failed else 0


def cmd_sync(args) -> int:
    """Write the Binder/Colab cells into every notebook and the exercises' statements into the solutions (or check)."""
    from .hosting import repository, sync_exercises, sync_notebook

    repo = repository()
    root = project_root() / "notebooks"
    paths = sorted(root.rglob("[0-9]*.ipynb"))
    stale = [p for p in paths if ".ipynb_checkpoints" not in p.parts
             and sync_notebook(p, repo, write=not args.check)]
    for chapter in sorted(root.glob("[0-9][0-9]_*.ipynb")):
        solutions = root / "solutions" / f"{chapter.name[:2]}_solutions.ipynb"
        if solutions.exists() and sync_exercises(chapter, solutions, write=not args.check):
            stale.append(solutions)
    for p in stale:
        print(f"{'out of step' if args.check else 'updated'}: {p.relative_to(project_root())}")
    return 1 if (args.check and stale) else 0


def cmd_site(args) -> int:
    """Build the static website (Sphinx, MyST-NB) from a run's executed notebooks; nothing is executed."""
    from .site import cmd_site as build_site

    return build_site(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aecourse", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="show versions, device, data and offline fallbacks")
    check.add_argument("--no-network", action="store_true", help="do not probe the dataset host")
    check.set_defaults(func=cmd_check)
    fetch = sub.add_parser("fetch-data", help="download every dataset into the data folder")
    fetch.add_argument("--timeout", type=float, default=None,
                       help="seconds per file (default: COURSE_DOWNLOAD_TIMEOUT, else 30)")
    fetch.set_defaults(func=cmd_fetch)
    run = sub.add_parser("run", help="execute notebooks headless and report their figures")
    run.add_argument("notebooks", nargs="*", help="notebook files (default: all, in order)")
    run.add_argument("--full", action="store_true", help="full mode (default: fast mode)")
    run.add_argument("--no-cache", action="store_true", help="empty weights cache: every model trains once")
    run.add_argument("--build-dir", default=str(project_root() / "build" / "run"),
                     help="where executed notebooks and results go (default: build/run)")
    run.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default 1800)")
    run.add_argument("--notebook-timeout", type=float, default=3600,
                     help="seconds per notebook, all cells together (default 3600)")
    run.add_argument("--save", action="store_true",
                     help="also write the figures to results/<mode>.json, the committed run the chapters' "
                          "quoted figures are checked against (only for a run of every notebook that passed)")
    run.add_argument("--jobs", "-j", type=int, default=1,
                     help="notebooks run side by side, each kernel with cpu_count/jobs threads (default 1)")
    run.set_defaults(func=cmd_run)
    sync = sub.add_parser("sync-notebooks", help="write the Binder/Colab cells from pyproject's address and copy "
                                                 "each chapter's exercise statements into its solutions")
    sync.add_argument("--check", action="store_true", help="only report notebooks out of step")
    sync.set_defaults(func=cmd_sync)
    site = sub.add_parser("site", help="build the course website from the executed notebooks of a run")
    site.add_argument("--from", dest="source", default=None,
                      help="a run's folder (holding results.json) or build dir (default: build/run/full, "
                           "else build/run/fast)")
    site.add_argument("--out", default=str(project_root() / "build" / "site"),
                      help="where the HTML goes (default: build/site)")
    site.add_argument("--jobs", "-j", type=int, default=1, help="Sphinx processes (default 1)")
    site.set_defaults(func=cmd_site)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ``aecourse`` command; a bad ``COURSE_*`` setting is one line on stderr and exit code 2."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SettingError as e:
        print(f"aecourse {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
