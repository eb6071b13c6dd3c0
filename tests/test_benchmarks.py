"""The benchmark scripts run and report consistent figures (tiny sizes: no speed is asserted here)."""

import importlib.util
import json
from pathlib import Path

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
