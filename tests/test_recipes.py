"""The recipes (one definition per model) and the sizes table they read."""

import pytest
import torch

from course_lib import recipes, sizes
from course_lib.corruptions import Noise
from course_lib.examples import Examples, Splits


def tiny_digits(n=48, seed=0) -> Splits:
    """Digit-shaped stand-ins: n 28x28 images of 3 blurred strokes, labels 0-9."""
    g = torch.Generator().manual_seed(seed)

    def split(k):
        x = torch.zeros(k, 1, 28, 28)
        for i in range(k):
            r, c = torch.randint(4, 20, (2,), generator=g).tolist()
            x[i, 0, r:r + 8, c:c + 2] = 1.0
            x[i, 0, r:r + 2, c:c + 6] = 0.7
        return Examples(x, torch.arange(k) % 10)

    return Splits(split(n), split(16), split(16), name="tiny", source="test", is_real=False,
                  classes=tuple(map(str, range(10))))


def test_sizes_table_holds_a_full_and_a_fast_value_for_every_entry():
    for chapter, entries in sizes.CHAPTERS.items():
        for name, pair in entries.items():
            values = [v for entry in pair for v in (entry if isinstance(entry, tuple) else (entry,))]
            assert len(pair) == 2 and values and all(isinstance(v, int) and v > 0 for v in values), (chapter, name)
            full, fast = (max(v) if isinstance(v, tuple) else v for v in pair)
            assert fast <= full, f"{chapter}.{name}: a fast run is never bigger than a full one"
    assert set(sizes.data_sizes(fast=True)) == set(sizes.DATA)


def test_sizes_of_reads_the_runs_mode(cfg):
    assert sizes.of(cfg, "denoising").test_images == sizes.CHAPTERS["denoising"]["test_images"][1]
    full = cfg.replace(fast=False)
    assert sizes.of(full, "denoising").test_images == sizes.CHAPTERS["denoising"]["test_images"][0]
    assert cfg.n_train == sizes.DATA["n_train"][1] and full.batch_size == sizes.DATA["batch_size"][0]
    with pytest.raises(ValueError, match="no sizes for chapter 'denoise'"):
        sizes.of(cfg, "denoise")


def test_a_recipes_weights_do_not_depend_on_what_ran_before(cfg):
    digits = tiny_digits()
    off = cfg.replace(use_cache=False)
    torch.rand(1000)
    first, _ = recipes.wide_linear(off, digits)
    torch.rand(7)  # other cells drew other random numbers before this one
    second, _ = recipes.wide_linear(off, digits)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))


def test_the_second_call_of_a_recipe_loads_the_first_ones_weights(cfg, capsys):
    digits = tiny_digits()
    model, history = recipes.denoiser(cfg, digits, Noise("gaussian", 0.5))
    assert "loaded from the weights cache" not in capsys.readouterr().out
    again, history2 = recipes.denoiser(cfg, digits, Noise("gaussian", 0.5))
    assert "ch04-dae-gaussian0.5: trained weights loaded from the weights cache" in capsys.readouterr().out
    assert history2.val_loss == history.val_loss
    assert torch.equal(again(digits.test.x), model(digits.test.x))
    other, _ = recipes.denoiser(cfg, digits, Noise("gaussian", 0.3))  # another noise: another model
    assert "loaded from the weights cache" not in capsys.readouterr().out
    assert not torch.equal(other(digits.test.x), model(digits.test.x))


def test_the_denoisers_output_starts_at_the_mean_pixel(cfg):
    net = recipes.unet(cfg, 0.25)
    assert torch.allclose(net.head.bias.data, torch.full_like(net.head.bias.data, 0.25))


