# JupyterHub for a workshop of the course on one server. Started by `classroom/hub.py start`,
# which sets the AECOURSE_HUB_* variables read here (see its --help).
import grp
import os
import pwd
import subprocess
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub provides it)
env = os.environ
PREFIX, CLASS_DIR = Path(env["AECOURSE_HUB_PREFIX"]), Path(env["AECOURSE_HUB_CLASS_DIR"])
LEARNERS = env["AECOURSE_HUB_GROUP"]  # every account the hub makes is in this group, and only those may spawn
HOME_BASE, SHARED_WEIGHTS = env["AECOURSE_HUB_HOME_BASE"], env["AECOURSE_HUB_SHARED_WEIGHTS"]

# --- Who logs in: JupyterHub's SharedPasswordAuthenticator (5.3+). One password for the class,
# written on the board with the link; each learner picks a name. The instructor (admin) has a
# password of their own. Meant for short deployments: anyone with the class password can log in
# under any learner's name, so for a term-long course use an OAuth or LTI authenticator instead.
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = env["AECOURSE_HUB_PASSWORD"]
c.SharedPasswordAuthenticator.admin_password = env["AECOURSE_HUB_ADMIN_PASSWORD"]
c.Authenticator.admin_users = {env["AECOURSE_HUB_ADMIN"]}
c.Authenticator.allow_all = True
c.Authenticator.username_pattern = r"^[a-z][a-z0-9_-]{0,30}$"  # a valid Unix name


# --- Where their servers run: LocalProcessSpawner, each learner's server a process of a real
# Unix account made on first login (as The Littlest JupyterHub does). Real accounts make the
# shared weights folder genuinely read-only for learners and each home private. No systemd or
# containers needed; the cost: no per-learner memory limit (size the server from
# benchmarks/bench_hub.py instead), and learners share the server's CPUs.
def make_learner_account(spawner):
    """Make the learner's Unix account (in LEARNERS, home mode 700); refuse any other existing account."""
    name = spawner.user.name
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--base-dir", HOME_BASE, "--gid", LEARNERS,
                        "--shell", "/bin/bash", "-K", "HOME_MODE=0700", name], check=True)
        return
    if account.pw_gid != grp.getgrnam(LEARNERS).gr_gid:  # root, a service, a staff account: never
        raise PermissionError(f"{name!r} is an account of this server outside the group {LEARNERS}")


def learner_cache(spawner):
    """The learner's own weights folder first (written), then the class's shared one (read-only)."""
    home = pwd.getpwnam(spawner.user.name).pw_dir
    return os.pathsep.join([f"{home}/.cache/aecourse/weights", SHARED_WEIGHTS])


c.JupyterHub.spawner_class = "localprocess"
c.Spawner.pre_spawn_hook = make_learner_account
c.Spawner.cmd = [str(PREFIX / "env" / "bin" / "jupyterhub-singleuser")]  # the course's environment
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.environment = {
    "COURSE_CACHE_DIR": learner_cache,
    "COURSE_DATA_DIR": str(CLASS_DIR / "data"),  # datasets fetched once by setup, read-only
    "COURSE_OFFLINE": "1",  # thirty learners never download at once; a missing dataset falls back
    "COURSE_FAST": env.get("AECOURSE_HUB_FAST", ""),
    # One thread per kernel: many kernels share the cores, and more threads only contend.
    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
    # nbgitpuller clones the class's mirror, which belongs to root: this git config (made by setup) accepts it.
    "GIT_CONFIG_GLOBAL": str(CLASS_DIR / "gitconfig"),
}
# Idle kernels (even with a tab open) are shut down by each learner's server, idle servers by the culler below.
c.Spawner.args = [f"--MappingKernelManager.cull_idle_timeout={env['AECOURSE_HUB_KERNEL_IDLE_S']}",
                  "--MappingKernelManager.cull_interval=60", "--MappingKernelManager.cull_connected=True"]

# --- Idle servers stopped (jupyterhub-idle-culler, a hub service with just the rights it needs).
c.JupyterHub.services = [{"name": "idle-culler", "command": [
    str(PREFIX / "env" / "bin" / "python"), "-m", "jupyterhub_idle_culler",
    f"--timeout={env['AECOURSE_HUB_SERVER_IDLE_S']}", "--cull-every=60"]}]
c.JupyterHub.load_roles = [{"name": "idle-culler", "services": ["idle-culler"],
                            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]}]

# --- The proxy (configurable-http-proxy from npm, installed by setup) and the hub's own files.
c.ConfigurableHTTPProxy.command = [str(PREFIX / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env['AECOURSE_HUB_API_PORT']}"
c.JupyterHub.bind_url = f"http://{env['AECOURSE_HUB_IP']}:{env['AECOURSE_HUB_PORT']}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env["AECOURSE_HUB_INTERNAL_PORT"])
c.JupyterHub.db_url = f"sqlite:///{CLASS_DIR / 'hub' / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(CLASS_DIR / "hub" / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every learner's server
