"""``aecourse site``: the course as a static website, built from the executed notebooks of a run.

Nothing is executed here: the pages show the outputs an ``aecourse run`` saved in
``<build-dir>/<mode>/`` (``NN_name.ipynb``, ``NN_solutions.ipynb``, ``results.json``,
``results.md``). A Sphinx source folder is staged from those notebooks and a few generated
pages, then Sphinx (MyST-NB, ``nb_execution_mode = "off"``, sphinx-book-theme) builds it.
The build needs no network: no intersphinx, no remote scripts, fonts or images (the
notebooks' Binder/Colab badge images are replaced by plain links).

Widgets: a page cannot run a kernel, so each widget output becomes the static figure its
``Output`` held when the notebook was saved (from the notebook's widget state), with a line
saying the live version needs a kernel; progress bars become their final line of text; a
concept question (``course_lib.questions``) becomes the HTML it carries beside its widget, its
answer folded. Each exercise's statement links to its solution, and the solution back.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from course_lib.config import project_root

from .hosting import BADGES_TAG, SETUP_TAG, STATEMENT_TAG, launch_urls, repository

SITE_SRC = Path(__file__).with_name("site_src")  # conf.py template, CSS
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
LIVE_NOTE = ("Interactive widget: this is the figure it showed when the notebook was run. "
             "The live version (sliders that redraw it) needs a running kernel: open the notebook "
             "locally, on Binder or on Colab (links at the top of the page).")
CHAPTER = re.compile(r"^(\d\d)_(?!solutions)\w+\.ipynb$")
SOLUTION = re.compile(r"^(\d\d)_solutions\.ipynb$")


# ----------------------------------------------------------------------------- the run

def find_run(source: str | Path | None = None, root: Path | None = None) -> Path:
    """The folder of executed notebooks to build from.

    ``source`` may be a mode folder (holding results.json) or a build dir holding ``full/``
    or ``fast/``. Default: ``build/run/full``, else ``build/run/fast``.
    """
    base = Path(source) if source is not None else (root or project_root()) / "build" / "run"
    candidates = [base] if (base / "results.json").is_file() else [base / "full", base / "fast"]
    for folder in candidates:
        if (folder / "results.json").is_file() and any(folder.glob("[0-9][0-9]_*.ipynb")):
            return folder.resolve()
    raise SystemExit(f"no executed run in {base} (looked for results.json and NN_*.ipynb in "
                     f"{', '.join(str(c) for c in candidates)}): run `aecourse run --full` first")


def run_meta(run_dir: Path) -> dict:
    """The run's results.json; SystemExit in one line when it is damaged (truncated, not a run's report)."""
    path = run_dir / "results.json"
    try:
        results = json.loads(path.read_text())
        if not isinstance(results.get("meta"), dict) or not isinstance(results.get("notebooks"), list):
            raise ValueError("no 'meta' and 'notebooks' in it")
    except (OSError, ValueError, AttributeError) as e:
        raise SystemExit(f"{path} is damaged ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}): "
                         "run `aecourse run` again to write it") from None
    return results


def failed_notebooks(results: dict) -> dict[str, str]:
    """Notebook file name -> its one-line error, for every notebook the run did not finish."""
    return {r.get("notebook", "?"): r.get("error") or "no reason recorded"
            for r in results["notebooks"] if r.get("status") != "ok"}


def _commit(meta: dict) -> str:
    return meta.get("commit") or "not recorded"


def banner_text(meta: dict, failed: dict[str, str] | None = None) -> str:
    mode = meta.get("mode", "?")
    what = "full mode (the real data sizes)" if mode == "full" else f"{mode} mode (tiny data, one epoch)"
    text = (f"Outputs from a {what} run of commit {_commit(meta)}, {meta.get('date', 'date unknown')}; "
            "nothing was executed to build this site.")
    if failed:
        text += (f" FAILED in this run: {', '.join(n.removesuffix('.ipynb') for n in failed)}: "
                 "their pages stop at the failing cell.")
    return text


def failed_cell_source(error: str) -> str:
    """A warning at the top of the page of a notebook that failed in the run, with its error as plain text."""
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", error)), default=0))  # longer than any in it
    return (f"{fence}`{{error}} This notebook FAILED in the run these pages come from\n:class: course-failed\n"
            "Its outputs stop at the cell that failed; what follows that cell was not run. The error:\n\n"
            f"{fence}text\n{error}\n{fence}\n{fence}`")


# ----------------------------------------------------------------------------- notebooks

def launch_cell_source(repo: str, notebook: str, download: str) -> str:
    colab, binder = launch_urls(repo, notebook)
    github = f"https://github.com/{repo}/blob/main/{notebook}"
    return ("```{admonition} Run this notebook\n:class: course-launch\n"
            f"[Open in Colab]({colab}) · [Launch on Binder]({binder}) · [View on GitHub]({github}) · "
            f"{{download}}`Download the notebook <{download}>`\n\n"
            "Locally: `jupyter lab notebooks/` in a clone of the course (see the home page).\n```")


def _widget_parts(state: dict, model_id: str) -> tuple[list[dict], list[str]]:
    """The PNG outputs held by Output widgets under ``model_id``, and the text of its HTML/Label parts."""
    pngs, texts, seen = [], [], set()

    def walk(mid: str) -> None:
        mid = mid.removeprefix("IPY_MODEL_")
        model = state.get(mid)
        if model is None or mid in seen:
            return
        seen.add(mid)
        s = model.get("state", {})
        name = model.get("model_name", "")
        if name == "OutputModel":
            pngs.extend(o for o in s.get("outputs", []) if "image/png" in o.get("data", {}))
        elif name in ("HTMLModel", "LabelModel") and s.get("value"):
            texts.append(re.sub(r"<[^>]+>", "", str(s["value"])).replace("&nbsp;", " ").strip())
        elif name == "FloatProgressModel":
            texts.append("")  # a progress bar: the HTML parts around it carry its text
        for child in s.get("children", []):
            walk(child)

    walk(model_id)
    return pngs, texts


def static_widgets(nb) -> tuple[int, int]:
    """Replace every widget output by its static figure (+ a note) or its text; returns (figures, texts)."""
    import nbformat

    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    figures = texts = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                outputs.append(out)
                continue
            if "text/html" in out["data"]:  # a widget that carries its own static version (a question)
                texts += 1
                outputs.append(nbformat.v4.new_output("display_data", data={
                    "text/html": out["data"]["text/html"], "text/plain": out["data"].get("text/plain", "")}))
                continue
            pngs, parts = _widget_parts(state, view.get("model_id", ""))
            if pngs:
                figures += 1
                for png in pngs:
                    outputs.append(nbformat.v4.new_output("display_data", data={
                        "image/png": png["data"]["image/png"], "text/plain": "a figure"}))
                outputs.append(nbformat.v4.new_output("display_data", data={
                    "text/html": f'<p class="course-live-note">{LIVE_NOTE}</p>', "text/plain": LIVE_NOTE}))
            else:
                line = " ".join(p for p in parts if p).strip() or "".join(out["data"].get("text/plain", ""))
                if line:
                    texts += 1
                    outputs.append(nbformat.v4.new_output("stream", name="stdout", text=line + "\n"))
        cell.outputs = outputs
    nb.metadata.pop("widgets", None)  # no widget state: MyST-NB then loads no widget JavaScript (a CDN)
    return figures, texts


def exercise_label(exercise: str, side: str) -> str:
    """An exercise statement's label: ``exercise-04-1`` in the chapter, ``solution-04-1`` in the solutions."""
    return f"{side}-{exercise.replace('.', '-')}"


