import json
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from aecourse_tools import cli


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(nb, path)
    return path


def test_run_draws_figures_inline_even_where_mplbackend_says_agg(tmp_path, monkeypatch):
    """A headless server (or pytest's conftest) may set MPLBACKEND=Agg: the executed notebook still gets its figures."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = _notebook(tmp_path / "01_plot.ipynb", "import matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.show()")
    assert cli.main(["run", str(nb), "--build-dir", str(tmp_path / "build")]) == 0
    executed = nbformat.read(tmp_path / "build" / "fast" / "01_plot.ipynb", as_version=4)
    assert any("image/png" in out.get("data", {}) for out in executed.cells[0].outputs)


def test_run_executes_a_notebook_and_collects_its_figures(tmp_path, capsys):
    nb = _notebook(tmp_path / "01_tiny.ipynb",
                   "import os\nfrom course_lib import report\n"
                   "report.record('fast_flag', float(os.environ['COURSE_FAST']))",
                   "report.record('answer', 42, unit='units')")
    code = cli.main(["run", str(nb), "--build-dir", str(tmp_path / "build")])
    assert code == 0
    results = json.loads((tmp_path / "build" / "fast" / "results.json").read_text())
    assert results["meta"]["mode"] == "fast" and results["meta"]["cores"] >= 1
    (r,) = results["notebooks"]
    assert r["status"] == "ok" and r["records"]["answer"]["value"] == 42
    assert r["records"]["fast_flag"]["value"] == 1.0  # run defaults to fast mode
    assert r["peak_mb"] > 10 and r["wall_s"] > 0
    executed = nbformat.read(tmp_path / "build" / "fast" / "01_tiny.ipynb", as_version=4)
    assert executed.cells[0].execution_count == 1
    assert "answer=42 units" in capsys.readouterr().out
    md = (tmp_path / "build" / "fast" / "results.md").read_text()
    assert "| 01_tiny.ipynb | ok |" in md and "| answer | 42 |  | units |" in md
    speed = results["meta"]["cpu_gflops"]  # sampled once at the start, then once a minute
    assert speed["samples"] and speed["min"] <= speed["median"] <= speed["max"]
    assert f"median **{speed['median']:.1f} GFLOP/s** per core" in md


def test_run_with_a_relative_build_dir_collects_figures_and_shares_one_cache(tmp_path, monkeypatch):
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    nb = _notebook(nb_dir / "01_rel.ipynb", "import os\nfrom course_lib import report\n"
                   "report.record('cache_is_absolute', float(os.path.isabs(os.environ['COURSE_CACHE_DIR'])))")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", str(nb), "--no-cache", "--build-dir", "out"]) == 0
    (r,) = json.loads((tmp_path / "out" / "fast" / "results.json").read_text())["notebooks"]
    assert r["records"]["cache_is_absolute"]["value"] == 1.0
    assert not (nb_dir / "out").exists()


def test_every_kind_of_failure_gets_a_row_and_the_run_goes_on(tmp_path, capsys):
    out = tmp_path / "b" / "fast"
    out.mkdir(parents=True)
    (out / "results.json").write_text('{"stale": true}')  # a former run's report
    nbs = [_notebook(tmp_path / "01_error.ipynb", "raise ValueError('boom')"),
           _notebook(tmp_path / "02_slow_cell.ipynb", "import time\ntime.sleep(30)"),
           _notebook(tmp_path / "03_dies.ipynb", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
           tmp_path / "04_not_json.ipynb",
           _notebook(tmp_path / "05_fine.ipynb", "from course_lib import report\nreport.record('after', 1)")]
    nbs[3].write_text("{ this is not a notebook")
    assert cli.main(["run", *map(str, nbs), "--timeout", "4", "--jobs", "2", "--build-dir", str(tmp_path / "b")]) == 1
    results = json.loads((out / "results.json").read_text())
    assert "stale" not in results
    rows = {r["notebook"]: r for r in results["notebooks"]}
    assert [r["status"] for r in rows.values()] == ["FAILED"] * 4 + ["ok"]
    assert rows["01_error.ipynb"]["error"] == "ValueError: boom"
    assert "per-cell time limit of 4 s" in rows["02_slow_cell.ipynb"]["error"]
    assert "kernel died" in rows["03_dies.ipynb"]["error"]
    assert rows["04_not_json.ipynb"]["error"].startswith("unreadable notebook")
    assert rows["05_fine.ipynb"]["records"]["after"]["value"] == 1
    for r in rows.values():
        assert "\n" not in r["error"] and "\x1b" not in r["error"] and len(r["error"]) <= 200
    printed = capsys.readouterr().out
    assert "FAILED: 01_error.ipynb, 02_slow_cell.ipynb, 03_dies.ipynb, 04_not_json.ipynb" in printed
    assert "| 02_slow_cell.ipynb | FAILED |" in (out / "results.md").read_text()


def test_a_notebook_past_its_whole_time_limit_is_stopped(tmp_path):
    nb = _notebook(tmp_path / "01_long.ipynb", *["import time\ntime.sleep(2)"] * 4)
    start = time.perf_counter()
    assert cli.main(["run", str(nb), "--notebook-timeout", "3", "--build-dir", str(tmp_path / "b")]) == 1
    assert time.perf_counter() - start < 20
    (r,) = json.loads((tmp_path / "b" / "fast" / "results.json").read_text())["notebooks"]
    assert r["status"] == "FAILED" and "notebook time limit of 3 s" in r["error"]


@pytest.mark.parametrize("jobs", [1, 2])
def test_sigterm_stops_every_worker_and_kernel_of_the_run(tmp_path, jobs):
    import os
    import signal
    import subprocess
    import sys

    import psutil

    nbs = [_notebook(tmp_path / f"0{i}_sleeps.ipynb", "import time\ntime.sleep(120)") for i in (1, 2)]
    proc = subprocess.Popen([sys.executable, "-m", "aecourse_tools.cli", "run", *map(str, nbs), "--jobs", str(jobs),
                             "--build-dir", str(tmp_path / "b")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    runner = psutil.Process(proc.pid)

    def command(p):
        try:
            return " ".join(p.cmdline())
        except psutil.Error:  # ended (or a zombie) since it was listed
            return ""

    deadline = time.monotonic() + 90
    kernels = []
    while time.monotonic() < deadline and len(kernels) < jobs:
        time.sleep(0.5)
        kernels = [p for p in runner.children(recursive=True) if "ipykernel" in command(p)]
    assert len(kernels) == jobs, "the kernels did not start"
    time.sleep(2)  # let them reach the sleeping cell
    started = runner.children(recursive=True)
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 130 and "stopped" in output
    gone, alive = psutil.wait_procs(started, timeout=10)
    assert not alive, f"left running: {[command(p) for p in alive]}"



def test_run_side_by_side_keeps_order_threads_and_per_kernel_memory(tmp_path):
    nbs = [_notebook(tmp_path / f"0{i}_par.ipynb", "import os, time\nfrom course_lib import report\n"
                     f"report.record('index', {i})\n"
                     "report.record('threads', float(os.environ['OMP_NUM_THREADS']))\ntime.sleep(1)")
           for i in (1, 2, 3)]
    assert cli.main(["run", *map(str, nbs), "--jobs", "2", "--build-dir", str(tmp_path / "b")]) == 0
    results = json.loads((tmp_path / "b" / "fast" / "results.json").read_text())
    assert [r["records"]["index"]["value"] for r in results["notebooks"]] == [1, 2, 3]
    cores = results["meta"]["cores"]
    assert all(r["records"]["threads"]["value"] == max(1, cores // 2) for r in results["notebooks"])
    assert results["meta"]["jobs"] == 2 and results["meta"]["elapsed_s"] > 0
    assert all(10 < r["peak_mb"] < 1500 for r in results["notebooks"])  # one kernel each, not the sum
    assert "Whole run:" in (tmp_path / "b" / "fast" / "results.md").read_text()


def test_run_refuses_zero_jobs(tmp_path):
    nb = _notebook(tmp_path / "01_z.ipynb", "1")
    with pytest.raises(SystemExit, match="--jobs"):
        cli.main(["run", str(nb), "--jobs", "0", "--build-dir", str(tmp_path / "b")])

def test_default_notebook_list_is_chapters_then_solutions():
    root = cli.project_root()
    names = [p.relative_to(root).as_posix() for p in cli.runner.find_notebooks([])]
    assert names[0].startswith("notebooks/01_")
    chapters = [n for n in names if "/solutions/" not in n]
    assert names[:len(chapters)] == chapters


def test_run_refuses_files_that_are_not_notebooks(tmp_path):
    with pytest.raises(SystemExit, match="not notebook"):
        cli.runner.find_notebooks([str(tmp_path / "missing.ipynb")])


def test_check_reports_datasets_and_fallback(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert cli.main(["check", "--no-network"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out and "device" in out and "absent: offline fallback" in out


@pytest.mark.parametrize(("env", "flag", "used"), [("7", [], 7.0), ("7", ["--timeout", "3"], 3.0), (None, [], 30.0)])
def test_fetch_data_honours_course_download_timeout_unless_told(tmp_path, monkeypatch, env, flag, used):
    from course_lib import data

    seen = []
    monkeypatch.setattr(data, "fetch_dataset", lambda name, folder, timeout: seen.append(timeout))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    if env is None:
        monkeypatch.delenv("COURSE_DOWNLOAD_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("COURSE_DOWNLOAD_TIMEOUT", env)
    assert cli.main(["fetch-data", *flag]) == 0
    assert seen and set(seen) == {used}


def test_fetch_data_fails_cleanly_without_network(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda *a, **k: (_ for _ in ()).throw(OSError("blocked")))
    assert cli.main(["fetch-data", "--timeout", "2"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_longest_first_from_the_previous_run_then_the_order_given():
    a, b, c = Path("01_a.ipynb"), Path("02_b.ipynb"), Path("03_c.ipynb")
    assert cli.runner.start_order([a, b, c], {}) == [a, b, c]
    assert cli.runner.start_order([a, b, c], {"01_a.ipynb": 5.0, "03_c.ipynb": 60.0}) == [c, a, b]


def test_a_solution_starts_only_after_its_chapter_finished(tmp_path, monkeypatch):
    log, lock = [], threading.Lock()

    def fake_run(path, out_dir, **kw):
        with lock:
            log.append(("start", path.name))
        time.sleep({"05_long.ipynb": 0.3}.get(path.name, 0.05))
        with lock:
            log.append(("end", path.name))
        return {"notebook": path.name, "wall_s": 0.0}

    monkeypatch.setattr(cli.runner, "run_notebook", fake_run)
    monkeypatch.setattr(cli.runner, "STAGGER_S", 0.0)
    sol = tmp_path / "solutions"
    nbs = [tmp_path / "01_a.ipynb", tmp_path / "05_long.ipynb", sol / "05_solutions.ipynb",
           sol / "01_solutions.ipynb"]
    (tmp_path / "results.json").write_text(json.dumps(
        {"notebooks": [{"notebook": "05_long.ipynb", "wall_s": 900}, {"notebook": "05_solutions.ipynb",
                                                                       "wall_s": 800}]}))
    previous = cli.runner.previous_wall_times(tmp_path)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = cli.runner.run_side_by_side(pool, nbs, tmp_path, 2, {}, previous)
    assert [r["notebook"] for r in results] == [p.name for p in nbs]  # reported in the order given
    assert log[0] == ("start", "05_long.ipynb")  # longest of the previous run first
    assert log.index(("start", "05_solutions.ipynb")) > log.index(("end", "05_long.ipynb"))
    assert log.index(("start", "01_solutions.ipynb")) > log.index(("end", "01_a.ipynb"))


def test_a_run_report_names_the_commit_its_notebooks_came_from(tmp_path):
    import subprocess

    from aecourse_tools import report as run_report

    meta = run_report.write_report([], tmp_path, "fast", elapsed=1.0, jobs=1, speed=None)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=Path(__file__).parent).stdout.strip()
    if not head:
        pytest.skip("not a git checkout: no commit to name")
    assert meta["commit"].split("+")[0] == head
    assert json.loads((tmp_path / "results.json").read_text())["meta"]["commit"] == meta["commit"]


def test_a_cell_that_leaves_a_value_under_it_is_listed_and_widgets_are_not(tmp_path, capsys):
    nb = _notebook(tmp_path / "01_echo.ipynb", "1 + 1", "x = 3", "print('printed, not echoed')",
                   "import ipywidgets\nipywidgets.IntSlider()", "0.5;")
    assert cli.main(["run", str(nb), "--build-dir", str(tmp_path / "build")]) == 0
    (r,) = json.loads((tmp_path / "build" / "fast" / "results.json").read_text())["notebooks"]
    assert r["echoes"] == [{"cell": 0, "text": "2"}]  # the widget and the ';'-ended line are fine
    assert "STRAY OUTPUT: 01_echo.ipynb cell 0 shows '2'" in capsys.readouterr().out


def test_check_with_a_bad_setting_prints_the_message_in_one_line(monkeypatch, capsys):
    """Probe 62: `aecourse check` with COURSE_SEED=-1 printed a 16-line traceback ending in the message."""
    monkeypatch.setenv("COURSE_SEED", "-1")
    assert cli.main(["check", "--no-network"]) == 2
    captured = capsys.readouterr()
    assert captured.err == "aecourse check: COURSE_SEED='-1': expected a whole number from 0 to 4294967295\n"


def test_run_names_a_bad_setting_before_any_notebook_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DEVICE", "tpu")
    nb = _notebook(tmp_path / "01_never.ipynb", "open('ran', 'w')")
    assert cli.main(["run", str(nb), "--build-dir", str(tmp_path / "b")]) == 2
    assert "COURSE_DEVICE='tpu'" in capsys.readouterr().err and not (tmp_path / "ran").exists()


@pytest.mark.parametrize("value", ["1e308", "1e10", "0", "nan"])
def test_fetch_data_refuses_a_timeout_the_clock_cannot_wait(value, capsys):
    """Probe 60: --timeout 1e308 (or COURSE_DOWNLOAD_TIMEOUT) died of OverflowError."""
    with pytest.raises(SystemExit, match=r"--timeout must be a positive number of seconds up to 86400 \(a day\)"):
        cli.main(["fetch-data", "--timeout", value])


def _as_unprivileged_user(command: list[str]) -> list[str]:
    """``command`` as the user nobody when this test runs as root (root ignores file modes), else as is."""
    import os
    import shutil

    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot run a process that file modes apply to")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *command]


@pytest.mark.parametrize("fast_inside", [False, True])
def test_a_read_only_build_folder_is_refused_before_any_notebook_runs(fast_inside):
    """Probes 47 and 48: a read-only build folder gave a traceback, at once or after running every notebook.

    The run is a real `aecourse run` in a subprocess, as the user nobody (setpriv) when the
    tests run as root, so that the folder's mode applies to it as it does to a learner.
    """
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as base:
        base = Path(base)
        base.chmod(0o755)  # readable by the unprivileged user
        nb = _notebook(base / "01_would_run.ipynb", "print('ran')")
        build = base / "read-only-build"
        (build / "fast" if fast_inside else build).mkdir(parents=True)
        for folder in (build / "fast", build):  # the inner one first: the outer one is read-only then
            if folder.exists():
                folder.chmod(0o555)
        done = subprocess.run(_as_unprivileged_user([sys.executable, "-m", "aecourse_tools.cli", "run", str(nb),
                                                     "--build-dir", str(build)]),
                              capture_output=True, text=True, timeout=120, cwd=base)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr == (f"the build folder {build / 'fast'} cannot be written (Permission denied): make it "
                           "writable or choose another with --build-dir\n")
    assert "running" not in done.stdout  # refused before any notebook ran


def test_a_report_file_with_infinity_fails_its_notebook_and_results_json_stays_strict(tmp_path, capsys):
    """Probe 23: results.json carried whatever the notebook's report file held, Infinity included."""
    nb = _notebook(tmp_path / "01_inf.ipynb", "import os\nopen(os.environ['COURSE_REPORT_FILE'], 'w').write("
                   "'{\"records\": {\"x\": {\"value\": Infinity, \"unit\": \"\", \"note\": \"\"}}, \"claims\": []}')")
    assert cli.main(["run", str(nb), "--build-dir", str(tmp_path / "b")]) == 1
    text = (tmp_path / "b" / "fast" / "results.json").read_text()
    (row,) = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in results.json"))["notebooks"]
    assert row["status"] == "FAILED" and row["records"] == {}
    assert row["error"] == "its figures could not be read from 01_inf.json: Infinity is not a JSON number"


