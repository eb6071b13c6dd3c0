"""Every chapter notebook in JupyterLab, in a real (headless) browser: what learners see.

nbval proves the kernel side runs; this test opens each chapter in JupyterLab in
Chromium driven by Playwright, runs all cells in fast mode and checks the page: no
error output, every widget rendered as a widget, moving the chapter's main slider
changes the figure it drives, every concept question answers a wrong click with "not
yet" and the right one with "right" and every option's explanation, and every exercise,
left empty, says so. Screenshots go to build/browser/.

Needs Chromium and Playwright (`pip install playwright`, in the dev extra; do not
run `playwright install`: the system Chromium is used). On Debian/Ubuntu:
`apt-get install chromium` (or run .ci/install-browser); elsewhere point
COURSE_CHROMIUM at a Chromium or Chrome binary; without one these tests skip and say
so. They run as part of `pytest` (select them alone with `-m browser`, leave them out
with `-m "not browser"`); where they run, conftest.py leaves out nbval's run of the
same chapters. Each pytest-xdist worker starts one JupyterLab and one Chromium, loads
JupyterLab once, and opens its chapters one after another from the file browser.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import ipywidgets
import psutil
import pytest

from course_lib.questions import FEEDBACK_CLASS, QUESTION_CLASS
from course_lib.widgets import FIGURE_CLASS, MAIN_WIDGET_CLASS

try:
    from playwright.sync_api import sync_playwright
except ImportError:
    sync_playwright = None

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = ROOT / "notebooks"
CHAPTERS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
SCREENSHOTS = ROOT / "build" / "browser"
CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--mute-audio"]
START_TIMEOUT_S = 300  # server up, browser up, JupyterLab loaded, kernel idle (a busy shared machine)
RUN_TIMEOUT_S = 600  # Run All Cells of one chapter in fast mode, on a busy shared machine
UPDATE_TIMEOUT_S = 60  # the figure redrawn after the slider moved
WIDGET_NAMES = sorted(name for name, obj in vars(ipywidgets).items()
                      if isinstance(obj, type) and issubclass(obj, ipywidgets.DOMWidget))
WIDGET_AS_TEXT = re.compile(rf"^(?:{'|'.join(WIDGET_NAMES)})\(")
SETTINGS = {  # JupyterLab user settings: nothing saved, every cell in the page, no pop-ups
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                    "checkForUpdates": False},
}


def browser_unavailable() -> str:
    """Why the browser tests cannot run here ('' when they can); conftest.py asks too."""
    if sync_playwright is None:
        return "Playwright is not installed: pip install playwright (in the dev extra)"
    if not CHROMIUM.is_file():
        return (f"no Chromium at {CHROMIUM}: apt-get install chromium (or run "
                f".ci/install-browser), or set COURSE_CHROMIUM to a Chromium/Chrome binary")
    return ""


pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(bool(browser_unavailable()), reason=browser_unavailable())]


@dataclass
class Lab:
    """A running JupyterLab server."""

    url: str
    token: str
    log: Path

    def api(self, path: str, method: str = "GET", body: dict | None = None):
        """Call the server's REST API; returns the decoded JSON (None when empty)."""
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _stop(proc: subprocess.Popen, port: int | None = None, grace_s: float = 15) -> None:
    """End ``proc`` and what it started: terminate, wait for it (and its port) to close, kill."""
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    if proc.poll() is None:
        proc.terminate()
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and proc.poll() is None and not (port and not _port_open(port)):
        time.sleep(0.2)
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:  # e.g. JupyterLab hanging on shutdown after closing its port
        proc.kill()
        proc.wait(timeout=10)
    for child in children:
        if child.is_running():
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=5)
    for child in alive:
        child.kill()


def _log_tail(log: Path, n: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-n:])


