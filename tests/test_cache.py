"""The weights cache: a hit is the same training, every change retrains, bad files never crash."""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import warnings
from pathlib import Path

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
              "from course_lib.models import UNet\nfrom course_lib.training import PixelCrossEntropy, fit\n"
              "torch.manual_seed(0)\nm = UNet(1, 1, channels=(4, 8), output='clamp')\n"
              "f = lambda x, g: x + 0.1 * torch.randn(x.shape, generator=g)\n"
              "menu = Noise(menu=(('gaussian', 0.1, 0.7),))\n"
              "print(fingerprint(fit, m, menu, PixelCrossEntropy(3, 0.2), f, {'a': {1, 2}}))")  # fit: torch.no_grad()
    keys = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip() for seed in ("1", "2")}
    assert len(keys) == 1 and len(keys.pop()) == cache.KEY_CHARS


@pytest.mark.parametrize("keep", [0.5, 0.8, 0.99])
def test_a_truncated_entry_is_skipped_with_one_warning_retrained_and_replaced(tmp_path, low_rank_images, keep):
    fit_cached(_model(), tmp_path, "ae", low_rank_images, **KW)
    (path,) = tmp_path.glob("ae-*.pt")
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.warns(CacheWarning, match="unusable.*skipped") as caught:
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


def test_a_name_longer_than_a_file_name_allows_is_refused_by_the_name_check(tmp_path, low_rank_images):
    # Probe 37: a 300-character name raised OSError (File name too long) from pathlib.
    with pytest.raises(ValueError, match="cache name is 1 to 200"):
        fit_cached(_model(), tmp_path, "a" * 300, low_rank_images, **KW)
    fit_cached(_model(), tmp_path, "a" * cache.MAX_NAME, low_rank_images, **KW)  # the longest allowed name works
    assert len(list(tmp_path.glob("*.pt"))) == 1


def test_the_key_follows_a_class_attribute_read_in_forward():
    # Probe 28: `noise = 0.0 -> 0.5` on the class loaded the noise-0.0 weights for the noise-0.5 model.
    class Noisy(MLPAutoencoder):
        noise = 0.0

        def forward(self, x):
            return super().forward(x + self.noise)

    torch.manual_seed(0)
    model = Noisy(input_shape=(1, 8, 8), hidden=(32,), latent_dim=4)
    before = _key(model)
    Noisy.noise = 0.5
    assert _key(model) != before
    Noisy.noise = 0.0
    assert _key(model) == before


def _run(script: str, cwd: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **env}, timeout=300)


TINY_FIT = """
    import sys, torch
    import course_lib
    from course_lib.models import MLPAutoencoder
    from course_lib.training import fit_cached
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(256, 4, generator=g) @ torch.rand(4, 64, generator=g) / 4).reshape(256, 1, 8, 8)
    torch.manual_seed(0)
    model = MLPAutoencoder(input_shape=(1, 8, 8), hidden=(32,), latent_dim=4)
    print("library", course_lib.__file__)
    fit_cached(model, sys.argv[1:] or FOLDERS, "ae", x, num_epochs=1, batch_size=32, lr=3e-3, progress=False)
"""


