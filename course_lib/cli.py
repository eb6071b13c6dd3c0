"""The ``aecourse`` command: check the set-up, fetch data, run notebooks headless."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import sys
import time
from importlib import metadata
from pathlib import Path
from urllib.parse import urlparse

from .config import get_config, project_root
from .results import Poller, SpeedGauge

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

    from .data import DownloadError, _run_with_deadline

    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)

    def connect():
        socket.create_connection((parsed.hostname, port), timeout=timeout).close()

    try:
        _run_with_deadline(connect, timeout)
        return True
    except (DownloadError, OSError):
        return False


def cmd_check(args) -> int:
    """Print versions, device, data folder, datasets present and what will fall back."""
    from .data import ECG5000_URL, dataset_status, mnist_family

    cfg = get_config()
    print(f"python        {platform.python_version()} ({sys.executable})")
    for p in PACKAGES:
        print(f"{p:<13} {_version(p)}")
    print(f"device        {cfg.device}")
    print(f"mode          {cfg.mode} (COURSE_FAST={os.environ.get('COURSE_FAST', '')!r})")
    print(f"data folder   {cfg.data_dir}")
    print(f"weights cache {cfg.cache_dir if cfg.use_cache else 'off'}")
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
    from .data import DownloadError, dataset_status, fetch_dataset

    cfg = get_config()
    failed = 0
    for name, present in dataset_status(cfg.data_dir).items():
        if present:
            print(f"{name:<14} already in {cfg.data_dir}")
            continue
        try:
            fetch_dataset(name, cfg.data_dir, timeout=args.timeout)
            print(f"{name:<14} downloaded and verified")
        except (DownloadError, OSError) as e:
            failed += 1
            print(f"{name:<14} FAILED: {e}")
    return 1 if failed else 0


# --------------------------------------------------------------------------- run

def find_notebooks(paths: list[str]) -> list[Path]:
    """The notebooks named, or every chapter and solution notebook in order."""
    if paths:
        found = [Path(p) for p in paths]
        missing = [str(p) for p in found if not p.is_file() or p.suffix != ".ipynb"]
        if missing:
            raise SystemExit(f"not notebook files: {', '.join(missing)}")
        return found
    nb_dir = project_root() / "notebooks"
    return sorted(nb_dir.glob("[0-9]*.ipynb")) + sorted((nb_dir / "solutions").glob("[0-9]*.ipynb"))


class PeakMemory(Poller):
    """Polls the resident memory of this process's children (the kernel) in a thread."""

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


