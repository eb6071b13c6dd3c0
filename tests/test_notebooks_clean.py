"""Committed notebooks carry no outputs, follow the course's naming, and their cells carry no plumbing."""

import ast
import json
from pathlib import Path

import pytest
import torch

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


def _cells(path: Path) -> list[ast.Module]:
    """The syntax tree of every code cell (IPython's ``%`` and ``!`` lines left out)."""
    trees = []
    for c in json.loads(path.read_text())["cells"]:
        if c["cell_type"] == "code":
            src = "\n".join(line for line in "".join(c["source"]).splitlines()
                            if not line.lstrip().startswith(("%", "!")))
            trees.append(ast.parse(src))
    return trees


def _called(node: ast.Call) -> str:
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def plumbing(trees: list[ast.Module], solution: bool) -> list[str]:
    """What a cell must not do: let the mode decide, pick sizes itself, train outside a recipe."""
    from course_lib import models

    model_classes = {n for n, v in vars(models).items() if isinstance(v, type) and issubclass(v, torch.nn.Module)}
    found = []
    for tree in trees:
        in_fstring = {id(n) for j in ast.walk(tree) if isinstance(j, ast.JoinedStr) for n in ast.walk(j)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "cfg":
                if node.attr in ("fast", "pick") or (node.attr == "mode" and id(node) not in in_fstring):
                    found.append(f"cfg.{node.attr} at line {node.lineno} (sizes come from course_lib/sizes.py; "
                                 f"the mode may only be printed)")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "COURSE_" in node.value:
                found.append(f"reads {node.value!r}")
            call = ast.unparse(node.func) if isinstance(node, ast.Call) else ""
            trains = _called(node) == "fit_cached" if call else False
            trains = trains or call in ("fit", "training.fit")  # a baseline's .fit is fine
            if trains:
                found.append(f"{_called(node)}() at line {node.lineno}: train through a course_lib.recipes function")
            if solution and isinstance(node, ast.Call) and (
                    _called(node) in model_classes or ast.unparse(node.func) == "torch.manual_seed"):
                found.append(f"{_called(node)}() at line {node.lineno}: a solution uses the recipes' models")
    return found


def test_plumbing_finds_what_it_forbids():
    bad = ast.parse("n = cfg.pick(full=1, fast=2)\nif cfg.fast:\n    pass\nm = cfg.mode == 'fast'\n"
                    "os.environ['COURSE_FAST']\nfit_cached(m, None, 'x', x)\nfit(m, x)\nUNet(1, 1)\n"
                    "torch.manual_seed(0)")
    assert len(plumbing([bad], solution=True)) == 8
    assert len(plumbing([bad], solution=False)) == 6
    fine = ast.parse("print(f'{cfg.mode} run on {cfg.device}')\nch = sizes.of(cfg, 'denoising')\n"
                     "model, history = recipes.denoiser(cfg, digits, noise)\npca = PCAReconstructor(2).fit(x)\n"
                     "g = torch.Generator().manual_seed(cfg.seed)")
    assert plumbing([fine], solution=True) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_cells_carry_no_plumbing(path):
    assert plumbing(_cells(path), solution=path.parent.name == "solutions") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_imports_course_lib_and_reads_the_config(path):
    code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                     if c["cell_type"] == "code")
    assert "course_lib" in code and "get_config()" in code
