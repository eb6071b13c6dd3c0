"""Checks for the chapters' exercises: right, or not yet with a hint about the idea (never the value).

An exercise cell ends with one call, ``checks.exercise("04.1", answer, **context)``: it
prints ``exercise 04.1: right`` or ``exercise 04.1: not yet`` and a hint. ``answer`` is
what the learner filled in (numbers, tensors, a trained ``(model, history)``, a letter
for a multiple-choice part); ``context`` is what the check needs to measure it again
(the clean test images, a reference model), passed by the cell, never by the learner.

A check is tolerant of honest variation (another seed or machine, a fast run, the
offline fallback data): it tests shapes, directions, agreement with its own measurement
of the learner's model or images, and that a model was trained (its loss fell); bounds
that only a full run on real data reaches apply only there. A check never raises on what
a learner gives it: an untouched scaffold (``...``) is "still empty", anything it cannot
use is "not yet" with what it expected. The checks themselves live in ``checks_*.py``,
one module per group of chapters, registered here with ``@register``.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

CHECK_MODULES = ("checks_01_03", "checks_04_06", "checks_07_08")
TRAINED_PAIR = "a (model, history) pair from a course_lib.recipes function"


class NotYet(Exception):
    """Raised inside a check: the answer is not right yet; the message is the hint."""


@dataclass(frozen=True)
class Check:
    """One exercise's check: ``run(answer, context, strict) -> note``, and the form of answer it expects."""

    exercise: str
    form: str
    run: Callable


@dataclass(frozen=True)
class Verdict:
    """What a check said: right or not, and the message the learner reads."""

    exercise: str
    right: bool
    message: str

    def __bool__(self) -> bool:
        return self.right

    def __str__(self) -> str:
        return self.message


_CHECKS: dict[str, Check] = {}
_SESSION: dict[str, bool] = {}


def register(exercise_id: str, form: str):
    """Decorator: ``fn(answer, context, strict)`` checks exercise ``exercise_id``; ``form`` describes the answer."""
    if not isinstance(exercise_id, str) or len(exercise_id.split(".")) != 2:
        raise ValueError(f"an exercise id looks like '04.1', got {exercise_id!r}")

    def add(fn: Callable) -> Callable:
        _CHECKS[exercise_id] = Check(exercise_id, form, fn)
        return fn

    return add


def _load() -> dict[str, Check]:
    for name in CHECK_MODULES:
        importlib.import_module(f"{__package__}.{name}")
    return _CHECKS


def known() -> list[str]:
    """Every exercise id that has a check, in order."""
    return sorted(_load(), key=lambda k: tuple(int(p) for p in k.split(".")))


def empty_parts(answer, where: str = "answer") -> list[str]:
    """Where ``answer`` still holds the scaffold's ``...`` (nested dicts, lists and tuples are searched)."""
    if answer is Ellipsis:
        return [where]
    if isinstance(answer, dict):
        return [p for k, v in answer.items() for p in empty_parts(v, f"{where}[{k!r}]")]
    if isinstance(answer, (list, tuple)):
        return [p for i, v in enumerate(answer) for p in empty_parts(v, f"{where}[{i}]")]
    return []


def verify(exercise_id: str, answer, *, strict: bool | None = None, **context) -> Verdict:
    """Check ``answer`` to exercise ``exercise_id``; never raises on the answer.

    ``strict`` applies the bounds that hold only in a full run (default: a full run,
    unless ``context['data']`` is the offline fallback).
    """
    check = _load().get(exercise_id)
    if check is None:
        raise ValueError(f"no check for exercise {exercise_id!r}; the checks are {known()}")
    if strict is None:
        strict = full_run() and bool(getattr(context.get("data"), "is_real", True))
    empty = empty_parts(answer)
    if empty:
        parts = list(dict.fromkeys(p.split("]")[0].removeprefix("answer[") for p in empty if p != "answer"))
        where = f" (still `...`: {', '.join(parts)})" if parts else ""
        return Verdict(exercise_id, False, f"exercise {exercise_id}: not yet. It is still empty{where}: "
                                           "replace each `...` in the cell with your answer and run the cell again.")
    try:
        note = check.run(answer, context, strict)
    except NotYet as hint:
        text = str(hint)
        return Verdict(exercise_id, False, f"exercise {exercise_id}: not yet. {text[:1].upper()}{text[1:]}")
    except Exception as error:  # noqa: BLE001 - whatever a learner passes, the answer is a hint, not a traceback
        said = str(error).strip().splitlines()[0][:160] if str(error).strip() else ""
        return Verdict(exercise_id, False,
                       f"exercise {exercise_id}: not yet. The check could not use this answer: it expects "
                       f"{check.form}. ({type(error).__name__}{': ' + said if said else ''})")
    return Verdict(exercise_id, True, f"exercise {exercise_id}: right." + (f" {note}" if note else ""))


def exercise(exercise_id: str, answer, **context) -> None:
    """Check an exercise in a notebook: print the verdict and keep it for ``summary`` and the run's report."""
    from . import report

    verdict = verify(exercise_id, answer, **context)
    _SESSION[exercise_id] = verdict.right
    report.exercise_result(exercise_id, verdict.right)
    print(verdict.message)


