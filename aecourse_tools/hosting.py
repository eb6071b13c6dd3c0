"""Cells written once and copied: Binder and Colab at the top of every notebook, the exercises' statements.

The repository address lives in ONE place, ``[project.urls] Repository`` in
pyproject.toml. ``aecourse sync-notebooks`` writes the badge cell and the set-up
cell of every notebook from it, and copies each chapter's exercise statements and the
set-up cell of its exercises into its solutions notebook (an exercise is written once,
in the chapter); a test fails when a notebook is out of step.
"""

from __future__ import annotations

import re
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from course_lib.config import project_root

BADGES_TAG, SETUP_TAG = "course-badges", "course-setup"
EXERCISE_SETUP_TAG, STATEMENT_TAG = "exercise-setup", "exercise-statement"  # copied chapter -> solutions
BRANCH = "main"


def repository(root: Path | None = None) -> str:
    """``owner/name`` of the GitHub repository named in pyproject.toml."""
    pyproject = tomllib.loads(((root or project_root()) / "pyproject.toml").read_text())
    url = pyproject["project"]["urls"]["Repository"]
    m = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?/?", url)
    if not m:
        raise ValueError(f"[project.urls] Repository must be https://github.com/OWNER/NAME, got {url!r}")
    return m.group(1)


def launch_urls(repo: str, path: str) -> tuple[str, str]:
    """The Colab and Binder addresses that open ``path`` (a notebook or folder of the repository)."""
    return (f"https://colab.research.google.com/github/{repo}/blob/{BRANCH}/{path}",
            f"https://mybinder.org/v2/gh/{repo}/{BRANCH}?urlpath=lab/tree/{path}")


def badges_markdown(repo: str, notebook: str) -> str:
    """Open-in-Colab and Binder badges for ``notebook`` (a path relative to the repository)."""
    colab, binder = launch_urls(repo, notebook)
    return (f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab}) "
            f"[![Launch Binder](https://mybinder.org/badge_logo.svg)]({binder})")


def setup_source(repo: str) -> str:
    """The first code cell: on Colab, install the course and fetch data; elsewhere, nothing."""
    return (
        "# On Google Colab: install the course library and fetch the datasets (about a minute).\n"
        "# Anywhere else (your machine, Binder, JupyterHub) this cell does nothing.\n"
        "import sys\n\n"
        "if \"google.colab\" in sys.modules:\n"
        "    import subprocess\n\n"
        "    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\",\n"
        f"                    \"aecourse @ git+https://github.com/{repo}@{BRANCH}\"], check=True)\n"
        "    subprocess.run([\"aecourse\", \"fetch-data\"], check=False)"
    )


def _tagged(nb, tag: str) -> int | None:
    for i, cell in enumerate(nb.cells):
        if tag in cell.get("metadata", {}).get("tags", []):
            return i
    return None


def sync_notebook(path: Path, repo: str, root: Path | None = None, write: bool = True) -> bool:
    """Put the badge and set-up cells at the top of a notebook; True if it had to change."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    rel = Path(path).resolve().relative_to((root or project_root()).resolve()).as_posix()
    wanted = [nbformat.v4.new_markdown_cell(badges_markdown(repo, rel)),
              nbformat.v4.new_code_cell(setup_source(repo))]
    for cell, tag in zip(wanted, (BADGES_TAG, SETUP_TAG)):
        cell.metadata["tags"] = [tag]
    current = [nb.cells[i] for i in (0, 1)] if len(nb.cells) > 1 else []
    if [(c.cell_type, c.source, c.metadata.get("tags")) for c in current] == \
            [(c.cell_type, c.source, c.metadata["tags"]) for c in wanted]:
        return False
    for tag in (BADGES_TAG, SETUP_TAG):
        i = _tagged(nb, tag)
        if i is not None:
            wanted[(BADGES_TAG, SETUP_TAG).index(tag)].id = nb.cells[i].id
            del nb.cells[i]
    nb.cells[:0] = wanted
    if write:
        nbformat.write(nb, path)
    return True


def _exercise_cells(nb) -> dict[str, int]:
    """Where the copied cells are: 'setup' and each statement's exercise id -> cell index."""
    found = {}
    for i, cell in enumerate(nb.cells):
        tags = cell.get("metadata", {}).get("tags", [])
        if EXERCISE_SETUP_TAG in tags:
            found["setup"] = i
        elif STATEMENT_TAG in tags:
            found[cell.metadata.get("exercise", f"cell {i}")] = i
    return found


def _exercise_code(nb, exercise: str) -> int | None:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.get("metadata", {}).get("exercise") == exercise:
            return i
    return None


def sync_exercises(chapter: Path, solutions: Path, write: bool = True) -> bool:
    """Copy the chapter's exercise set-up cell and statements into its solutions notebook; True if it changed.

    A statement missing from the solutions goes in just before the solution's cell of the
    same exercise (or at the end); one whose exercise the chapter no longer has is removed.
    """
    import copy

    import nbformat

    chapter_nb, nb = nbformat.read(chapter, as_version=4), nbformat.read(solutions, as_version=4)
    wanted, have = _exercise_cells(chapter_nb), _exercise_cells(nb)
    changed = False
    for key in [k for k in have if k not in wanted]:
        del nb.cells[_exercise_cells(nb)[key]]
        changed = True
    for key, i in wanted.items():
        source = chapter_nb.cells[i]
        at = _exercise_cells(nb).get(key)
        if at is not None:
            if nb.cells[at].source != source.source or nb.cells[at].cell_type != source.cell_type:
                cell = copy.deepcopy(source)
                cell.id = nb.cells[at].id
                nb.cells[at] = cell
                changed = True
            continue
        cell = copy.deepcopy(source)
        cell.id = f"{source.id}-s"[:64]
        where = _exercise_code(nb, key) if key != "setup" else None
        nb.cells.insert(len(nb.cells) if where is None else where, cell)
        changed = True
    if changed and write:
        nbformat.write(nb, solutions)
    return changed