def test_run_reports_each_trainings_compute_and_both_units_silently(tmp_path, monkeypatch):
    from aecourse_tools import report as run_report

    train = ("import torch\nfrom course_lib.models import MLPAutoencoder\nfrom course_lib.config import get_config\n"
             "from course_lib.training import fit_cached\ncfg = get_config()\n"
             "def tiny():\n    torch.manual_seed(0)\n"
             "    return MLPAutoencoder(input_shape=(1, 8, 8), hidden=(32,), latent_dim=4)\n"
             "x = torch.rand(100, 1, 8, 8, generator=torch.Generator().manual_seed(0))\n"
             "fit_cached(tiny(), cfg.cache_dirs, 'tiny', x, num_epochs=2, batch_size=32, lr=1e-3, progress=False);")
    again = "fit_cached(tiny(), cfg.cache_dirs, 'tiny', x, num_epochs=2, batch_size=32, lr=1e-3, progress=False);"
    nb = _notebook(tmp_path / "01_train.ipynb", train, again)
    assert cli.main(["run", str(nb), "--no-cache", "--build-dir", str(tmp_path / "b")]) == 0
    results = json.loads((tmp_path / "b" / "fast" / "results.json").read_text())
    (row,) = results["notebooks"]
    trained, hit = row["workloads"]
    assert trained["name"] == hit["name"] == "tiny" and trained["flops_per_image"] == hit["flops_per_image"] == 22016
    assert trained["images"] == 200 and trained["gflops_per_second"] > 0 and trained["gauge_ratio"] > 0
    assert trained["images_per_second"] > 0 and trained["conv_gauge_ratio"] > 0
    assert hit["cached"] and hit["images"] == 0 and hit["train_flops"] == 0
    assert row["trained_tflop"] == results["meta"]["trained_tflop"] == pytest.approx(200 * 22016 / 1e12, rel=1e-3)
    meta = results["meta"]
    assert meta["conv_gflops"]["samples"] and meta["unit"]["weights"] == run_report.GAUGE_WEIGHTS
    assert meta["elapsed_normalised_min"] > 0 and meta["elapsed_normalised_min_matmul"] > 0
    old_unit = row["wall_s"] * meta["cpu_gflops"]["median"] / 70 / 60
    assert row["normalised_min_matmul"] == pytest.approx(old_unit, abs=0.01)
    executed = nbformat.read(tmp_path / "b" / "fast" / "01_train.ipynb", as_version=4)
    assert all(cell.outputs == [] for cell in executed.cells[:1])  # nothing on the learner's screen
    assert "## Compute:" in (tmp_path / "b" / "fast" / "results.md").read_text()
    monkeypatch.setattr(run_report, "committed_results_path", lambda mode="full": tmp_path / "saved.json")
    saved = json.loads(run_report.save_committed(results["notebooks"], meta).read_text())
    assert saved["notebooks"][0]["workloads"] == row["workloads"]
    assert saved["meta"]["trained_tflop"] == meta["trained_tflop"]
    assert saved["meta"]["conv_gflops"] == meta["conv_gflops"]


