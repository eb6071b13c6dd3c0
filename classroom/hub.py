#!/usr/bin/env python3
"""The course's workshop hub on one server: one command sets it up and starts it.

    sudo python3 classroom/hub.py start        # set up whatever is missing, then run JupyterHub

Subcommands (each takes the options below; ``--help`` lists them):

- ``setup``: the hub's software under PREFIX (default /opt/aecourse): ``env/``, a Python
  environment every learner can run, holding the course and JupyterHub from PyPI;
  ``proxy/``, configurable-http-proxy from npm (``classroom/package-lock.json``). And the
  class folder CLASS_DIR (default /srv/aecourse): ``weights/`` (the shared weights, read-only
  for learners), ``data/`` (the datasets), ``course.git`` (the course nbgitpuller pulls), ``hub/``
  (the hub's database, cookie secret and passwords). Run again to update the course mid-term.
- ``fill-weights``: train every model of the course into ``weights/`` once (a full run,
  one thread per notebook as in the learners' kernels; ``--fast`` for fast mode).
- ``link``: print the nbgitpuller link that opens chapter 01 for a learner.
- ``start``: ``setup`` (quick when nothing changed), then JupyterHub in the foreground,
  configured by ``classroom/jupyterhub_config.py``; Ctrl-C stops it and every learner's server.

Only the standard library: it runs with any Python 3.10+ before anything is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CHAPTER_01 = "notebooks/01_autoencoder_from_scratch.ipynb"
TARGET = "aecourse"  # the folder nbgitpuller pulls the course into, in each learner's home


def run(cmd: list, **kwargs) -> None:
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def runs_unprivileged(python: str) -> bool:
    """Whether an unprivileged user (nobody) can run ``python`` (a Python under /root cannot)."""
    def drop():
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    try:
        done = subprocess.run([python, "-c", "import sys, venv; assert sys.version_info >= (3, 10)"],
                              preexec_fn=drop if os.geteuid() == 0 else None, capture_output=True, timeout=60)
    except OSError:
        return False
    return done.returncode == 0


def learner_python(choice: str | None) -> str:
    """The Python the environment is made from: one every learner can run."""
    candidates = [choice] if choice else [os.path.realpath(sys.executable), "/usr/bin/python3"]
    for python in candidates:
        if python and runs_unprivileged(python):
            return python
    sys.exit(f"no Python 3.10+ that an unprivileged user can run among {candidates}: "
             "install one (apt-get install python3 python3-venv) or name one with --python")


def pip_sources() -> list[str]:
    """pip's configured indexes, wheel folders and constraints, as uv arguments (as .ci/run does)."""
    flags = {"index-url": "--index-url", "extra-index-url": "--extra-index-url", "find-links": "--find-links",
             "constraint": "--constraint"}
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True)
    args = ["--index-strategy", "unsafe-best-match"]
    for line in listed.stdout.splitlines():  # e.g. global.extra-index-url='file:///a file:///b'
        key, _, value = line.partition("=")
        flag = flags.get(key.rpartition(".")[2])
        if flag and (key.startswith("global.") or key.startswith(":env:.")):
            args += [x for v in value.strip("'\"").split() for x in (flag, v)]
    for name, flag in (("PIP_FIND_LINKS", "--find-links"), ("PIP_CONSTRAINT", "--constraint")):
        args += [x for v in os.environ.get(name, "").split() for x in (flag, v)]
    pairs = list(dict.fromkeys(zip(args[2::2], args[3::2])))  # each source once
    return args[:2] + [x for pair in pairs for x in pair]


def setup_env(prefix: Path, python: str | None) -> Path:
    """``PREFIX/env`` with the course and its ``classroom`` extra; the course reinstalled every time."""
    env = prefix / "env"
    if not (env / "bin" / "python").exists():
        run([learner_python(python), "-m", "venv", env])
    if course_installed(env):
        print(f"{env}: the course as in {REPO}, and JupyterHub, already installed")
        return env
    if not (env / "bin" / "uv").exists():
        run([env / "bin" / "python", "-m", "pip", "install", "--quiet", "uv"])
    run([env / "bin" / "uv", "pip", "install", "--quiet", "--compile-bytecode", "--python", env / "bin" / "python",
         *pip_sources(), "--reinstall-package", "aecourse", f"{REPO}[classroom]"])
    return env


def course_installed(env: Path) -> bool:
    """Whether ``env`` holds JupyterHub and the course's packages exactly as this checkout has them."""
    found = list(env.glob("lib/python3*/site-packages"))
    if len(found) != 1 or not (env / "bin" / "jupyterhub").exists():
        return False
    files = [f for package in ("course_lib", "aecourse_tools") for f in (REPO / package).rglob("*")
             if f.is_file() and "__pycache__" not in f.parts]
    installed = [found[0] / f.relative_to(REPO) for f in files]
    return all(i.is_file() and i.read_bytes() == f.read_bytes() for i, f in zip(installed, files))


