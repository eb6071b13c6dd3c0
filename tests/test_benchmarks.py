"""The benchmark scripts run and report consistent figures (tiny sizes: no speed is asserted here)."""

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
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
