import json

import pytest

from course_lib import report


@pytest.fixture(autouse=True)
def fresh(monkeypatch, tmp_path):
    report.clear()
    monkeypatch.setenv("COURSE_REPORT_FILE", str(tmp_path / "r.json"))
    yield tmp_path / "r.json"
    report.clear()


def test_record_writes_the_report_file(fresh):
    assert report.record("ae_test_mse", 0.0123, unit="MSE") is None  # nothing to echo under a cell
    saved = json.loads(fresh.read_text())
    assert saved["records"]["ae_test_mse"] == {"value": 0.0123, "unit": "MSE", "note": ""}


@pytest.mark.parametrize("name,value", [("", 1.0), ("x", "abc"), ("x", float("nan"))])
def test_record_rejects_bad_values(name, value):
    with pytest.raises(ValueError):
        report.record(name, value)


def test_expect_enforces_only_when_asked(fresh):
    assert report.expect("two is more than one", 2 > 1, enforce=True) is None  # nothing to echo in a notebook
    report.expect("one is more than two", 1 > 2, enforce=False)
    with pytest.raises(AssertionError, match="one is more than two"):
        report.expect("one is more than two", 1 > 2, enforce=True)
    claims = json.loads(fresh.read_text())["claims"]
    assert [c["holds"] for c in claims] == [True, False, False]


def test_a_record_keeps_its_interval_and_refuses_one_upside_down():
    from course_lib import report

    report.clear()
    report.record("x", 0.5, interval=(0.4, 0.6))
    assert report.records()["x"]["interval"] == [0.4, 0.6]
    with pytest.raises(ValueError, match="low, high"):
        report.record("y", 0.5, interval=(0.6, 0.4))
    report.clear()


def _strict(text: str):
    """json.loads as a strict parser reads it: NaN and Infinity are not JSON."""
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the report: not strict JSON"))


@pytest.mark.parametrize("value", [float("inf"), float("-inf")])
def test_record_refuses_an_infinite_figure_and_the_report_stays_strict_json(fresh, value):
    """Probe 23: record(inf) (a perfect batch's PSNR) wrote Infinity into the report, which strict parsers reject."""
    report.record("kept", 1.5)
    with pytest.raises(ValueError, match=rf"^value of 'psnr' is {value}: a recorded figure must be a finite number"):
        report.record("psnr", value, unit="dB")
    with pytest.raises(ValueError, match=r"^interval of 'psnr' is \(20.0, inf\)"):
        report.record("psnr", 25.0, interval=(20.0, float("inf")))
    assert _strict(fresh.read_text())["records"] == {"kept": {"value": 1.5, "unit": "", "note": ""}}


def test_exercise_results_keep_the_last_verdict_of_each_exercise(fresh):
    report.exercise_result("04.1", False)
    report.exercise_result("04.2", True)
    report.exercise_result("04.1", True)
    assert json.loads(fresh.read_text())["checks"] == {"04.1": True, "04.2": True}
    with pytest.raises(ValueError, match="exercise"):
        report.exercise_result("", True)
