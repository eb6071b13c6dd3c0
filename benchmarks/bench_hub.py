"""How many learners one server holds: N simulated learners run a chapter at once through the real hub.

Starts the workshop hub from the project's own files (``classroom/hub.py start``, as root), then
each learner, in a thread of its own and all at the same time, does what a person does:
logs in through the hub's login form (HTTP, the class password), starts their server through
the hub's REST API, opens the nbgitpuller link (the course is pulled into their home), and runs
the chapter top to bottom in a kernel of its own: a session through the single-user server's
REST API, every code cell in order through the kernel's websocket, stopping at the first error.

Per learner it records the time to the first figure and to the end of the last cell (from the
first cell), the kernel's peak memory (its own ``ru_maxrss``) and the peak memory of all the
learner's processes (server and kernel, sampled); for the server, CPU and memory every second,
and every failure. The shared weights are either warm (filled once by ``hub.py fill-weights``
for this chapter and mode) or cold (an empty shared folder: every learner trains every model).

    sudo .venv/bin/python benchmarks/bench_hub.py --learners 2 --chapter 01 --mode fast --cache warm

Writes a JSON (``--json``) and prints a table; exits 1 when a learner failed or the slowest
exceeded ``--limit``. Learners' accounts are removed afterwards.
``python benchmarks/bench_hub.py summary build/bench-hub/*.json`` prints the capacity table of a sweep.
"""

from __future__ import annotations

import argparse
import asyncio
import grp
import json
import os
import pwd
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
HUB_PY = ROOT / "classroom" / "hub.py"
TARGET = "aecourse"  # as in classroom/hub.py


