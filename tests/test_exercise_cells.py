"""The exercises in the notebooks: one statement, a scaffold to fill, its check; the solutions fill the same cells.

Every code cell holding a scaffold (a bare ``...``) or a check call is tagged ``exercise``, every
question cell ``question``; the runner, nbval and the browser test count on those tags.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import pytest

from aecourse_tools import hosting
from course_lib import checks

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_solutions.ipynb"))
ALL = CHAPTERS + SOLUTIONS


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def source(cell: dict) -> str:
    return "".join(cell["source"])


def has_scaffold(tree: ast.AST) -> bool:
    """A bare ``...`` used as a value (not ``x[..., 0]``): a place left for the learner."""
    in_subscripts = {id(n) for s in ast.walk(tree) if isinstance(s, ast.Subscript) for n in ast.walk(s.slice)}
    return any(isinstance(n, ast.Constant) and n.value is Ellipsis and id(n) not in in_subscripts
               for n in ast.walk(tree))


def calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) == name]


def exercise_cells(path: Path) -> dict[str, dict]:
    return {c["metadata"]["exercise"]: c for c in cells(path) if c["cell_type"] == "code" and "exercise" in tags(c)}


def check_call(cell: dict) -> str:
    """The cell's last statement, which must be its check: ``checks.exercise("NN.k", ...)``."""
    last = ast.parse(source(cell)).body[-1]
    assert isinstance(last, ast.Expr) and calls(last, "checks.exercise"), "an exercise cell ends with its check"
    return ast.unparse(last)


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_scaffolds_checks_and_questions_sit_in_tagged_cells(path):
    for i, cell in enumerate(cells(path)):
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse(source(cell))
        if has_scaffold(tree) or calls(tree, "checks.exercise"):
            assert "exercise" in tags(cell), f"{path.name} cell {i} holds a scaffold or a check but is not tagged"
        if calls(tree, "questions.ask"):
            assert "question" in tags(cell), f"{path.name} cell {i} asks a question but is not tagged"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_a_chapter_ends_with_its_exercises_each_a_statement_a_scaffold_and_a_check(path):
    nn = path.name[:2]
    all_cells = cells(path)
    start = next(i for i, c in enumerate(all_cells) if c["cell_type"] == "markdown"
                 and source(c).startswith("## Exercises"))
    section = all_cells[start:]
    assert "exercise-setup" in tags(section[1]) and "exercise-summary" in tags(section[-1])
    assert source(section[-1]) == f'checks.summary("{nn}")'
    found = exercise_cells(path)
    assert len(found) >= 3 and sorted(found) == [k for k in checks.known() if k.startswith(f"{nn}.")]
    for exercise, cell in found.items():
        statement = next(c for c in section if "exercise-statement" in tags(c)
                         and c["metadata"].get("exercise") == exercise)
        assert source(statement).startswith(f"### Exercise {exercise} · ")
        assert section.index(statement) + 1 == section.index(cell), "the scaffold follows its statement"
        assert has_scaffold(ast.parse(source(cell))), f"{exercise}: the chapter's cell is a scaffold with `...`"
        assert check_call(cell).startswith(f"checks.exercise('{exercise}'")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_the_solutions_fill_the_same_cells_and_end_with_the_same_checks(chapter):
    solutions = ROOT / "notebooks" / "solutions" / f"{chapter.name[:2]}_solutions.ipynb"
    asked, answered = exercise_cells(chapter), exercise_cells(solutions)
    assert sorted(asked) == sorted(answered)
    for exercise, cell in answered.items():
        assert not has_scaffold(ast.parse(source(cell))), f"{exercise}: the solution leaves a `...`"
        assert check_call(cell) == check_call(asked[exercise]), f"{exercise}: the solution's check differs"
    assert not hosting.sync_exercises(chapter, solutions, write=False), \
        f"{solutions.name}: statements or set-up out of step with the chapter: run `aecourse sync-notebooks`"
    last = cells(solutions)[-2:]
    assert any(source(c) == f'checks.summary("{chapter.name[:2]}", expect_all_right=True)' for c in last)


def test_sync_copies_statements_and_set_up_into_the_solutions(tmp_path):
    def notebook(path, *cells_):
        nbformat.write(nbformat.v4.new_notebook(cells=list(cells_)), path)
        return path

    def cell(kind, text, tag, exercise=None):
        c = (nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell)(text)
        c.metadata["tags"] = [tag]
        if exercise:
            c.metadata["exercise"] = exercise
        return c

    chapter = notebook(tmp_path / "01_x.ipynb", cell("code", "setup v2", "exercise-setup"),
                       cell("md", "### Exercise 01.1 · new words", "exercise-statement", "01.1"),
                       cell("md", "### Exercise 01.2 · two", "exercise-statement", "01.2"))
    solutions = notebook(tmp_path / "01_solutions.ipynb", cell("code", "setup v1", "exercise-setup"),
                         cell("md", "### Exercise 01.1 · old words", "exercise-statement", "01.1"),
                         cell("code", "answer 1", "exercise", "01.1"),
                         cell("md", "### Exercise 01.9 · gone", "exercise-statement", "01.9"),
                         cell("code", "answer 2", "exercise", "01.2"))
    assert hosting.sync_exercises(chapter, solutions, write=False)
    assert hosting.sync_exercises(chapter, solutions)
    got = [(c.cell_type, c.source) for c in nbformat.read(solutions, as_version=4).cells]
    assert got == [("code", "setup v2"), ("markdown", "### Exercise 01.1 · new words"), ("code", "answer 1"),
                   ("markdown", "### Exercise 01.2 · two"), ("code", "answer 2")]
    assert not hosting.sync_exercises(chapter, solutions)
