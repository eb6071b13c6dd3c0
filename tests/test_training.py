import pytest
import torch
from torch import nn

from course_lib.models import MLPAutoencoder
from course_lib.speed import adam
from course_lib.training import batch_indices, evaluate, fit, predict


def _model():
    torch.manual_seed(0)
    return MLPAutoencoder(input_shape=(1, 8, 8), hidden=(32,), latent_dim=4)


def test_fit_halves_the_loss_and_returns_its_history(low_rank_images):
    x_train, x_val = low_rank_images[:448], low_rank_images[448:]
    h = fit(_model(), x_train, x_val=x_val, num_epochs=12, batch_size=32, lr=3e-3, progress=False)
    assert len(h.train_loss) == len(h.val_loss) == 13
    assert h.val_loss[-1] < 0.5 * h.val_loss[0]
    assert h.seconds > 0 and h.images_per_second > 0


def test_fit_with_a_transform_learns_to_undo_it(low_rank_images):
    def noisy(x, g):
        return x + 0.1 * torch.randn(x.shape, generator=g)
    model = _model()
    before = evaluate(model, low_rank_images, transform=noisy)
    fit(model, low_rank_images, transform=noisy, num_epochs=12, batch_size=32, lr=3e-3, progress=False)
    assert evaluate(model, low_rank_images, transform=noisy) < 0.5 * before