def free_port_block(size: int = 3) -> int:
    """A port p with p .. p + size - 1 free (the hub, the proxy's API, the hub's internal port)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + size < 65535 and all(_free(port + i) for i in range(size)):
            return port
    raise RuntimeError("no block of free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


# --------------------------------------------------------------------------- the hub

@dataclass
class HubSettings:
    class_dir: Path
    group: str = "aecourse-bench"
    prefix: Path = Path(os.environ.get("AECOURSE_HUB_PREFIX", "/opt/aecourse"))
    fast: bool = True
    shared_weights: Path | None = None
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(36))
    port: int = 0

    def args(self) -> list[str]:
        args = ["--prefix", str(self.prefix), "--class-dir", str(self.class_dir), "--group", self.group,
                "--home-base", str(self.class_dir / "home"), "--ip", "127.0.0.1", "--port", str(self.port),
                "--password", self.password, "--admin-password", self.admin_password]
        args += ["--fast"] if self.fast else []
        return args + (["--shared-weights", str(self.shared_weights)] if self.shared_weights else [])


class Hub:
    """The workshop hub started by ``classroom/hub.py start``; stopping it checks nothing is left running."""

    def __init__(self, settings: HubSettings, log: Path):
        self.settings, self.log = settings, log
        settings.port = settings.port or free_port_block()
        self.url = f"http://127.0.0.1:{settings.port}"
        self.proc = None
        self.seen: dict[int, str] = {}  # every process the hub started, to check after stopping

    def start(self, timeout: float = 120) -> Hub:
        remove_learners(self.settings.group)  # accounts left by an interrupted run
        (self.settings.class_dir / "home").mkdir(parents=True, exist_ok=True)
        (self.settings.class_dir / "home").chmod(0o755)
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, str(HUB_PY), "start", "--no-setup", *self.settings.args()],
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the hub exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.url}/hub/api", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the hub did not answer within {timeout:.0f} s:\n{self.log.read_text()[-3000:]}")

    def remember_processes(self) -> None:
        """Note the hub's process tree (proxy, servers, kernels, culler) and every learner's process."""
        try:
            tree = [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        tree += [p for p in psutil.process_iter() if _learner_uid(p, self.settings.group)]
        for p in tree:
            try:
                self.seen[p.pid] = " ".join(p.cmdline())[:120]
            except psutil.Error:
                pass

    def stop(self, grace: float = 60) -> list[str]:
        """SIGTERM to the hub (it stops the proxy and every server); the processes still alive after, killed."""
        if self.proc is None:
            return []
        self.remember_processes()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        time.sleep(1)
        left = []
        for pid, cmdline in self.seen.items():
            try:
                p = psutil.Process(pid)
                if p.status() != psutil.STATUS_ZOMBIE and " ".join(p.cmdline())[:120] == cmdline:
                    left.append(f"{pid} {cmdline}")
                    p.kill()
            except psutil.NoSuchProcess:
                pass
        return left


def _learner_uid(p: psutil.Process, group: str) -> bool:
    try:
        return pwd.getpwuid(p.uids().real).pw_gid == grp.getgrnam(group).gr_gid
    except (KeyError, psutil.Error):
        return False


def remove_learners(group: str) -> None:
    """Remove the accounts (and homes) of ``group``: the learners a benchmark or test made."""
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        return
    for account in pwd.getpwall():
        if account.pw_gid == gid and account.pw_uid >= 1000:
            for p in psutil.process_iter():
                try:
                    if p.uids().real == account.pw_uid:
                        p.kill()
                except psutil.Error:
                    pass
            subprocess.run(["userdel", "--remove", account.pw_name], capture_output=True)


def fill_weights(settings: HubSettings, notebook: str, log: Path) -> float:
    """``hub.py fill-weights`` for one chapter and mode, as the instructor does; returns the seconds it took."""
    start = time.perf_counter()
    cmd = [sys.executable, str(HUB_PY), "fill-weights", *settings.args(), str(ROOT / notebook)]
    with open(log, "ab") as out:
        subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=True)
    return time.perf_counter() - start


# --------------------------------------------------------------------------- one learner

@dataclass
class LearnerResult:
    name: str
    login_s: float = 0.0
    spawn_s: float = 0.0
    pull_s: float = 0.0
    first_figure_s: float | None = None  # from the first cell's start
    last_cell_s: float | None = None
    cells: int = 0
    cells_run: int = 0
    peak_kernel_mb: float | None = None  # the kernel's own peak resident memory (ru_maxrss)
    peak_learner_mb: float = 0.0  # all the learner's processes together, sampled every second
    cache_lines: list[str] = field(default_factory=list)  # "... loaded from the weights cache ..."
    error: str | None = None


class Learner:
    """One simulated learner, driving the hub over HTTP and a kernel over its websocket."""

    def __init__(self, hub: Hub, name: str, chapter: str, link_query: dict):
        self.hub, self.name, self.chapter, self.link_query = hub, name, chapter, link_query
        self.http = requests.Session()
        self.token = None
        self.result = LearnerResult(name)

    def run(self) -> LearnerResult:
        try:
            self.result.login_s = _timed(self.login)
            self.result.spawn_s = _timed(self.spawn)
            self.result.pull_s = _timed(self.pull)
            asyncio.run(self.run_chapter())
        except Exception as e:  # a learner's failure is a result, never the end of the benchmark
            self.result.error = f"{type(e).__name__}: {str(e)[:300]}"
        return self.result

    def api(self, method: str, path: str, **kwargs):
        r = self.http.request(method, f"{self.hub.url}{path}", headers={"Authorization": f"token {self.token}"},
                              timeout=120, **kwargs)
        r.raise_for_status()
        return r.json() if r.content else None

    def login(self) -> None:
        """The hub's login form with the class password, then an API token for the rest."""
        self.http.get(f"{self.hub.url}/hub/login", timeout=60).raise_for_status()
        xsrf = [c.value for c in self.http.cookies if c.name == "_xsrf"][-1]
        r = self.http.post(f"{self.hub.url}/hub/login", timeout=60, allow_redirects=False,
                           data={"username": self.name, "password": self.hub.settings.password, "_xsrf": xsrf})
        if r.status_code != 302:
            raise RuntimeError(f"login refused ({r.status_code})")
        xsrf = [c.value for c in self.http.cookies if c.name == "_xsrf"][-1]  # logging in renews it
        r = self.http.post(f"{self.hub.url}/hub/api/users/{self.name}/tokens", timeout=60,
                           headers={"X-XSRFToken": xsrf}, json={"note": "bench_hub", "expires_in": 7200})
        r.raise_for_status()
        self.token = r.json()["token"]

    def spawn(self, timeout: float = 300) -> None:
        """Start the learner's server through the hub's REST API and wait until it is ready."""
        self.http.post(f"{self.hub.url}/hub/api/users/{self.name}/server", timeout=120,
                       headers={"Authorization": f"token {self.token}"}).raise_for_status()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = self.api("GET", f"/hub/api/users/{self.name}").get("servers", {}).get("", {})
            if server.get("ready"):
                return
            time.sleep(0.5)
        raise TimeoutError(f"server not ready in {timeout:.0f} s")

    def pull(self) -> None:
        """Open the nbgitpuller link (through the hub's login, as a browser would), then let it pull."""
        page = self.http.get(f"{self.hub.url}/hub/user-redirect/git-pull", params=self.link_query, timeout=120)
        if page.status_code != 200 or "git-pull" not in page.url:
            raise RuntimeError(f"the link did not open nbgitpuller's page ({page.status_code} {page.url})")
        stream = self.http.get(f"{self.hub.url}/user/{self.name}/git-pull/api", timeout=300, params=self.link_query,
                               headers={"Authorization": f"token {self.token}"})
        events = [json.loads(line[6:]) for line in stream.text.splitlines() if line.startswith("data: ")]
        if not events or events[-1].get("phase") != "finished":
            raise RuntimeError(f"nbgitpuller did not finish: {events[-1:]}")

    async def run_chapter(self) -> None:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        path = f"{TARGET}/{self.chapter}"
        nb = self.api("GET", f"/user/{self.name}/api/contents/{path}", params={"content": 1})["content"]
        cells = [c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                 for c in nb["cells"] if c["cell_type"] == "code"]
        self.result.cells = len(cells)
        session = self.api("POST", f"/user/{self.name}/api/sessions",
                           json={"path": path, "type": "notebook", "name": Path(path).name,
                                 "kernel": {"name": "python3"}})
        kernel = session["kernel"]["id"]
        ws_url = f"{self.hub.url.replace('http', 'ws', 1)}/user/{self.name}/api/kernels/{kernel}/channels"
        ws = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {self.token}"}),
                                     max_message_size=256 * 2**20)
        try:
            start = time.perf_counter()
            for source in cells:
                outputs = await execute(ws, source)
                for kind, content in outputs:
                    if kind == "figure" and self.result.first_figure_s is None:
                        self.result.first_figure_s = time.perf_counter() - start
                    elif kind == "text":
                        self.result.cache_lines += [line for line in content.splitlines()
                                                    if "from the weights cache" in line]
                    elif kind == "error":
                        raise RuntimeError(f"cell {self.result.cells_run + 1} failed: {content}")
                self.result.cells_run += 1
            self.result.last_cell_s = time.perf_counter() - start
            peak = await execute(ws, "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
            self.result.peak_kernel_mb = int("".join(c for k, c in peak if k == "text").split()[-1]) / 1024
        finally:
            ws.close()
            self.api("DELETE", f"/user/{self.name}/api/sessions/{session['id']}")


async def execute(ws, code: str, timeout: float = 1800) -> list[tuple[str, str]]:
    """Run ``code`` in the kernel behind ``ws``; its outputs as (figure|text|error, content), in order."""
    msg_id = uuid.uuid4().hex
    await ws.write_message(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "bench", "session": msg_id,
                   "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True}}))
    outputs, idle, replied = [], False, False
    deadline = time.monotonic() + timeout
    while not (idle and replied):
        raw = await asyncio.wait_for(ws.read_message(), max(1.0, deadline - time.monotonic()))
        if raw is None:
            raise ConnectionError("the kernel's websocket closed")
        if isinstance(raw, bytes):  # a binary frame (widget buffers): nothing this benchmark reads
            continue
        msg = json.loads(raw)
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind in ("display_data", "execute_result") and "image/png" in content.get("data", {}):
            outputs.append(("figure", ""))
        elif kind == "stream":
            outputs.append(("text", content["text"]))
        elif kind == "error":
            outputs.append(("error", f"{content['ename']}: {content['evalue'][:200]}"))
        elif kind == "status" and content["execution_state"] == "idle":
            idle = True
        elif kind == "execute_reply":
            replied = True
    return outputs


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# --------------------------------------------------------------------------- the server's load

class Monitor(threading.Thread):
    """CPU and memory of the server every ``every`` seconds, and the peak memory of each learner's processes."""

    def __init__(self, names: list[str], every: float = 1.0):
        super().__init__(daemon=True)
        self.names, self.every = names, every
        self.samples: list[tuple[float, float, float]] = []  # (s, CPU % of all cores, memory used MB)
        self.peak_mb = dict.fromkeys(names, 0.0)
        self.halt = threading.Event()
        self.baseline_mb = 0

    def run(self) -> None:
        start = time.perf_counter()
        psutil.cpu_percent(None)
        used = psutil.virtual_memory()
        self.baseline_mb = round((used.total - used.available) / 2**20)  # before the learners: the hub, others
        while not self.halt.wait(self.every):
            uids = {}
            for name in self.names:
                try:
                    uids[pwd.getpwnam(name).pw_uid] = name
                except KeyError:
                    pass
            per = dict.fromkeys(self.names, 0.0)
            for p in psutil.process_iter(["uids", "memory_info"]):
                name = uids.get(p.info["uids"].real) if p.info["uids"] else None
                if name and p.info["memory_info"]:
                    per[name] += p.info["memory_info"].rss / 2**20
            for name, mb in per.items():
                self.peak_mb[name] = max(self.peak_mb[name], mb)
            used = psutil.virtual_memory()
            self.samples.append((round(time.perf_counter() - start, 1), psutil.cpu_percent(None),
                                 round((used.total - used.available) / 2**20)))

    def stop(self) -> None:
        self.halt.set()
        self.join()


# --------------------------------------------------------------------------- the benchmark

def link_query(settings: HubSettings, chapter: str) -> dict:
    """The nbgitpuller link's query, as ``classroom/hub.py link`` prints it."""
    out = subprocess.run([sys.executable, str(HUB_PY), "link", *settings.args()], capture_output=True, text=True,
                         check=True).stdout.strip()
    query = {k: v[0] for k, v in parse_qs(urlparse(out).query).items()}
    query["urlpath"] = f"lab/tree/{TARGET}/{chapter}"
    return query


def chapter_path(chapter: str) -> str:
    """``01`` -> ``notebooks/01_autoencoder_from_scratch.ipynb``."""
    found = sorted((ROOT / "notebooks").glob(f"{chapter}_*.ipynb"))
    if len(found) != 1:
        raise SystemExit(f"--chapter {chapter!r}: expected one of "
                         f"{[p.name[:2] for p in sorted((ROOT / 'notebooks').glob('[0-9][0-9]_*.ipynb'))]}")
    return f"notebooks/{found[0].name}"


def run_learners(hub: Hub, n: int, chapter: str, query: dict, prefix: str = "learner") -> dict:
    """N learners at once; their results and the server's load."""
    names = [f"{prefix}{i + 1}" for i in range(n)]
    learners = [Learner(hub, name, chapter, query) for name in names]
    monitor = Monitor(names)
    monitor.start()
    start = time.perf_counter()
    threads = [threading.Thread(target=learner.run) for learner in learners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    hub.remember_processes()
    monitor.stop()
    for learner in learners:
        learner.result.peak_learner_mb = round(monitor.peak_mb[learner.name], 1)
    cpus = [s[1] for s in monitor.samples]
    return {"learners": [asdict(learner.result) for learner in learners], "wall_s": round(wall, 1),
            "server": {"samples": monitor.samples, "cpu_mean_pct": round(sum(cpus) / max(1, len(cpus)), 1),
                       "memory_peak_mb": max((s[2] for s in monitor.samples), default=0),
                       "memory_before_mb": monitor.baseline_mb, "load_average": os.getloadavg()},
            "failures": [f"{r.name}: {r.error}" for r in (x.result for x in learners) if r.error]}


def table(result: dict) -> str:
    rows = [f"{'learner':<10} {'login':>6} {'spawn':>6} {'pull':>6} {'1st fig':>8} {'last cell':>9} "
            f"{'kernel MB':>9} {'all MB':>7} {'cache hits':>10}  error"]
    for r in result["learners"]:
        f = lambda v, d=1: "-" if v is None else f"{v:.{d}f}"  # noqa: E731
        rows.append(f"{r['name']:<10} {f(r['login_s']):>6} {f(r['spawn_s']):>6} {f(r['pull_s']):>6} "
                    f"{f(r['first_figure_s']):>8} {f(r['last_cell_s']):>9} {f(r['peak_kernel_mb'], 0):>9} "
                    f"{f(r['peak_learner_mb'], 0):>7} {len(r['cache_lines']):>10}  {r['error'] or ''}")
    s = result["server"]
    rows.append(f"server: {result['wall_s']} s wall, CPU mean {s['cpu_mean_pct']}% of {psutil.cpu_count()} cores, "
                f"memory peak {s['memory_peak_mb']} MB (before: {s['memory_before_mb']}) of "
                f"{psutil.virtual_memory().total // 2**20} MB; "
                f"failures: {len(result['failures'])}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--learners", "-n", type=int, default=2)
    p.add_argument("--chapter", default="01", help="the chapter's number (default 01)")
    p.add_argument("--mode", choices=["fast", "full"], default="fast")
    p.add_argument("--cache", choices=["warm", "cold"], default="warm", help="shared weights filled, or empty")
    p.add_argument("--class-dir", type=Path, default=Path("/srv/aecourse-bench"),
                   help="the benchmark hub's class folder (its weights are kept between runs)")
    p.add_argument("--setup", action="store_true", help="run `classroom/hub.py setup` first")
    p.add_argument("--limit", type=float, default=180, help="seconds: the slowest learner's chapter must finish within")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("the hub makes Unix accounts for its learners: run as root")
    chapter = chapter_path(args.chapter)
    settings = HubSettings(class_dir=args.class_dir, fast=args.mode == "fast",
                           shared_weights=args.class_dir / f"weights-{args.mode}")
    if args.setup:
        subprocess.run([sys.executable, str(HUB_PY), "setup", *settings.args()], check=True)
    log = args.class_dir / "bench-hub.log"
    fill_s = None
    if args.cache == "warm":
        fill_s = fill_weights(settings, chapter, log)
    else:
        settings.shared_weights = args.class_dir / "weights-empty"
        subprocess.run(["rm", "-rf", str(settings.shared_weights)], check=True)
        settings.shared_weights.mkdir(parents=True)
    hub = Hub(settings, log).start()
    try:
        result = run_learners(hub, args.learners, chapter, link_query(settings, chapter))
    finally:
        left = hub.stop()
        remove_learners(settings.group)
    slowest = max((r["last_cell_s"] or float("inf") for r in result["learners"]), default=float("inf"))
    result.update(config={"learners": args.learners, "chapter": chapter, "mode": args.mode, "cache": args.cache,
                          "limit_s": args.limit, "cores": psutil.cpu_count(),
                          "memory_mb": psutil.virtual_memory().total // 2**20, "fill_weights_s": fill_s,
                          "command": " ".join(sys.argv)},
                  within_limit=not result["failures"] and slowest <= args.limit, processes_left=left)
    print(table(result))
    print(f"slowest learner {slowest:.1f} s; limit {args.limit:.0f} s: "
          f"{'within' if result['within_limit'] else 'EXCEEDED or failed'}; processes left after stop: {len(left)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    return result


def summary(paths: list[Path], class_size: int = 30) -> str:
    """The capacity table from a sweep's JSON files: per chapter and cache, the most learners within the limit.

    Learners per core: that N over the cores. GB per learner: the largest peak of one learner's
    processes at that N. Beside it, The Littlest JupyterHub's rule for a class of ``class_size``:
    memory = active learners x GB per learner + 128 MB, with 40-60% of the class active and
    20-40% headroom (the range's low and high ends).
    """
    runs: dict[tuple, list[dict]] = {}
    for path in paths:
        r = json.loads(Path(path).read_text())
        key = (Path(r["config"]["chapter"]).name[:2], r["config"]["mode"], r["config"]["cache"])
        runs.setdefault(key, []).append(r)
    rows = ["| chapter | mode | weights | most learners within the limit | learners per core | GB per learner "
            "| slowest learner (s) at that N | first failing N | TLJH memory for a class of "
            f"{class_size} (GB) |", "|---|---|---|---:|---:|---:|---:|---|---|"]
    for (chapter, mode, cache), found in sorted(runs.items()):
        found.sort(key=lambda r: r["config"]["learners"])
        ok = [r for r in found if r["within_limit"]]
        bad = [r["config"]["learners"] for r in found if not r["within_limit"]]
        if not ok:
            rows.append(f"| {chapter} | {mode} | {cache} | 0 | 0 | - | - | {bad[0] if bad else '-'} | - |")
            continue
        best = ok[-1]
        n, cores = best["config"]["learners"], best["config"]["cores"]
        gb = max(x["peak_learner_mb"] for x in best["learners"]) / 1024
        slowest = max(x["last_cell_s"] for x in best["learners"])
        low, high = (class_size * a * gb * (1 + h) + 0.128 for a, h in ((0.4, 0.2), (0.6, 0.4)))
        rows.append(f"| {chapter} | {mode} | {cache} | {n} | {n / cores:.2f} | {gb:.2f} | {slowest:.0f} "
                    f"| {bad[0] if bad else 'none tried'} | {low:.1f} to {high:.1f} |")
    return "\n".join(rows)


if __name__ == "__main__":
    if sys.argv[1:2] == ["summary"]:
        print(summary([Path(p) for p in sys.argv[2:]]))
    else:
        sys.exit(0 if main()["within_limit"] else 1)  # 1: a failure or a learner over the limit (a sweep stops)