def _write_settings(folder: Path) -> None:
    for plugin, values in SETTINGS.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _lab_env(tmp: Path) -> dict:
    """Fast mode, and every Jupyter/IPython folder a throw-away one under ``tmp``."""
    env = dict(os.environ, COURSE_FAST="1",
               JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_DATA_DIR=str(tmp / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), IPYTHONDIR=str(tmp / "ipython"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"))
    env.pop("MPLBACKEND", None)  # the kernel's inline backend, as learners get it
    return env


@contextmanager
def jupyterlab(notebooks: Path, tmp: Path):
    """JupyterLab serving a copy of ``notebooks`` (so the committed files stay untouched)."""
    root = tmp / "notebooks"
    shutil.copytree(notebooks, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    _write_settings(tmp / "settings")
    port, token, log = _free_port(), secrets.token_hex(16), tmp / "jupyterlab.log"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    with open(log, "w") as log_file:
        proc = subprocess.Popen(cmd, env=_lab_env(tmp), cwd=root, stdout=log_file,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    lab = Lab(f"http://127.0.0.1:{port}", token, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {proc.returncode}:\n{_log_tail(log)}")
            try:
                lab.api("status")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not answer in {START_TIMEOUT_S} s:\n"
                                       f"{_log_tail(log)}") from None
                time.sleep(0.5)
        yield lab
    finally:
        _stop(proc, port)


def _shutdown_kernels(lab: Lab) -> None:
    """Shut down every session and kernel of ``lab`` (best effort: the server is stopped later)."""
    try:
        for session in lab.api("sessions"):
            lab.api(f"sessions/{session['id']}", method="DELETE")
        for kernel in lab.api("kernels"):
            lab.api(f"kernels/{kernel['id']}", method="DELETE")
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        warnings.warn(f"could not shut down the kernels: {error}", stacklevel=2)


@contextmanager
def chromium(tmp: Path):
    """Headless Chromium started here (so it is stopped by its process id), driven by Playwright."""
    profile, log = tmp / "profile", tmp / "chromium.log"
    profile.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as log_file:
        proc = subprocess.Popen([str(CHROMIUM), *CHROMIUM_FLAGS, "--remote-debugging-port=0",
                                 f"--user-data-dir={profile}", "about:blank"],
                                stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        port_file, deadline = profile / "DevToolsActivePort", time.monotonic() + START_TIMEOUT_S
        while not (port_file.is_file() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Chromium did not start:\n{_log_tail(log)}")
            time.sleep(0.2)
        port = int(port_file.read_text().split()[0])
        with sync_playwright() as pw:
            browser = pw.chromium.connect_over_cdp(f"http://127.0.0.1:{port}",
                                                   timeout=START_TIMEOUT_S * 1000)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with jupyterlab(NOTEBOOKS_DIR, tmp_path_factory.mktemp("jupyterlab")) as server:
        yield server


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium")) as b:
        yield b


class App:
    """One browser page with JupyterLab loaded, reused by the chapters a worker runs."""

    def __init__(self, browser, lab: Lab):
        self.browser, self.lab, self.page = browser, lab, None

    def fresh_page(self):
        """The loaded page; after a failure, a new page with JupyterLab loaded again."""
        if self.page is None:
            context = self.browser.new_context(viewport={"width": 1400, "height": 1000})
            context.set_default_timeout(60_000)
            self.page = context.new_page()
            load_jupyterlab(self.page, self.lab)
        return self.page

    def discard(self):
        if self.page is not None:
            self.page.context.close()
            self.page = None


@pytest.fixture(scope="module")
def app(browser, lab):
    jupyter = App(browser, lab)
    yield jupyter
    jupyter.discard()


def start_kernel(lab: Lab, name: str, kernel: str) -> None:
    """Start the notebook's kernel session before the page opens; JupyterLab connects to it.

    Left to start the kernel itself, JupyterLab on a busy machine may give up waiting
    and ask which kernel to start.
    """
    lab.api("sessions", "POST", {"path": name, "name": name, "type": "notebook",
                                 "kernel": {"name": kernel}})


def load_jupyterlab(page, lab: Lab) -> None:
    """Load the JupyterLab app in ``page`` (a fresh workspace) and wait for its file browser."""
    page.goto(f"{lab.url}/lab?reset&token={lab.token}", timeout=START_TIMEOUT_S * 1000)
    page.locator(".jp-DirListing-item").first.wait_for(timeout=START_TIMEOUT_S * 1000)


def open_notebook(page, lab: Lab, name: str, kernel: str) -> None:
    """Open ``name`` from the file browser, as a learner would, and wait until its kernel is idle.

    The app stays loaded between chapters: loading JupyterLab costs Chromium about 40 s
    of CPU here, opening a notebook in it a few. Should JupyterLab still ask which
    kernel to start, the test answers as a learner would, if the kernel offered is the
    notebook's.
    """
    page.locator(".jp-DirListing-item", has=page.get_by_text(name, exact=True)).dblclick()
    ready = "() => document.querySelector('.jp-Dialog') || (document.querySelector(" \
            "\".jp-Notebook-ExecutionIndicator[data-status='idle']\") && " \
            "/\\| Idle/.test(document.querySelector('#jp-main-statusbar')?.innerText || ''))"
    for _ in range(3):
        page.wait_for_function(ready, timeout=START_TIMEOUT_S * 1000, polling=500)
        dialog = page.locator(".jp-Dialog")
        if not dialog.count():
            return
        offered = dialog.locator("select option:checked").all_inner_texts()
        assert "Select Kernel" in dialog.inner_text() and offered == [kernel], \
            f"unexpected dialog while opening {name}: {dialog.inner_text()!r}"
        dialog.get_by_role("button", name="Select", exact=True).click()
        page.wait_for_selector(".jp-Dialog", state="detached")
    raise AssertionError(f"JupyterLab kept asking for a kernel for {name}")


def close_notebook(page) -> None:
    """Close the open notebook's tab without saving (autosave is off; outputs are discarded)."""
    page.keyboard.press("Escape")
    page.get_by_role("menuitem", name="File", exact=True).click()
    page.get_by_role("menuitem", name=re.compile(r"^Close Tab\b")).click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=10_000)
    dialog.locator("button", has_text=re.compile(r"^(Discard|Don.t Save)$")).click()
    page.locator(".jp-NotebookPanel").wait_for(state="detached")


_RUN_STATE = """() => {
    const dialog = document.querySelector('.jp-Dialog');
    if (dialog) return 'dialog: ' + dialog.innerText;
    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
        .map(e => e.textContent);
    const status = document.querySelector('.jp-Notebook-ExecutionIndicator');
    if (!prompts.length || !/\\d/.test(prompts[0]) || prompts.some(p => p.includes('*')))
        return false;
    return status && status.dataset.status === 'idle' ? 'done' : false;
}"""


def run_all_cells(page) -> None:
    """Run > Run All Cells, then wait until the kernel is idle with no cell queued."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    state = page.wait_for_function(_RUN_STATE, timeout=RUN_TIMEOUT_S * 1000, polling=500)
    assert state.json_value() == "done", state.json_value()


_OUTPUTS = """() => {
    const cells = [...document.querySelectorAll('.jp-Notebook .jp-Cell')];
    return [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')].map(e => ({
        cell: cells.indexOf(e.closest('.jp-Cell')),
        mime: e.dataset.mimeType || '',
        text: e.innerText.slice(0, 400),
    }));
}"""

_PROMPTS = """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].map((c, i) => ({
    cell: i, code: c.classList.contains('jp-CodeCell'),
    prompt: c.querySelector('.jp-InputArea-prompt')?.textContent || '',
}))"""


def page_problems(page) -> list[str]:
    """What a learner would see go wrong: cells not run, errors, widgets not rendered."""
    problems = [f"cell {p['cell']}: not run (prompt {p['prompt']!r})"
                for p in page.evaluate(_PROMPTS) if p["code"] and not re.search(r"\d", p["prompt"])]
    for out in page.evaluate(_OUTPUTS):
        where, text = f"cell {out['cell']}", out["text"].strip()
        last_line = text.splitlines()[-1] if text else ""
        if out["mime"] == "application/vnd.jupyter.stderr" and (
                "Traceback" in text or re.match(r"^[\w.]*(Error|Exception|Interrupt)(:|$)", last_line)):
            problems.append(f"{where}: error output: {text[:300]}")
        if "Error displaying widget" in text or "Loading widget..." in text:
            problems.append(f"{where}: widget not rendered: {text[:300]}")
        if out["mime"] == "text/plain" and WIDGET_AS_TEXT.match(text):
            problems.append(f"{where}: widget shown as text (no widget manager?): {text[:200]}")
    return problems


def main_widget(page):
    """The chapter's main explorer: the one marked by course_lib, else the last one with a slider."""
    marked = page.locator(f".jp-Notebook .{MAIN_WIDGET_CLASS}")
    if marked.count():
        return marked.first
    candidates = page.locator(".jp-Notebook .jp-OutputArea-output").filter(
        has=page.locator("[role=slider]")).filter(has=page.locator(f".{FIGURE_CLASS}, img"))
    assert candidates.count(), "no widget with a slider and a figure rendered in the page"
    return candidates.last


def figure_data(widget) -> str:
    """The image data (PNG data URLs) shown inside ``widget``."""
    return "|".join(widget.locator("img").evaluate_all("els => els.map(e => e.src)"))


def move_slider(page, widget, presses: int = 5) -> None:
    """Focus the widget's first slider handle and press ArrowRight (ArrowLeft at the maximum)."""
    handle = widget.locator("[role=slider]").first

    def value():  # noUiSlider rounds aria-valuenow to 1 decimal; aria-valuetext is the readout
        return handle.get_attribute("aria-valuetext") or handle.get_attribute("aria-valuenow")

    before = value()
    for key in ("ArrowRight", "ArrowLeft"):
        handle.focus()
        for _ in range(presses):
            page.keyboard.press(key)
        if value() != before:
            return
    raise AssertionError(f"the slider did not move from {before}")


def wait_for_new_figure(page, widget, before: str) -> None:
    """Wait until the figure inside ``widget`` differs from ``before``."""
    deadline = time.monotonic() + UPDATE_TIMEOUT_S
    while figure_data(widget) == before:
        assert time.monotonic() < deadline, \
            f"moving the slider did not change the figure within {UPDATE_TIMEOUT_S} s"
        page.wait_for_timeout(250)


def screenshot(page, path: Path) -> None:
    """The whole notebook in one picture: make the window as tall as the notebook, then shoot."""
    height = page.evaluate("""() => {
        const s = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');
        return s ? s.scrollHeight + window.innerHeight - s.clientHeight : window.innerHeight;
    }""")
    window = dict(page.viewport_size)
    page.set_viewport_size({"width": window["width"], "height": min(height, 16000)})
    try:
        page.wait_for_timeout(500)
        page.evaluate("() => document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer')"
                      "?.scrollTo(0, 0)")
        page.wait_for_timeout(500)
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(window)


def _text(html: str) -> str:
    """An explanation as the page shows it: backticks gone (they become code), spaces collapsed."""
    return " ".join(html.replace("`", "").split())


def _wait_for_text(locator, wanted: str) -> str:
    deadline = time.monotonic() + UPDATE_TIMEOUT_S
    while wanted not in (text := " ".join(locator.inner_text().split())):
        assert time.monotonic() < deadline, f"{wanted!r} did not appear; the page shows {text!r}"
        time.sleep(0.25)
    return text


def check_practice(page, notebook: Path) -> None:
    """Each question is a widget that answers clicks; each exercise, still empty, says so, and the last cell sums up."""
    from test_questions import asked, question_cells

    specs = [asked(c) for c in question_cells(notebook)]
    widgets = page.locator(f".jp-Notebook .{QUESTION_CLASS}")
    assert widgets.count() == len(specs), f"{widgets.count()} question widgets for {len(specs)} question cells"
    for i, spec in enumerate(specs):
        widget = widgets.nth(i)
        widget.scroll_into_view_if_needed()
        feedback = widget.locator(f".{FEEDBACK_CLASS}")
        wrong = next(k for k in spec["options"] if k != spec["right"])
        widget.get_by_role("button", name=f"{wrong})", exact=True).click()
        _wait_for_text(feedback, "Not yet")
        widget.get_by_role("button", name=f"{spec['right']})", exact=True).click()
        shown = _wait_for_text(feedback, f"Right: {spec['right']})")
        missing = [k for k, (_, why) in spec["options"].items() if _text(why) not in shown]
        assert not missing, f"question {i + 1}: the explanations of {missing} are not shown once answered"
    cells = json.loads(notebook.read_text())["cells"]
    outputs = page.evaluate(_OUTPUTS)
    for i, cell in enumerate(cells):
        exercise = cell.get("metadata", {}).get("exercise")
        if cell["cell_type"] == "code" and exercise:
            said = " ".join(o["text"] for o in outputs if o["cell"] == i)
            assert f"exercise {exercise}: not yet. It is still empty" in said, f"exercise {exercise} shows {said!r}"
    summary = " ".join(o["text"] for o in outputs if o["cell"] == len(cells) - 1)
    assert f"chapter {notebook.name[:2]}: 0 of " in summary and "exercises checked right" in summary, summary


def check_notebook_in_browser(page, lab: Lab, notebook: Path, shots: Path) -> None:
    """Open, run all, check the page, move the main slider, check the figure changed.

    Screenshots of the main widget before and after the slider moved always; of the
    whole notebook when something failed (or with COURSE_BROWSER_FULL_SHOTS=1): at up to
    16,000 px tall one costs Chromium about 10 s of CPU here. On success the notebook is
    closed again, leaving the page ready for the next chapter.
    """
    name, stem = notebook.name, notebook.stem
    kernel = json.loads(notebook.read_text())["metadata"]["kernelspec"]
    start_kernel(lab, name, kernel["name"])
    passed = False
    try:
        open_notebook(page, lab, name, kernel["display_name"])
        run_all_cells(page)
        loading = page.locator(".jp-Notebook .jp-OutputArea-output", has_text="Loading widget...")
        deadline = time.monotonic() + UPDATE_TIMEOUT_S
        while loading.count() and time.monotonic() < deadline:  # left over ones: reported below
            page.wait_for_timeout(250)
        problems = page_problems(page)
        assert not problems, f"{name} in JupyterLab:\n" + "\n".join(problems)
        check_practice(page, notebook)
        widget = main_widget(page)
        widget.scroll_into_view_if_needed()
        before = figure_data(widget)
        assert before, "the main widget shows no figure"
        shots.mkdir(parents=True, exist_ok=True)
        widget.screenshot(path=str(shots / f"{stem}.widget-before.png"))
        move_slider(page, widget)
        wait_for_new_figure(page, widget, before)
        widget.screenshot(path=str(shots / f"{stem}.widget-after.png"))
        passed = True
    finally:
        if not passed or os.environ.get("COURSE_BROWSER_FULL_SHOTS") == "1":
            try:
                screenshot(page, shots / f"{stem}.png")
            except Exception as error:  # a failed screenshot must not hide the real failure
                warnings.warn(f"no screenshot of {name}: {error}", stacklevel=2)
        _shutdown_kernels(lab)
    close_notebook(page)


class ChapterInBrowser:
    """The browser test of one chapter (``notebook``); one subclass per chapter below."""

    notebook: Path

    def test_runs_and_its_widget_responds_in_jupyterlab(self, lab, app):
        committed = self.notebook.read_bytes()
        page = app.fresh_page()
        try:
            check_notebook_in_browser(page, lab, self.notebook, SCREENSHOTS)
        except BaseException:
            app.discard()  # the next chapter starts from a newly loaded JupyterLab
            raise
        assert self.notebook.read_bytes() == committed, f"{self.notebook.name} was modified by the test"


# One class per chapter (Test_01_autoencoder_from_scratch, ...): pytest-xdist's
# --dist loadscope keeps a class on one worker, so each chapter goes to whichever
# worker is free, while a notebook's nbval cells (one scope per file) stay together.
for _notebook in CHAPTERS:
    _name = f"Test_{_notebook.stem}"
    globals()[_name] = type(_name, (ChapterInBrowser,), {"notebook": _notebook, "__doc__": _notebook.stem})
