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

Needs Chromium and Playwright, as tests/test_browser.py does (COURSE_CHROMIUM, default
/usr/bin/chromium); without them these tests skip and say why.
"""

from __future__ import annotations

import functools
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


pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(bool(browser_unavailable()), reason=browser_unavailable())]


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


@pytest.fixture(scope="module")
def built():
    info = site.build(_run_dir(), SITE_OUT, jobs=1)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(SITE_OUT)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {**info, "url": f"http://127.0.0.1:{server.server_address[1]}/"}
    finally:
        server.shutdown()
        server.server_close()


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


def test_site_has_every_chapter_solution_and_page(built):
    pages = set(built["pages"])
    assert len(built["chapters"]) == 8 and len(built["solutions"]) == 8
    for name in built["chapters"]:
        assert f"notebooks/{name}.html" in pages
    for name in built["solutions"]:
        assert f"notebooks/solutions/{name}.html" in pages
    assert {"index.html", "results.html", "instructors.html", "offline.html", "search.html"} <= pages


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


def test_search_finds_the_bottleneck_chapter(built, page):
    page.goto(built["url"] + "search.html?q=bottleneck", wait_until="load")
    hit = page.locator("#search-results a[href*='02_bottleneck_size']").first
    hit.wait_for(timeout=30_000)
    assert page.problems == []


def test_widgets_show_their_figure_and_say_the_live_version_needs_a_kernel(built, page):
    assert built["widgets_as_figures"] >= 8  # every chapter's main widget at least
    page.goto(built["url"] + "notebooks/01_autoencoder_from_scratch.html", wait_until="load")
    note = page.locator(".course-live-note").first
    assert "needs a running kernel" in note.inner_text()
    figure = note.locator("xpath=preceding::img[1]")
    assert figure.evaluate("i => i.naturalWidth") > 0
    assert "widget-view" not in page.content()


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


def test_screenshots_of_the_home_page_and_a_chapter(built, page):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, shot in (("index.html", "home.png"), ("notebooks/02_bottleneck_size.html", "chapter02.png")):
        page.goto(built["url"] + name, wait_until="load")
        page.screenshot(path=str(SHOTS / shot))
        assert (SHOTS / shot).stat().st_size > 10_000
