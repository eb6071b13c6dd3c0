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


# --------------------------------------------------------------------------- directions, rankings and ties

# A sentence that states a direction, a ranking or a tie ends with an invisible check of it:
#   "the denoiser beats the control<!--check: ch04_dae_psnr_g05 > ch04_clean_bottleneck_psnr_g05-->"
#   "on strokes the two are tied<!--check: lo(ch05_strokes_lead) < 0 < hi(ch05_strokes_lead)-->"
# Operands: a record's value (its name), lo(name) / hi(name) (its interval), or a number; comparisons
# <, <=, >, >= may chain, and clauses join with "and".
CHECK = re.compile(r"<!--\s*check:\s*(.+?)\s*-->", re.S)
TOKEN = re.compile(r"\s*(?:(lo|hi)\(\s*([\w.-]+)\s*\)|(-?\d+(?:\.\d+)?(?:e-?\d+)?)(?![\w.])|(<=|>=|<|>)|(and)\b"
                   r"|([A-Za-z][\w.-]*))")
COMPARE = {"<": float.__lt__, "<=": float.__le__, ">": float.__gt__, ">=": float.__ge__}


def _tokens(expression: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(expression.rstrip()):
        m = TOKEN.match(expression, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot read {expression[pos:]!r} in the check {expression!r}")
        bound, bounded, number, op, conj, name = m.groups()
        out.append(("bound", f"{bound}:{bounded}") if bound else ("number", number) if number else
                   ("op", op) if op else ("and", conj) if conj else ("name", name))
        pos = m.end()
    return out


def evaluate_check(expression: str, records: dict) -> bool:
    """Whether ``expression`` holds on ``records`` ({name: {"value", "interval"?}}); ValueError if unreadable."""
    def operand(kind: str, text: str) -> float:
        if kind == "number":
            return float(text)
        which, name = text.split(":", 1) if kind == "bound" else ("value", text)
        if name not in records:
            raise ValueError(f"no record {name!r}")
        if which == "value":
            return float(records[name]["value"])
        if "interval" not in records[name]:
            raise ValueError(f"record {name!r} has no interval")
        return float(records[name]["interval"][0 if which == "lo" else 1])

    clauses, current = [], []
    for token in _tokens(expression) + [("and", "and")]:
        if token[0] == "and":
            clauses.append(current)
            current = []
        else:
            current.append(token)
    holds = True
    for clause in clauses:
        if len(clause) < 3 or len(clause) % 2 == 0 or any(k != "op" for k, _ in clause[1::2]) \
                or any(k == "op" for k, _ in clause[0::2]):
            raise ValueError(f"a clause must be operand (op operand)+, got {clause} in {expression!r}")
        values = [operand(*t) for t in clause[0::2]]
        holds &= all(COMPARE[op](a, b) for a, (_, op), b in zip(values, clause[1::2], values[1:]))
    return holds


def test_the_check_syntax():
    records = {"a": {"value": 2.0, "interval": [1.5, 2.5]}, "b.1": {"value": 1.0}, "gap": {"value": 0.1,
                                                                                          "interval": [-0.2, 0.3]}}
    assert evaluate_check("a > b.1", records) and not evaluate_check("a < b.1", records)
    assert evaluate_check("lo(gap) < 0 < hi(gap)", records)  # a tie
    assert evaluate_check("lo(a) > 1 and a >= 2", records) and not evaluate_check("lo(a) > 1 and a > 2", records)
    assert evaluate_check("hi(a) <= 2.5 and -1 < 0", records)
    for bad in ("a >", "a > nothing", "hi(b.1) > 0", "a + 1 > 0", "> a"):
        with pytest.raises(ValueError):
            evaluate_check(bad, records)
    text = "the first wins<!--check: a > b.1--> and ties <!-- check: lo(gap) < 0 < hi(gap) -->"
    assert CHECK.findall(text) == ["a > b.1", "lo(gap) < 0 < hi(gap)"]


def _full_records() -> dict:
    data = json.loads(COMMITTED.read_text())
    return {k: v for nb in data["notebooks"] for k, v in nb["records"].items()}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_directions_and_ties_in_the_text_hold_in_the_committed_full_run(path):
    cells = json.loads(path.read_text())["cells"]
    found = [(i, e) for i, c in enumerate(cells) if c["cell_type"] == "markdown"
             for e in CHECK.findall("".join(c["source"]))]
    if not found:
        return
    records = _full_records()
    problems = []
    for i, expression in found:
        try:
            if not evaluate_check(expression, records):
                problems.append(f"cell {i}: the text says '{expression}', the committed full run does not")
        except ValueError as e:
            problems.append(f"cell {i}: {e}")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- nothing stray on the screen

def test_no_cell_of_the_committed_full_run_echoes_a_value():
    data = json.loads(COMMITTED.read_text())
    missing = [nb["notebook"] for nb in data["notebooks"] if "echoes" not in nb]
    assert not missing, f"results/full.json predates the echo check for {missing}: rerun the full course with --save"
    stray = [f"{nb['notebook']} cell {e['cell']}: {e['text']!r}" for nb in data["notebooks"] for e in nb["echoes"]]
    assert not stray, "cells whose last line shows a value under them:\n" + "\n".join(stray)


def test_no_cell_of_this_fast_run_echoes_a_value():
    """The fast run CI makes before the tests (COURSE_SITE_FROM), read the way the runner reads it."""
    import os

    import nbformat

    from aecourse_tools.runner import stray_echoes

    run = os.environ.get("COURSE_SITE_FROM")
    if not run or not Path(run).is_dir():
        pytest.skip("no fast run to read: COURSE_SITE_FROM names none (CI sets it after `aecourse run`)")
    executed = sorted(Path(run).glob("*.ipynb"))
    assert executed, f"{run} holds no executed notebook"
    stray = [f"{p.name} cell {e['cell']}: {e['text']!r}" for p in executed
             for e in stray_echoes(nbformat.read(p, as_version=4))]
    assert not stray, "cells whose last line shows a value under them:\n" + "\n".join(stray)
