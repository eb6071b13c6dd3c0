import json
import sys
from pathlib import Path

import nbformat
import pytest

from aecourse_tools import hosting

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").rglob("[0-9]*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def test_repository_comes_from_pyproject(tmp_path):
    for url, repo in (("https://github.com/someone/some-course.git", "someone/some-course"),
                      ("https://github.com/Org.x/ae_course/", "Org.x/ae_course")):
        (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "x"\n[project.urls]\nRepository = "{url}"\n')
        assert hosting.repository(tmp_path) == repo
    real = hosting.repository()
    assert f"github.com/{real}" in (ROOT / "pyproject.toml").read_text()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_starts_with_current_badges_and_setup_cell(path):
    assert not hosting.sync_notebook(path, hosting.repository(), write=False), \
        f"{path.name} is out of step: run `aecourse sync-notebooks`"
    cells = json.loads(path.read_text())["cells"]
    assert "colab-badge.svg" in "".join(cells[0]["source"])
    assert "notebooks/" in "".join(cells[0]["source"])


def test_setup_cell_is_a_no_op_outside_colab():
    assert "google.colab" not in sys.modules
    namespace = {}
    exec(hosting.setup_source("owner/name"), namespace)  # would pip install on Colab
    assert "subprocess" not in namespace


def test_sync_inserts_once_and_then_is_stable(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname="x"\n[project.urls]\n'
                                             'Repository = "https://github.com/o/r"\n')
    nb_path = tmp_path / "notebooks" / "01_x.ipynb"
    nb_path.parent.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title")]), nb_path)
    repo = hosting.repository(tmp_path)
    assert repo == "o/r"
    assert hosting.sync_notebook(nb_path, repo, root=tmp_path)
    assert not hosting.sync_notebook(nb_path, repo, root=tmp_path)
    cells = nbformat.read(nb_path, as_version=4).cells
    assert len(cells) == 3 and "o/r/blob/main/notebooks/01_x.ipynb" in cells[0].source


def test_a_non_github_address_is_refused(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname="x"\n[project.urls]\nRepository = "ftp://x"\n')
    with pytest.raises(ValueError, match="github"):
        hosting.repository(tmp_path)
