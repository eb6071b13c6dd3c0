"""Headline figures and checked claims that ``aecourse run`` collects from each notebook.

``record`` keeps a named number; ``expect`` checks a claim the chapter makes.
When the environment names a report file (``COURSE_REPORT_FILE``, set by
``aecourse run``), every record and claim is also written there as JSON.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

_RECORDS: dict[str, dict] = {}
_CLAIMS: list[dict] = []


def _write() -> None:
    path = os.environ.get("COURSE_REPORT_FILE")
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps({"records": _RECORDS, "claims": _CLAIMS}, indent=2))


def record(name: str, value: float, *, unit: str = "", note: str = "") -> float:
    """Keep a headline figure under ``name`` and return it unchanged."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"value of {name!r} must be a number, got {value!r}") from None
    if math.isnan(number):
        raise ValueError(f"value of {name!r} is NaN")
    _RECORDS[name] = {"value": number, "unit": unit, "note": note}
    _write()
    return value


def expect(claim: str, holds: bool, *, enforce: bool) -> bool:
    """Check a claim; raise AssertionError if it fails and ``enforce`` is true.

    Chapters enforce their quality claims only in full runs on real data: a
    fast run trains too little, and the offline fallback data is different.
    """
    holds = bool(holds)
    _CLAIMS.append({"claim": claim, "holds": holds, "enforced": bool(enforce)})
    _write()
    status = "holds" if holds else ("FAILS" if enforce else "does not hold in this run (not enforced)")
    print(f"claim: {claim}: {status}")
    if enforce and not holds:
        raise AssertionError(f"the chapter claims '{claim}', but this full run shows otherwise")
    return holds


def records() -> dict[str, dict]:
    """A copy of the figures recorded so far in this process."""
    return {k: dict(v) for k, v in _RECORDS.items()}


def clear() -> None:
    """Forget every record and claim (for tests)."""
    _RECORDS.clear()
    _CLAIMS.clear()