def link_exercises(nb, side: str) -> int:
    """Give each exercise statement a label and a link to the other side (chapter <-> solutions); returns how many."""
    other = {"exercise": "solution", "solution": "exercise"}[side]
    words = {"exercise": "the exercise in its chapter", "solution": "its solution"}
    linked = 0
    for cell in nb.cells:
        exercise, tags = cell.get("metadata", {}).get("exercise"), cell.get("metadata", {}).get("tags", [])
        if cell.cell_type != "markdown" or STATEMENT_TAG not in tags or not exercise:
            continue
        cell.source = (f"({exercise_label(exercise, side)})=\n{cell.source.strip()}\n\n"
                       f"{{ref}}`Go to {words[other]} <{exercise_label(exercise, other)}>`")
        linked += 1
    return linked


def prepare_notebook(src: Path, dest: Path, repo: str, repo_path: str, failed: str | None = None) -> dict:
    """Copy an executed notebook for the site: launch links instead of badge images, static widgets.

    ``failed``: the notebook's error in the run, if it failed: the page then opens with a warning that says so.
    """
    import nbformat

    nb = nbformat.read(src, as_version=4)
    tags = [set(c.get("metadata", {}).get("tags", [])) for c in nb.cells]
    nb.cells = [c for c, t in zip(nb.cells, tags) if not t & {BADGES_TAG, SETUP_TAG}]
    figures, texts = static_widgets(nb)
    link_exercises(nb, "solution" if SOLUTION.match(src.name) else "exercise")
    first_heading = next((i for i, c in enumerate(nb.cells)
                          if c.cell_type == "markdown" and c.source.lstrip().startswith("# ")), None)
    launch = [nbformat.v4.new_markdown_cell(launch_cell_source(repo, repo_path, dest.name))]
    if failed is not None:
        launch.insert(0, nbformat.v4.new_markdown_cell(failed_cell_source(failed)))
    if first_heading is not None:  # the page title stays first: split the title off its cell
        cell = nb.cells[first_heading]
        title, _, rest = cell.source.lstrip().partition("\n")
        cell.source = title
        extra = launch + ([nbformat.v4.new_markdown_cell(rest.strip())] if rest.strip() else [])
        nb.cells[first_heading + 1:first_heading + 1] = extra
    else:
        nb.cells[:0] = launch
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    return {"widgets_as_figures": figures, "widgets_as_text": texts}


