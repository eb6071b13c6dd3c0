"""pytest runs the notebooks in fast mode unless told otherwise (COURSE_FAST=0).

Each chapter notebook runs once: where the browser tests run (Chromium and
Playwright present, not deselected), a chapter is executed in JupyterLab by
tests/test_browser.py, which checks everything nbval checks (every cell runs, no
error, the notebook's own asserts) and what the page shows, so nbval's run of the same
notebook is deselected. Without Chromium, or with ``-m "not browser"``, nbval runs
every notebook.
"""

import os
from pathlib import Path

import pytest

os.environ.setdefault("COURSE_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def _browser_chapter(item) -> Path | None:
    """The chapter notebook a browser test runs (None for any other test)."""
    if item.get_closest_marker("browser") is None or item.cls is None:
        return None
    notebook = getattr(item.cls, "notebook", None)
    return Path(notebook).resolve() if notebook is not None else None


@pytest.hookimpl(trylast=True)  # after -m and -k deselected theirs
def pytest_collection_modifyitems(session, config, items):
    in_browser = {chapter for item in items
                  if (chapter := _browser_chapter(item)) and not item.module.browser_unavailable()}
    again = {id(item) for item in items
             if item.path.suffix == ".ipynb" and Path(item.path).resolve() in in_browser}
    if again:
        config.hook.pytest_deselected(items=[item for item in items if id(item) in again])
        items[:] = [item for item in items if id(item) not in again]


def pytest_report_header(config):
    return ("chapter notebooks: each runs once, in the browser test (tests/test_browser.py) where "
            "Chromium is present, else in nbval")
