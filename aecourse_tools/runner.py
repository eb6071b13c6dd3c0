"""Running notebooks headless for ``aecourse run``: one at a time or side by side, surviving failures.

Every notebook ends with a row: ``ok``, or ``FAILED`` with a one-line reason (a cell's
error, a cell or the whole notebook running past its time limit, a dead kernel, an
unreadable file). One failure never stops the others, and stopping the run (SIGTERM,
Ctrl-C) stops every worker and kernel it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import threading
import time
from pathlib import Path

from course_lib.config import project_root

from .monitors import PeakMemory

STAGGER_S = 3.0  # seconds between kernels started together
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


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


INLINE_BACKEND = "module://matplotlib_inline.backend_inline"  # what a Jupyter kernel draws figures with


def one_line(text: str, limit: int = 200) -> str:
    """The last non-empty line of ``text``, without terminal colour codes, at most ``limit`` characters."""
    lines = [line.strip() for line in _ANSI.sub("", str(text)).splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:limit]


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


def kill_descendants() -> None:
    """Kill every process this one started, and theirs (workers, kernels, probes)."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(children, timeout=5)


class NotebookDeadline:
    """Kills this process's kernels when a notebook runs past ``seconds`` in all (None: no limit)."""

    def __init__(self, seconds: float | None):
        self.seconds, self.passed = seconds, False
        self._timer = None if seconds is None else threading.Timer(seconds, self._expire)

    def _expire(self):
        self.passed = True
        kill_descendants()

    def __enter__(self):
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc):
        if self._timer is not None:
            self._timer.cancel()


def _execute(client, deadline: NotebookDeadline, cell_timeout: int) -> str:
    """Run every cell; '' when all went well, else why not, in one line."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    try:
        client.execute()
        return ""
    except CellTimeoutError:
        return f"a cell ran past the per-cell time limit of {cell_timeout} s (--timeout)"
    except DeadKernelError as e:
        if deadline.passed:
            return f"ran past the notebook time limit of {deadline.seconds:g} s (--notebook-timeout)"
        return f"the kernel died ({one_line(e) or 'no message'}), e.g. out of memory"
    except CellExecutionError as e:
        return one_line(e)
    except Exception as e:  # noqa: BLE001 - the run goes on with the other notebooks, and says why
        if deadline.passed:
            return f"ran past the notebook time limit of {deadline.seconds:g} s (--notebook-timeout)"
        return f"{type(e).__name__}: {one_line(e)}"


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def stray_echoes(nb) -> list[dict]:
    """Cells whose last line left a value on the learner's screen: an ``execute_result`` that is not a widget.

    A cell that ends in ``report.expect(...)``, a float or a figure without ``;`` shows its
    value (``True``, ``0.153``, a second copy of the figure) under the cell. Widgets are meant
    to be shown that way and are left out. Returns ``[{"cell": index, "text": ...}]``.
    """
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "execute_result" and WIDGET_VIEW not in out.get("data", {}):
                text = str(out.get("data", {}).get("text/plain", ""))
                found.append({"cell": i, "text": one_line(text, 80)})
    return found


def _not_json(constant: str):
    raise ValueError(f"{constant} is not a JSON number")


def run_notebook(path: Path, out_dir: Path, *, fast: bool, cache_dir: Path | None, timeout: int,
                 notebook_timeout: float | None = None, threads: int | None = None) -> dict:
    """Execute one notebook with nbclient; return its status, time, memory and figures.

    ``timeout`` limits each cell, ``notebook_timeout`` the whole notebook (seconds);
    ``threads`` caps the kernel's CPU threads (``OMP_NUM_THREADS``), for notebooks run side by side.
    """
    import nbformat
    from nbclient import NotebookClient

    row = {"notebook": path.name, "status": "ok", "error": "", "wall_s": 0.0, "peak_mb": 0,
           "records": {}, "claims": [], "echoes": [], "workloads": [], **exercise_counts(None, {})}
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:  # noqa: BLE001 - not JSON, not a notebook, unreadable
        return {**row, "status": "FAILED", "error": f"unreadable notebook: {type(e).__name__}: {one_line(e)}"}
    report_file = out_dir / f"{path.stem}.json"
    report_file.unlink(missing_ok=True)
    # the inline backend, whatever MPLBACKEND says here (Agg on a headless server, or pytest's conftest): with Agg
    # every figure is drawn off-screen and the executed notebook, and the site built from it, has none
    env = dict(COURSE_FAST="1" if fast else "0", COURSE_REPORT_FILE=str(report_file), MPLBACKEND=INLINE_BACKEND)
    if cache_dir is not None:
        env["COURSE_CACHE_DIR"] = str(cache_dir)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    with _environment(**env), PeakMemory() as memory, NotebookDeadline(notebook_timeout) as deadline:
        error = _execute(client, deadline, timeout)
    wall = time.perf_counter() - start
    with contextlib.suppress(OSError, ValueError):
        nbformat.write(nb, out_dir / path.name)
    try:
        report = json.loads(report_file.read_text(), parse_constant=_not_json) if report_file.exists() else {}
    except (OSError, ValueError) as e:  # only a hand-edited report file: course_lib.report writes strict JSON
        report, error = {}, error or f"its figures could not be read from {report_file.name}: {one_line(e)}"
    return {**row, "status": "FAILED" if error else "ok", "error": error, "wall_s": round(wall, 1),
            "peak_mb": round(memory.peak / 2**20), "records": report.get("records", {}),
            "claims": report.get("claims", []), "echoes": stray_echoes(nb), "workloads": report.get("workloads", []),
            **exercise_counts(nb, report.get("checks", {}))}


EXERCISE_TAG = "exercise"  # the code cell of an exercise: its scaffold (or solution) and its check


def exercise_counts(nb, checks: dict) -> dict:
    """A notebook's exercises (code cells tagged ``exercise``) and what their checks said in the run."""
    cells = [] if nb is None else nb.cells
    held = sum(1 for c in cells if c.cell_type == "code" and EXERCISE_TAG in c.get("metadata", {}).get("tags", []))
    passed = sum(1 for right in checks.values() if right is True)
    return {"exercises": held, "checks_passed": passed, "checks_not_yet": len(checks) - passed}


