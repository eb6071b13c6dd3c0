import dataclasses
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


def test_config_is_frozen():
    cfg = get_config({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 3
    assert isinstance(cfg.replace(seed=3), Config) and cfg.replace(seed=3).seed == 3


@pytest.mark.parametrize("env", [{"COURSE_FAST": "maybe"}, {"COURSE_SEED": "x"},
                                 {"COURSE_DEVICE": "tpu"}])
def test_bad_settings_raise_value_error(env):
    with pytest.raises(ValueError):
        get_config(env)


def test_seed_everything_makes_torch_repeatable():
    seed_everything(3)
    a = torch.rand(3)
    seed_everything(3)
    assert torch.equal(a, torch.rand(3))
    with pytest.raises(ValueError):
        seed_everything(-1)
