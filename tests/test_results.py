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


def test_speed_gauge_samples_at_start_and_summarises():
    with SpeedGauge(interval=3600) as gauge:  # the first sample comes at once
        pass
    summary = gauge.summary()
    assert len(summary["samples"]) == 1 and summary["min"] == summary["median"] == summary["max"] > 0
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

    assert run_report.normalised_minutes(120.0, {"median": 35.0}) == pytest.approx(1.0)
    assert run_report.normalised_minutes(120.0, {"median": 140.0}) == pytest.approx(4.0)
    assert run_report.normalised_minutes(120.0, None) is None
    rows = [{"notebook": "a.ipynb", "normalised_min": 9.0}, {"notebook": "b.ipynb", "normalised_min": 2.0}]
    missed = run_report.over_target(rows, {"mode": "full", "elapsed_normalised_min": 16.0})
    assert missed == ["the whole run took 16.0 normalised minutes (target 15)",
                      "a.ipynb took 9.0 normalised minutes (target 8)"]
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
