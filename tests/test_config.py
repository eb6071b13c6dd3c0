import dataclasses
import os
from pathlib import Path

import pytest
import torch

from course_lib.config import Config, get_config, seed_everything


def test_full_mode_is_the_default_and_fast_mode_is_smaller():
    full, fast = get_config({}), get_config({"COURSE_FAST": "1"})
    assert not full.fast and fast.fast
    assert fast.n_train < full.n_train and fast.num_epochs == 1 < full.num_epochs
    assert full.pick(full=30, fast=1) == 30 and fast.pick(full=30, fast=1) == 1
    assert full.mode == "full" and fast.mode == "fast"


def test_paths_and_switches_come_from_the_environment(tmp_path):
    cfg = get_config({"COURSE_DATA_DIR": str(tmp_path), "COURSE_CACHE": "0", "COURSE_SEED": "7",
                      "COURSE_DEVICE": "cpu", "COURSE_OFFLINE": "yes"})
    assert cfg.data_dir == Path(tmp_path) and cfg.use_cache is False and cfg.offline is True
    assert cfg.seed == 7 and cfg.device == "cpu"


def test_default_data_folder_is_the_repository_data_folder():
    assert get_config({}).data_dir == Path(__file__).resolve().parents[1] / "data"


def test_the_weights_cache_may_be_several_folders_searched_in_order(tmp_path):
    assert get_config({}).cache_dirs == (Path(__file__).resolve().parents[1] / "build" / "cache",)
    own, shared = tmp_path / "own", tmp_path / "shared"
    cfg = get_config({"COURSE_CACHE_DIR": f"{own}{os.pathsep}{shared}"})
    assert cfg.cache_dirs == (own, shared)
    assert get_config({"COURSE_CACHE_DIR": "~/w"}).cache_dirs == (Path.home() / "w",)


@pytest.mark.parametrize("value", [f"a{os.pathsep}{os.pathsep}b", f"a{os.pathsep}", os.pathsep, " "])
def test_an_empty_cache_folder_in_the_list_is_refused(value):
    if not value.strip():
        assert len(get_config({"COURSE_CACHE_DIR": value}).cache_dirs) == 1  # blank: the default
        return
    with pytest.raises(ValueError, match=f"COURSE_CACHE_DIR={value!r}: expected folders separated by"):
        get_config({"COURSE_CACHE_DIR": value})


def test_a_cache_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(ValueError, match="is a file"):
        get_config({"COURSE_CACHE_DIR": f"{tmp_path / 'ok'}{os.pathsep}{tmp_path / 'f'}"})


def test_config_is_frozen():
    cfg = get_config({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 3
    assert isinstance(cfg.replace(seed=3), Config) and cfg.replace(seed=3).seed == 3


@pytest.mark.parametrize(("name", "value", "allowed"), [
    ("COURSE_FAST", "maybe", "1/0"), ("COURSE_CACHE", "2", "1/0"), ("COURSE_OFFLINE", "y", "1/0"),
    ("COURSE_SEED", "x", "0 to 4294967295"), ("COURSE_SEED", "-1", "0 to 4294967295"),
    ("COURSE_SEED", "4294967296", "0 to 4294967295"), ("COURSE_SEED", "1.5", "whole number"),
    ("COURSE_DEVICE", "tpu", "cpu, cuda, cuda:N or mps"), ("COURSE_DEVICE", "cuda:x", "cuda:N"),
    ("COURSE_DOWNLOAD_TIMEOUT", "-5", "positive, finite"), ("COURSE_DOWNLOAD_TIMEOUT", "0", "positive"),
    ("COURSE_DOWNLOAD_TIMEOUT", "inf", "finite"), ("COURSE_DOWNLOAD_TIMEOUT", "nan", "positive"),
    ("COURSE_DOWNLOAD_TIMEOUT", "soon", "seconds")])
def test_a_bad_setting_names_the_variable_the_value_and_what_is_allowed(name, value, allowed):
    with pytest.raises(ValueError) as caught:
        get_config({name: value})
    message = str(caught.value)
    assert message.startswith(f"{name}={value!r}:") and allowed in message


def _machine(monkeypatch, gpus: int = 0, mps: bool = False) -> None:
    """Make torch report ``gpus`` CUDA devices and ``mps`` or not, wherever the test runs."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


def test_good_settings_are_read(monkeypatch):
    _machine(monkeypatch, gpus=2)
    cfg = get_config({"COURSE_SEED": "4294967295", "COURSE_DOWNLOAD_TIMEOUT": "2.5", "COURSE_DEVICE": "cuda:1",
                      "COURSE_CACHE": "off"})
    assert (cfg.seed, cfg.download_timeout, cfg.device, cfg.use_cache) == (4294967295, 2.5, "cuda:1", False)
    assert get_config({"COURSE_DOWNLOAD_TIMEOUT": "86400"}).download_timeout == 86400


@pytest.mark.parametrize(("gpus", "mps", "device", "present"), [
    (0, False, "cuda", "cpu"), (0, False, "cuda:7", "cpu"), (0, False, "mps", "cpu"),
    (2, False, "cuda:2", "cpu, cuda:0, cuda:1"), (0, True, "cuda", "cpu, mps")])
def test_a_device_this_machine_lacks_is_refused_when_the_config_is_read(monkeypatch, gpus, mps, device, present):
    """Probe 61: COURSE_DEVICE=cuda, cuda:7 or mps was accepted on a CPU-only machine; training then failed in torch."""
    _machine(monkeypatch, gpus=gpus, mps=mps)
    with pytest.raises(ValueError) as caught:  # config.SettingError, a ValueError
        get_config({"COURSE_DEVICE": device})
    assert str(caught.value) == (f"COURSE_DEVICE={device!r}: this machine has no such device (present: {present}); "
                                 "use one of those, or leave it out for the best one present")


def test_the_devices_present_are_accepted(monkeypatch):
    _machine(monkeypatch, gpus=1, mps=True)
    assert [get_config({"COURSE_DEVICE": d}).device for d in ("cpu", "cuda", "cuda:0", "mps")] == \
        ["cpu", "cuda", "cuda:0", "mps"]
    _machine(monkeypatch)
    assert get_config({}).device == "cpu"


@pytest.mark.parametrize("value", ["1e10", "1e308", "86401"])
def test_a_download_timeout_too_large_for_the_clock_is_refused_when_read(value):
    """Probe 60: COURSE_DOWNLOAD_TIMEOUT=1e308 (or 1e10) was accepted; downloads then died of OverflowError."""
    with pytest.raises(ValueError, match=rf"^COURSE_DOWNLOAD_TIMEOUT='{value}': expected a positive, finite "
                                           r"number of seconds up to 86400 \(a day\)"):
        get_config({"COURSE_DOWNLOAD_TIMEOUT": value})


def test_seed_everything_makes_torch_repeatable():
    seed_everything(3)
    a = torch.rand(3)
    seed_everything(3)
    assert torch.equal(a, torch.rand(3))
    with pytest.raises(ValueError):
        seed_everything(-1)
    with pytest.raises(ValueError):
        seed_everything(2**32)
