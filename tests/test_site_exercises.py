"""The website's handling of the exercises and questions (no browser needed; tests/test_site.py opens the pages)."""

import nbformat

from aecourse_tools import site
from course_lib import questions


def _executed(cells):
    return nbformat.v4.new_notebook(cells=cells)


def test_a_question_becomes_its_static_version_with_the_answer_folded():
    q = questions.ask("Which?", {"a": ("One.", "Right: one."), "b": ("Two.", "No: two.")}, right="a")
    cell = nbformat.v4.new_code_cell("questions.ask(...)")
    cell.outputs = [nbformat.v4.new_output("display_data", data=q._repr_mimebundle_())]
    nb = _executed([cell])
    site.static_widgets(nb)
    (out,) = nb.cells[0].outputs
    assert set(out["data"]) == {"text/html", "text/plain"}
    assert "<details><summary>Answer</summary>" in out["data"]["text/html"]


def test_each_statement_links_to_the_other_side():
    statement = nbformat.v4.new_markdown_cell("### Exercise 04.1 · Beyond the range\n\nText.")
    statement.metadata.update(tags=["exercise-statement"], exercise="04.1")
    other = nbformat.v4.new_markdown_cell("### Not an exercise")
    chapter, solutions = _executed([statement, other]), _executed([nbformat.from_dict(statement), other])
    assert site.link_exercises(chapter, "exercise") == 1 and site.link_exercises(solutions, "solution") == 1
    assert chapter.cells[0].source.startswith("(exercise-04-1)=\n### Exercise 04.1")
    assert chapter.cells[0].source.endswith("{ref}`Go to its solution <solution-04-1>`")
    assert solutions.cells[0].source.startswith("(solution-04-1)=\n")
    assert "<exercise-04-1>" in solutions.cells[0].source
    assert chapter.cells[1].source == "### Not an exercise"