def test_one_cycle_schedule_learns_and_ends_with_a_tiny_learning_rate(low_rank_images, monkeypatch):
    seen = []
    real_step = torch.optim.Adam.step

    def step(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    x_train, x_val = low_rank_images[:448], low_rank_images[448:]
    h = fit(_model(), x_train, x_val=x_val, num_epochs=6, batch_size=32, lr=1e-2, progress=False,
            schedule="one-cycle")
    assert len(seen) == 6 * 14
    assert seen[0] < 1e-3 and abs(max(seen) - 1e-2) < 1e-3 and seen[-1] < 1e-5  # warm up, peak, anneal
    assert seen.index(max(seen)) in range(20, 32)  # the peak about 30% of the way
    assert h.val_loss[-1] < 0.5 * h.val_loss[0]
    with pytest.raises(ValueError, match="schedule"):
        fit(_model(), x_train, num_epochs=1, batch_size=32, lr=1e-3, schedule="cosine")

def test_fit_rejects_mismatched_or_bad_arguments(low_rank_images):
    with pytest.raises(ValueError, match="as many targets"):
        fit(_model(), low_rank_images, low_rank_images[:10], num_epochs=1, batch_size=8, lr=1e-3)
    with pytest.raises(ValueError, match="num_epochs"):
        fit(_model(), low_rank_images, num_epochs=0, batch_size=8, lr=1e-3)
    with pytest.raises(ValueError):
        list(batch_indices(10, 0))


def test_batches_cover_every_item_once():
    g = torch.Generator().manual_seed(0)
    idx = torch.cat(batch_indices(103, 10, generator=g))
    assert sorted(idx.tolist()) == list(range(103))


def test_predict_matches_the_model_and_reaches_encode(low_rank_images):
    model = _model()
    assert torch.allclose(predict(model, low_rank_images, batch_size=100), model(low_rank_images))
    assert predict(model, low_rank_images, method="encode").shape == (512, 4)


def test_pixel_cross_entropy_weights_background():
    from course_lib.training import PixelCrossEntropy

    scores, y = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
    plain = torch.nn.functional.cross_entropy(scores, y)
    assert torch.isclose(PixelCrossEntropy(3)(scores, y), plain)
    w = torch.tensor([0.2, 1.0, 1.0])
    assert torch.isclose(PixelCrossEntropy(3, 0.2)(scores, y), torch.nn.functional.cross_entropy(scores, y, weight=w))
    with pytest.raises(ValueError):
        PixelCrossEntropy(3, 0.0)


def test_fit_refuses_float64_nan_and_a_target_the_loss_cannot_use(low_rank_images):
    kw = dict(num_epochs=1, batch_size=32, lr=1e-3, progress=False)
    with pytest.raises(ValueError, match="float64.*float"):
        fit(_model(), low_rank_images.double(), **kw)
    bad = low_rank_images.clone()
    bad[3, 0, 2, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        fit(_model(), bad, **kw)
    with pytest.raises(ValueError, match="NaN"):
        fit(_model(), low_rank_images, x_val=bad[:10], **kw)
    with pytest.raises(ValueError, match=r"outputs \(1, 8, 8\).*targets are \(8, 8\)"):
        fit(_model(), low_rank_images, low_rank_images[:, 0], **kw)  # would broadcast to (B, B, 8, 8)
    labels = torch.zeros(len(low_rank_images), dtype=torch.long)
    with pytest.raises(ValueError, match="loss cannot compare"):
        fit(_model(), low_rank_images, labels, **kw)


def test_the_checks_change_nothing_fit_computes(low_rank_images):
    from course_lib.training import check_training_data

    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = torch.get_rng_state()
    check_training_data(model, low_rank_images, low_rank_images, nn.functional.mse_loss, None, "cpu", "fit")
    assert torch.equal(torch.get_rng_state(), state) and model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_adam_is_fused_where_torch_has_it_and_updates_like_plain_adam():
    torch.manual_seed(0)
    a, b = nn.Linear(8, 4), nn.Linear(8, 4)
    b.load_state_dict(a.state_dict())
    fast, plain = adam(a.parameters(), lr=1e-2), torch.optim.Adam(b.parameters(), lr=1e-2)
    torch_version = tuple(int(v) for v in torch.__version__.split("+")[0].split(".")[:2])
    if torch_version >= (2, 4):  # the fused CPU kernel; older torch falls back to the plain loop
        assert fast.defaults.get("fused") is True
    x, before = torch.randn(16, 8), a.weight.detach().clone()
    for _ in range(5):
        for net, opt in ((a, fast), (b, plain)):
            opt.zero_grad()
            net(x).pow(2).mean().backward()
            opt.step()
    assert not torch.allclose(a.weight, before)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_the_loss_before_training_is_measured_on_a_spread_sample_of_a_large_set(monkeypatch):
    import course_lib.training as training

    monkeypatch.setattr(training, "BEFORE_TRAINING_ITEMS", 10)
    torch.manual_seed(0)
    x = torch.rand(25, 1, 4, 4)
    x[::3] = 0  # the sample is x[::3]: all zeros, so its loss differs from the whole set's
    model = MLPAutoencoder(input_shape=(1, 4, 4), hidden=(8,), latent_dim=2)
    sample, whole = evaluate(model, x[::3]), evaluate(model, x)
    history = fit(model, x, num_epochs=1, batch_size=5, lr=1e-3, progress=False)
    assert history.train_loss[0] == pytest.approx(sample) and sample != pytest.approx(whole)


def test_early_stopping_stops_on_a_plateau_and_keeps_the_best_epochs_weights(low_rank_images):
    x, x_val = low_rank_images[:384], low_rank_images[384:]
    torch.manual_seed(0)
    model = MLPAutoencoder(input_shape=(1, 8, 8), hidden=(32,), latent_dim=4)
    h = fit(model, x, x_val=x_val, num_epochs=200, batch_size=64, lr=3e-3, progress=False,
            patience=3, schedule="plateau")
    assert h.converged and h.epochs < 200 and h.epochs - h.best_epoch == 3
    assert h.val_loss[h.best_epoch] == min(h.val_loss[1:])
    assert evaluate(model, x_val, seed=1) == pytest.approx(h.val_loss[h.best_epoch], rel=1e-6)
    assert h.val_loss[h.best_epoch] < 0.3 * h.val_loss[0]


def test_without_a_plateau_the_history_says_training_was_cut_short(low_rank_images):
    torch.manual_seed(0)
    model = MLPAutoencoder(input_shape=(1, 8, 8), hidden=(32,), latent_dim=4)
    h = fit(model, low_rank_images, x_val=low_rank_images[:64], num_epochs=2, batch_size=64, lr=1e-3,
            progress=False, patience=5)
    assert not h.converged and h.epochs == 2 and h.best_epoch == 2
    with pytest.raises(ValueError, match="give x_val"):
        fit(model, low_rank_images, num_epochs=1, batch_size=64, lr=1e-3, patience=2)
    with pytest.raises(ValueError, match="patience"):
        fit(model, low_rank_images, x_val=low_rank_images, num_epochs=1, batch_size=64, lr=1e-3, patience=0)


@pytest.mark.parametrize("lr", [float("inf"), float("nan"), -1e-3, 0])
def test_fit_refuses_a_learning_rate_it_cannot_train_with(low_rank_images, lr):
    """Probe 5: lr=inf trained to a nan loss and non-finite weights, without a word."""
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"^lr must be"):
        fit(model, low_rank_images, num_epochs=1, batch_size=32, lr=lr, progress=False)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # refused before training


def test_fit_says_when_training_diverges_instead_of_returning_nan_weights(low_rank_images):
    torch.manual_seed(0)
    model = MLPAutoencoder(input_shape=(1, 8, 8), hidden=(32,), latent_dim=4, output="linear")
    with pytest.raises(ValueError, match=r"the training loss became (nan|inf) in epoch 1: the weights diverged; "
                                         r"try a smaller lr than 1e\+20"):
        fit(model, low_rank_images, num_epochs=3, batch_size=32, lr=1e20, progress=False)


@pytest.mark.parametrize(("name", "value"), [("num_epochs", 2.5), ("num_epochs", True), ("batch_size", 8.0),
                                             ("num_epochs", 0)])
def test_fit_names_a_count_that_is_not_a_whole_number(low_rank_images, monkeypatch, name, value):
    """Probe 6: num_epochs=2.5 failed with a TypeError after the before-training evaluation, not naming it."""
    import course_lib.training as training

    measured = []
    monkeypatch.setattr(training, "evaluate", lambda *a, **k: measured.append(1) or 0.0)
    kw = dict(num_epochs=1, batch_size=32, lr=1e-3, progress=False) | {name: value}
    with pytest.raises(ValueError, match=rf"^{name} must be a whole number >= 1, got {value!r}$"):
        fit(_model(), low_rank_images, **kw)
    assert measured == []  # refused before anything ran


def test_fit_on_a_device_this_machine_lacks_names_the_parameter(low_rank_images, monkeypatch):
    """Probe 7: fit(device='cuda') on a CPU-only machine failed inside torch ("Found no NVIDIA driver")."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CPU-only machine, wherever this runs
    for device in ("cuda", "cuda:0", torch.device("cuda")):
        with pytest.raises(ValueError, match=r"^device='cuda(:0)?': this machine has no such device "
                                             r"\(present: cpu(, mps)?\)"):
            fit(_model(), low_rank_images, num_epochs=1, batch_size=32, lr=1e-3, progress=False, device=device)
    with pytest.raises(ValueError, match=r"^device='gpu': expected cpu, cuda, cuda:N or mps"):
        fit(_model(), low_rank_images, num_epochs=1, batch_size=32, lr=1e-3, progress=False, device="gpu")


def test_count_flops_counts_forward_loss_and_backward_of_one_step_per_image():
    from course_lib.training import count_flops

    x = torch.rand(40, 1, 8, 8)  # layers 64-32, 32-4, 4-32, 32-64: 2 x 4,352 multiply-adds per image forward
    forward, weight_grads, input_grads = 2 * 4352, 2 * 4352, 2 * (4352 - 64 * 32)  # no input gradient for x
    assert count_flops(_model(), x, batch_size=16) == forward + weight_grads + input_grads
    assert count_flops(_model(), x[:5], batch_size=16) == forward + weight_grads + input_grads  # a short set
    with pytest.raises(ValueError, match="batch_size"):
        count_flops(_model(), x, batch_size=0)


def _train_twice(monkeypatch, build, x, **fit_kwargs):
    """The same training with FLOPs counted and with the count replaced by nothing: both models, histories."""
    import course_lib.training as training

    runs = []
    for counted in (True, False):
        if not counted:
            monkeypatch.setattr(training, "count_flops", lambda *a, **k: 0.0)
        torch.manual_seed(0)
        model = build()
        torch.manual_seed(123)  # the global stream the training draws from (a VAE's codes)
        history = fit(model, x, progress=False, **fit_kwargs)
        runs.append((model, history, torch.get_rng_state()))
    return runs


def test_counting_flops_changes_no_weight_statistic_or_random_number(monkeypatch, low_rank_images):
    from course_lib.corruptions import Noise
    from course_lib.models import UNet

    (counted, h1, rng1), (plain, h2, rng2) = _train_twice(
        monkeypatch, lambda: UNet(1, 1, channels=(4, 8), output="clamp"), low_rank_images[:96],
        x_val=low_rank_images[96:128], transform=Noise("gaussian", 0.2), num_epochs=2, batch_size=16, lr=3e-3,
        schedule="one-cycle")
    assert h1.flops_per_image > 0 and h2.flops_per_image == 0.0
    state1, state2 = counted.state_dict(), plain.state_dict()  # weights and batch-norm statistics
    assert any("running_mean" in k for k in state1)
    assert all(torch.equal(state1[k], state2[k]) for k in state1)
    assert h1.train_loss == h2.train_loss and h1.val_loss == h2.val_loss and torch.equal(rng1, rng2)


def test_counting_flops_leaves_the_global_random_stream_of_a_vae_alone(monkeypatch, low_rank_images):
    from course_lib.generative import VAE, ELBOLoss

    (counted, h1, rng1), (plain, h2, rng2) = _train_twice(
        monkeypatch, lambda: VAE(input_shape=(1, 8, 8), hidden=(16,), latent_dim=2), low_rank_images[:64],
        loss_fn=ELBOLoss(), num_epochs=2, batch_size=16, lr=3e-3)
    assert h1.flops_per_image > 0
    assert all(torch.equal(p, q) for p, q in zip(counted.state_dict().values(), plain.state_dict().values()))
    assert h1.train_loss == h2.train_loss and torch.equal(rng1, rng2)


def test_fit_reports_its_workload_and_a_cache_hit_trains_nothing(monkeypatch, tmp_path, low_rank_images):
    import json

    from course_lib import report
    from course_lib.training import fit_cached

    report.clear()
    monkeypatch.setenv("COURSE_REPORT_FILE", str(tmp_path / "report.json"))
    x = low_rank_images[:100]
    settings = dict(num_epochs=2, batch_size=32, lr=3e-3, progress=False)
    h = fit_cached(_model(), tmp_path / "cache", "tiny", x, **settings)
    assert h.train_images == 200 and h.flops_per_image == 22016 and h.train_flops == 200 * 22016
    assert 0 < h.train_seconds <= h.seconds
    assert h.gflops_per_second == pytest.approx(h.train_flops / h.train_seconds / 1e9)
    hit = fit_cached(_model(), tmp_path / "cache", "tiny", x, **settings)
    assert hit.flops_per_image == 22016
    first, again = json.loads((tmp_path / "report.json").read_text())["workloads"]
    report.clear()
    assert first["name"] == again["name"] == "tiny" and first["flops_per_image"] == again["flops_per_image"] == 22016
    assert (first["images"], first["train_flops"], first["cached"]) == (200, 200 * 22016, False)
    assert (again["images"], again["train_flops"], again["train_seconds"], again["cached"]) == (0, 0.0, 0.0, True)
    assert first["batch_size"] == 32 and first["threads"] == torch.get_num_threads()


def test_evaluation_under_inference_mode_gives_the_very_numbers_of_no_grad(low_rank_images):
    """The evidence behind 'inference_mode for fit's evaluation passes would change no result'."""
    from course_lib.corruptions import Noise
    from course_lib.generative import VAE
    from course_lib.models import ConvAutoencoder, UNet

    torch.manual_seed(0)
    x = low_rank_images[:80]
    models = [UNet(1, 1, channels=(4, 8), output="clamp"), ConvAutoencoder((1, 8, 8), channels=(4, 8), latent_dim=3),
              VAE(input_shape=(1, 8, 8), hidden=(16,), latent_dim=2)]
    for model in models:
        fit(model, x, num_epochs=1, batch_size=16, lr=1e-2, progress=False)  # batch norm statistics not at their start
        with torch.no_grad():
            loss, out = evaluate(model, x, transform=Noise("gaussian", 0.2), batch_size=32), predict(model, x)
        with torch.inference_mode():
            again, out_again = evaluate(model, x, transform=Noise("gaussian", 0.2), batch_size=32), predict(model, x)
        assert loss == again and torch.equal(out, out_again)


def test_a_model_whose_flops_cannot_be_counted_still_trains(monkeypatch, low_rank_images):
    import course_lib.training as training

    def cannot(*args, **kwargs):
        raise RuntimeError("this model cannot be copied")

    monkeypatch.setattr(training, "count_flops", cannot)
    h = fit(_model(), low_rank_images[:64], num_epochs=1, batch_size=16, lr=1e-3, progress=False)
    assert h.flops_per_image == 0.0 and h.train_flops == 0.0 and h.train_images == 64


TINY = 1e-39  # a float32 denormal: below 1.2e-38, so a CPU that flushes computes it as 0


def _survives(value: float) -> bool:
    return (torch.tensor([value], dtype=torch.float32) * 1.0).item() != 0.0


@pytest.mark.skipif(not torch.set_flush_denormal(False),  # (False is torch's default: this changes nothing)
                    reason="this CPU cannot flush denormals (torch.set_flush_denormal is x86 only)")
def test_fit_trains_with_denormals_flushed_and_puts_the_flag_back(low_rank_images):
    seen = []

    def loss_fn(x_hat, x):
        if torch.is_grad_enabled():  # a training step (fit's input checks call it under no_grad first)
            seen.append(_survives(TINY))
        return nn.functional.mse_loss(x_hat, x)

    torch.manual_seed(0)
    fit(MLPAutoencoder(input_shape=(1, 8, 8), hidden=(16,), latent_dim=4), low_rank_images, x_val=low_rank_images,
        loss_fn=loss_fn, num_epochs=2, batch_size=32, lr=1e-3, progress=False)
    assert seen and not any(seen)  # no denormal lived through a step of training
    assert _survives(TINY)         # and outside fit, arithmetic is as the learner left it