def test_the_key_follows_the_course_librarys_own_training_code(tmp_path):
    # Probe 29: after a `git pull` that changed speed.adam's settings the cache served the old weights.
    library = tmp_path / "checkout"
    shutil.copytree(Path(cache.__file__).parent, library / "course_lib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    script = TINY_FIT.replace("FOLDERS", repr(str(tmp_path / "cache")))
    first = _run(script, library)
    assert first.returncode == 0, first.stderr
    assert f"library {library}" in first.stdout and "loaded from the weights cache" not in first.stdout
    assert "loaded from the weights cache" in _run(script, library).stdout  # unchanged code: a hit
    speed = library / "course_lib" / "speed.py"
    text = speed.read_text()
    assert "fused=True)" in text
    speed.write_text(text.replace("fused=True)", "fused=True, betas=(0.8, 0.99))"))  # what a git pull may do
    again = _run(script, library)
    assert again.returncode == 0 and "loaded from the weights cache" not in again.stdout, again.stdout
    assert len(list((tmp_path / "cache").glob("ae-*.pt"))) == 2


def test_several_folders_are_searched_in_order_and_the_first_writable_one_receives_new_entries(
        tmp_path, low_rank_images, capsys):
    own, shared = tmp_path / "own", tmp_path / "shared"
    trained = _model()
    fit_cached(trained, shared, "ae", low_rank_images, **KW)
    capsys.readouterr()
    model = _model()
    fit_cached(model, [own, shared], "ae", low_rank_images, **KW)
    (line,) = capsys.readouterr().out.splitlines()
    assert f"loaded from the weights cache in the shared folder {shared} (" in line and _same_weights(model, trained)
    assert not own.exists() or not list(own.iterdir())  # a hit writes nothing
    fit_cached(_model(), [own, shared], "ae", low_rank_images, **{**KW, "lr": 1e-3})
    assert len(list(own.glob("ae-*.pt"))) == 1 and len(list(shared.glob("ae-*.pt"))) == 1
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a folder under a file cannot be made, not even by root
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the next writable folder is used without a word
        fit_cached(_model(), [blocker / "cache", shared], "ae", low_rank_images, **{**KW, "lr": 2e-3})
    assert len(list(shared.glob("ae-*.pt"))) == 2


def test_a_hit_says_how_many_threads_trained_the_entry(tmp_path, low_rank_images, capsys):
    fit_cached(_model(), tmp_path, "ae", low_rank_images, **KW)
    capsys.readouterr()
    fit_cached(_model(), tmp_path, "ae", low_rank_images, **KW)
    threads = torch.get_num_threads()
    assert f"trained with {threads} thread" in capsys.readouterr().out


@pytest.fixture
def class_folders():
    """A shared folder a learner can read but not write, and the learner's own; both under /tmp, open to all.

    Root ignores file modes, so as root the learner is the unprivileged user ``nobody``
    (setpriv drops to it in the subprocess); the shared folder belongs to root, mode 755.
    """
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("root ignores file modes and setpriv (util-linux) is absent to run as an unprivileged user")
    top = Path(tempfile.mkdtemp(prefix="aecourse-class-"))
    top.chmod(0o755)
    shared, own = top / "shared", top / "learner"
    shared.mkdir()
    own.mkdir()
    if os.geteuid() == 0:
        os.chown(own, 65534, 65534)
    else:
        shared.chmod(0o555)
    yield shared, own
    shared.chmod(0o755)
    shutil.rmtree(top)


def _as_learner(script: str, folders: list[Path]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", textwrap.dedent(script), *map(str, folders)]
    if os.geteuid() == 0:
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    return subprocess.run(command, capture_output=True, text=True, cwd=folders[0].parent, timeout=300,
                          env={**os.environ, "HOME": str(folders[0].parent), "PYTHONDONTWRITEBYTECODE": "1"})


def _damaged_shared_entry(shared: Path) -> tuple[Path, bytes]:
    """The entry TINY_FIT trains, written into ``shared`` by its owner, then cut in half."""
    filled = subprocess.run([sys.executable, "-c", textwrap.dedent(TINY_FIT), str(shared)],
                            capture_output=True, text=True, timeout=300)
    assert filled.returncode == 0, filled.stderr
    (entry,) = shared.glob("ae-*.pt")
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    if os.geteuid() != 0:
        shared.chmod(0o555)
    return entry, entry.read_bytes()


def test_a_damaged_entry_in_a_read_only_shared_folder_is_skipped_and_trained_into_the_learners_own(
        class_folders):
    # Probe 34: every training call crashed with PermissionError (the cache tried to delete the entry).
    shared, own = class_folders
    entry, damaged = _damaged_shared_entry(shared)
    first = _as_learner(TINY_FIT.replace("FOLDERS", "[]"), [own, shared])
    assert first.returncode == 0, first.stderr
    warned = [line for line in first.stderr.splitlines() if "CacheWarning" in line]
    assert len(warned) == 1 and f"{entry} is unusable" in warned[0] and "skipped" in warned[0]
    assert entry.read_bytes() == damaged  # never deleted, never changed
    assert [p.name for p in own.glob("ae-*.pt")] == [entry.name]  # trained into the learner's own folder
    again = _as_learner(TINY_FIT.replace("FOLDERS", "[]"), [own, shared])
    hit = [line for line in again.stdout.splitlines() if "loaded from the weights cache" in line]
    assert hit and "shared folder" not in hit[0] and "CacheWarning" not in again.stderr  # the learner's own folder


def test_a_damaged_entry_in_the_only_folder_a_learner_cannot_write_trains_without_a_crash(class_folders):
    shared, _ = class_folders
    entry, damaged = _damaged_shared_entry(shared)
    run = _as_learner(TINY_FIT.replace("FOLDERS", "[]"), [shared])
    assert run.returncode == 0, run.stderr
    warned = [line for line in run.stderr.splitlines() if "CacheWarning" in line]
    assert len(warned) == 2 and "unusable" in warned[0] and "cannot be written" in warned[1]
    assert entry.read_bytes() == damaged and len(list(shared.iterdir())) == 1


def test_a_learner_reads_a_good_entry_from_a_read_only_shared_folder_and_writes_nothing(class_folders):
    shared, own = class_folders
    filled = subprocess.run([sys.executable, "-c", textwrap.dedent(TINY_FIT), str(shared)],
                            capture_output=True, text=True, timeout=300)
    assert filled.returncode == 0, filled.stderr
    if os.geteuid() != 0:
        shared.chmod(0o555)
    (entry,) = shared.glob("ae-*.pt")
    run = _as_learner(TINY_FIT.replace("FOLDERS", "[]"), [own, shared])
    assert run.returncode == 0 and f"loaded from the weights cache in the shared folder {shared} (" in run.stdout, \
        run.stderr
    assert list(own.iterdir()) == [] and "Warning" not in run.stderr
