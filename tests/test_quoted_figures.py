"""A figure quoted in a chapter's text matches the committed full run (results/full.json).

A markdown cell quotes a measured figure as ``0.0077<!--fig:ch02_ae32_test_mse-->``: the
number as the learner reads it, then an HTML comment (invisible once rendered) naming the
record. ``aecourse run --full --no-cache --jobs 2 --save`` rewrites results/full.json; a
retrained model that moves a quoted figure then fails this test until the text is updated.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "results" / "full.json"
QUOTE = re.compile(r"(-?\d[\d,]*(?:\.\d+)?)\s*(%|dB)?\s*<!--\s*fig:([\w.-]+)\s*-->")


def quotes(text: str) -> list[tuple[str, str, str]]:
    """(number as written, unit, record name) for every quoted figure in ``text``."""
    return QUOTE.findall(text)


def mismatch(written: str, unit: str, value: float) -> str | None:
    """Why ``written`` does not show ``value`` at the precision it is written with, or None."""
    shown = float(written.replace(",", ""))
    value = value * 100 if unit == "%" else value
    decimals = len(written.split(".")[1]) if "." in written else 0
    if round(value, decimals) != pytest.approx(shown, abs=10 ** -(decimals + 3)):
        return f"the text says {written}{unit}, the committed run {value:.{decimals + 2}f}"
    return None


def test_the_quote_syntax_and_the_comparison():
    text = "AE 0.0077<!--fig:a--> against 46 %<!--fig:b--> and 9.2 dB <!-- fig:c -->; 12 dB alone"
    assert quotes(text) == [("0.0077", "", "a"), ("46", "%", "b"), ("9.2", "dB", "c")]
    assert mismatch("0.0077", "", 0.007712) is None and mismatch("46", "%", 0.4561) is None
    assert mismatch("0.0077", "", 0.0079) and mismatch("9.2", "dB", 9.26)


def _records() -> dict:
    data = json.loads(COMMITTED.read_text())
    return {k: v["value"] for nb in data["notebooks"] for k, v in nb["records"].items()}


NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_quoted_figures_match_the_committed_full_run(path):
    cells = json.loads(path.read_text())["cells"]
    found = [(i, q) for i, c in enumerate(cells) if c["cell_type"] == "markdown"
             for q in quotes("".join(c["source"]))]
    if not found:
        return
    assert COMMITTED.exists(), "quoted figures need results/full.json: aecourse run --full --no-cache --jobs 2 --save"
    records = _records()
    problems = [f"cell {i}: {name}: " + ("no such record in results/full.json" if name not in records
                                         else mismatch(written, unit, records[name]))
                for i, (written, unit, name) in found
                if name not in records or mismatch(written, unit, records[name])]
    assert not problems, "\n".join(problems)
