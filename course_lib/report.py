"""Headline figures and checked claims that ``aecourse run`` collects from each notebook.

``record`` keeps a named number; ``expect`` checks a claim the chapter makes;
``exercise_result`` keeps what an exercise's check said (``checks.exercise`` calls it).
When the environment names a report file (``COURSE_REPORT_FILE``, set by
``aecourse run``), every record, claim and check is also written there as JSON.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

_RECORDS: dict[str, dict] = {}
_CLAIMS: list[dict] = []
_CHECKS: dict[str, bool] = {}  # exercise id -> right, the last verdict of each


def _write() -> None:
    path = os.environ.get("COURSE_REPORT_FILE")
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps({"records": _RECORDS, "claims": _CLAIMS, "checks": _CHECKS}, indent=2))


def record(name: str, value: float, *, unit: str = "", note: str = "",
           interval: tuple[float, float] | None = None) -> float:
    """Keep a headline figure under ``name`` and return it unchanged.

    ``interval``: e.g. a 95% bootstrap interval over the test items (``metrics.bootstrap_interval``).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"value of {name!r} must be a number, got {value!r}") from None
    if math.isnan(number):
        raise ValueError(f"value of {name!r} is NaN")
    entry = {"value": number, "unit": unit, "note": note}
    if interval is not None:
        lo, hi = (float(v) for v in interval)
        if not lo <= hi:
            raise ValueError(f"interval of {name!r} must be (low, high), got {interval!r}")
        entry["interval"] = [lo, hi]
    _RECORDS[name] = entry
    _write()
    return value


def expect(claim: str, holds: bool, *, data=None, enforce: bool | None = None) -> bool:
    """Check a claim the chapter makes about ``data`` (a dataset, read for its ``is_real``).

    A failing claim raises AssertionError when it is enforced: by default in a full run
    on real data only, since a fast run trains too little and the offline fallback is
    other data. ``enforce`` decides instead when given (the tests use it).
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
    return holds


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
    """Forget every record and claim (for tests)."""
    _RECORDS.clear()
    _CLAIMS.clear()
    _CHECKS.clear()