def setup_proxy(prefix: Path) -> Path:
    """configurable-http-proxy from npm, at the version classroom/package-lock.json pins."""
    proxy = prefix / "proxy"
    binary = proxy / "node_modules" / ".bin" / "configurable-http-proxy"
    lock = HERE / "package-lock.json"
    if binary.exists() and (proxy / "package-lock.json").read_bytes() == lock.read_bytes():
        return binary
    if not shutil.which("npm"):
        if not shutil.which("apt-get"):
            sys.exit("npm is missing: install Node.js 20+ and npm, then run this again")
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "nodejs", "npm"])
    proxy.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(HERE / name, proxy / name)
    run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=proxy)
    return binary


def setup_class(class_dir: Path, env: Path, group: str) -> None:
    """The learners' group, the shared weights (read-only for learners), data, course mirror, the hub's folder."""
    run(["groupadd", "--force", group])
    class_dir.mkdir(parents=True, exist_ok=True)
    for name, mode in (("weights", 0o755), ("data", 0o755), ("hub", 0o700)):
        (class_dir / name).mkdir(exist_ok=True)
        (class_dir / name).chmod(mode)
    class_dir.chmod(0o755)
    for dataset in (REPO / "data").iterdir() if (REPO / "data").is_dir() else ():
        if dataset.is_dir() and not (class_dir / "data" / dataset.name).exists():
            shutil.copytree(dataset, class_dir / "data" / dataset.name)
    subprocess.run([env / "bin" / "aecourse", "fetch-data", "--timeout", "10"],  # what is missing; offline: fallbacks
                   env={**os.environ, "COURSE_DATA_DIR": str(class_dir / "data")})
    run(["chmod", "-R", "a+rX", class_dir / "data", class_dir / "weights"])
    mirror = class_dir / "course.git"
    if not mirror.exists():
        run(["git", "clone", "--quiet", "--bare", REPO, mirror])
    branch = current_branch()
    run(["git", "-C", mirror, "fetch", "--quiet", "--force", REPO, f"HEAD:refs/heads/{branch}"])
    run(["chmod", "-R", "a+rX", mirror])
    # Learners' git must accept a repository root owns: their global git config (GIT_CONFIG_GLOBAL in
    # jupyterhub_config.py) says so, then reads their own ~/.gitconfig (git 2.39 ignores `-c safe.directory`).
    (class_dir / "gitconfig").write_text(f"[safe]\n\tdirectory = {mirror}\n[include]\n\tpath = ~/.gitconfig\n")
    (class_dir / "gitconfig").chmod(0o644)


def current_branch() -> str:
    found = subprocess.run(["git", "-C", REPO, "rev-parse", "--abbrev-ref", "HEAD"], capture_output=True, text=True)
    name = found.stdout.strip()
    return name if found.returncode == 0 and name and name != "HEAD" else "main"


def passwords(class_dir: Path, args) -> dict:
    """The learners' shared password and the instructor's: given, else made once and kept in hub/."""
    path = class_dir / "hub" / "passwords.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    made = {"learners": args.password or saved.get("learners") or secrets.token_urlsafe(9),
            "instructor": args.admin_password or saved.get("instructor") or secrets.token_urlsafe(32)}
    path.write_text(json.dumps(made))
    path.chmod(0o600)
    return made


def link(args) -> str:
    """The nbgitpuller link: the hub pulls the course into the learner's home and opens chapter 01."""
    repo = args.course_repo or str(args.class_dir / "course.git")
    query = urlencode({"repo": repo, "branch": args.branch or current_branch(), "targetpath": TARGET,
                       "urlpath": f"lab/tree/{TARGET}/{CHAPTER_01}"})
    return f"{args.url.rstrip('/')}/hub/user-redirect/git-pull?{query}"


def hub_environment(args, secrets_: dict, prefix: Path) -> dict:
    """What classroom/jupyterhub_config.py reads (AECOURSE_HUB_*)."""
    return {**os.environ, "AECOURSE_HUB_PREFIX": str(prefix), "AECOURSE_HUB_CLASS_DIR": str(args.class_dir),
            "AECOURSE_HUB_HOME_BASE": str(args.home_base), "AECOURSE_HUB_GROUP": args.group,
            "AECOURSE_HUB_IP": args.ip, "AECOURSE_HUB_PORT": str(args.port),
            "AECOURSE_HUB_API_PORT": str(args.port + 1), "AECOURSE_HUB_INTERNAL_PORT": str(args.port + 2),
            "AECOURSE_HUB_PASSWORD": secrets_["learners"], "AECOURSE_HUB_ADMIN_PASSWORD": secrets_["instructor"],
            "AECOURSE_HUB_ADMIN": args.admin, "AECOURSE_HUB_FAST": "1" if args.fast else "",
            "AECOURSE_HUB_SHARED_WEIGHTS": str(args.shared_weights or args.class_dir / "weights"),
            "AECOURSE_HUB_SERVER_IDLE_S": str(args.server_idle), "AECOURSE_HUB_KERNEL_IDLE_S": str(args.kernel_idle)}