@contextlib.contextmanager
def _environment(**values: str):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_notebook(path: Path, out_dir: Path, *, fast: bool, cache_dir: Path | None, timeout: int,
                 threads: int | None = None) -> dict:
    """Execute one notebook with nbclient; return its status, time, memory and figures.

    ``threads`` caps the kernel's CPU threads (``OMP_NUM_THREADS``), for notebooks run side by side.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    report_file = out_dir / f"{path.stem}.json"
    report_file.unlink(missing_ok=True)
    env = dict(COURSE_FAST="1" if fast else "0", COURSE_REPORT_FILE=str(report_file))
    if cache_dir is not None:
        env["COURSE_CACHE_DIR"] = str(cache_dir)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    status, error = "ok", ""
    start = time.perf_counter()
    with _environment(**env), PeakMemory() as memory:
        try:
            client.execute()
        except CellExecutionError as e:
            status, error = "FAILED", str(e).strip().splitlines()[-1][:200]
    wall = time.perf_counter() - start
    nbformat.write(nb, out_dir / path.name)
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    return {"notebook": path.name, "status": status, "error": error, "wall_s": round(wall, 1),
            "peak_mb": round(memory.peak / 2**20), "records": report.get("records", {}),
            "claims": report.get("claims", [])}


def format_table(results: list[dict]) -> str:
    """A plain-text table: notebook, status, wall time, peak memory, headline figures."""
    lines = [f"{'notebook':<36} {'status':<7} {'wall s':>7} {'peak MB':>8}  figures"]
    for r in results:
        figs = ", ".join(f"{k}={v['value']:.4g}{v['unit'] and ' ' + v['unit']}"
                         for k, v in r["records"].items())
        lines.append(f"{r['notebook']:<36} {r['status']:<7} {r['wall_s']:>7.1f} "
                     f"{r['peak_mb']:>8}  {figs}")
        if r["error"]:
            lines.append(f"{'':<36} error: {r['error']}")
    lines.append(f"sum of notebook wall times {sum(r['wall_s'] for r in results):.1f} s")
    return "\n".join(lines)


def trained_twice(cache_dir: Path) -> list[str]:
    """Model names that a run's fresh weights cache holds under more than one key.

    ``fit_cached`` saves ``{name}-{key}.pt``, the key covering every setting. In one run
    with a fresh cache, one name under two keys means two notebooks (a chapter and its
    solution) trained "the same" model with different settings: the solution paid to
    train it again and no longer works with the chapter's model.
    """
    from .cache import cached_names

    names = cached_names(cache_dir)
    return sorted({n for n in names if names.count(n) > 1})


def write_report(results: list[dict], out_dir: Path, mode: str, elapsed: float | None = None,
                 jobs: int = 1, twice: list[str] | None = None, speed: dict | None = None) -> None:
    """results.json (machine, run and every figure) and results.md beside the executed notebooks."""
    from .data import dataset_status
    from .results import command_line, machine_info, markdown_report

    cfg = get_config()
    present = [name for name, ok in dataset_status(cfg.data_dir).items() if ok]
    meta = {**machine_info(), "mode": mode, "command": command_line(),
            "data": f"{cfg.data_dir} ({', '.join(present) or 'nothing: offline fallbacks'})",
            "jobs": jobs, "elapsed_s": None if elapsed is None else round(elapsed, 1),
            "trained_twice": list(twice or []), "cpu_gflops": speed}
    (out_dir / "results.json").write_text(json.dumps({"meta": meta, "notebooks": results}, indent=2))
    (out_dir / "results.md").write_text(markdown_report(results, meta))


def _chapter(path: Path) -> str:
    return path.name.split("_", 1)[0]


def start_order(notebooks: list[Path], previous: dict[str, float]) -> list[Path]:
    """Longest first, by ``previous`` wall times (a former run's), the rest in the order given.

    Starting the longest notebook first keeps one long chapter from running alone at the end.
    """
    rank = {p: i for i, p in enumerate(notebooks)}
    return sorted(notebooks, key=lambda p: (-previous.get(p.name, -1.0), rank[p]))


def _previous_wall_times(out_dir: Path) -> dict[str, float]:
    try:
        old = json.loads((out_dir / "results.json").read_text())
        return {r["notebook"]: float(r["wall_s"]) for r in old["notebooks"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def run_side_by_side(pool, notebooks: list[Path], out_dir: Path, jobs: int, kw: dict) -> list[dict]:
    """Run notebooks in ``pool``, ``jobs`` at a time; results in the order given.

    A solution notebook (``solutions/NN_*``) starts only after its chapter ``NN_*`` of the
    same run has finished, so it reuses the models that chapter cached instead of
    training them again. Otherwise the longest notebooks of the previous run start first.
    """
    from concurrent.futures import FIRST_COMPLETED, wait

    chapters = {_chapter(p): p for p in notebooks if p.parent.name != "solutions"}
    needs = {p: chapters.get(_chapter(p)) if p.parent.name == "solutions" else None for p in notebooks}
    queue, done, running, results = start_order(notebooks, _previous_wall_times(out_dir)), set(), {}, {}
    while queue or running:
        ready = [p for p in queue if needs[p] is None or needs[p] in done]
        for path in ready[:jobs - len(running)]:
            queue.remove(path)
            running[pool.submit(run_notebook, path, out_dir, **kw)] = path
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in finished:
            path = running.pop(future)
            results[path] = future.result()
            done.add(path)
    return [results[p] for p in notebooks]


def cmd_run(args) -> int:
    """Execute notebooks headless, keep the executed copies, print the results table."""
    notebooks = find_notebooks(args.notebooks)
    mode = "full" if args.full else "fast"
    out_dir = Path(args.build_dir).resolve() / mode  # absolute: kernels run in the notebook's folder
    out_dir.mkdir(parents=True, exist_ok=True)
    cache_dir = None
    if args.no_cache:  # a fresh cache for this run: every model trains once, solutions reuse them
        cache_dir = out_dir / "cache"
        shutil.rmtree(cache_dir, ignore_errors=True)
    if args.jobs < 1:
        raise SystemExit(f"--jobs must be at least 1, got {args.jobs}")
    jobs = min(args.jobs, len(notebooks))
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None
    kw = dict(fast=not args.full, cache_dir=cache_dir, timeout=args.timeout, threads=threads)
    start = time.perf_counter()
    print(f"running {len(notebooks)} notebook(s) in {mode} mode, {jobs} at a time ...", flush=True)
    with SpeedGauge() as gauge:
        if jobs == 1:
            results = []
            for path in notebooks:
                print(f"running {path.name} ...", flush=True)
                results.append(run_notebook(path, out_dir, **kw))
        else:  # one process per worker, so each one's peak memory counts only its own kernel
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=jobs) as pool:
                results = run_side_by_side(pool, notebooks, out_dir, jobs, kw)
    elapsed = time.perf_counter() - start
    table = format_table(results)
    print(table)
    print(f"whole run: {elapsed:.1f} s wall clock, {jobs} notebook(s) at a time")
    speed = gauge.summary()
    if speed:
        print(f"CPU speed during the run: median {speed['median']:.1f} GFLOP/s per core "
              f"(min {speed['min']:.1f}, max {speed['max']:.1f}, {len(speed['samples'])} samples)")
    twice = trained_twice(cache_dir) if cache_dir is not None else []
    if twice:
        print(f"TRAINED TWICE with different settings (a solution did not reuse its chapter's model): "
              f"{', '.join(twice)}")
    write_report(results, out_dir, mode, elapsed=elapsed, jobs=jobs, twice=twice, speed=speed)
    print(f"executed notebooks, results.md and results.json in {out_dir}")
    return 0 if all(r["status"] == "ok" for r in results) and not twice else 1


def cmd_sync(args) -> int:
    """Write the Binder/Colab badge and set-up cells into every notebook (or check them)."""
    from .hosting import repository, sync_notebook

    repo = repository()
    paths = sorted((project_root() / "notebooks").rglob("[0-9]*.ipynb"))
    stale = [p for p in paths if ".ipynb_checkpoints" not in p.parts
             and sync_notebook(p, repo, write=not args.check)]
    for p in stale:
        print(f"{'out of step' if args.check else 'updated'}: {p.relative_to(project_root())}")
    return 1 if (args.check and stale) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aecourse", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="show versions, device, data and offline fallbacks")
    check.add_argument("--no-network", action="store_true", help="do not probe the dataset host")
    check.set_defaults(func=cmd_check)
    fetch = sub.add_parser("fetch-data", help="download every dataset into the data folder")
    fetch.add_argument("--timeout", type=float, default=60.0, help="seconds per file (default 60)")
    fetch.set_defaults(func=cmd_fetch)
    run = sub.add_parser("run", help="execute notebooks headless and report their figures")
    run.add_argument("notebooks", nargs="*", help="notebook files (default: all, in order)")
    run.add_argument("--full", action="store_true", help="full mode (default: fast mode)")
    run.add_argument("--no-cache", action="store_true", help="empty weights cache: every model trains once")
    run.add_argument("--build-dir", default=str(project_root() / "build" / "run"),
                     help="where executed notebooks and results go (default: build/run)")
    run.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default 1800)")
    run.add_argument("--jobs", "-j", type=int, default=1,
                     help="notebooks run side by side, each kernel with cpu_count/jobs threads (default 1)")
    run.set_defaults(func=cmd_run)
    sync = sub.add_parser("sync-notebooks", help="write the Binder/Colab cells from pyproject's address")
    sync.add_argument("--check", action="store_true", help="only report notebooks out of step")
    sync.set_defaults(func=cmd_sync)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