# ----------------------------------------------------------------------------- generated pages

def _readme_section(readme: str, heading: str) -> str:
    m = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", readme, flags=re.S | re.M)
    return m.group(1).strip() if m else ""


def home_page(readme: str, meta: dict, repo: str, chapters: list[str], solutions: list[str]) -> str:
    intro = readme.split("\n## ", 1)[0]
    intro = re.sub(r"^# .*\n", "", intro, count=1).strip()
    intro = intro.replace("(notebooks/solutions/)", "(solutions.md)").replace("(RESULTS.md)", "(results.md)")
    setup = _readme_section(readme, "Set up and test (two commands)")
    practice = _readme_section(readme, "Exercises, checks and questions").replace("(notebooks/solutions/)",
                                                                                  "(solutions.md)")
    commands = re.search(r"```bash\n.*?```", setup, flags=re.S)
    binder = launch_urls(repo, "notebooks")[1]
    colab = launch_urls(repo, "notebooks/01_autoencoder_from_scratch.ipynb")[0]
    toc = ("```{toctree}\n:hidden:\n:caption: Chapters\n\n" + "\n".join(f"notebooks/{c}" for c in chapters)
           + "\n```\n\n```{toctree}\n:hidden:\n:caption: Solutions\n\nsolutions\n"
           + "\n".join(f"notebooks/solutions/{s}" for s in solutions)
           + "\n```\n\n```{toctree}\n:hidden:\n:caption: About the course\n\nresults\ninstructors\noffline\n```\n")
    return f"""# Autoencoders with PyTorch

{intro}

## Set up (two commands)

In a clone of [the repository](https://github.com/{repo}), with Python 3.10 or newer:

{commands.group(0) if commands else ''}

Or with conda: `conda env create -f environment.yml`, then `conda activate aecourse`.

## Open the course

- **On your machine:** `jupyter lab notebooks/` (add `--allow-root` in a container), then
  Run > Run All Cells. A notebook runs in full mode by default; `COURSE_FAST=1` runs it on tiny data.
- **On Binder** (nothing to install, a few minutes to start): [launch the course on Binder]({binder}).
- **On Colab:** [open chapter 01 in Colab]({colab}); the first code cell installs the course
  and fetches the data. Every chapter page has its own Binder and Colab links.

The pages of this site show every chapter and solution notebook with the outputs of one
run ({meta.get('mode', '?')} mode, commit {_commit(meta)}, {meta.get('date', '')}). Widgets are shown
as the figure they drew; moving their sliders needs a kernel. On a chapter's page the exercises show
their cells as a learner finds them, still to be filled in, each check saying so, and each links to
its solution; a question's answer is folded under "Answer".

## Exercises, checks and questions

{practice}

{toc}"""


