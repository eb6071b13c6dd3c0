"""environment.yml (Binder, conda) and pyproject.toml (pip) must list the same packages."""

import re
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PYPI = {"pytorch": "torch"}  # conda-forge names that differ from PyPI's


def _split(spec: str) -> tuple[str, str]:
    """'scikit-learn>=1.3' -> ('scikit-learn', '>=1.3'); conda build strings are dropped."""
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*([<>=!~][^\s\[;]*)?", spec)
    return m.group(1).lower(), (m.group(2) or "")


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = {k: v for k, v in project["optional-dependencies"].items() if k != "classroom"}  # the hub's own env
    specs = project["dependencies"] + [s for extra in extras.values() for s in extra]
    return dict(_split(s) for s in specs if "python_version" not in s)  # backports for older Pythons


def _conda() -> tuple[dict[str, str], list]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip += dep["pip"]
            continue
        name, version = _split(dep)
        if name not in {"python", "pip"}:
            conda[CONDA_TO_PYPI.get(name, name)] = version
    return conda, pip


def test_environment_lists_every_package_of_pyproject_with_the_same_bounds():
    assert _conda()[0] == _pyproject()


def test_environment_uses_conda_forge_cpu_pytorch_and_installs_the_course():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    assert any(isinstance(d, str) and d.startswith("pytorch") and "cpu" in d for d in env["dependencies"])
    assert "-e ." in _conda()[1]
