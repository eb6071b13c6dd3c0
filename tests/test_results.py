import pytest

from aecourse_tools.monitors import SpeedGauge, cpu_speed_sample
from aecourse_tools.report import markdown_report

META = {"mode": "full", "command": "aecourse run --full", "cpu": "some CPU", "cores": 2,
        "memory_gb": 8.0, "accelerator": "none (CPU)", "python": "3.11", "torch": "2.x",
        "torch_threads": 2, "course": "0.1", "data": "data/", "date": "today"}
RESULT = {"notebook": "01_x.ipynb", "status": "ok", "wall_s": 12.0, "peak_mb": 500,
          "records": {}, "claims": [], "error": ""}


def test_cpu_speed_sample_measures_gflops():
    speed = cpu_speed_sample()
    assert speed is not None and 0.1 < speed < 10_000  # one core, float32
    conv = cpu_speed_sample(gauge="conv")  # a small conv net's training steps: far below the products
    assert conv is not None and 0.01 < conv < speed
    with pytest.raises(ValueError, match="gauge"):
        cpu_speed_sample(gauge="fft")


def test_speed_gauge_samples_at_start_and_summarises():
    with SpeedGauge(interval=3600) as gauge:  # the first sample comes at once
        pass
    summary = gauge.summary()
    assert len(summary["samples"]) == 1 and summary["min"] == summary["median"] == summary["max"] > 0
    assert len(gauge.summary("conv")["samples"]) == 1 and gauge.summary("conv")["median"] > 0  # sampled beside it
    gauge.samples = [10.0, 14.0, 12.0, 30.0]
    assert gauge.summary() == {"median": 13.0, "min": 10.0, "max": 30.0,
                               "samples": [10.0, 14.0, 12.0, 30.0]}
    assert SpeedGauge().summary() is None


def test_report_says_how_fast_the_cpu_was_only_when_measured():
    speed = {"median": 13.0, "min": 6.5, "max": 16.0, "samples": [6.5, 13.0, 16.0]}
    md = markdown_report([RESULT], {**META, "cpu_gflops": speed})
    assert "- CPU speed during the run: median **13.0 GFLOP/s** per core (min 6.5, max 16.0; 3 samples" in md
    assert "CPU speed" not in markdown_report([RESULT], META)
    assert "CPU speed" not in markdown_report([RESULT], {**META, "cpu_gflops": None})


def test_normalised_minutes_scale_wall_time_to_the_reference_speed_and_flag_missed_targets():
    from aecourse_tools import report as run_report

    old = run_report.MATMUL_ONLY  # the former unit: wall x matrix-product gauge / 70
    assert run_report.normalised_minutes(120.0, {"median": 35.0}, weights=old) == pytest.approx(1.0)
    assert run_report.normalised_minutes(120.0, {"median": 140.0}, weights=old) == pytest.approx(4.0)
    assert run_report.normalised_minutes(120.0, None) is None
    rows = [{"notebook": "a.ipynb", "normalised_min": 9.5}, {"notebook": "b.ipynb", "normalised_min": 9.0}]
    missed = run_report.over_target(rows, {"mode": "full", "elapsed_normalised_min": 21.0})
    assert missed == ["the whole run took 21.0 normalised minutes (target 20)",
                      "a.ipynb took 9.5 normalised minutes (target 9)"]  # 9.0 is on target
    assert run_report.over_target(rows, {"mode": "fast", "elapsed_normalised_min": 2.5}) == []


def test_results_json_is_strict_json_even_when_a_measured_number_is_not_finite(tmp_path):
    """Probe 23: results.json was written with json.dumps, which writes NaN and Infinity."""
    import json

    from aecourse_tools.report import write_report

    row = {**RESULT, "wall_s": float("nan"), "records": {"x": {"value": 1.0, "unit": "", "note": ""}}}
    write_report([row], tmp_path, "fast", elapsed=float("inf"), jobs=1, speed=None)
    text = (tmp_path / "results.json").read_text()
    results = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in results.json"))
    assert results["notebooks"][0]["wall_s"] is None and results["meta"]["elapsed_s"] is None
    assert results["notebooks"][0]["records"]["x"]["value"] == 1.0


def test_the_unit_is_a_weighted_geometric_mean_of_both_gauges_against_their_references(monkeypatch):
    from aecourse_tools import report as run_report

    monkeypatch.setattr(run_report, "REFERENCES", {"matmul": 70.0, "conv": 7.0})
    matmul, conv = {"median": 140.0}, {"median": 3.5}  # twice the reference on one gauge, half on the other
    assert run_report.normalised_minutes(60.0, matmul, conv, weights={"matmul": 0.5, "conv": 0.5}) == pytest.approx(1.0)
    assert run_report.normalised_minutes(60.0, matmul, conv, weights={"matmul": 0.75, "conv": 0.25}) == \
        pytest.approx(2 ** 0.75 * 0.5 ** 0.25)
    assert run_report.normalised_minutes(60.0, matmul, conv, weights={"conv": 1.0}) == pytest.approx(0.5)
    assert run_report.normalised_minutes(60.0, matmul, None, weights={"matmul": 0.5, "conv": 0.5}) is None
    assert run_report.normalised_minutes(60.0, matmul, None, weights=run_report.MATMUL_ONLY) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="adding up to 1"):
        run_report.speed_factor({"matmul": matmul, "conv": conv}, {"matmul": 0.5, "conv": 0.6})


def _workload(**kw):
    return {"name": "ae", "flops_per_image": 2e6, "images": 10_000, "train_flops": 2e10, "train_seconds": 4.0,
            "seconds": 5.0, "batch_size": 64, "threads": 1, "device": "cpu", "cached": False, **kw}


def test_compute_adds_each_trainings_speed_and_share_of_the_gauges_and_the_runs_tflop():
    from aecourse_tools import report as run_report

    rows = [{**RESULT, "workloads": [_workload(), _workload(threads=2, name="wide")]},
            {**RESULT, "notebook": "02_x.ipynb",
             "workloads": [_workload(images=0, train_flops=0.0, train_seconds=0.0, seconds=0.0, cached=True)]},
            {**RESULT, "notebook": "03_x.ipynb"}]  # a crashed worker's row has no workloads
    total = run_report.add_compute(rows, {"median": 10.0}, {"median": 2.0})
    assert total == pytest.approx(4e10 / 1e12) and rows[0]["trained_tflop"] == pytest.approx(0.04)
    one, two = rows[0]["workloads"]
    assert one["images_per_second"] == 2500 and one["gflops_per_second"] == pytest.approx(5.0)
    assert one["gauge_ratio"] == pytest.approx(0.5) and one["conv_gauge_ratio"] == pytest.approx(2.5)
    assert two["gauge_ratio"] == pytest.approx(0.25)  # two threads: a share of two cores' gauge
    hit = rows[1]["workloads"][0]
    assert rows[1]["trained_tflop"] == 0 and hit["flops_per_image"] == 2e6 and hit["gauge_ratio"] is None
    assert rows[2]["trained_tflop"] == 0 and rows[2]["workloads"] == []
    md = markdown_report(rows, {**META, "trained_tflop": total})
    assert "## Compute: 0.04 TFLOP trained" in md
    assert "| 01_x.ipynb | ae | 2 | 10000 | 2500 | 4.0 | 5.0 | 5.00 | 0.50 | 2.50 |" in md
    assert "| 02_x.ipynb | ae (cached) | 2 | 0 |" in md