def test_run_reports_each_notebooks_exercises_and_what_their_checks_said(tmp_path, capsys):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from course_lib import checks\nchecks.exercise('03.2', ...)"),
        nbformat.v4.new_code_cell("import torch\nfrom torch import nn\nfrom torch.nn import functional as F\n"
                                  "up = nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1,"
                                  " bias=False)\n"
                                  "nn.init.ones_(up.weight)\nones = torch.ones(1, 1, 7, 7)\n"
                                  "with torch.no_grad():\n    t = up(ones)\n"
                                  "checks.exercise('03.3', {'transposed': t, 'upsampled': F.interpolate(ones, "
                                  "scale_factor=2), 'why': 'a'})"),
        nbformat.v4.new_code_cell("checks.exercise('03.1', ...)"),  # a check outside an exercise cell still counts
        nbformat.v4.new_markdown_cell("the end")])
    for cell in nb.cells[:2]:
        cell.metadata["tags"] = ["exercise"]
    nbformat.write(nb, tmp_path / "03_practice.ipynb")
    assert cli.main(["run", str(tmp_path / "03_practice.ipynb"), "--build-dir", str(tmp_path / "b")]) == 0
    (r,) = json.loads((tmp_path / "b" / "fast" / "results.json").read_text())["notebooks"]
    assert (r["exercises"], r["checks_passed"], r["checks_not_yet"]) == (2, 1, 2)
    assert "| 03_practice.ipynb | ok |" in (md := (tmp_path / "b" / "fast" / "results.md").read_text())
    assert "| 2 | 1 | 2 |" in md.split("03_practice.ipynb | ok |")[1].splitlines()[0]
    assert "2: 1 right, 2 not yet" in capsys.readouterr().out
