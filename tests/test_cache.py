"""The weights cache: a hit is the same training, every change retrains, bad files never crash."""

import os
import subprocess
import sys
import warnings

import pytest
import torch
from torch import nn

from course_lib import cache
from course_lib.cache import CacheWarning, fingerprint
from course_lib.corruptions import Noise, add_noise
from course_lib.models import MLPAutoencoder, UNet
from course_lib.training import fit, fit_cached

KW = dict(num_epochs=2, batch_size=32, lr=3e-3, progress=False)


def _model(seed=0):
    torch.manual_seed(seed)
    return MLPAutoencoder(input_shape=(1, 8, 8), hidden=(32,), latent_dim=4)


def _key(*parts):
    return fingerprint(*parts)


def _same_weights(a, b):
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_a_hit_gives_the_saved_weights_and_history_and_says_so_in_one_line(tmp_path, low_rank_images, capsys):
    first = _model()
    h1 = fit_cached(first, tmp_path, "ae", low_rank_images, **KW)
    assert capsys.readouterr().out == ""
    second = _model()
    h2 = fit_cached(second, tmp_path, "ae", low_rank_images, **KW)
    out = capsys.readouterr().out.strip().splitlines()
    assert h1 == h2 and _same_weights(first, second)
    assert len(out) == 1 and "from the weights cache" in out[0] and str(tmp_path) not in out[0]  # no paths
    assert [p.name.rsplit("-", 1)[0] for p in tmp_path.glob("*.pt")] == ["ae"]
    assert not list(tmp_path.glob("*.tmp"))  # written atomically, nothing left over


def test_the_key_follows_every_fit_argument_the_data_and_the_initial_weights(low_rank_images):
    base = _key(_model(), low_rank_images, None, sorted(KW.items()))
    assert base == _key(_model(), low_rank_images, None, sorted(KW.items()))  # deterministic
    assert base != _key(_model(), low_rank_images, None, sorted({**KW, "lr": 1e-3}.items()))
    assert base != _key(_model(seed=1), low_rank_images, None, sorted(KW.items()))  # initialisation
    other = low_rank_images.clone()
    other[0, 0, 0, 0] += 0.01
    assert base != _key(_model(), other, None, sorted(KW.items()))  # one pixel of the data


def test_the_key_follows_the_body_of_a_function_passed_in():
    # The four cases that used to share a key and load the first one's weights.
    noise_01 = lambda x, g: add_noise(x, g, "gaussian", 0.1)  # noqa: E731
    noise_09 = lambda x, g: add_noise(x, g, "gaussian", 0.9)  # noqa: E731
    assert _key(noise_01) != _key(noise_09)

    def noise(x, g):
        return x + 0.1 * torch.randn(x.shape, generator=g)
    first = _key(noise)

    def noise(x, g):  # noqa: F811 (redefined on purpose, as a learner edits a cell)
        return x + 0.3 * torch.randn(x.shape, generator=g)
    assert _key(noise) != first

    mse = lambda a, b: nn.functional.mse_loss(a, b)  # noqa: E731
    l1 = lambda a, b: nn.functional.l1_loss(a, b)  # noqa: E731
    assert _key(mse) != _key(l1)
    assert _key(nn.MSELoss()) != _key(nn.L1Loss())
    assert _key(Noise("gaussian", 0.5)) != _key(Noise("gaussian", 0.3))


def test_the_key_follows_a_global_a_function_reads_and_the_functions_it_calls():
    scope = {"torch": torch}
    exec("sigma = 0.1\ndef helper(x, g):\n    return sigma * torch.randn(x.shape, generator=g)\n"
         "def noise(x, g):\n    return x + helper(x, g)\n", scope)
    first = _key(scope["noise"])
    scope["sigma"] = 0.2
    assert _key(scope["noise"]) != first
    exec("def helper(x, g):\n    return sigma * torch.rand(x.shape, generator=g)\n", scope)
    assert _key(scope["noise"]) != first


def test_the_key_follows_attributes_that_the_repr_leaves_out_and_the_models_code():
    torch.manual_seed(0)
    linear = UNet(1, 1, channels=(4, 8), output="linear")
    torch.manual_seed(0)
    sigmoid = UNet(1, 1, channels=(4, 8), output="sigmoid")
    assert repr(linear) == repr(sigmoid) and _same_weights(linear, sigmoid)
    assert _key(linear) != _key(sigmoid)

    class Doubled(MLPAutoencoder):
        def forward(self, x):
            return 2 * self.decode(self.encode(x))

    torch.manual_seed(0)
    doubled = Doubled(input_shape=(1, 8, 8), hidden=(32,), latent_dim=4)
    assert _same_weights(doubled, _model()) and _key(doubled) != _key(_model())


