"""The workshop hub's files, without starting it (tests/test_hub.py starts it): link, config, docs."""

import grp
import importlib.util
import os
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from traitlets.config import Config

from aecourse_tools.site import instructors_page

ROOT = Path(__file__).resolve().parents[1]
CLASSROOM = ROOT / "classroom"


def _hub_py():
    spec = importlib.util.spec_from_file_location("classroom_hub", CLASSROOM / "hub.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_link_pulls_the_course_and_opens_chapter_01(capsys):
    hub = _hub_py()
    hub.main(["link", "--url", "http://class.example:8000", "--class-dir", "/srv/c", "--branch", "main"])
    url = urlparse(capsys.readouterr().out.strip())
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.netloc == "class.example:8000" and url.path == "/hub/user-redirect/git-pull"
    assert query == {"repo": "/srv/c/course.git", "branch": "main", "targetpath": "aecourse",
                     "urlpath": "lab/tree/aecourse/notebooks/01_autoencoder_from_scratch.ipynb"}
    assert (ROOT / query["urlpath"].removeprefix("lab/tree/aecourse/")).is_file()


def _config(tmp_path, group: str) -> Config:
    env = {"AECOURSE_HUB_PREFIX": "/opt/a", "AECOURSE_HUB_CLASS_DIR": str(tmp_path), "AECOURSE_HUB_GROUP": group,
           "AECOURSE_HUB_HOME_BASE": str(tmp_path / "home"), "AECOURSE_HUB_IP": "", "AECOURSE_HUB_PORT": "8000",
           "AECOURSE_HUB_API_PORT": "8001", "AECOURSE_HUB_INTERNAL_PORT": "8002", "AECOURSE_HUB_PASSWORD": "p" * 8,
           "AECOURSE_HUB_ADMIN_PASSWORD": "a" * 32, "AECOURSE_HUB_ADMIN": "instructor", "AECOURSE_HUB_FAST": "",
           "AECOURSE_HUB_SHARED_WEIGHTS": "/srv/w", "AECOURSE_HUB_SERVER_IDLE_S": "3600",
           "AECOURSE_HUB_KERNEL_IDLE_S": "1200"}
    c = Config()
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        exec(compile((CLASSROOM / "jupyterhub_config.py").read_text(), "jupyterhub_config.py", "exec"),
             {"get_config": lambda: c})
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return c


def test_the_config_gives_each_kernel_one_thread_the_class_weights_and_culling(tmp_path):
    c = _config(tmp_path, "root")
    environment = c.Spawner.environment
    assert environment["OMP_NUM_THREADS"] == "1" and environment["COURSE_OFFLINE"] == "1"

    class Spawner:
        class user:
            name = "root"
    own, shared = environment["COURSE_CACHE_DIR"](Spawner).split(os.pathsep)
    assert own == f"{os.path.expanduser('~root')}/.cache/aecourse/weights" and shared == "/srv/w"
    assert any("cull_idle_timeout=1200" in a for a in c.Spawner.args)
    assert c.JupyterHub.services[0]["name"] == "idle-culler" and "--timeout=3600" in c.JupyterHub.services[0]["command"]
    assert c.JupyterHub.authenticator_class == "shared-password" and c.JupyterHub.spawner_class == "localprocess"


def test_an_existing_account_outside_the_learners_group_is_never_spawned(tmp_path):
    other = next(g.gr_name for g in grp.getgrall() if g.gr_gid != 0)  # root's primary group is 0: outside
    c = _config(tmp_path, other)

    class Spawner:
        class user:
            name = "root"
    with pytest.raises(PermissionError, match="outside the group"):
        c.Spawner.pre_spawn_hook(Spawner)


def test_the_instructors_page_says_how_to_run_a_workshop():
    results = {"meta": {"mode": "full", "jobs": 2}, "notebooks": []}
    page = instructors_page(results, (ROOT / "README.md").read_text())
    for needed in ("classroom/hub.py start", "fill-weights", "git-pull?repo=", "own", "Updating the course mid-term",
                   "learners per core", "GB per learner"):
        assert needed in page, needed


@pytest.mark.skipif(sys.platform != "linux", reason="the hub is for Linux servers")
def test_the_proxy_is_pinned_by_a_lock_file():
    import json

    lock = json.loads((CLASSROOM / "package-lock.json").read_text())
    pinned = json.loads((CLASSROOM / "package.json").read_text())["dependencies"]["configurable-http-proxy"]
    assert lock["packages"]["node_modules/configurable-http-proxy"]["version"] == pinned


def test_the_z2jh_values_match_the_one_server_hub():
    yaml = pytest.importorskip("yaml")
    values = yaml.safe_load((CLASSROOM / "z2jh-values.yaml").read_text())
    single = values["singleuser"]
    assert single["extraEnv"]["OMP_NUM_THREADS"] == "1" and values["cull"]["enabled"] is True
    mount = single["storage"]["extraVolumeMounts"][0]["mountPath"]
    assert single["extraEnv"]["COURSE_CACHE_DIR"].split(":")[1] == f"{mount}/weights"
    assert all(m["readOnly"] for m in single["storage"]["extraVolumeMounts"])
