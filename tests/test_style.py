"""The code, tests, benchmarks and notebooks pass ruff (configured in pyproject.toml)."""

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff")
    assert ruff, "ruff is part of the dev extra: pip install -e '.[dev]'"
    folders = ["course_lib", "aecourse_tools", "tests", "benchmarks", "notebooks"]
    result = subprocess.run([ruff, "check", "--no-cache", *folders],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