def test_the_key_is_the_same_in_another_process():
    # No memory address, hash seed or file position may enter the key: a new kernel must find
    # the entry the last one wrote.
    script = ("import torch\nfrom course_lib.cache import fingerprint\nfrom course_lib.corruptions import Noise\n"
              "from course_lib.models import UNet\nfrom course_lib.training import PixelCrossEntropy\n"
              "torch.manual_seed(0)\nm = UNet(1, 1, channels=(4, 8), output='clamp')\n"
              "f = lambda x, g: x + 0.1 * torch.randn(x.shape, generator=g)\n"
              "menu = Noise(menu=(('gaussian', 0.1, 0.7),))\n"
              "print(fingerprint(m, menu, PixelCrossEntropy(3, 0.2), f, {'a': {1, 2}}))")
    keys = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip() for seed in ("1", "2")}
    assert len(keys) == 1 and len(keys.pop()) == cache.KEY_CHARS


@pytest.mark.parametrize("keep", [0.5, 0.8, 0.99])
def test_a_truncated_entry_is_removed_with_one_warning_and_retrained(tmp_path, low_rank_images, keep):
    fit_cached(_model(), tmp_path, "ae", low_rank_images, **KW)
    (path,) = tmp_path.glob("ae-*.pt")
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.warns(CacheWarning, match="unusable.*removed") as caught:
        h = fit_cached(_model(), tmp_path, "ae", low_rank_images, **KW)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert len(h.train_loss) == 3
    assert torch.load(path, weights_only=True)["history"]["train_loss"] == h.train_loss  # rewritten whole


def test_a_mismatched_entry_leaves_the_model_untouched_and_training_starts_from_its_own_weights(
        tmp_path, low_rank_images):
    fit_cached(_model(), tmp_path, "ae", low_rank_images, **KW)
    (path,) = tmp_path.glob("ae-*.pt")
    saved = torch.load(path, weights_only=True)
    state = dict(saved["state_dict"])
    state.pop(next(iter(state)))  # the first tensors match, the rest do not: a partial load would happen
    state["decoder.0.weight"] = torch.zeros(3, 3)
    torch.save({**saved, "state_dict": state}, path)
    reference = _model()
    fit(reference, low_rank_images, **KW)
    with pytest.warns(CacheWarning, match="unusable"):
        model = _model()
        fit_cached(model, tmp_path, "ae", low_rank_images, **KW)
    assert _same_weights(model, reference)


def test_a_folder_that_cannot_be_written_warns_once_and_trains_without_the_cache(tmp_path, low_rank_images):
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a folder cannot be made under a file, not even by root
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = fit_cached(_model(), blocker / "cache", "ae", low_rank_images, **KW)
    assert [w.category for w in caught] == [CacheWarning] and "cannot be written" in str(caught[0].message)
    assert len(h.train_loss) == 3


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_warns_once_and_trains_without_the_cache(tmp_path, low_rank_images):
    folder = tmp_path / "cache"
    folder.mkdir()
    folder.chmod(0o555)
    with pytest.warns(CacheWarning, match="cannot be written"):
        fit_cached(_model(), folder, "ae", low_rank_images, **KW)
    assert not list(folder.iterdir())


def test_a_save_that_fails_after_training_keeps_the_trained_model(tmp_path, low_rank_images, monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0")
    monkeypatch.setattr(torch, "save", refuse)
    model = _model()
    with pytest.warns(CacheWarning, match="could not save"):
        h = fit_cached(model, tmp_path, "ae", low_rank_images, **KW)
    assert h.val_loss == [] and len(h.train_loss) == 3 and not list(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "", "/abs", "x/../../y", ".hidden"])
def test_a_name_cannot_leave_the_cache_folder(tmp_path, low_rank_images, name):
    folder = tmp_path / "cache"
    with pytest.raises(ValueError, match="cache name"):
        fit_cached(_model(), folder, name, low_rank_images, **KW)
    assert list(tmp_path.iterdir()) == []
