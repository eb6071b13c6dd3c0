"""The code, tests, benchmarks and notebooks pass ruff (configured in pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def ruff_executable() -> str | None:
    """The ruff installed beside the running Python (``.venv/bin/pytest`` needs no activated venv), else PATH's."""
    beside = Path(sys.executable).parent / ("ruff.exe" if sys.platform == "win32" else "ruff")
    return str(beside) if beside.is_file() else shutil.which("ruff")


def test_ruff_is_found_beside_the_running_python_without_an_activated_environment(monkeypatch):
    beside = Path(sys.executable).parent / "ruff"
    if not beside.is_file():
        pytest.skip(f"no ruff beside {sys.executable} (installed elsewhere)")
    monkeypatch.setenv("PATH", "/nonexistent")  # `.venv/bin/pytest` run without activating .venv
    assert ruff_executable() == str(beside)


def test_ruff_finds_nothing():
    ruff = ruff_executable()
    assert ruff, "ruff is part of the dev extra: pip install -e '.[dev]'"
    folders = ["course_lib", "aecourse_tools", "tests", "benchmarks", "notebooks"]
    result = subprocess.run([ruff, "check", "--no-cache", *folders],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
