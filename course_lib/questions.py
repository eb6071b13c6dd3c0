"""Concept questions in the middle of a chapter: options, a button per option, every option explained.

A question cell holds one call whose source a reader can follow on GitHub::

    questions.ask(
        "Your code has 1,024 numbers and the test error is tiny. What have you learned?",
        {"a": ("That the model understands digits.", "Why not: ..."),
         "b": ("Nothing yet: ...", "Right: ...")},
        right="b")

In Jupyter it is a widget: click an option; a wrong one says "not yet" and why, the
right one says "right" and shows the explanation of every option. Where no kernel or
widget manager runs (a static page, the course website) the same output holds an HTML
version whose answer is folded in a ``<details>`` element (only p, ul, li, b, strong,
code, details and summary: what the website's sanitiser keeps).
"""

from __future__ import annotations

import html
import re

import ipywidgets as W

QUESTION_CLASS = "course-question"
OPTION_CLASS = "course-question-option"
FEEDBACK_CLASS = "course-question-feedback"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _inline(text: str) -> str:
    """Plain text as HTML: escaped, with `code` spans."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False))


def _check(question: str, options: dict, right: str) -> None:
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"question must be a non-empty string, got {question!r}")
    if not isinstance(options, dict) or not 2 <= len(options) <= 6:
        raise ValueError(f"options must be a dict of 2 to 6 entries, got {options!r}")
    for key, value in options.items():
        if not (isinstance(key, str) and re.fullmatch(r"[a-z]", key)):
            raise ValueError(f"option keys must be single lower-case letters, got {key!r}")
        if not (isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, str) and v.strip() for v in value)):
            raise ValueError(f"option {key!r} must be (text, explanation), two non-empty strings, got {value!r}")
    if right not in options:
        raise ValueError(f"right must be one of the options {list(options)}, got {right!r}")


class Question:
    """One concept question: ``widget`` for a live kernel, ``static_html`` and ``text`` for everything else."""

    def __init__(self, question: str, options: dict[str, tuple[str, str]], right: str):
        _check(question, options, right)
        self.question, self.options, self.right = question, dict(options), right
        self.feedback = W.HTML(value="")
        self.feedback.add_class(FEEDBACK_CLASS)
        self.buttons = {}
        rows = []
        for key, (text, _) in self.options.items():
            button = W.Button(description=f"{key})", tooltip=text, layout=W.Layout(width="3.5em"))
            button.add_class(OPTION_CLASS)
            button.on_click(lambda _b, key=key: self.answer(key))
            self.buttons[key] = button
            rows.append(W.HBox([button, W.HTML(value=_inline(text), layout=W.Layout(width="auto"))]))
        self.widget = W.VBox([W.HTML(value=f"<b>Question.</b> {_inline(question)}"), *rows, self.feedback])
        self.widget.add_class(QUESTION_CLASS)

    def answer(self, key: str) -> bool:
        """What a click on option ``key`` does: show the verdict (and, when right, every explanation)."""
        if key not in self.options:
            raise ValueError(f"no option {key!r}; the options are {list(self.options)}")
        text, why = self.options[key]
        if key != self.right:
            self.buttons[key].button_style = "warning"
            self.feedback.value = f"<p><b>Not yet.</b> {key}) {_inline(why)}</p><p>Try another option.</p>"
            return False
        self.buttons[key].button_style = "success"
        self.feedback.value = (f"<p><b>Right: {key}).</b></p>" + self._explanations())
        return True

    def _explanations(self) -> str:
        items = "".join(f"<li><b>{k})</b> {_inline(why)}</li>" for k, (_, why) in self.options.items())
        return f"<ul>{items}</ul>"

    def static_html(self) -> str:
        """The question, its options and, folded, the answer with every explanation."""
        items = "".join(f"<li><b>{k})</b> {_inline(text)}</li>" for k, (text, _) in self.options.items())
        return (f"<p><strong>Question.</strong> {_inline(self.question)}</p><ul>{items}</ul>"
                f"<details><summary>Answer</summary><p><strong>{self.right})</strong> is right.</p>"
                f"{self._explanations()}</details>")

    def text(self) -> str:
        """Plain text for a plain-text view: the question and its options, not the answer."""
        lines = [f"Question. {self.question}", *(f"  {k}) {t}" for k, (t, _) in self.options.items()),
                 "(run this cell in Jupyter and click an option to answer)"]
        return "\n".join(lines)

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.widget._repr_mimebundle_() or {}
        return {"text/plain": self.text(), "text/html": self.static_html(),
                **{k: v for k, v in bundle.items() if k == WIDGET_VIEW}}


def ask(question: str, options: dict[str, tuple[str, str]], right: str) -> Question:
    """A concept question (shown as the cell's output): ``options`` maps a letter to (text, explanation)."""
    return Question(question, options, right)
