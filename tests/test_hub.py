"""The workshop hub, for real: two learners run chapter 01 through it on the class's shared weights.

``classroom/hub.py`` sets up a class folder and fills its shared weights (fast mode, chapter 01,
as an instructor would); the hub starts from the project's files (JupyterHub, its npm proxy,
the shared-password login, a real Unix account per learner); two learners log in over HTTP,
start their servers, open the nbgitpuller link and run the chapter in their own kernels at
once (benchmarks/bench_hub.py drives them). Both must finish with every model read from the
shared folder, which they cannot write, with nothing trained into their own folders; the hub
must stop with no process left.

Needs root (it makes Unix accounts), useradd, and the hub's software: run
``sudo python3 classroom/hub.py setup`` once (.ci/run does); otherwise the test skips and says why.
Select it with ``-m hub``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PREFIX = Path(os.environ.get("AECOURSE_HUB_PREFIX", "/opt/aecourse"))
CHAPTER = "notebooks/01_autoencoder_from_scratch.ipynb"
GROUP = "aecourse-hubtest"


def hub_unavailable() -> str:
    """Why the hub test cannot run here ('' when it can)."""
    if os.geteuid() != 0:
        return "the hub makes a Unix account per learner: run the tests as root"
    if not all(shutil.which(tool) for tool in ("useradd", "userdel", "groupadd", "git")):
        return "useradd, userdel, groupadd or git is missing"
    if not (PREFIX / "env" / "bin" / "jupyterhub").exists():
        return f"no hub environment in {PREFIX}: run `sudo python3 classroom/hub.py setup` (.ci/run does)"
    if not (PREFIX / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        return f"no configurable-http-proxy in {PREFIX}/proxy: `classroom/hub.py setup` installs it with npm"
    return ""


pytestmark = [pytest.mark.hub, pytest.mark.skipif(bool(hub_unavailable()), reason=hub_unavailable())]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_hub", ROOT / "benchmarks" / "bench_hub.py")
    module = sys.modules.setdefault("bench_hub", importlib.util.module_from_spec(spec))  # its dataclasses ask
    if not hasattr(module, "Hub"):
        spec.loader.exec_module(module)
    return module


@pytest.fixture
def class_dir():
    """A class folder every learner can traverse, removed with the test's accounts and group afterwards."""
    top = Path(tempfile.mkdtemp(prefix="aecourse-hubtest-"))
    top.chmod(0o755)
    try:
        yield top
    finally:
        try:
            _bench().remove_learners(GROUP)
            subprocess.run(["groupdel", GROUP], capture_output=True)
        finally:
            shutil.rmtree(top, ignore_errors=True)


def test_two_learners_run_chapter_01_through_the_hub_on_the_shared_read_only_weights(class_dir):
    bench = _bench()
    settings = bench.HubSettings(class_dir=class_dir, group=GROUP, prefix=PREFIX, fast=True)
    hub_py = [sys.executable, str(ROOT / "classroom" / "hub.py")]
    setup = subprocess.run([*hub_py, "setup", *settings.args()], capture_output=True, text=True)
    assert setup.returncode == 0, f"hub.py setup exited {setup.returncode}:\n{setup.stderr[-3000:]}"
    shared = class_dir / "weights"
    bench.fill_weights(settings, CHAPTER, class_dir / "fill.log")
    filled = {p.name: p.stat().st_mtime_ns for p in shared.iterdir()}
    assert filled and all(name.endswith(".pt") for name in filled), (class_dir / "fill.log").read_text()[-2000:]

    hub = bench.Hub(settings, class_dir / "hub.log").start()
    try:
        result = bench.run_learners(hub, 2, CHAPTER, bench.link_query(settings, CHAPTER), prefix="hubtest")
        own = {r["name"]: sorted((Path(os.path.expanduser(f"~{r['name']}")) / ".cache" / "aecourse" / "weights")
                                 .glob("*.pt")) for r in result["learners"]}
    finally:
        left = hub.stop()
    log = (class_dir / "hub.log").read_text()[-3000:]
    assert result["failures"] == [], "\n".join(result["failures"]) + "\n--- the hub's log ---\n" + log
    assert left == [], f"processes left after the hub stopped: {left}"
    assert hub.proc.returncode == 0, log
    for learner in result["learners"]:
        assert learner["cells_run"] == learner["cells"] > 0
        assert learner["first_figure_s"] is not None and learner["peak_kernel_mb"] > 0
        hits = learner["cache_lines"]
        # Every model the chapter trains came from the shared folder (every entry the fill made was read,
        # some more than once: an exercise reloads the chapter's model) ...
        read = {line.split(":")[0] for line in hits}
        assert len(read) == len(filled) and all(f"from the weights cache in the shared folder {shared} (" in line
                                               for line in hits), hits
        assert own[learner["name"]] == []  # ... and nothing was trained into the learner's own folder
    assert {p.name: p.stat().st_mtime_ns for p in shared.iterdir()} == filled  # the shared folder untouched
    assert os.stat(shared).st_uid == 0 and oct(os.stat(shared).st_mode & 0o777) == "0o755"  # not theirs to write