def solutions_page(solutions: list[str]) -> str:
    rows = "\n".join(f"- [{s.replace('_', ' ')}](notebooks/solutions/{s}.ipynb)" for s in solutions)
    return ("# Solutions\n\nWorked solutions to each chapter's exercises, with their outputs: each fills in "
            "the exercise's cell and ends with the same check, answered right. Try the exercises first, in "
            "the chapter's notebook, where each check answers at once; every exercise on a chapter's page "
            f"links to its solution.\n\n{rows}\n")


def results_page(run_dir: Path, repo: str) -> str:
    text = (run_dir / "results.md").read_text()
    text = re.sub(r"^# .*\n", "", text, count=1)
    text = re.sub(r"^- data: .*$", "- data: the real MNIST and ECG5000 subsets where present", text, flags=re.M)
    return ("# Results of this run\n\nWhat the run that produced these pages measured: time and memory "
            "per notebook and each headline figure with the quality claims it supports. The committed, "
            f"annotated measurements are in [RESULTS.md](https://github.com/{repo}/blob/main/RESULTS.md).\n\n"
            + text)


def instructors_page(results: dict, readme: str = "") -> str:
    meta = results["meta"]
    workshop = _readme_section(readme, "A workshop on one server (JupyterHub)")
    rows = ["| notebook | status | wall time (s) | normalised minutes | kernel peak memory (MB) |",
            "|---|---|---:|---:|---:|"]
    for r in results["notebooks"]:
        minutes = r.get("normalised_min")
        rows.append(f"| {r['notebook'].removesuffix('.ipynb')} | {r['status']} | {r['wall_s']:.1f} | "
                    f"{'' if minutes is None else f'{minutes:.2f}'} | {r['peak_mb']} |")
    peak = max((r["peak_mb"] for r in results["notebooks"]), default=0)
    total = meta.get("elapsed_normalised_min")
    return f"""# For instructors

## Time and memory per notebook

Measured by the run these pages come from: {meta.get('mode')} mode, {meta.get('jobs')} notebook(s) at a
time, on {meta.get('cpu')} ({meta.get('cores')} cores, {meta.get('memory_gb')} GB), {meta.get('date')}.
A **normalised minute** is a minute on a reference CPU: wall time scaled by the speeds `aecourse run`
measured beside the notebooks (one-thread float32 matrix products and a small conv net's training
steps, each against its reference), so the figures mean the same on every machine.

{chr(10).join(rows)}

Whole run: {meta.get('elapsed_s')} s wall clock{f' = {total:.2f} normalised minutes' if total else ''}.
The largest kernel used {peak} MB: plan about {max(1, -(-peak // 1000))} GB of memory per learner's kernel.

## Before a workshop

1. On each machine (or once, on a shared server): `pip install -e ".[dev]"` and `aecourse check`:
   versions, device, which datasets are present and what would fall back offline.
2. `aecourse fetch-data` while the network is good (or copy a prepared `data/` folder).
3. `aecourse run --full --jobs 2`: runs every notebook once, checks they all pass on that
   machine, reports the time each takes there, and fills the weights cache (`build/cache/`) so
   that in the session a model trains only if a learner changes it. On a shared server, the
   hub below does this for the whole class (`classroom/hub.py fill-weights`).
4. Several kernels on few cores (a JupyterHub, a workshop server): give each kernel fewer threads,
   e.g. `OMP_NUM_THREADS=1` for two kernels on two cores.
5. If time is short, set `COURSE_FAST=1` for a first pass: tiny data, one epoch, every cell runs.

See [Offline use and workshops](offline.md) for a room without Wi-Fi.
{f"{chr(10)}## A workshop on one server (JupyterHub){chr(10)}{workshop}" if workshop else ""}"""


def offline_page(readme: str) -> str:
    section = _readme_section(readme, "Offline use and workshops")
    return f"""# Offline use and workshops

{section}

## This site offline

The site needs no network: it is plain HTML with its own search. Copy the `build/site/`
folder (or build it with `aecourse site`) and serve it with `python -m http.server -d build/site`,
then open <http://localhost:8000>.
"""


