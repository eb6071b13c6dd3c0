"""The root conftest.py runs each chapter once: in the browser test where it can run, else in nbval."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("course_root_conftest", ROOT / "conftest.py")
root_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(root_conftest)

CH01, CH02 = ROOT / "notebooks" / "01_a.ipynb", ROOT / "notebooks" / "02_b.ipynb"


def nbval_cell(notebook: Path, i: int):
    return SimpleNamespace(name=f"{notebook.name}::Cell {i}", path=notebook, cls=None,
                           get_closest_marker=lambda name: None)


def browser_test(notebook: Path, available: bool):
    module = SimpleNamespace(browser_unavailable=lambda: "" if available else "no Chromium")
    return SimpleNamespace(name=f"test_{notebook.stem}", path=ROOT / "tests" / "test_browser.py",
                           cls=SimpleNamespace(notebook=str(notebook)), module=module,
                           get_closest_marker=lambda name: object() if name == "browser" else None)


def collect(items):
    deselected = []
    config = SimpleNamespace(hook=SimpleNamespace(pytest_deselected=lambda items: deselected.extend(items)))
    root_conftest.pytest_collection_modifyitems(None, config, items)
    return [i.name for i in items], [i.name for i in deselected]


def test_a_chapter_the_browser_test_runs_is_not_run_again_by_nbval():
    items = [nbval_cell(CH01, 1), nbval_cell(CH01, 2), nbval_cell(CH02, 1), browser_test(CH01, True)]
    kept, dropped = collect(items)
    assert kept == ["02_b.ipynb::Cell 1", "test_01_a"]
    assert dropped == ["01_a.ipynb::Cell 1", "01_a.ipynb::Cell 2"]


def test_nbval_runs_every_chapter_when_the_browser_tests_cannot_run_or_are_deselected():
    cells = [nbval_cell(CH01, 1), nbval_cell(CH02, 1)]
    assert collect([*cells, browser_test(CH01, False), browser_test(CH02, False)])[1] == []
    assert collect(list(cells)) == (["01_a.ipynb::Cell 1", "02_b.ipynb::Cell 1"], [])