def _chapter(path: Path) -> str:
    return path.name.split("_", 1)[0]


def start_order(notebooks: list[Path], previous: dict[str, float]) -> list[Path]:
    """Longest first, by ``previous`` wall times (a former run's), the rest in the order given.

    Starting the longest notebook first keeps one long chapter from running alone at the end.
    """
    rank = {p: i for i, p in enumerate(notebooks)}
    return sorted(notebooks, key=lambda p: (-previous.get(p.name, -1.0), rank[p]))


def previous_wall_times(out_dir: Path) -> dict[str, float]:
    """Each notebook's wall time in the last run's results.json in ``out_dir`` ({} if none)."""
    try:
        old = json.loads((out_dir / "results.json").read_text())
        return {r["notebook"]: float(r["wall_s"]) for r in old["notebooks"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _crashed(path: Path, error: BaseException) -> dict:
    return {"notebook": path.name, "status": "FAILED", "wall_s": 0.0, "peak_mb": 0, "records": {},
            "claims": [], **exercise_counts(None, {}),
            "error": f"its worker failed: {type(error).__name__}: {one_line(error)}"}


def run_side_by_side(pool, notebooks: list[Path], out_dir: Path, jobs: int, kw: dict,
                     previous: dict[str, float] | None = None) -> list[dict]:
    """Run notebooks in ``pool``, ``jobs`` at a time; results in the order given.

    A solution notebook (``solutions/NN_*``) starts only after its chapter ``NN_*`` of the
    same run has finished, so it reuses the models that chapter cached instead of
    training them again. Otherwise the longest notebooks of the previous run start first.
    """
    from concurrent.futures import FIRST_COMPLETED, wait

    chapters = {_chapter(p): p for p in notebooks if p.parent.name != "solutions"}
    needs = {p: chapters.get(_chapter(p)) if p.parent.name == "solutions" else None for p in notebooks}
    queue, done, running, results = start_order(notebooks, previous or {}), set(), {}, {}
    while queue or running:
        ready = [p for p in queue if needs[p] is None or needs[p] in done]
        for i, path in enumerate(ready[:jobs - len(running)]):
            if i:  # kernels started at the same instant can pick the same free port and cross-talk
                time.sleep(STAGGER_S)
            queue.remove(path)
            print(f"running {path.name} ...", flush=True)
            running[pool.submit(run_notebook, path, out_dir, **kw)] = path
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in finished:
            path = running.pop(future)
            try:
                results[path] = future.result()
            except Exception as e:  # noqa: BLE001 - a worker that died still gets its row
                results[path] = _crashed(path, e)
            done.add(path)
    return [results[p] for p in notebooks]


def run_all(notebooks: list[Path], out_dir: Path, jobs: int, kw: dict,
            previous: dict[str, float] | None = None) -> list[dict]:
    """Every notebook's row, ``jobs`` at a time, each in a worker process.

    Workers, even for one job at a time: nbclient takes over SIGINT and SIGTERM in the
    process that runs it (it shuts the kernel down and goes on with the next cell), so
    only a process that does not run nbclient itself can stop the run when told to. Each
    worker's peak memory then counts only its own kernel. ``previous``: wall times of a
    former run, to start the longest notebooks first.
    """
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=jobs)
    try:
        results = run_side_by_side(pool, notebooks, out_dir, jobs, kw, previous)
    except BaseException:  # stopped: end the workers and their kernels before the pool waits for them
        kill_descendants()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return results


class Interrupted(BaseException):
    """The run was stopped by SIGTERM or Ctrl-C (like KeyboardInterrupt, not caught as an Exception)."""


@contextlib.contextmanager
def stop_everything_on_signal():
    """On SIGTERM or Ctrl-C: kill every worker and kernel this run started, then raise Interrupted."""
    def stop(signum, frame):
        for s in old:  # a second signal while cleaning up must not leave processes behind
            signal.signal(s, signal.SIG_IGN)
        kill_descendants()  # at once: a kernel busy in a cell would keep the run waiting
        raise Interrupted(signal.Signals(signum).name)

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    except (Interrupted, KeyboardInterrupt):
        kill_descendants()
        raise Interrupted("stopped") from None
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