def summary(chapter: str, *, expect_all_right: bool = False) -> None:
    """Print which of ``chapter``'s exercises were checked right so far in this session.

    ``expect_all_right`` (the solutions notebooks) raises AssertionError unless every one was.
    Nothing is returned, so the summary at a notebook's end leaves no stray value under it.
    """
    ids = [k for k in known() if k.split(".")[0] == chapter]
    if not ids:
        raise ValueError(f"no exercises for chapter {chapter!r}")
    state = {k: _SESSION.get(k) for k in ids}
    right = [k for k, v in state.items() if v]
    not_yet = [k for k, v in state.items() if v is False]
    unchecked = [k for k, v in state.items() if v is None]
    lines = [f"chapter {chapter}: {len(right)} of {len(ids)} exercises checked right"
             + (f" ({', '.join(right)})" if right else "")]
    if not_yet:
        lines.append(f"not yet: {', '.join(not_yet)}: fill in the `...` of its cell, run it, and read the hint")
    if unchecked:
        lines.append(f"not checked in this session: {', '.join(unchecked)}")
    if not not_yet and not unchecked:
        lines.append("all done: compare your reasoning with the solutions notebook")
    print("\n".join(lines))
    if expect_all_right and len(right) != len(ids):
        raise AssertionError(f"every exercise of chapter {chapter} should be checked right here, got {state}")


def full_run() -> bool:
    """Whether this is a full run (the mode decides the bounds; notebooks never ask)."""
    from .config import get_config

    return not get_config().fast


# --------------------------------------------------------------------------- helpers for the checks

def number(value, what: str) -> float:
    """``value`` as a finite float, or NotYet saying that ``what`` should be a number."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise NotYet(f"{what} should be a finite number, got {_shown(value)}.")
    return float(value)


def tensor(value, what: str, shape: tuple | None = None) -> torch.Tensor:
    """``value`` as a float tensor of ``shape`` (None in ``shape``: any size), or NotYet."""
    if not isinstance(value, torch.Tensor):
        raise NotYet(f"{what} should be a tensor, got {_shown(value)}.")
    if shape is not None and (value.dim() != len(shape)
                              or any(s is not None and s != v for s, v in zip(shape, value.shape))):
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise NotYet(f"{what} should have shape {want}, got {tuple(value.shape)}.")
    if not value.is_floating_point() or not torch.isfinite(value).all():
        raise NotYet(f"{what} should hold finite floating-point numbers.")
    return value.detach().cpu().float()


def choice(value, options: dict[str, str], what: str) -> str:
    """A multiple-choice letter (case and spaces ignored), or NotYet listing the options."""
    letter = value.strip().lower().rstrip(")") if isinstance(value, str) else None
    if letter not in options:
        raise NotYet(f"{what} should be one of the letters {', '.join(repr(k) for k in options)}, "
                     f"got {_shown(value)}.")
    return letter


def mapping(value, keys, what: str = "the answer") -> dict:
    """``value`` as a dict holding at least ``keys``, or NotYet naming the missing ones."""
    if not isinstance(value, dict):
        raise NotYet(f"{what} should be a dict with the keys {', '.join(map(repr, keys))}, got {_shown(value)}.")
    missing = [k for k in keys if k not in value]
    if missing:
        raise NotYet(f"{what} is missing {', '.join(map(repr, missing))}.")
    return value


def trained(value, what: str, kind: type | tuple = nn.Module, *, strict: bool = False):
    """A (model, history) trained for an epoch or more; when ``strict``, its validation (else training) loss fell.

    Returns the model. NotYet for anything else: an untrained model, a model alone, a history alone.
    (A fast run's single epoch on a small subset may not yet lower the loss; a full run's must.)
    """
    from .training import History

    if not (isinstance(value, tuple) and len(value) == 2):
        raise NotYet(f"{what} should be {TRAINED_PAIR}, got {_shown(value)}.")
    model, history = value
    if not isinstance(model, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise NotYet(f"{what}: the model should be a {names}, got {_shown(model)}.")
    if not isinstance(history, History) or history.epochs < 1:
        raise NotYet(f"{what}: the second part should be the History its training returned "
                     "(train it with the recipe; a model alone says nothing about its training).")
    curve = history.val_loss or history.train_loss
    if strict and not min(curve[1:]) < curve[0]:
        raise NotYet(f"{what}: its loss never fell below where it started; was it trained?")
    return model


def matches(given, measured: dict, what: str, *, rel: float = 0.0, abs_: float = 0.0) -> None:
    """NotYet unless ``given`` is a dict (nested like ``measured``) whose numbers are ``close`` to ``measured``'s."""
    given = mapping(given, measured, what)
    for key, value in measured.items():
        where = f"{what}[{key!r}]"
        if isinstance(value, dict):
            matches(given[key], value, where, rel=rel, abs_=abs_)
        else:
            close(number(given[key], where), value, where, rel=rel, abs_=abs_)


def close(value: float, reference: float, what: str, *, rel: float = 0.0, abs_: float = 0.0) -> None:
    """NotYet unless ``value`` is within ``rel`` (share) or ``abs_`` of ``reference`` (this check's own measurement)."""
    if not abs(value - reference) <= max(abs_, rel * abs(reference)):
        raise NotYet(f"{what} does not match what the check measures from the same inputs; "
                     "compute it again, on the data the exercise names.")


def _shown(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, nn.Module):
        return f"a {type(value).__name__} alone"
    text = repr(value).splitlines()[0] if repr(value) else ""
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"
