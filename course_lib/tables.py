"""The course's one plain-text table: what the chapters print and what ``aecourse run`` reports."""

from __future__ import annotations

import math


def _cell(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, fmt)


def format_table(rows: list[dict], columns: list[tuple[str, str, str]], title: str = "") -> str:
    """A plain-text table of ``rows`` (dicts); ``columns`` are (key, header, format spec).

    Each column is as wide as its widest cell; text is aligned left, numbers right;
    a missing or NaN value shows as ``-``.
    """
    if not columns or any(len(c) != 3 for c in columns):
        raise ValueError(f"columns must be (key, header, format) triples, got {columns!r}")
    cells = [[_cell(row.get(key), fmt) for key, _, fmt in columns] for row in rows]
    texts = [all(isinstance(row.get(key), str) for row in rows) and bool(rows) for key, _, _ in columns]
    widths = [max([len(header)] + [len(r[i]) for r in cells]) for i, (_, header, _) in enumerate(columns)]

    def line(values):
        return "  ".join(f"{v:<{w}}" if text else f"{v:>{w}}"
                         for v, w, text in zip(values, widths, texts)).rstrip()

    lines = [title] if title else []
    lines.append(line([header for _, header, _ in columns]))
    lines += [line(r) for r in cells]
    return "\n".join(lines)
