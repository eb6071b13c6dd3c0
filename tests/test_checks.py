"""The exercises' checks: right on a solution's answer, "not yet" (never an exception) on everything else.

Every check is shown the answer a solution gives, the untouched scaffold, answers of the wrong
form and at least one plausible wrong answer. Trained models are stood in for by small untrained
ones with a History whose loss fell: the checks measure the answer again from whatever model they
are given, so these tests need no training.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_recipes import tiny_digits
from torch import nn
from torch.nn import functional as F

from course_lib import checks, report
from course_lib.baselines import BlobSegmenter, PCAReconstructor
from course_lib.convolution import influence_map, receptive_field
from course_lib.corruptions import apply_mask, centre_mask, fill_hole, gaussian_noise
from course_lib.examples import Examples, Splits
from course_lib.generative import (
    VAE,
    ConditionalVAE,
    DigitClassifier,
    class_entropy,
    class_probabilities,
    confident_share,
    kl_per_dimension,
)
from course_lib.metrics import (
    bootstrap_interval,
    dice_per_class,
    iou_per_class,
    linear_probe_accuracy,
    mse,
    mse_in_mask,
    psnr,
    psnr_in_mask,
    segmentation_scores,
    unreconstructed_share,
)
from course_lib.models import ConvAutoencoder, Inpainter, MLPAutoencoder, UNet, count_parameters
from course_lib.scenes import make_scenes
from course_lib.training import History, predict, predict_labels

GARBAGE = [None, 3, "x", [], {}, (1, 2), torch.zeros(2), {"model": 3, "why": "a"}]


def pair(model, epochs=1):
    """A model and a History in which its validation loss fell: what a recipe returns."""
    losses = [1.0] + [0.5 / (i + 1) for i in range(epochs)]
    return model, History(train_loss=list(losses), val_loss=list(losses))


def seeded(build, seed=0):
    torch.manual_seed(seed)
    return build()


def right(exercise, answer, **context):
    verdict = checks.verify(exercise, answer, strict=context.pop("strict", False), **context)
    assert verdict.right, verdict.message
    assert verdict.message.startswith(f"exercise {exercise}: right")


def not_yet(exercise, answer, hint="", **context):
    verdict = checks.verify(exercise, answer, strict=context.pop("strict", False), **context)
    assert not verdict.right and verdict.message.startswith(f"exercise {exercise}: not yet"), verdict.message
    assert hint.lower() in verdict.message.lower(), verdict.message
    return verdict


@pytest.fixture(scope="module")
def digits():
    return tiny_digits(64)


# --------------------------------------------------------------------------- every check

def test_every_chapter_has_at_least_three_checked_exercises():
    chapters = {}
    for exercise in checks.known():
        chapters.setdefault(exercise.split(".")[0], []).append(exercise)
    assert sorted(chapters) == [f"{i:02d}" for i in range(1, 9)]
    assert all(len(ids) >= 3 for ids in chapters.values()), chapters


@pytest.mark.parametrize("exercise", checks.known())
def test_the_untouched_scaffold_is_still_empty_and_garbage_is_not_yet(exercise):
    assert "still empty" in not_yet(exercise, ...).message
    partial = not_yet(exercise, {"model": (..., ...), "why": ..., "other": 1})
    assert "still empty" in partial.message and "'model'" in partial.message
    for answer in GARBAGE:
        not_yet(exercise, answer)


def test_an_unknown_exercise_is_an_authors_error():
    with pytest.raises(ValueError, match="no check for exercise '09.1'"):
        checks.verify("09.1", 1)


def test_exercise_prints_records_and_sums_up(monkeypatch, tmp_path, capsys):
    report.clear()
    monkeypatch.setattr(checks, "_SESSION", {})
    monkeypatch.setenv("COURSE_REPORT_FILE", str(tmp_path / "r.json"))
    checks.exercise("03.2", ...)
    assert "exercise 03.2: not yet. It is still empty" in capsys.readouterr().out
    checks.exercise("03.3", _checkerboard_answer())
    assert "exercise 03.3: right" in capsys.readouterr().out
    assert json.loads((tmp_path / "r.json").read_text())["checks"] == {"03.2": False, "03.3": True}
    assert checks.summary("03") is None  # printed, not returned: nothing left under the notebook's last cell
    out = capsys.readouterr().out
    assert "1 of 3 exercises checked right" in out and "not yet: 03.2" in out and "not checked" in out
    with pytest.raises(AssertionError, match="every exercise of chapter 03"):
        checks.summary("03", expect_all_right=True)
    report.clear()


def test_a_model_must_have_been_trained():
    model = MLPAutoencoder(hidden=(), latent_dim=4, output="linear")
    with pytest.raises(checks.NotYet, match="a MLPAutoencoder alone"):
        checks.trained(model, "m")
    with pytest.raises(checks.NotYet, match="History"):
        checks.trained((model, History(train_loss=[1.0], val_loss=[1.0])), "m")
    flat = (model, History(train_loss=[1.0, 1.2], val_loss=[1.0, 1.1]))
    assert checks.trained(flat, "m") is model  # one epoch of a fast run need not lower the loss yet
    with pytest.raises(checks.NotYet, match="never fell"):
        checks.trained(flat, "m", strict=True)
    with pytest.raises(checks.NotYet, match="UNet"):
        checks.trained(pair(model), "m", UNet)


# --------------------------------------------------------------------------- 01

def _linear_answer(digits, model):
    pca = PCAReconstructor(32).fit(digits.train.x)
    q = torch.linalg.qr(model.decoder[0].weight.detach())[0]
    c = torch.as_tensor(pca.pca.components_, dtype=torch.float32)
    return {"model": pair(model), "train_mse": mse(digits.train.x, predict(model, digits.train.x)),
            "test_mse": mse(digits.test.x, predict(model, digits.test.x)),
            "subspace_share": ((c @ q) ** 2).sum().item() / 32, "below_pca": "b"}


def test_01_1_linear_autoencoder(digits):
    model = seeded(lambda: MLPAutoencoder(hidden=(), latent_dim=32, output="linear"))
    answer = _linear_answer(digits, model)
    right("01.1", answer, data=digits)
    not_yet("01.1", {**answer, "below_pca": "a"}, "what PCA minimises", data=digits)
    w = model.decoder[0].weight.detach()  # forgot the orthonormal basis
    pca = PCAReconstructor(32).fit(digits.train.x)
    raw = ((torch.as_tensor(pca.pca.components_, dtype=torch.float32) @ w) ** 2).sum().item() / 32
    not_yet("01.1", {**answer, "subspace_share": raw}, "subspace_share", data=digits)
    not_yet("01.1", {**answer, "test_mse": answer["train_mse"] * 2}, "test_mse", data=digits)
    mlp = seeded(lambda: MLPAutoencoder(hidden=(256,), latent_dim=32))
    not_yet("01.1", {**answer, "model": pair(mlp)}, "non-linearity", data=digits)
    not_yet("01.1", answer, "far from PCA", data=digits, strict=True)  # an untrained decoder is not PCA's subspace


def test_01_2_seeds(digits):
    runs = [pair(seeded(lambda: MLPAutoencoder(hidden=(256,), latent_dim=32), s)) for s in (1, 2, 3)]
    errors = [mse(digits.test.x, predict(m, digits.test.x)) for m, _ in runs]
    pca_mse = mse(digits.test.x, PCAReconstructor(32).fit(digits.train.x)(digits.test.x))
    gap, spread = abs(sum(errors) / 3 - pca_mse), max(errors) - min(errors)
    letter = "a" if gap > spread else "b"
    answer = {"runs": runs, "test_mse": errors, "pca_test_mse": pca_mse, "gap_beyond_spread": letter}
    right("01.2", answer, data=digits)
    not_yet("01.2", {**answer, "gap_beyond_spread": "b" if letter == "a" else "a"}, "side by side", data=digits)
    not_yet("01.2", {**answer, "runs": [runs[0]] * 3}, "same model", data=digits)
    not_yet("01.2", {**answer, "test_mse": errors[:2]}, "three entries", data=digits)


def test_01_3_few_images():
    model = seeded(lambda: MLPAutoencoder(hidden=(256,), latent_dim=32))
    history = History(train_loss=[1.0, 0.5, 0.3, 0.2], val_loss=[1.0, 0.5, 0.4, 0.45])
    reference = History(train_loss=[1.0, 0.5, 0.4], val_loss=[1.0, 0.5, 0.42])
    answer = {"model": (model, history), "best_epoch": 2, "gap_few": 0.45 / 0.2, "gap_all": 0.42 / 0.4,
              "gap_means": "c"}
    right("01.3", answer, reference=reference, strict=True)
    not_yet("01.3", {**answer, "best_epoch": 3}, "lowest", reference=reference)  # the last epoch, not the best
    not_yet("01.3", {**answer, "gap_means": "a"}, "different digits", reference=reference)
    not_yet("01.3", {**answer, "gap_few": 0.2 / 0.45}, "gap_few", reference=reference)  # upside down
    alike = History(train_loss=[1.0, 0.5, 0.45, 0.44], val_loss=[1.0, 0.5, 0.46, 0.45])
    not_yet("01.3", {**answer, "model": (model, alike), "best_epoch": 3, "gap_few": 0.45 / 0.44}, "far above",
            reference=reference, strict=True)


# --------------------------------------------------------------------------- 02

def _shares(models, unseen):
    return {name: {kind: unreconstructed_share(x, predict(m, x).clamp(0, 1)) for kind, x in unseen.items()}
            for name, m in models.items()}


def test_02_1_noise_against_copying(digits):
    reference = seeded(lambda: MLPAutoencoder(hidden=(), latent_dim=1024, output="linear"))
    model = seeded(lambda: MLPAutoencoder(hidden=(), latent_dim=1024, output="linear"), 1)
    unseen = {"digits": digits.test.x, "uniform noise": torch.rand(16, 1, 28, 28, generator=torch.Generator())}
    shares = _shares({"clean input": reference, "masked input": model}, unseen)
    answer = {"model": pair(model), "unreconstructed": shares, "why": "b"}
    right("02.1", answer, unseen=unseen, reference=reference)
    not_yet("02.1", {**answer, "why": "a"}, "copied a masked digit", unseen=unseen, reference=reference)
    not_yet("02.1", {**answer, "model": pair(reference)}, "new wide linear", unseen=unseen, reference=reference)
    swapped = {"clean input": shares["masked input"], "masked input": shares["clean input"]}
    not_yet("02.1", {**answer, "unreconstructed": swapped}, "unreconstructed", unseen=unseen, reference=reference)


def test_02_2_train_against_test(digits):
    model = seeded(lambda: MLPAutoencoder(hidden=(32,), latent_dim=8))
    pca = PCAReconstructor(8).fit(digits.train.x)
    train = {"AE": mse(digits.train.x, predict(model, digits.train.x)), "PCA": mse(digits.train.x, pca(digits.train.x))}
    test = {"AE": mse(digits.test.x, predict(model, digits.test.x)), "PCA": mse(digits.test.x, pca(digits.test.x))}
    letter = "c" if test["AE"] <= test["PCA"] else "b" if train["AE"] < train["PCA"] else "a"
    answer = {"train_mse": train, "test_mse": test, "why": letter}
    right("02.2", answer, data=digits, model=model)
    for other in {"a", "b", "c"} - {letter}:
        not_yet("02.2", {**answer, "why": other}, "training digits first", data=digits, model=model)
    not_yet("02.2", {**answer, "train_mse": test, "test_mse": train}, "train_mse", data=digits, model=model)


def test_02_3_few_labels(digits):
    model = seeded(lambda: MLPAutoencoder(hidden=(32,), latent_dim=8))
    pca = PCAReconstructor(8).fit(digits.train.x)
    spaces = {"code": lambda x: predict(model, x, method="encode"), "PCA": pca.encode, "pixels": lambda x: x.flatten(1)}
    accuracy = {}
    for name, encode in spaces.items():
        z_train, z_test = encode(digits.train.x), encode(digits.test.x)
        accuracy[name] = {"few": linear_probe_accuracy(z_train[:20], digits.train.y[:20], z_test, digits.test.y),
                          "all": linear_probe_accuracy(z_train, digits.train.y, z_test, digits.test.y)}
    answer = {"accuracy": accuracy, "why": "a"}
    right("02.3", answer, data=digits, model=model, labels=20)
    not_yet("02.3", {**answer, "why": "b"}, "count the weights", data=digits, model=model, labels=20)
    everything = {name: {"few": row["all"], "all": row["all"]} for name, row in accuracy.items()}
    assert any(row["few"] != row["all"] for row in accuracy.values())
    not_yet("02.3", {**answer, "accuracy": everything}, "accuracy", data=digits, model=model, labels=20)


# --------------------------------------------------------------------------- 03

def _conv_answer(digits, reference, narrow):
    models = {"16-32": reference, "8-16": narrow}
    return {"model": pair(narrow), "parameters": {k: count_parameters(m) for k, m in models.items()},
            "multiply_adds": {"16-32": 14 * 14 * 16 * 9 + 7 * 7 * 32 * 9 * 16,
                              "8-16": 14 * 14 * 8 * 9 + 7 * 7 * 16 * 9 * 8},
            "test_mse": {k: mse(digits.test.x, predict(m, digits.test.x)) for k, m in models.items()},
            "second_conv_factor": "b"}


def test_03_1_half_the_channels(digits):
    reference = seeded(lambda: ConvAutoencoder(channels=(16, 32), latent_dim=16))
    narrow = seeded(lambda: ConvAutoencoder(channels=(8, 16), latent_dim=16))
    answer = _conv_answer(digits, reference, narrow)
    right("03.1", answer, data=digits, reference=reference)
    not_yet("03.1", {**answer, "second_conv_factor": "a"}, "every input channel", data=digits, reference=reference)
    not_yet("03.1", {**answer, "multiply_adds": answer["parameters"]}, "multiply_adds", data=digits,
            reference=reference)
    not_yet("03.1", {**answer, "model": pair(reference)}, "8 and 16 channels", data=digits, reference=reference)


def _deeper():
    return nn.Sequential(nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2, padding=1),
                         nn.ReLU(), nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU())


def test_03_2_a_third_layer():
    encoder = seeded(_deeper)
    rows = influence_map(encoder, (1, 28, 28)).any(1).nonzero()
    answer = {"encoder": encoder, "receptive_field": receptive_field(encoder),
              "rows_reached": int(rows.max() - rows.min() + 1), "output_shape": (1, 64, 4, 4)}
    assert answer["receptive_field"] == 15
    right("03.2", answer)
    not_yet("03.2", {**answer, "receptive_field": 11}, "product of all strides")  # adds 4 for the third, not 8
    not_yet("03.2", {**answer, "receptive_field": 7}, "product of all strides")  # the chapter's two layers
    not_yet("03.2", {**answer, "output_shape": (1, 64, 3, 3)}, "rounds an odd size up")
    not_yet("03.2", {**answer, "encoder": encoder[:4]}, "three 3x3 convolutions")


def _checkerboard_answer():
    up = nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1, bias=False)
    nn.init.ones_(up.weight)
    smooth = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    nn.init.constant_(smooth.weight, 1 / 9)
    ones = torch.ones(1, 1, 7, 7)
    with torch.no_grad():
        return {"transposed": up(ones), "upsampled": smooth(F.interpolate(ones, scale_factor=2)), "why": "a"}


def test_03_3_checkerboards():
    answer = _checkerboard_answer()
    right("03.3", answer)
    right("03.3", {**answer, "upsampled": answer["upsampled"] * 9})  # equal weights of 1 instead of 1/9
    not_yet("03.3", {**answer, "why": "b"}, "count how many")
    not_yet("03.3", {**answer, "upsampled": answer["transposed"]}, "enlarged first")
    random_weights = seeded(lambda: nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1, bias=False))
    with torch.no_grad():
        not_yet("03.3", {**answer, "transposed": random_weights(torch.ones(1, 1, 7, 7))}, "every weight 1")
    not_yet("03.3", {**answer, "transposed": answer["transposed"][..., :13, :13]}, "shape")


# --------------------------------------------------------------------------- 04

def _unet(skips=True, seed=0, out_channels=1, in_channels=1, channels=(8, 16, 32)):
    return seeded(lambda: UNet(in_channels, out_channels, channels=channels, skips=skips, output="clamp"), seed)


def test_04_1_beyond_the_training_range(digits):
    from course_lib.filters import gaussian_filter

    clean, dae05, dae_any = digits.test.x, _unet(seed=1), _unet(seed=2)
    noisy = gaussian_noise(clean, torch.Generator().manual_seed(0), 0.9)
    outputs = {"DAE sigma 0.5": predict(dae05, noisy), "DAE any noise": predict(dae_any, noisy),
               "best filter": gaussian_filter(noisy, 1.5)}
    net = max(("DAE sigma 0.5", "DAE any noise"), key=lambda k: psnr(clean, outputs[k]))
    lo, hi = bootstrap_interval(lambda i: psnr(clean[i], outputs[net][i]) - psnr(clean[i], outputs["best filter"][i]),
                                len(clean), n_resamples=200)
    verdict = "a" if lo > 0 else "b" if hi < 0 else "c"
    answer = {"noisy": noisy, "outputs": outputs, "verdict": verdict}
    context = dict(clean=clean, dae05=dae05, dae_any=dae_any)
    right("04.1", answer, **context)
    not_yet("04.1", {**answer, "verdict": "c" if verdict != "c" else "a"}, "what does it exclude", **context)
    half = gaussian_noise(clean, torch.Generator().manual_seed(0), 0.5)
    not_yet("04.1", {**answer, "noisy": half}, "sigma 0.9", **context)
    not_yet("04.1", {**answer, "outputs": {**outputs, "DAE sigma 0.5": noisy}}, "that network's output", **context)
    not_yet("04.1", {**answer, "outputs": {**outputs, "best filter": noisy}}, "improve on the noisy input", **context)
    not_yet("04.1", {**answer, "noisy": noisy[:4]}, "shape", **context)


def _denoised(model, clean, sigma=0.5, seed=9):
    noisy = gaussian_noise(clean, torch.Generator().manual_seed(seed), sigma)
    return psnr(clean, noisy), psnr(clean, predict(model, noisy))


def test_04_2_noise2noise(digits):
    clean, reference, model = digits.test.x, _unet(seed=1), _unet(seed=2)
    g = torch.Generator().manual_seed(0)
    targets, val_targets = (gaussian_noise(x, g, 0.5, clip=False) for x in (digits.train.x, digits.val.x))
    noisy_psnr, n2n_psnr = _denoised(model, clean)
    answer = {"targets": targets, "val_targets": val_targets, "model": pair(model), "why": "c",
              "psnr": {"noisy input": noisy_psnr, "noise2noise": n2n_psnr,
                       "clean targets": _denoised(reference, clean)[1]}}
    context = dict(clean=clean, reference=reference, data=digits)
    right("04.2", answer, **context)
    not_yet("04.2", {**answer, "targets": targets.clamp(0, 1)}, "unclipped", **context)
    not_yet("04.2", {**answer, "targets": digits.train.x}, "never shows the network a clean image", **context)
    not_yet("04.2", {**answer, "why": "b"}, "smallest expected squared error", **context)
    not_yet("04.2", {**answer, "model": pair(_unet(skips=False))}, "noise2noise_denoiser", **context)
    white = _unet(seed=3)  # a network that paints every pixel white gains nothing over the noisy input
    nn.init.zeros_(white.head.weight)
    nn.init.ones_(white.head.bias)
    noisy_psnr, white_psnr = _denoised(white, clean)
    not_yet("04.2", {**answer, "model": pair(white), "psnr": {**answer["psnr"], "noise2noise": white_psnr}},
            "several dB", strict=True, **context)


def test_04_3_no_skips(digits):
    clean, reference, model = digits.test.x, _unet(seed=1), _unet(skips=False, seed=2)
    noisy_psnr, without = _denoised(model, clean)
    answer = {"model": pair(model), "why": "b",
              "psnr": {"noisy input": noisy_psnr, "with skips": _denoised(reference, clean)[1],
                       "without skips": without}}
    right("04.3", answer, clean=clean, reference=reference)
    not_yet("04.3", {**answer, "why": "a"}, "count the numbers", clean=clean, reference=reference)
    not_yet("04.3", {**answer, "model": pair(_unet(seed=3))}, "without skips", clean=clean, reference=reference)
    swapped = {**answer["psnr"], "with skips": without, "without skips": answer["psnr"]["with skips"]}
    if abs(without - answer["psnr"]["with skips"]) > 1.5:
        not_yet("04.3", {**answer, "psnr": swapped}, "psnr", clean=clean, reference=reference)
    not_yet("04.3", {**answer, "psnr": {**answer["psnr"], "noisy input": noisy_psnr + 5}}, "psnr",
            clean=clean, reference=reference)


# --------------------------------------------------------------------------- 05

def _inpainter(seed):
    return Inpainter(_unet(seed=seed, in_channels=2), sees_mask=True)


def test_05_1_strokes(digits):
    from course_lib.checks_04_06 import _hole_psnrs

    clean, reference, model = digits.test.x, _inpainter(1), _inpainter(2)
    table = {"blocks-trained": _hole_psnrs(reference, clean), "strokes-trained": _hole_psnrs(model, clean)}
    answer = {"model": pair(model), "psnr": table, "train_on": "c"}
    right("05.1", answer, clean=clean, reference=reference)
    not_yet("05.1", {**answer, "train_on": "a"}, "any noise", clean=clean, reference=reference)
    not_yet("05.1", {**answer, "model": pair(reference)}, "stroke holes", clean=clean, reference=reference)
    off = {name: {kind: v + 5 for kind, v in row.items()} for name, row in table.items()}
    not_yet("05.1", {**answer, "psnr": off}, "psnr", clean=clean, reference=reference)


def test_05_2_ink_in_the_hole(digits):
    from scipy.stats import spearmanr

    clean, reference = digits.test.x, _inpainter(1)
    mask = centre_mask(len(clean), (28, 28), hole=12)
    hole_mse = mse_in_mask(clean, fill_hole(reference, apply_mask(clean, mask), mask), mask)
    ink = (clean * mask).flatten(1).sum(1)
    rho = float(spearmanr(hole_mse.numpy(), ink.numpy())[0])
    answer = {"hole_mse": hole_mse, "ink": ink, "correlation": rho, "compare": "b"}
    right("05.2", answer, clean=clean, reference=reference)
    not_yet("05.2", {**answer, "compare": "a"}, "fair per-digit comparison", clean=clean, reference=reference)
    not_yet("05.2", {**answer, "ink": clean.flatten(1).sum(1)}, "inside the mask", clean=clean, reference=reference)
    not_yet("05.2", {**answer, "correlation": -rho if rho else 0.5}, "correlation", clean=clean, reference=reference)


def test_05_3_l1(digits):
    clean, reference, model = digits.test.x, _inpainter(1), _inpainter(2)
    mask = centre_mask(len(clean), (28, 28), hole=12)
    inside = mask.expand_as(clean) > 0
    fills = {name: fill_hole(net, apply_mask(clean, mask), mask) for name, net in (("L1", model), ("MSE", reference))}
    crisp = {k: ((f[inside] < 0.1) | (f[inside] > 0.9)).float().mean().item() for k, f in fills.items()}
    answer = {"model": pair(model), "crisp": crisp, "psnr": {k: psnr_in_mask(clean, f, mask) for k, f in fills.items()},
              "why": "a"}
    right("05.3", answer, clean=clean, reference=reference)
    not_yet("05.3", {**answer, "why": "c"}, "expected absolute error", clean=clean, reference=reference)
    not_yet("05.3", {**answer, "model": pair(reference)}, "L1 loss", clean=clean, reference=reference)
    not_yet("05.3", {**answer, "crisp": {"L1": 0.5, "MSE": 0.5}}, "crisp", clean=clean, reference=reference)


# --------------------------------------------------------------------------- 06

@pytest.fixture(scope="module")
def scenes(digits):
    return make_scenes(digits.test.x, digits.test.y, 8, size=32, digit_size=(14, 20), seed=0)


def test_06_1_noisy_scenes(scenes):
    model = _unet(seed=1, out_channels=11, channels=(8, 16))
    noisy = gaussian_noise(scenes.x, torch.Generator().manual_seed(0), 0.25)

    def fg(found):
        return segmentation_scores((scenes.y > 0).long(), found.long(), 2)["mean_iou"]

    both = (("clean", scenes.x), ("noisy", noisy))
    iou = {"U-Net": {k: fg(predict_labels(model, x) > 0) for k, x in both},
           "Otsu": {k: fg(BlobSegmenter().foreground(x)) for k, x in both}}
    answer = {"noisy": noisy, "foreground_iou": iou, "why": "b"}
    context = dict(clean=scenes.x, labels=scenes.y, model=model)
    right("06.1", answer, **context)
    not_yet("06.1", {**answer, "why": "a"}, "what did the u-net see", **context)
    faint = gaussian_noise(scenes.x, torch.Generator().manual_seed(0), 0.05)
    not_yet("06.1", {**answer, "noisy": faint}, "sigma 0.25", **context)
    not_yet("06.1", {**answer, "foreground_iou": {"U-Net": iou["Otsu"], "Otsu": iou["U-Net"]}}, "foreground_iou",
            **context)


def test_06_2_three_digits(digits):
    model = _unet(seed=1, out_channels=11, channels=(8, 16))
    layout = dict(size=32, digit_size=(14, 20), max_overlap=0.3, seed=3)
    two = make_scenes(digits.test.x, digits.test.y, 6, per_scene=(2, 2), **layout)
    three = make_scenes(digits.test.x, digits.test.y, 6, per_scene=(3, 3), **layout)
    iou = {k: segmentation_scores(s.y, predict_labels(model, s.x), s.num_classes)["mean_iou"]
           for k, s in (("two", two), ("three", three))}
    answer = {"two": two, "three": three, "mean_iou": iou, "isolates": "b"}
    right("06.2", answer, model=model)
    not_yet("06.2", {**answer, "isolates": "a"}, "nothing else changed", model=model)
    not_yet("06.2", {**answer, "three": two}, "three", model=model)
    not_yet("06.2", {**answer, "two": two.x}, "scenes", model=model)


def test_06_3_dice_from_iou(scenes):
    guess = torch.randint(0, 11, scenes.y.shape, generator=torch.Generator())
    cm = segmentation_scores(scenes.y, guess, 11)["confusion"]

    def dice_from_iou(iou):
        return 2 * iou / (1 + iou)

    largest = (dice_per_class(cm) - dice_from_iou(iou_per_class(cm))).abs().max().item()
    answer = {"dice_from_iou": dice_from_iou, "largest_difference": largest}
    right("06.3", answer, confusion=cm)
    not_yet("06.3", {**answer, "dice_from_iou": lambda iou: 2 * iou}, "dice is 2/3", confusion=cm)
    not_yet("06.3", {**answer, "dice_from_iou": lambda iou: iou / (2 - iou)}, "dice is 2/3", confusion=cm)
    not_yet("06.3", {**answer, "dice_from_iou": lambda iou: ...}, "still returns", confusion=cm)
    not_yet("06.3", {**answer, "dice_from_iou": 0.5}, "function", confusion=cm)


# --------------------------------------------------------------------------- 07

def test_07_1_thresholds():
    from course_lib.anomaly import threshold_from_normal

    val = torch.rand(35, generator=torch.Generator().manual_seed(0))
    rng = np.random.default_rng(0)
    thresholds = {95: [], 99: []}
    for _ in range(300):
        resample = rng.choice(val.numpy(), size=len(val), replace=True)
        for p in thresholds:
            thresholds[p].append(threshold_from_normal(resample, p))
    answer = {"thresholds": thresholds, "why": "c",
              "range90": {p: tuple(np.percentile(v, [5, 95])) for p, v in thresholds.items()}}
    right("07.1", answer, val_scores=val)
    not_yet("07.1", {**answer, "why": "a"}, "which of them decide", val_scores=val)
    same = {p: [threshold_from_normal(rng.permutation(val.numpy()), p) for _ in range(300)] for p in (95, 99)}
    not_yet("07.1", {**answer, "thresholds": same}, "with replacement", val_scores=val)  # resampled without
    not_yet("07.1", {**answer, "thresholds": {p: v[:50] for p, v in thresholds.items()}}, "many resamples",
            val_scores=val)
    not_yet("07.1", {**answer, "range90": {p: (0.0, 1.0) for p in (95, 99)}}, "range90", val_scores=val)


def _beats(n=40, seed=0):
    return torch.randn(n, 1, 140, generator=torch.Generator().manual_seed(seed))


def _beat_model(k, seed=0):
    return seeded(lambda: MLPAutoencoder(input_shape=(1, 140), hidden=(16,), latent_dim=k, output="linear"), seed)


def test_07_2_code_size():
    from course_lib.anomaly import ranking_metrics, reconstruction_scores

    beats, y = _beats(), torch.arange(40) % 2
    models = {k: pair(_beat_model(k)) for k in (2, 8, 32)}
    scores = {k: reconstruction_scores(m, beats) for k, (m, _) in models.items()}
    answer = {"models": models, "measures": "b",
              "auroc": {k: ranking_metrics(y, s)["auroc"] for k, s in scores.items()},
              "median_anomaly_error": {k: s[y == 1].median().item() for k, s in scores.items()}}
    right("07.2", answer, beats=beats, y_anomaly=y)
    not_yet("07.2", {**answer, "measures": "a"}, "which number compares", beats=beats, y_anomaly=y)
    not_yet("07.2", {**answer, "models": {**models, 8: models[2]}}, "code of 8 numbers", beats=beats, y_anomaly=y)
    flipped = {k: 1 - v for k, v in answer["auroc"].items()}  # the normal beats as the positive class
    not_yet("07.2", {**answer, "auroc": flipped}, "auroc", beats=beats, y_anomaly=y)


def test_07_3_dirty_data():
    from course_lib.anomaly import ranking_metrics, reconstruction_scores

    normal, abnormal = Examples(_beats(20, 1), torch.ones(20)), Examples(_beats(10, 2), torch.full((10,), 2))
    ecg = Splits(normal, normal, normal, name="ecg", source="test", is_real=False, classes=("n", "a"),
                 train_anomalous=abnormal)
    beats, y = _beats(), torch.arange(40) % 2
    reference, model = _beat_model(8, 1), _beat_model(8, 2)
    auroc = {name: ranking_metrics(y, reconstruction_scores(m, beats))["auroc"]
             for name, m in (("clean", reference), ("dirty", model))}
    answer = {"dirty_x": torch.cat([normal.x, abnormal.x]), "model": pair(model), "auroc": auroc, "why": "a"}
    context = dict(beats=beats, y_anomaly=y, data=ecg, reference=reference)
    right("07.3", answer, **context)
    not_yet("07.3", {**answer, "why": "c"}, "learn to rebuild", **context)
    not_yet("07.3", {**answer, "dirty_x": normal.x}, "shape", **context)
    not_yet("07.3", {**answer, "dirty_x": torch.cat([normal.x, normal.x[:10]])}, "each once", **context)
    not_yet("07.3", {**answer, "model": pair(reference)}, "new beat autoencoder", **context)
    if auroc["dirty"] >= auroc["clean"]:
        not_yet("07.3", answer, "rank them worse", strict=True, **context)


# --------------------------------------------------------------------------- 08

@pytest.fixture(scope="module")
def classifier():
    return seeded(DigitClassifier)


def test_08_1_conditional(classifier):
    cvae = seeded(lambda: ConditionalVAE(hidden=(32,), latent_dim=2))
    wanted = torch.arange(10).repeat_interleave(12)
    codes = torch.randn(len(wanted), 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        images = cvae.eval().decode(codes, wanted)
    probs = class_probabilities(classifier, images)
    share = ((probs.argmax(1) == wanted) & (probs.max(1).values >= 0.9)).float().mean().item()
    answer = {"model": pair(cvae), "codes": codes, "wanted": wanted, "images": images, "share": share, "why": "a"}
    right("08.1", answer, classifier=classifier)
    not_yet("08.1", {**answer, "why": "b"}, "told the label", classifier=classifier)
    not_yet("08.1", {**answer, "share": share + 0.5}, "share", classifier=classifier)
    not_yet("08.1", {**answer, "images": torch.rand_like(images)}, "decoder's images", classifier=classifier)
    fives = wanted % 5
    not_yet("08.1", {**answer, "wanted": fives}, "every digit", classifier=classifier)


def test_08_2_temperature(classifier):
    vae = seeded(lambda: VAE(hidden=(32,), latent_dim=16))
    temperatures = (0.5, 1.0, 1.5)
    g = torch.Generator().manual_seed(0)
    codes = {t: t * torch.randn(200, 16, generator=g) for t in temperatures}
    images = {t: predict(vae, z, method="decode") for t, z in codes.items()}
    probs = {t: class_probabilities(classifier, x) for t, x in images.items()}
    answer = {"codes": codes, "images": images, "trade": "b",
              "confident_share": {t: confident_share(p) for t, p in probs.items()},
              "class_entropy": {t: class_entropy(p) for t, p in probs.items()}}
    context = dict(classifier=classifier, vae=vae, temperatures=temperatures)
    right("08.2", answer, **context)
    not_yet("08.2", {**answer, "trade": "a"}, "prior's centre", **context)
    unscaled = {t: z / t for t, z in codes.items()}
    not_yet("08.2", {**answer, "codes": unscaled}, "scaled by the temperature", **context)
    not_yet("08.2", {**answer, "images": {t: images[1.0] for t in temperatures}}, "decoder applied", **context)


def test_08_3_kl_per_dimension(digits):
    vae1, vae4 = (seeded(lambda: VAE(hidden=(32,), latent_dim=16), s) for s in (1, 4))
    clean = digits.test.x
    kl = {1.0: kl_per_dimension(vae1, clean), 4.0: kl_per_dimension(vae4, clean)}
    steps, change = torch.linspace(-3, 3, 9), {}
    for label, d in (("most used", int(kl[4.0].argmax())), ("least used", int(kl[4.0].argmin()))):
        z = torch.zeros(9, 16)
        z[:, d] = steps
        path = predict(vae4, z, method="decode")
        change[label] = (path[1:] - path[:-1]).abs().mean().item()
    answer = {"kl": kl, "active": {b: int((v > 0.05).sum()) for b, v in kl.items()}, "change": change, "why": "a"}
    context = dict(clean=clean, vae1=vae1, vae4=vae4)
    right("08.3", answer, **context)
    not_yet("08.3", {**answer, "why": "b"}, "kl of 0", **context)
    not_yet("08.3", {**answer, "kl": {1.0: kl[4.0], 4.0: kl[1.0]}}, "kl_per_dimension", **context)
    swapped = {"most used": change["least used"], "least used": change["most used"]}
    not_yet("08.3", {**answer, "change": swapped}, "change", **context)
    not_yet("08.3", {**answer, "active": {1.0: 16, 4.0: 16} if answer["active"][1.0] != 16 else {1.0: 0, 4.0: 0}},
            "active", **context)