def test_every_recipe_trains_a_model_whose_output_fits_its_target(cfg):
    digits = tiny_digits()
    x = digits.train.x
    beats, beats_val = torch.randn(40, 1, 140), torch.randn(12, 1, 140)
    photos, photos_val = torch.rand(24, 3, 32, 32), torch.rand(8, 3, 32, 32)
    grey, grey_val = torch.rand(24, 1, 32, 32), torch.rand(8, 1, 32, 32)
    trained = {
        "deep_autoencoder": (recipes.deep_autoencoder(cfg, digits), x),
        "spatial_code_conv": (recipes.spatial_code_conv(cfg, digits), x),
        "clean_trained_unet": (recipes.clean_trained_unet(cfg, digits), x),
        "photo_denoiser": (recipes.photo_denoiser(cfg, grey, grey_val), grey),
        "photo_eraser": (recipes.photo_eraser(cfg, photos, photos_val), None),
        "inpainter": (recipes.inpainter(cfg, digits, "strokes"), None),
        "digit_anomaly_model": (recipes.digit_anomaly_model(cfg, digits, 3), x),
        "beat_autoencoder": (recipes.beat_autoencoder(cfg, beats, beats_val), beats),
        "beat_conv_autoencoder": (recipes.beat_conv_autoencoder(cfg, beats, beats_val), beats),
    }
    sweep = recipes.code_size_sweep(cfg, digits, [2, 4])
    assert [m.latent_dim for m, _ in sweep.values()] == [2, 4]
    for name, ((model, history), target) in trained.items():
        assert len(history.val_loss) > 1 and all(torch.isfinite(torch.tensor(history.val_loss))), name
        if target is not None:
            assert model(target[:3]).shape == target[:3].shape, name
    names = [p.name.rsplit("-", 1)[0] for p in cfg.cache_dirs[0].glob("*.pt")]
    assert len(names) == len(set(names)) == len(trained) + 2, "every recipe saves under its own name"


def test_the_segmentation_recipes_scenes_and_networks(cfg):
    digits = tiny_digits(n=64)
    train, val, test = recipes.scenes(cfg, digits)
    ch = sizes.of(cfg, "segmentation")
    assert (len(train), len(val), len(test)) == (ch.train_scenes, ch.val_scenes, ch.test_scenes)
    assert train.x.shape[-1] == recipes.SCENE_LAYOUT["size"] and not torch.equal(train.x[:5], val.x[:5])
    net, history = recipes.segmenter(cfg, train, val, skips=False)
    assert net(train.x[:2]).shape == (2, train.num_classes, 32, 32)
    assert [p.name.rsplit("-", 1)[0] for p in cfg.cache_dirs[0].glob("*.pt")] == ["ch06-unet-noskip"]
    assert len(history.val_metric) == ch.epochs + 1 and all(0 <= v <= 1 for v in history.val_metric)
    assert recipes.pixel_loss(train.num_classes).weight[0] == 0.2


def test_normal_part_leaves_the_anomaly_digit_out():
    split = Examples(torch.arange(10.0).view(10, 1), torch.tensor([0, 1, 2, 3, 2, 5, 6, 2, 8, 9]))
    assert recipes.normal_part(split, 2).flatten().tolist() == [0.0, 1.0, 3.0, 5.0, 6.0, 8.0, 9.0]


THREADS_KEY = """
import sys, torch
torch.set_num_threads(int(sys.argv[1]))
from course_lib import cache, recipes
from course_lib.config import get_config

def key_instead_of_training(model, cache_dir, name, x, target=None, **fit_kwargs):
    print(name, cache.fingerprint(model))  # the initial weights, where the thread count could enter
    return None

recipes.fit_cached = key_instead_of_training
cfg = get_config({"COURSE_FAST": "1", "COURSE_DEVICE": "cpu", "COURSE_CACHE": "0"})
g = torch.Generator().manual_seed(0)
grey, colour = torch.rand(4000, 1, 32, 32, generator=g), torch.rand(4000, 3, 32, 32, generator=g)
recipes.photo_denoiser(cfg, grey, grey[:8])
recipes.photo_eraser(cfg, colour, colour[:8])
print("torch mean", grey.mean().item().hex())
"""


def test_the_photo_models_keys_are_the_same_on_one_thread_and_two():
    # A cache filled by a 2-thread run missed in 1-thread kernels: the U-Net's output bias started at
    # x.mean(), whose float32 sum depends on the thread count, so the initial weights (in the key) did.
    import subprocess
    import sys

    runs = [subprocess.run([sys.executable, "-c", THREADS_KEY, threads], capture_output=True, text=True,
                           timeout=300) for threads in ("1", "2")]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr + runs[1].stderr
    one, two = (r.stdout.splitlines() for r in runs)
    assert one[-1] != two[-1], "the data no longer shows torch's thread-dependent mean: pick other data"
    assert one[:-1] == two[:-1] and len(one) == 3
    assert recipes.average_pixel(torch.ones(2, 3, 4, 4) * torch.tensor([0.1, 0.2, 0.3]).view(1, 3, 1, 1),
                                 per_channel=True).tolist() == pytest.approx([0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="non-empty"):
        recipes.average_pixel(torch.ones(0, 1, 4, 4))
