"""The benchmark scripts run and report consistent figures (tiny sizes: no speed is asserted here)."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # a dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_inference_benchmark_covers_every_chapter(tmp_path):
    out = tmp_path / "inference.json"
    result = _load("bench_inference").main(["--n", "32", "--batch-size", "16", "--repeats", "1",
                                            "--device", "cpu", "--json", str(out)])
    chapters = {name[:2] for name in result["inputs_per_s"]}
    assert chapters == {p.name[:2] for p in (BENCH.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert all(rate > 0 for rate in result["inputs_per_s"].values())
    assert json.loads(out.read_text())["inputs_per_s"] == result["inputs_per_s"]


def test_pipeline_benchmark_compares_both_pipelines_on_the_same_images(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "empty"))  # synthetic IDX files
    result = _load("bench_pipeline").main(["--repeats", "1", "--n", "256"])
    assert result["images"] == 256 and result["source"].startswith("synthetic")
    assert set(result["median_epoch_s"]) == {"DataLoader(MNIST, ToTensor())", "in-memory tensors (course_lib)"}
    med = result["median_epoch_s"]  # the reported speed-up is the ratio of the two medians it reports
    assert result["speedup"] == med["DataLoader(MNIST, ToTensor())"] / med["in-memory tensors (course_lib)"]
    assert all(0 < t < 60 for t in med.values())


def _run_file(path, elapsed, matmul, conv, jobs=2):
    meta = {"mode": "full", "commit": "abc", "jobs": jobs, "elapsed_s": elapsed, "date": "d",
            "cpu_gflops": {"median": matmul}, "conv_gflops": None if conv is None else {"median": conv}}
    notebooks = [{"notebook": "01_a.ipynb", "wall_s": elapsed * 0.6},
                 {"notebook": "02_b.ipynb", "wall_s": elapsed * 0.8}]
    path.write_text(json.dumps({"meta": meta, "notebooks": notebooks}))
    return str(path)


def test_fit_unit_finds_the_gauge_mix_under_which_the_course_time_moves_least(tmp_path, capsys):
    fit_unit = _load("fit_unit")
    gauges = [(90.0, 8.0), (70.0, 12.0), (110.0, 6.0)]  # the two gauges disagree from run to run
    files = [_run_file(tmp_path / f"r{i}.json", 600.0 / (m ** 0.7 * c ** 0.3), m, c) for i, (m, c) in enumerate(gauges)]
    files.append(_run_file(tmp_path / "old.json", 500.0, 80.0, None))  # before the conv gauge: left out
    result = fit_unit.main([*files])
    assert result["fitted_matmul_weight"] == 0.7
    moves = result["moves"]
    fitted = moves["fitted (matmul weight 0.7)"]
    assert fitted["spread"] < 1e-9 and fitted["notebook_spread"] < 1e-9
    assert moves["matrix products only (former unit)"]["spread"] > 0.05
    assert moves["conv gauge only"]["spread"] > 0.05
    assert result["GAUGE_WEIGHTS"] == {"matmul": 0.7, "conv": 0.3}
    out = capsys.readouterr().out
    assert "left out (no conv gauge or no time):" in out and "old.json" in out
    conv_only = [_run_file(tmp_path / f"c{i}.json", 600.0 / c, m, c) for i, (m, c) in enumerate(gauges)]
    assert _load("fit_unit").main(conv_only)["fitted_matmul_weight"] == 0.0
    with pytest.raises(SystemExit, match="at least two runs"):
        fit_unit.main(files[:1])


def _tiny_workload(bench):
    from course_lib.corruptions import Noise
    from course_lib.models import UNet

    def metric(model, x_val, y_val):
        return float(bench.predict(model, x_val).mean())

    return bench.Workload("tiny U-Net", lambda: UNet(1, 1, channels=(4, 8), output="clamp"), (1, 8, 8), 8, 64, 16,
                          transform=Noise("gaussian", 0.2), val_metric=metric)


def test_workload_bench_measures_the_course_step_its_changes_and_whether_they_keep_every_bit():
    from course_lib.training import count_flops

    bench = _load("bench_workloads")
    w = _tiny_workload(bench)
    row = bench.time_training(w, repeats=1, seconds=0.02, gauge_s=0.02)
    assert row["flops_per_image"] == count_flops(w.build(), *bench.data(w, 8), batch_size=8, transform=w.transform)
    assert row["images_per_s"] > 0 and row["ratio"] == row["gflops"] / row["gauge"] > 0  # one thread
    assert bench.time_training(w, repeats=1, seconds=0.02, gauge_s=0.02, batch_size=16)["batch_size"] == 16
    exact = bench.exactness(w, steps=2)
    assert set(exact) == {"layout contiguous", "mkldnn off", "2 threads", "same again"} and exact["same again"]
    costs = bench.evaluation_costs(w, row["images_per_s"])
    assert costs["inference_mode_identical"] and set(costs["no_grad_s"]) == {"before", "val", "metric"}
    shares = bench.profile_shares(w, steps=2)
    assert shares["conv backward"] > 0 and 0.99 < sum(v for k, v in shares.items() if "transform" not in k) < 1.01
    layers = bench.layer_speeds(w, repeats=1, seconds=0.01)
    assert [r["channels"] for r in layers][:2] == ["1->4", "4->4"] and all(r["ratio"] > 0 for r in layers)
    assert abs(sum(r["time_share"] for r in layers) - 1) < 0.01


def test_the_workload_bench_covers_every_chapter_that_trains_with_the_recipes_settings():
    from course_lib import recipes

    bench = _load("bench_workloads")
    named = {w.name[:2] for w in bench.workloads()}
    assert named == {p.name[:2] for p in (BENCH.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    (seg,) = [w for w in bench.workloads() if w.name.startswith("06")]
    assert seg.build().channels == recipes.SEGMENTATION_CHANNELS and seg.batch_size == 32 and seg.n_train == 32_000


def test_compare_commits_exports_a_commit_and_proves_a_kernel_imports_its_code(tmp_path):
    import shutil
    import subprocess

    compare = _load("compare_commits")
    try:
        compare.git("rev-parse", "--short", "HEAD")
    except (subprocess.CalledProcessError, FileNotFoundError):
        pytest.skip("not a git checkout")
    data = tmp_path / "data"
    (data / "MNIST").mkdir(parents=True)
    (data / "MNIST" / "x.bin").write_bytes(b"digits")
    checkout = compare.export("HEAD", tmp_path / "work" / "new", data)
    committed = compare.git("show", "HEAD:course_lib/training.py")
    assert (checkout / "course_lib" / "training.py").read_text().rstrip() == committed
    assert (checkout / "data" / "MNIST" / "x.bin").read_bytes() == b"digits" and not (checkout / ".git").exists()
    assert compare.check_imports(checkout, tmp_path / "work").startswith(str(checkout))
    shutil.rmtree(checkout / "course_lib")  # its kernel would import another copy of the course: refused
    shutil.rmtree(checkout / "aecourse_tools")
    with pytest.raises(SystemExit, match="would measure the wrong code"):
        compare.check_imports(checkout, tmp_path / "work")


def test_compare_commits_sums_the_notebooks_both_runs_share_and_says_whether_every_claim_held():
    compare = _load("compare_commits")

    def run(walls, holds, conv=None):
        rows = [{"notebook": nb, "wall_s": s, "status": "ok",
                 "claims": [{"claim": f"{nb} works", "holds": holds, "enforced": True}]} for nb, s in walls.items()]
        meta = {"elapsed_s": sum(walls.values()) / 2, "cpu_gflops": {"median": 90.0, "samples": [90.0]},
                "conv_gflops": conv}
        return {"meta": meta, "notebooks": rows}

    old = run({"01_a.ipynb": 100.0, "02_b.ipynb": 300.0, "09_gone.ipynb": 50.0}, True)
    new = run({"01_a.ipynb": 80.0, "02_b.ipynb": 160.0}, False, {"median": 12.0, "samples": [12.0, 12.0]})
    summary = compare.compare({"old": old, "new": new})
    assert summary["shared"] == ["01_a.ipynb", "02_b.ipynb"] and summary["sums"] == {"old": 400.0, "new": 240.0}
    assert summary["ratio_of_sums"]["new"] == 0.6
    assert summary["claims"]["old"] == "all notebooks ok; 3 of 3 claims hold (3 enforced)"
    failing = "0 of 2 claims hold (2 enforced); failing: ['01_a.ipynb works', '02_b.ipynb works']"
    assert failing in summary["claims"]["new"]
    assert summary["gauges"]["new"] == "matmul median 90.00 GFLOP/s (1 samples); conv median 12.00 GFLOP/s (2 samples)"