# ----------------------------------------------------------------------------- build

def stage(run_dir: Path, src: Path, root: Path | None = None) -> dict:
    """Write the Sphinx source folder ``src`` from the run in ``run_dir``; returns what was staged."""
    root = root or project_root()
    repo = repository(root)
    results = run_meta(run_dir)
    meta, failed = results["meta"], failed_notebooks(results)
    shutil.rmtree(src, ignore_errors=True)
    (src / "_static").mkdir(parents=True)
    for asset in ("course.css", "favicon.svg"):
        shutil.copy(SITE_SRC / asset, src / "_static" / asset)
    conf = (SITE_SRC / "conf.py.in").read_text()
    conf = conf.replace("@BANNER@", repr(html.escape(banner_text(meta, failed)))).replace("@REPO@", repr(repo))
    (src / "conf.py").write_text(conf)
    chapters, solutions, widgets = [], [], {"widgets_as_figures": 0, "widgets_as_text": 0}
    for nb in sorted(run_dir.glob("[0-9][0-9]_*.ipynb")):
        if CHAPTER.match(nb.name):
            rel, group = f"notebooks/{nb.name}", chapters
        elif SOLUTION.match(nb.name):
            rel, group = f"notebooks/solutions/{nb.name}", solutions
        else:
            continue
        counts = prepare_notebook(nb, src / rel, repo, rel, failed.get(nb.name))
        widgets = {k: widgets[k] + counts[k] for k in widgets}
        group.append(nb.stem)
    readme = (root / "README.md").read_text()
    pages = {"index.md": home_page(readme, meta, repo, chapters, solutions),
             "solutions.md": solutions_page(solutions),
             "results.md": results_page(run_dir, repo),
             "instructors.md": instructors_page(results, readme),
             "offline.md": offline_page(readme)}
    for name, text in pages.items():
        (src / name).write_text(text)
    return {"chapters": chapters, "solutions": solutions, "meta": meta, "failed": failed, **widgets}


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build(run_dir: Path, out_dir: Path, src_dir: Path | None = None, jobs: int = 1) -> dict:
    """Stage and build the site; returns pages, size and time. Raises SystemExit when Sphinx fails."""
    start = time.perf_counter()
    src_dir = src_dir or out_dir.parent / f"{out_dir.name}-src"
    staged = stage(run_dir, src_dir)
    shutil.rmtree(out_dir, ignore_errors=True)
    doctrees = src_dir.parent / f"{out_dir.name}-doctrees"
    shutil.rmtree(doctrees, ignore_errors=True)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", str(jobs), "-d", str(doctrees),
           str(src_dir), str(out_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"sphinx-build failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    pages = sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*.html")
                   if not p.relative_to(out_dir).parts[0].startswith("_"))
    return {**staged, "pages": pages, "size_bytes": folder_size(out_dir), "seconds": time.perf_counter() - start,
            "warnings": [line for line in proc.stderr.splitlines() if "WARNING" in line]}


def cmd_site(args) -> int:
    run_dir = find_run(args.source)
    out_dir = Path(args.out).resolve()
    print(f"building the site from {run_dir} into {out_dir} (nothing is executed) ...", flush=True)
    info = build(run_dir, out_dir, jobs=args.jobs)
    for warning in info["warnings"]:
        print(warning)
    print(f"{len(info['pages'])} pages ({len(info['chapters'])} chapters, {len(info['solutions'])} solutions), "
          f"{info['size_bytes'] / 2**20:.1f} MiB, {info['widgets_as_figures']} widgets shown as their figure, "
          f"built in {info['seconds']:.1f} s")
    print(f"banner: {banner_text(info['meta'], info['failed'])}")
    print(f"preview: python -m http.server -d {out_dir}")
    for name, error in info["failed"].items():
        print(f"FAILED in the run: {name}: {error}")
    if info["failed"]:
        print("the site was built, each failed notebook's page and every banner say so; exit code 1: "
              "fix the notebooks and run `aecourse run` again")
        return 1
    return 0
