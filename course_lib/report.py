"""Headline figures and checked claims that ``aecourse run`` collects from each notebook.

``record`` keeps a named number; ``expect`` checks a claim the chapter makes;
``workload`` notes what one training cost (``training.fit`` calls it, silently);
``exercise_result`` keeps what an exercise's check said (``checks.exercise`` calls it).
When the environment names a report file (``COURSE_REPORT_FILE``, set by
``aecourse run``), every record, claim, workload and check is also written there as JSON.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

_RECORDS: dict[str, dict] = {}
_CLAIMS: list[dict] = []
_WORKLOADS: list[dict] = []
_CHECKS: dict[str, bool] = {}  # exercise id -> right, the last verdict of each


def _write() -> None:
    path = os.environ.get("COURSE_REPORT_FILE")
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps({"records": _RECORDS, "claims": _CLAIMS, "workloads": _WORKLOADS,
                                          "checks": _CHECKS}, indent=2, allow_nan=False))


def _check_finite(name: str, what: str, *numbers: float) -> None:
    if not all(math.isfinite(n) for n in numbers):
        shown = numbers[0] if len(numbers) == 1 else numbers
        raise ValueError(f"{what} of {name!r} is {shown}: a recorded figure must be a finite number (the report is "
                         "strict JSON); record a finite figure instead, e.g. the MSE where the PSNR is infinite")


def record(name: str, value: float, *, unit: str = "", note: str = "",
           interval: tuple[float, float] | None = None) -> None:
    """Keep a headline figure under ``name``. Nothing is returned, so a record on a cell's last
    line leaves no stray number under the cell.

    ``interval``: e.g. a 95% bootstrap interval over the test items (``metrics.bootstrap_interval``).
    A figure and its interval must be finite numbers: NaN and infinity are refused, since the
    report is strict JSON and a table cannot compare them (record the MSE where a perfect
    reconstruction makes the PSNR infinite).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"value of {name!r} must be a number, got {value!r}") from None
    _check_finite(name, "value", number)
    entry = {"value": number, "unit": unit, "note": note}
    if interval is not None:
        lo, hi = (float(v) for v in interval)
        _check_finite(name, "interval", lo, hi)
        if not lo <= hi:
            raise ValueError(f"interval of {name!r} must be (low, high), got {interval!r}")
        entry["interval"] = [lo, hi]
    _RECORDS[name] = entry
    _write()


def expect(claim: str, holds: bool, *, data=None, enforce: bool | None = None) -> None:
    """Check a claim the chapter makes about ``data`` (a dataset, read for its ``is_real``).

    A failing claim raises AssertionError when it is enforced: by default in a full run
    on real data only, since a fast run trains too little and the offline fallback is
    other data. ``enforce`` decides instead when given (the tests use it). The verdict is
    printed and written to the report; nothing is returned, so a claim on a cell's last
    line does not echo a stray ``True`` under it.
    """
    if enforce is None:
        from .config import get_config

        enforce = not get_config().fast and (data is None or bool(data.is_real))
    holds = bool(holds)
    _CLAIMS.append({"claim": claim, "holds": holds, "enforced": bool(enforce)})
    _write()
    status = "holds" if holds else ("FAILS" if enforce else "does not hold in this run (not enforced)")
    print(f"claim: {claim}: {status}")
    if enforce and not holds:
        raise AssertionError(f"the chapter claims '{claim}', but this full run shows otherwise")


def workload(name: str, *, flops_per_image: float, images: int, train_seconds: float, seconds: float,
             batch_size: int, threads: int, device: str, cached: bool = False) -> None:
    """Note what one training cost: FLOPs per image of a training step, images trained, seconds.

    ``training.fit`` and ``fit_cached`` call it; nothing is shown. A cache hit trains nothing
    (``images=0``) but keeps its FLOPs per image. ``train_seconds`` is the time in training steps,
    ``seconds`` the whole fit's (its validation passes included).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if not (flops_per_image >= 0 and images >= 0 and train_seconds >= 0 and seconds >= 0
            and batch_size >= 1 and threads >= 1):
        raise ValueError(f"workload {name!r}: expected counts and seconds >= 0, batch_size and threads >= 1, got "
                         f"flops_per_image={flops_per_image}, images={images}, train_seconds={train_seconds}, "
                         f"seconds={seconds}, batch_size={batch_size}, threads={threads}")
    _WORKLOADS.append({"name": name, "flops_per_image": float(flops_per_image), "images": int(images),
                       "train_flops": float(flops_per_image) * int(images), "train_seconds": round(train_seconds, 3),
                       "seconds": round(seconds, 3), "batch_size": int(batch_size), "threads": int(threads),
                       "device": str(device), "cached": bool(cached)})
    _write()


def workloads() -> list[dict]:
    """A copy of the workloads noted so far in this process."""
    return [dict(w) for w in _WORKLOADS]


def exercise_result(exercise: str, right: bool) -> None:
    """Keep the verdict of exercise ``exercise``'s check (a later check of the same exercise replaces it)."""
    if not isinstance(exercise, str) or not exercise:
        raise ValueError(f"exercise must be a non-empty string, got {exercise!r}")
    _CHECKS[exercise] = bool(right)
    _write()


def records() -> dict[str, dict]:
    """A copy of the figures recorded so far in this process."""
    return {k: dict(v) for k, v in _RECORDS.items()}


def clear() -> None:
    """Forget every record, claim and workload (for tests)."""
    _RECORDS.clear()
    _CLAIMS.clear()
    _WORKLOADS.clear()
    _CHECKS.clear()
