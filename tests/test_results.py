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
