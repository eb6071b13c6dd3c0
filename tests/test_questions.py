"""Concept questions: the widget answers a click, the static HTML folds the answer, bad questions are refused."""

import ast
import json
import re
from pathlib import Path

import pytest

from course_lib import questions

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
OPTIONS = {"a": ("Two.", "Right: one and one make two."), "b": ("Three.", "No: that is one and two.")}


def question_cells(path: Path) -> list[dict]:
    """Every cell of a notebook tagged ``question``."""
    return [c for c in json.loads(path.read_text())["cells"] if "question" in c.get("metadata", {}).get("tags", [])]


def asked(cell: dict) -> dict:
    """The arguments of the cell's ``questions.ask(question, options, right=...)``, read from its source."""
    calls = [n for n in ast.walk(ast.parse("".join(cell["source"]))) if isinstance(n, ast.Call)
             and ast.unparse(n.func) in ("questions.ask", "ask")]
    assert len(calls) == 1, "a question cell holds exactly one questions.ask(...)"
    (call,) = calls
    question, options = (ast.literal_eval(a) for a in call.args)
    right = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "right"))
    return {"question": question, "options": options, "right": right}


def test_a_wrong_click_says_not_yet_and_why_the_right_one_explains_every_option():
    q = questions.ask("What is one and one?", OPTIONS, right="a")
    assert q.answer("b") is False
    assert "Not yet" in q.feedback.value and "one and two" in q.feedback.value
    assert "one and one make two" not in q.feedback.value  # a wrong click does not give the answer away
    assert q.answer("a") is True
    assert "Right" in q.feedback.value and all(why in q.feedback.value for _, why in OPTIONS.values())
    with pytest.raises(ValueError, match="no option"):
        q.answer("z")


def test_clicking_a_button_answers():
    q = questions.ask("What is one and one?", OPTIONS, right="a")
    q.buttons["a"].click()
    assert "Right" in q.feedback.value and q.buttons["a"].button_style == "success"


def test_the_output_holds_a_widget_and_a_static_version_with_the_answer_folded():
    q = questions.ask("Is `x_hat` the output?", OPTIONS, right="b")
    bundle = q._repr_mimebundle_()
    assert questions.WIDGET_VIEW in bundle and "<code>x_hat</code>" in bundle["text/html"]
    static = bundle["text/html"]
    folded = static[static.index("<details>"):]
    assert "<summary>Answer</summary>" in folded and "b)</strong> is right" in folded
    assert all(why in folded for _, why in OPTIONS.values())
    assert not any(why in static[:static.index("<details>")] for _, why in OPTIONS.values())
    assert set(re.findall(r"</?(\w+)", static)) <= {"p", "ul", "li", "b", "strong", "code", "details", "summary"}
    assert "Right" not in bundle["text/plain"] and "Two." in bundle["text/plain"]


@pytest.mark.parametrize("args", [("", OPTIONS, "a"), ("Q?", {"a": OPTIONS["a"]}, "a"), ("Q?", OPTIONS, "c"),
                                  ("Q?", {"A": OPTIONS["a"], "b": OPTIONS["b"]}, "b"),
                                  ("Q?", {"a": ("text", ""), "b": OPTIONS["b"]}, "a")])
def test_a_badly_written_question_is_refused(args):
    with pytest.raises(ValueError):
        questions.ask(*args)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_asks_three_to_five_questions_each_with_its_right_option_right(path):
    cells = question_cells(path)
    assert 3 <= len(cells) <= 5, f"{path.name}: {len(cells)} question cells"
    for cell in cells:
        assert cell["cell_type"] == "code"
        spec = asked(cell)
        q = questions.ask(spec["question"], spec["options"], right=spec["right"])
        assert q.answer(spec["right"]) is True
        assert all(q.answer(k) is False for k in spec["options"] if k != spec["right"])