def cmd_setup(args) -> Path:
    if os.geteuid() != 0:
        sys.exit("the hub makes a Unix account for each learner: run it as root (sudo)")
    env = setup_env(args.prefix, args.python)
    setup_proxy(args.prefix)
    setup_class(args.class_dir, env, args.group)
    return env


def cmd_fill(args) -> int:
    """Every notebook once, as root, into the shared weights folder, one thread per notebook."""
    env = args.prefix / "env"
    notebooks = sorted((REPO / "notebooks").glob("[0-9]*.ipynb"))
    notebooks += sorted((REPO / "notebooks" / "solutions").glob("*.ipynb"))
    jobs = max(1, os.cpu_count() or 1) if args.jobs is None else args.jobs
    threads = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    cmd = [env / "bin" / "aecourse", "run", "--jobs", jobs, "--build-dir", args.class_dir / "fill",
           *(["--full"] if not args.fast else []), *(args.notebooks or notebooks)]
    print("+", " ".join(map(str, cmd)), flush=True)
    done = subprocess.run([str(c) for c in cmd], env={
        **os.environ, **threads, "COURSE_CACHE_DIR": str(args.shared_weights or args.class_dir / "weights"),
        "COURSE_DATA_DIR": str(args.class_dir / "data"), "COURSE_OFFLINE": "1"}, cwd=REPO)  # the run's commit: REPO's
    run(["chmod", "-R", "a+rX", args.shared_weights or args.class_dir / "weights"])
    return done.returncode


def cmd_start(args) -> None:
    env = cmd_setup(args) if not args.no_setup else args.prefix / "env"
    made = passwords(args.class_dir, args)
    print(f"\nthe hub: {args.url}\nlearners log in with any name and the password {made['learners']}\n"
          f"the instructor logs in as {args.admin!r} with the password in {args.class_dir / 'hub' / 'passwords.json'}\n"
          f"the link to hand out (pulls the course, opens chapter 01):\n{link(args)}\n", flush=True)
    os.chdir(args.class_dir / "hub")
    os.execve(env / "bin" / "jupyterhub", [str(env / "bin" / "jupyterhub"), "-f", str(HERE / "jupyterhub_config.py")],
              hub_environment(args, made, args.prefix))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="classroom/hub.py", description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=["setup", "fill-weights", "link", "start"])
    p.add_argument("notebooks", nargs="*", type=Path, help="fill-weights: these notebooks (default: all)")
    env = os.environ.get
    p.add_argument("--prefix", type=Path, default=Path(env("AECOURSE_HUB_PREFIX", "/opt/aecourse")),
                   help="the hub's software: env/ and proxy/ (default /opt/aecourse)")
    p.add_argument("--class-dir", type=Path, default=Path(env("AECOURSE_HUB_CLASS_DIR", "/srv/aecourse")),
                   help="weights/, data/, course.git and the hub's state (default /srv/aecourse)")
    p.add_argument("--shared-weights", type=Path, default=None, help="the shared weights (default CLASS_DIR/weights)")
    p.add_argument("--home-base", type=Path, default=Path("/home"), help="learners' homes (default /home)")
    p.add_argument("--group", default="aecourse-learners", help="the Unix group of learners' accounts")
    p.add_argument("--admin", default="instructor", help="the instructor's (admin) user name")
    p.add_argument("--password", default=env("AECOURSE_HUB_PASSWORD"), help="the class password (default: made once)")
    p.add_argument("--admin-password", default=env("AECOURSE_HUB_ADMIN_PASSWORD"), help="the instructor's (32+ chars)")
    p.add_argument("--ip", default="", help="address to listen on (default: all)")
    p.add_argument("--port", type=int, default=8000, help="the hub's port; the next two are its internal ones")
    p.add_argument("--url", default=None, help="the address learners open (default http://<this host>:PORT)")
    p.add_argument("--course-repo", default=None, help="the repository the link pulls (default: CLASS_DIR/course.git)")
    p.add_argument("--branch", default=None, help="its branch (default: this checkout's)")
    p.add_argument("--python", help="the Python env/ is made from (default: this one, else /usr/bin/python3)")
    p.add_argument("--fast", action="store_true", help="learners' kernels (and fill-weights) in fast mode: tests")
    p.add_argument("--server-idle", type=int, default=3600, help="seconds before an idle server is stopped")
    p.add_argument("--kernel-idle", type=int, default=1800, help="seconds before an idle kernel is stopped")
    p.add_argument("--jobs", type=int, default=None, help="fill-weights: notebooks at a time (default: one per core)")
    p.add_argument("--no-setup", action="store_true", help="start: skip setup (it was just run)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_intermixed_args(argv)
    if args.url is None:
        import socket
        args.url = f"http://{args.ip or socket.getfqdn()}:{args.port}"
    if args.command == "setup":
        cmd_setup(args)
    elif args.command == "fill-weights":
        return cmd_fill(args)
    elif args.command == "link":
        print(link(args))
    else:
        cmd_start(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
