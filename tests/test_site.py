"""The course website (`aecourse site`), opened page by page in headless Chromium.

The site is built from the executed notebooks of a fast run, never by executing them
again: the run named by COURSE_SITE_FROM (.ci/run sets it to the run it has just made),
else the latest run under build/run/ (fast, else full), else one `aecourse run` started
here. It is built into build/site-test/ and served by a local http.server thread. Every
page: the run banner, no console error, every image loaded, every internal link resolves
to a built file; the search finds the bottleneck chapter; on a 390x844 phone no chapter
or solution page scrolls sideways; a widget shows its figure and says the live version
needs a kernel; each exercise links to its solution and back, and each concept question shows with
its answer folded. Screenshots of the home page and chapter 01 go to build/site-shots/.

Planted content never runs: a site built from chapter 01 of the same run, with a script
and an event handler planted in a markdown cell, a script and a javascript: link in an
HTML output and a script in a record's note, shows them as text or not at all, while the
chapter's figures, tables and <details> still render (probes 67-69 of PROBES-2026-12-05).

Needs Chromium and Playwright, as tests/test_browser.py does (COURSE_CHROMIUM, default
/usr/bin/chromium); without them those tests skip and say why. The tests without a browser
(a damaged results.json, a run with a FAILED notebook) run everywhere.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from test_browser import CHROMIUM, browser_unavailable, sync_playwright  # one place says if Chromium is here

from aecourse_tools import site

ROOT = Path(__file__).resolve().parents[1]
SITE_OUT = ROOT / "build" / "site-test"
SHOTS = ROOT / "build" / "site-shots"
PHONE = {"width": 390, "height": 844}


def in_chromium(test):
    """A test that opens pages in Chromium: marked ``browser``, skipped (saying why) without Chromium."""
    return pytest.mark.browser(pytest.mark.skipif(bool(browser_unavailable()), reason=browser_unavailable())(test))


def _run_dir() -> Path:
    """The fast run to build from: COURSE_SITE_FROM, else the latest under build/run/, else a new one."""
    chosen = os.environ.get("COURSE_SITE_FROM")
    if chosen:
        return site.find_run(chosen)
    runs = [d for d in (ROOT / "build" / "run" / "fast", ROOT / "build" / "run" / "full")
            if (d / "results.json").is_file()]
    if runs:
        return max(runs, key=lambda d: (d / "results.json").stat().st_mtime)
    build_dir = ROOT / "build" / "site-test-run"
    subprocess.run([sys.executable, "-m", "aecourse_tools.cli", "run", "--jobs", "2", "--build-dir",
                    str(build_dir)], cwd=ROOT, check=True, env={**os.environ, "COURSE_FAST": "1"})
    return site.find_run(build_dir / "fast")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serving(folder: Path):
    """A local http.server thread serving ``folder``; yields its address."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def built():
    info = site.build(_run_dir(), SITE_OUT, jobs=1)
    with serving(SITE_OUT) as url:
        yield {**info, "url": url}


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM),
                               args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    p.problems = []
    p.on("console", lambda m: p.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    p.on("pageerror", lambda e: p.problems.append(f"page error: {e}"))
    p.on("response", lambda r: p.problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    p.on("requestfailed", lambda r: p.problems.append(f"request failed: {r.url} ({r.failure})"))
    yield p
    context.close()


IMAGES_LOADED = """async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => {
      i.addEventListener('load', r); i.addEventListener('error', r); })));
  return imgs.filter(i => !(i.naturalWidth > 0)).map(i => i.currentSrc || i.src);
}"""


@in_chromium
def test_site_has_every_chapter_solution_and_page(built):
    pages = set(built["pages"])
    assert len(built["chapters"]) == 8 and len(built["solutions"]) == 8
    for name in built["chapters"]:
        assert f"notebooks/{name}.html" in pages
    for name in built["solutions"]:
        assert f"notebooks/solutions/{name}.html" in pages
    assert {"index.html", "results.html", "instructors.html", "offline.html", "search.html"} <= pages


@in_chromium
def test_every_page_banner_no_errors_images_loaded_links_resolve(built, page):
    base, broken = built["url"], []
    for name in built["pages"]:
        page.problems.clear()
        page.goto(base + name, wait_until="load")
        banner = page.locator(".bd-header-announcement").inner_text()
        assert built["meta"]["mode"] in banner and "commit" in banner, f"{name}: banner {banner!r}"
        assert page.evaluate(IMAGES_LOADED) == [], f"{name}: images that did not load"
        assert page.problems == [], f"{name}: {page.problems}"
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")
        for href in hrefs:
            url = urlparse(href)
            if not href.startswith(base) or url.path.endswith("/_sources/"):
                continue
            target = SITE_OUT / unquote(url.path).lstrip("/")
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{name} -> {href}")
    assert broken == []


@in_chromium
def test_search_finds_the_bottleneck_chapter(built, page):
    page.goto(built["url"] + "search.html?q=bottleneck", wait_until="load")
    hit = page.locator("#search-results a[href*='02_bottleneck_size']").first
    hit.wait_for(timeout=30_000)
    assert page.problems == []


@in_chromium
def test_widgets_show_their_figure_and_say_the_live_version_needs_a_kernel(built, page):
    assert built["widgets_as_figures"] >= 8  # every chapter's main widget at least
    page.goto(built["url"] + "notebooks/01_autoencoder_from_scratch.html", wait_until="load")
    note = page.locator(".course-live-note").first
    assert "needs a running kernel" in note.inner_text()
    figure = note.locator("xpath=preceding::img[1]")
    assert figure.evaluate("i => i.naturalWidth") > 0
    assert "widget-view" not in page.content()


@in_chromium
def test_exercises_link_to_their_solutions_and_questions_fold_their_answer(built, page):
    page.goto(built["url"] + "notebooks/04_denoising.html", wait_until="load")
    answers = page.locator("details", has=page.locator("summary", has_text="Answer"))
    assert answers.count() >= 3, "every concept question shows with its answer folded"
    assert not answers.first.evaluate("d => d.open") and "Question." in page.content()
    links = page.get_by_role("link", name="Go to its solution")
    assert links.count() >= 3
    links.first.click()
    page.wait_for_load_state("load")
    assert "04_solutions.html" in page.url and page.url.endswith("#solution-04-1")
    back = page.get_by_role("link", name="Go to the exercise in its chapter").first
    assert "04_denoising.html#exercise-04-1" in back.get_attribute("href")
    assert page.problems == []


@in_chromium
def test_phone_shows_no_horizontal_scroll_on_chapter_pages(built, browser):
    context = browser.new_context(viewport=PHONE, is_mobile=True, device_scale_factor=2)
    p = context.new_page()
    wide = []
    try:
        for name in built["pages"]:
            if not name.startswith("notebooks/"):
                continue
            p.goto(built["url"] + name, wait_until="load")
            sizes = p.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
            if sizes[0] > sizes[1]:
                wide.append(f"{name}: scrollWidth {sizes[0]} > innerWidth {sizes[1]}")
    finally:
        context.close()
    assert wide == []


@in_chromium
def test_screenshots_of_the_home_page_and_a_chapter(built, page):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, shot in (("index.html", "home.png"), ("notebooks/02_bottleneck_size.html", "chapter02.png")):
        page.goto(built["url"] + name, wait_until="load")
        page.screenshot(path=str(SHOTS / shot))
        assert (SHOTS / shot).stat().st_size > 10_000


# ----------------------------------------------------------------------------- planted content never runs

PLANTED_FLAGS = ("plantedMarkdown", "plantedOnerror", "plantedRaw", "plantedOutput", "plantedLink", "plantedNote",
                 "plantedNoteImg")
PLANTED_MARKDOWN = (
    'Planted <script>window.plantedMarkdown = 1; document.title = "planted"</script> and '
    '<img src="no-such-image.png" onerror="window.plantedOnerror = 1">\n\n'
    "```{raw} html\n<script>window.plantedRaw = 1</script>\n```\n\n"
    "<details><summary>Concept question</summary><p>Answer in <b>bold</b>, <strong>strong</strong> and "
    "<code>code</code></p><ul><li>a listed point</li></ul></details>\n")
PLANTED_HTML = ('<p class="planted-output">HTML output shown</p><script>window.plantedOutput = 1</script>'
                '<a id="planted-link" href="javascript:window.plantedLink = 1">a link</a>')
PLANTED_NOTE = "<script>window.plantedNote = 1</script><img src=x onerror=window.plantedNoteImg=1>"


def plant(run_dir: Path, dest: Path, chapter: str = "01_autoencoder_from_scratch.ipynb") -> Path:
    """A copy of one chapter of the run (and its results) with content planted in markdown, an output and a note."""
    import nbformat

    from aecourse_tools.report import markdown_report

    dest.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(run_dir / chapter, as_version=4)
    cell = nbformat.v4.new_code_cell("from IPython.display import HTML; HTML(planted)")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": PLANTED_HTML, "text/plain": "HTML"})]
    nb.cells[2:2] = [nbformat.v4.new_markdown_cell(PLANTED_MARKDOWN), cell]
    nbformat.write(nb, dest / chapter)
    results = json.loads((run_dir / "results.json").read_text())
    results["notebooks"] = [r for r in results["notebooks"] if r["notebook"] == chapter]
    results["notebooks"][0]["records"]["planted_figure"] = {"value": 1.0, "unit": "", "note": PLANTED_NOTE}
    (dest / "results.json").write_text(json.dumps(results))
    (dest / "results.md").write_text(markdown_report(results["notebooks"], results["meta"]))
    return dest


@pytest.fixture(scope="module")
def planted():
    out = ROOT / "build" / "site-test-planted"
    run = plant(_run_dir(), ROOT / "build" / "site-test-planted-run")
    info = site.build(run, out, jobs=1)
    with serving(out) as url:
        yield {**info, "url": url}


@in_chromium
def test_planted_scripts_do_not_run_and_the_course_content_still_shows(planted, page):
    page.goto(planted["url"] + "notebooks/01_autoencoder_from_scratch.html", wait_until="load")
    page.evaluate(IMAGES_LOADED)  # the planted image has failed by now: its onerror would have run
    if page.locator("#planted-link").count():  # nh3 keeps no id, so this finds it only unsanitised
        page.click("#planted-link")
    ran = page.evaluate(f"() => {list(PLANTED_FLAGS)}.filter(f => window[f] !== undefined)")
    assert ran == [] and page.title() != "planted"
    planted_details = page.locator("details", has=page.locator("summary", has_text="Concept question"))
    assert planted_details.locator("summary").inner_text() == "Concept question"
    planted_details.locator("summary").click()  # opens it: the answer shows
    assert planted_details.locator("strong").inner_text() == "strong"
    assert planted_details.locator("code").inner_text() == "code" and planted_details.locator("li").count() == 1
    assert page.locator("p.planted-output").inner_text() == "HTML output shown"
    figures = page.eval_on_selector_all(".cell_output img", "imgs => imgs.map(i => i.naturalWidth)")
    assert len(figures) >= 3 and all(w > 0 for w in figures)  # chapter 01's own figures
    page.goto(planted["url"] + "results.html", wait_until="load")
    assert page.evaluate(f"() => {list(PLANTED_FLAGS)}.filter(f => window[f] !== undefined)") == []
    row = page.locator("tr", has_text="planted_figure")
    assert row.count() == 1 and "plantedNote" in row.inner_text()  # the note is shown as text, not run
    assert page.locator("table").count() >= 2  # the results tables render


# ----------------------------------------------------------------------------- damaged or failed runs

def _fake_run(folder: Path, status: str = "ok", error: str = "") -> Path:
    """A run folder holding one small executed chapter, its results.json and results.md."""
    import nbformat

    from aecourse_tools.report import markdown_report

    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("x = 1 / 0")
    code.outputs = [nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero",
                                           traceback=["ZeroDivisionError: division by zero"])]
    nb.cells = [nbformat.v4.new_markdown_cell("# 01 A chapter\n\nIts text."), code]
    nbformat.write(nb, folder / "01_a_chapter.ipynb")
    meta = {"mode": "fast", "command": "aecourse run", "cpu": "a CPU", "cores": 2, "memory_gb": 4,
            "accelerator": "none", "python": "3.11", "torch": "2", "torch_threads": 2, "course": "0.1",
            "data": "data", "date": "2026-12-05 10:00 UTC", "commit": "abc1234", "jobs": 1, "elapsed_s": 1.0}
    rows = [{"notebook": "01_a_chapter.ipynb", "status": status, "error": error, "wall_s": 1.0, "peak_mb": 100,
             "records": {}, "claims": []}]
    (folder / "results.json").write_text(json.dumps({"meta": meta, "notebooks": rows}))
    (folder / "results.md").write_text(markdown_report(rows, meta))
    return folder


def _aecourse_site(run: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aecourse_tools.cli", "site", "--from", str(run), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_a_truncated_results_json_is_refused_in_one_line(tmp_path):
    """Probe 65: a truncated results.json gave a JSONDecodeError traceback."""
    run = _fake_run(tmp_path / "run")
    text = (run / "results.json").read_text()
    (run / "results.json").write_text(text[:len(text) // 2])
    done = _aecourse_site(run, tmp_path / "site")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert f"{run / 'results.json'} is damaged (JSONDecodeError" in done.stderr
    assert "run `aecourse run` again" in done.stderr


def test_a_failed_notebook_is_marked_on_its_page_and_every_banner_and_in_the_exit_code(tmp_path):
    """Probe 66: a run with a FAILED notebook gave a site without a word (exit 0, a normal page)."""
    run = _fake_run(tmp_path / "run", status="FAILED", error="ZeroDivisionError: division by zero <b>x</b>")
    done = _aecourse_site(run, tmp_path / "site")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED in the run: 01_a_chapter.ipynb: ZeroDivisionError: division by zero" in done.stdout
    chapter = (tmp_path / "site" / "notebooks" / "01_a_chapter.html").read_text()
    assert "course-failed" in chapter and "This notebook FAILED in the run these pages come from" in chapter
    assert "division by zero &lt;b&gt;x&lt;/b&gt;" in chapter  # the error shown as text
    assert "FAILED in this run: 01_a_chapter" in (tmp_path / "site" / "index.html").read_text()  # the banner


def test_a_run_without_failures_builds_with_exit_code_0(tmp_path):
    done = _aecourse_site(_fake_run(tmp_path / "run"), tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAILED" not in (tmp_path / "site" / "notebooks" / "01_a_chapter.html").read_text()
