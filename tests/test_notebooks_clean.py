"""Committed notebooks carry no outputs and follow the course's naming."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))
NOTEBOOKS = [p for p in NOTEBOOKS if ".ipynb_checkpoints" not in p.parts]


def test_every_chapter_has_its_solutions_and_the_chapters_are_numbered_in_order():
    chapters = [p.name[:2] for p in NOTEBOOKS if p.parent.name == "notebooks"]
    solutions = [p.name[:2] for p in NOTEBOOKS if p.parent.name == "solutions"]
    assert chapters == [f"{i:02d}" for i in range(1, len(chapters) + 1)] and len(chapters) >= 6
    assert solutions == chapters
    assert all(p.name == f"{p.name[:2]}_solutions.ipynb" for p in NOTEBOOKS if p.parent.name == "solutions")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_is_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; strip them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_imports_course_lib_and_reads_the_config(path):
    code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                     if c["cell_type"] == "code")
    assert "course_lib" in code and "get_config" in code
    assert "COURSE_" not in code and "cfg.fast:" not in code, \
        "notebooks read sizes from cfg.*, never the environment, and never branch on fast mode"
