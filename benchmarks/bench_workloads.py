"""Every training workload of the course at its real sizes: FLOPs, speed, share of the gauge, and why.

Each workload is a model, batch size, input shape, loss and transform taken from
``course_lib/recipes.py`` and ``course_lib/generative.py`` (their constants are imported, the
models built with the recipes' arguments), trained on random data by ``training.train_epoch``:
the course's own step (transform, forward, loss, backward, fused Adam). For each one it reports
FLOPs per image (``training.count_flops``), images per second, achieved GFLOP/s and its ratio to
the matrix-product gauge of ``aecourse run`` (one thread, float32 1024x1024) measured in the
same process right before and right after the timing: on a shared CPU only that ratio means
anything. Every timing is repeated and the best ratio kept.

``--study`` adds, for the convolutional workloads, what moves the ratio and what it costs:
channels-last layout on and off, batch sizes 64/128/256, oneDNN (mkldnn) off, two threads; where
the time goes (the profiler's shares: convolutions, batch norm, layout copies, the optimiser,
the transform); fit's evaluation work per epoch against an epoch of training steps (the
before-training pass, the validation pass, ``val_metric``), under ``no_grad`` (today) and under
``inference_mode``; each convolution layer's own speed; and whether each change leaves the
trained weights bit for bit the same (``--exact``).

    python benchmarks/bench_workloads.py                      # the table, as the course runs them
    python benchmarks/bench_workloads.py --study --exact --json build/workloads.json
    python benchmarks/bench_workloads.py --only 04 06 --study  # workloads whose name starts so
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch starts its thread pool; --threads sets it later

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402
from torch import nn  # noqa: E402

from course_lib import generative, recipes, sizes, speed  # noqa: E402
from course_lib.corruptions import InpaintingTransform  # noqa: E402
from course_lib.metrics import segmentation_scores  # noqa: E402
from course_lib.models import Conv1dAutoencoder, ConvAutoencoder, Inpainter, MLPAutoencoder, UNet  # noqa: E402
from course_lib.training import count_flops, evaluate, predict, predict_labels, train_epoch  # noqa: E402

FULL = 0  # the full run's column of sizes.py
BATCH = sizes.DATA["batch_size"][FULL]  # cfg.batch_size
N_TRAIN, N_VAL = sizes.DATA["n_train"][FULL], sizes.DATA["n_val"][FULL]


def _size(chapter: str, name: str):
    return sizes.CHAPTERS[chapter][name][FULL]


@dataclass
class Workload:
    """One training of the course: what ``fit`` is given, at the full run's sizes."""

    name: str
    build: Callable[[], nn.Module]
    shape: tuple[int, ...]
    batch_size: int
    n_train: int
    n_val: int
    loss_fn: Callable = nn.functional.mse_loss
    transform: Callable | None = None
    num_classes: int | None = None  # targets are per-pixel labels (segmentation)
    val_metric: Callable | None = None  # val_metric(model, x_val, y_val) as the recipe's fit calls it
    conv: bool = True
    notes: dict = field(default_factory=dict)


def _neighbour_share(model, x_val, y_val):
    return recipes.val_neighbour_share(x_val, y_val, _size("convolutional", "retrieval_neighbours"), model)


def _noise_left(model, x_val, y_val):
    noise = torch.rand(x_val.shape, generator=torch.Generator().manual_seed(0))
    return recipes.val_noise_unreconstructed(noise, model)


def _mean_iou(model, x_val, y_val):
    return segmentation_scores(y_val, predict_labels(model, x_val), len(SCENE_CLASSES))["mean_iou"]


SCENE_CLASSES = range(11)  # background and ten digits


def workloads() -> list[Workload]:
    """The course's trainings, chapter by chapter (the models the recipes build, with their settings)."""
    unet3 = (8, 16, 32)
    holes = InpaintingTransform
    return [
        Workload("01 MLP 784-256-32", lambda: MLPAutoencoder(hidden=(256,), latent_dim=32), (1, 28, 28), BATCH,
                 N_TRAIN, N_VAL, conv=False),
        Workload("02 MLP 784-512-32 (sweep)", lambda: MLPAutoencoder(hidden=(512,), latent_dim=32), (1, 28, 28),
                 BATCH, N_TRAIN, N_VAL, conv=False),
        Workload("02 wide linear 784-1024", lambda: MLPAutoencoder(hidden=(), latent_dim=1024, output="linear"),
                 (1, 28, 28), BATCH, N_TRAIN, N_VAL, conv=False),
        Workload("02 conv spatial code 8-16", lambda: UNet(1, 1, channels=(8, 16), skips=False, output="clamp"),
                 (1, 28, 28), BATCH, N_TRAIN, N_VAL),
        Workload("03 conv AE 16-32, code 16", lambda: ConvAutoencoder(channels=(16, 32), latent_dim=16),
                 (1, 28, 28), BATCH, N_TRAIN, N_VAL, val_metric=_neighbour_share),
        Workload("03 conv AE 16-32 with skips", lambda: ConvAutoencoder(channels=(16, 32), latent_dim=16, skips=True),
                 (1, 28, 28), BATCH, N_TRAIN, N_VAL, val_metric=_noise_left),
        Workload("04 denoising U-Net 8-16-32", lambda: UNet(1, 1, channels=unet3, output="clamp"), (1, 28, 28),
                 BATCH, N_TRAIN, N_VAL, transform=recipes.ANY_NOISE),
        Workload("04 photo denoiser U-Net 32x32", lambda: UNet(1, 1, channels=unet3, output="clamp"), (1, 32, 32),
                 32, _size("denoising", "photo_patches"), _size("denoising", "photo_val_patches"),
                 transform=recipes.PHOTO_NOISE),
        Workload("05 inpainting U-Net + mask", lambda: Inpainter(UNet(2, 1, channels=unet3, output="clamp")),
                 (1, 28, 28), 32, N_TRAIN, N_VAL, transform=holes("blocks", **recipes.DIGIT_HOLES)),
        Workload("05 photo eraser U-Net RGB + mask", lambda: Inpainter(UNet(4, 3, channels=unet3, output="clamp")),
                 (3, 32, 32), 32, _size("inpainting", "photo_patches"), _size("inpainting", "photo_val_patches"),
                 transform=holes("blocks", **recipes.PHOTO_HOLES)),
        Workload(f"06 segmentation U-Net {'-'.join(map(str, recipes.SEGMENTATION_CHANNELS))}",
                 lambda: UNet(1, 11, channels=recipes.SEGMENTATION_CHANNELS),
                 (1, 32, 32), 32, _size("segmentation", "train_scenes"), _size("segmentation", "val_scenes"),
                 loss_fn=recipes.pixel_loss(11), num_classes=11, val_metric=_mean_iou),
        Workload("07 MLP 784-512-256-16", lambda: MLPAutoencoder(hidden=(512, 256), latent_dim=16), (1, 28, 28),
                 BATCH, N_TRAIN * 9 // 10, N_VAL * 9 // 10, conv=False),
        Workload("07 ECG MLP 140-64-32-8",
                 lambda: MLPAutoencoder(input_shape=(1, 140), hidden=(64, 32), latent_dim=8, output="linear"),
                 (1, 140), 32, 2000, 300, conv=False),  # ECG5000's normal beats: about this many
        Workload("07 ECG conv1d 16-32",
                 lambda: Conv1dAutoencoder(input_shape=(1, 140), channels=(16, 32), latent_dim=8),
                 (1, 140), 32, 2000, 300),
        Workload("08 VAE 784-256-16", lambda: generative.VAE(hidden=generative.HIDDEN, latent_dim=16), (1, 28, 28),
                 BATCH, N_TRAIN, N_VAL, loss_fn=generative.ELBOLoss(1.0), conv=False),
    ]


# --------------------------------------------------------------------------- data, gauge, timing

def data(w: Workload, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random inputs in [0, 1] of the workload's shape and their targets (the inputs, or labels)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, *w.shape, generator=g)
    if w.num_classes is not None:
        return x, torch.randint(0, w.num_classes, (n, *w.shape[1:]), generator=g)
    return x, x


def gauge(seconds: float = 0.5) -> float:
    """The matrix-product gauge of ``aecourse run`` (one thread, float32 1024x1024), in process: GFLOP/s."""
    a = np.random.default_rng(0).random((1024, 1024), dtype=np.float32)
    b = a.T.copy()
    with threadpool_limits(1, user_api="blas"):
        a @ b
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            a @ b
            n += 1
        return n * 2 * 1024**3 / (time.perf_counter() - start) / 1e9


@contextlib.contextmanager
def variant(model: nn.Module, layout: str | None = None, mkldnn: bool = True, threads: int | None = None):
    """Run ``model`` with another memory layout ("channels_last" / "contiguous"), oneDNN off or other threads."""
    old_threads = torch.get_num_threads()
    patches = contextlib.ExitStack()
    patches.enter_context(warnings.catch_warnings())
    warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")  # torch's, for Intel GPUs
    if layout == "contiguous":
        model.to(memory_format=torch.contiguous_format)
        patches.enter_context(mock.patch.object(speed, "channels_last_input", lambda x: x))
    elif layout == "channels_last":
        speed.channels_last(model)
        patches.enter_context(mock.patch.object(speed, "channels_last_input", speed.channels_last_input))
        patches.enter_context(_channels_last_inputs(model))
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        with patches, torch.backends.mkldnn.flags(enabled=mkldnn):
            yield
    finally:
        torch.set_num_threads(old_threads)


@contextlib.contextmanager
def _channels_last_inputs(model: nn.Module):
    """For a model that does not lay out its own 4-D inputs channels-last (the U-Nets do): do it for it."""
    def hook(module, args):
        x = args[0]
        return (x.contiguous(memory_format=torch.channels_last),) + args[1:] if x.dim() == 4 else None
    handle = model.register_forward_pre_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def without_batch_norm(model: nn.Module) -> nn.Module:
    """``model`` with every BatchNorm2d replaced by an identity (a different network, for costing only)."""
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.BatchNorm2d):
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, child, nn.Identity())
    return model


def _steps_for(w: Workload, model, seconds: float, batch_size: int) -> int:
    """How many steps take about ``seconds`` (after a warm-up of two)."""
    x, y = data(w, 3 * batch_size, seed=1)
    opt = speed.adam(model.parameters(), lr=1e-3)
    train_epoch(model, x[:2 * batch_size], y[:2 * batch_size], opt, batch_size=batch_size, loss_fn=w.loss_fn,
                generator=torch.Generator().manual_seed(0), transform=w.transform)
    start = time.perf_counter()
    train_epoch(model, x[:batch_size], y[:batch_size], opt, batch_size=batch_size, loss_fn=w.loss_fn,
                generator=torch.Generator().manual_seed(0), transform=w.transform)
    return max(3, min(2000, round(seconds / max(time.perf_counter() - start, 1e-4))))


def time_training(w: Workload, *, repeats: int, seconds: float, batch_size: int | None = None,
                  layout: str | None = None, mkldnn: bool = True, threads: int | None = None,
                  gauge_s: float = 0.5, batch_norm: bool = True) -> dict:
    """Best of ``repeats``: images/s of the course's training step and its GFLOP/s against the gauge around it.

    ``batch_norm=False`` takes every batch norm out (another network: it only says what batch norm costs).
    """
    batch_size = batch_size or w.batch_size
    torch.manual_seed(0)
    model = w.build() if batch_norm else without_batch_norm(w.build())
    with variant(model, layout, mkldnn, threads):
        flops = count_flops(model, *data(w, batch_size), batch_size=batch_size, loss_fn=w.loss_fn,
                            transform=w.transform)
        used = torch.get_num_threads()
        steps = _steps_for(w, model, seconds, batch_size)
        x, y = data(w, steps * batch_size, seed=2)
        opt = speed.adam(model.parameters(), lr=1e-3)
        runs = []
        for _ in range(repeats):
            before = gauge(gauge_s)
            start = time.perf_counter()
            train_epoch(model, x, y, opt, batch_size=batch_size, loss_fn=w.loss_fn,
                        generator=torch.Generator().manual_seed(0), transform=w.transform)
            took = time.perf_counter() - start
            around = (before + gauge(gauge_s)) / 2
            rate = len(x) / took
            runs.append({"images_per_s": rate, "gflops": rate * flops / 1e9, "gauge": around,
                         "ratio": rate * flops / 1e9 / (around * used)})
    best = max(runs, key=lambda r: r["ratio"])
    return {"flops_per_image": flops, "batch_size": batch_size, "threads": used, "steps": steps, **best,
            "ratios": [round(r["ratio"], 3) for r in runs]}


# --------------------------------------------------------------------------- where the time goes

CATEGORIES = (  # (category, substrings of aten op names), first match wins
    ("conv backward", ("convolution_backward",)),
    ("conv forward", ("convolution", "conv2d", "conv1d", "conv_transpose")),
    ("batch norm", ("batch_norm",)),
    ("matmul (linear)", ("addmm", "mm", "linear", "bmm")),
    ("layout copies", ("copy_", "contiguous", "clone", "to_dense", "_to_copy")),
    ("optimiser", ("adam",)),
    ("pool, cat, upsample", ("pool", "cat", "max_unpool")),
    ("loss", ("loss", "nll", "cross_entropy", "softmax", "binary_cross")),
    ("elementwise", ("relu", "threshold", "add", "mul", "sub", "div", "clamp", "sigmoid", "where", "fill",
                     "exp", "log", "neg", "pow", "sum", "mean")),
)


def profile_shares(w: Workload, steps: int = 20) -> dict:
    """Share of the training step's profiled CPU time by kind of operation, and the transform's share of the step."""
    from torch.profiler import ProfilerActivity, profile

    torch.manual_seed(0)
    model = w.build()
    x, y = data(w, steps * w.batch_size, seed=3)
    opt = speed.adam(model.parameters(), lr=1e-3)
    kw = dict(batch_size=w.batch_size, loss_fn=w.loss_fn, transform=w.transform)
    train_epoch(model, x[:2 * w.batch_size], y[:2 * w.batch_size], opt, generator=torch.Generator().manual_seed(0),
                **kw)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        train_epoch(model, x, y, opt, generator=torch.Generator().manual_seed(0), **kw)
    shares: dict[str, float] = {}
    for event in prof.key_averages():
        if not event.key.startswith("aten::"):
            continue
        op = event.key.removeprefix("aten::")
        kind = next((c for c, keys in CATEGORIES if any(k in op for k in keys)), "other")
        shares[kind] = shares.get(kind, 0.0) + event.self_cpu_time_total
    total = sum(shares.values()) or 1.0
    result = {k: round(v / total, 3) for k, v in sorted(shares.items(), key=lambda kv: -kv[1])}
    if w.transform is not None:  # outside autograd, Python and tensor work per batch
        g = torch.Generator().manual_seed(0)
        start = time.perf_counter()
        for i in range(steps):
            w.transform(x[i * w.batch_size:(i + 1) * w.batch_size], g)
        transform_s = time.perf_counter() - start
        start = time.perf_counter()
        train_epoch(model, x, y, opt, generator=torch.Generator().manual_seed(0), **kw)
        result["transform share of the step"] = round(transform_s / (time.perf_counter() - start), 3)
    return result


def layer_speeds(w: Workload, repeats: int = 2, seconds: float = 0.25) -> list[dict]:
    """Each convolution layer alone at its input shape: forward + backward, share of the gauge, ms per batch."""
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    model = w.build().train()
    inputs: dict[str, torch.Tensor] = {}
    hooks = [m.register_forward_pre_hook(lambda mod, a, n=name: inputs.setdefault(n, a[0].detach().clone()))
             for name, m in model.named_modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d))]
    x, _ = data(w, w.batch_size)
    model(w.transform(x, torch.Generator().manual_seed(0)) if w.transform else x)
    for h in hooks:
        h.remove()
    rows = []
    for i, (name, x_in) in enumerate(inputs.items()):  # in the order the forward pass reaches them
        layer = model.get_submodule(name)
        x_in = x_in.requires_grad_(i > 0)  # the first layer's input (the data) needs no gradient

        def step():
            layer.zero_grad(set_to_none=True)
            layer(x_in).sum().backward()
        with FlopCounterMode(display=False) as counter:
            step()
        flops = counter.get_total_flops()
        step()
        best, best_ms = 0.0, 0.0
        for _ in range(repeats):
            g0 = gauge(seconds)
            n, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                step()
                n += 1
            took = time.perf_counter() - start
            ratio = n * flops / took / 1e9 / ((g0 + gauge(seconds)) / 2)
            if ratio > best:
                best, best_ms = ratio, 1000 * took / n
        rows.append({"layer": name, "kind": type(layer).__name__, "input": list(x_in.shape),
                     "channels": f"{layer.in_channels}->{layer.out_channels}", "mflop": flops / 1e6,
                     "ratio": float(f"{best:.3g}"), "ms": float(f"{best_ms:.3g}")})
    total_ms = sum(r["ms"] for r in rows) or 1.0
    for r in rows:
        r["time_share"] = round(r["ms"] / total_ms, 3)
    return rows


# --------------------------------------------------------------------------- evaluation work

def evaluation_costs(w: Workload, images_per_s: float) -> dict:
    """Seconds of fit's evaluation work against one epoch of training steps, under no_grad and inference_mode.

    As ``fit`` does it: the loss before training on a spread sample of at most 2,048 training items
    (once), the validation loss on every validation item after each epoch (``evaluate``, batches of
    512), and ``val_metric`` where the recipe gives one. Also whether inference_mode changes any number.
    """
    torch.manual_seed(0)
    model = w.build().eval()
    x_val, y_val = data(w, w.n_val, seed=4)
    x_before, y_before = data(w, min(w.n_train, 2048), seed=5)
    labels = torch.randint(0, 10, (w.n_val,), generator=torch.Generator().manual_seed(6))

    def work():
        out = {"before": evaluate(model, x_before, y_before, loss_fn=w.loss_fn, transform=w.transform),
               "val": evaluate(model, x_val, y_val, loss_fn=w.loss_fn, transform=w.transform, seed=1)}
        if w.val_metric is not None:
            out["metric"] = w.val_metric(model, x_val, labels if w.num_classes is None else y_val)
        return out

    def timed(mode):
        seconds = {}
        with mode():
            for key, fn in (("before", lambda: evaluate(model, x_before, y_before, loss_fn=w.loss_fn,
                                                        transform=w.transform)),
                            ("val", lambda: evaluate(model, x_val, y_val, loss_fn=w.loss_fn, transform=w.transform,
                                                     seed=1)),
                            ("metric", (lambda: w.val_metric(model, x_val, labels if w.num_classes is None else y_val))
                             if w.val_metric else None)):
                if fn is None:
                    continue
                fn()  # warm
                start = time.perf_counter()
                fn()
                seconds[key] = time.perf_counter() - start
        return seconds

    epoch_s = w.n_train / images_per_s
    no_grad, inference = timed(torch.no_grad), timed(torch.inference_mode)
    with torch.no_grad():
        plain = work()
    with torch.inference_mode():
        fast = work()
    per_epoch = sum(v for k, v in no_grad.items() if k != "before")
    per_epoch_inf = sum(v for k, v in inference.items() if k != "before")
    return {"epoch_train_s": round(epoch_s, 2), "no_grad_s": {k: round(v, 3) for k, v in no_grad.items()},
            "inference_mode_s": {k: round(v, 3) for k, v in inference.items()},
            "validation_share_of_epoch": round(per_epoch / epoch_s, 3),
            "validation_share_inference_mode": round(per_epoch_inf / epoch_s, 3),
            "before_training_share_of_epoch": round(no_grad["before"] / epoch_s, 3),
            "inference_mode_identical": plain == fast}


# --------------------------------------------------------------------------- bit for bit

def trained_state(w: Workload, steps: int = 4, **change) -> dict[str, torch.Tensor]:
    """The weights and statistics after ``steps`` training steps from the recipe's start, under ``change``."""
    torch.manual_seed(0)
    model = w.build()
    x, y = data(w, steps * w.batch_size, seed=7)
    with variant(model, **change):
        opt = speed.adam(model.parameters(), lr=1e-3)
        train_epoch(model, x, y, opt, batch_size=w.batch_size, loss_fn=w.loss_fn,
                    generator=torch.Generator().manual_seed(0), transform=w.transform)
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def layout_flip(w: Workload) -> str | None:
    """The other layout of a 2-D conv workload: the U-Nets are channels-last today, the rest contiguous."""
    model = w.build()
    if not any(isinstance(m, nn.Conv2d) for m in model.modules()):
        return None
    return "contiguous" if isinstance(model, (UNet, Inpainter)) else "channels_last"


def changes_of(w: Workload) -> dict[str, dict]:
    """The changes studied that keep batch, schedule and network (so they could leave results alone)."""
    flip = layout_flip(w)
    return {**({f"layout {flip}": dict(layout=flip)} if flip else {}), "mkldnn off": dict(mkldnn=False),
            "2 threads": dict(threads=2)}


def exactness(w: Workload, steps: int = 4) -> dict[str, bool]:
    """Whether each change that could leave results alone does: the trained weights compared with torch.equal."""
    base = trained_state(w, steps)
    changes = {**changes_of(w), "same again": {}}
    result = {}
    for name, change in changes.items():
        other = trained_state(w, steps, **change)
        result[name] = all(torch.equal(base[k], other[k]) for k in base)
    return result


def prediction_identical_under_inference_mode(model: nn.Module, x: torch.Tensor) -> bool:
    """``predict`` under inference_mode gives the very numbers it gives under no_grad."""
    with torch.no_grad():
        a = predict(model, x)
    with torch.inference_mode():
        b = predict(model, x)
    return torch.equal(a, b)


# --------------------------------------------------------------------------- the study

def study(w: Workload, current: dict, repeats: int, seconds: float) -> dict:
    """The ratio under each change, what fit's evaluation costs, and where the time goes."""
    changes = {**changes_of(w), **{f"batch {b}": dict(batch_size=b) for b in (64, 128, 256) if b != w.batch_size}}
    if any(isinstance(m, nn.BatchNorm2d) for m in w.build().modules()):
        changes["no batch norm"] = dict(batch_norm=False)
    ratios = {"as the course runs it": current["ratio"]}
    for name, change in changes.items():
        ratios[name] = time_training(w, repeats=repeats, seconds=seconds, **change)["ratio"]
    return {"ratios": {k: round(v, 3) for k, v in ratios.items()}, "time shares": profile_shares(w),
            "evaluation": evaluation_costs(w, current["images_per_s"]), "layers": layer_speeds(w)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="workloads whose name starts with one of these")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each timed run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the table (the gauge has one)")
    parser.add_argument("--study", action="store_true", help="variants, time shares, evaluation, layers (conv)")
    parser.add_argument("--exact", action="store_true", help="bit-for-bit checks of the changes (conv workloads)")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    chosen = [w for w in workloads() if not args.only or any(w.name.startswith(p) for p in args.only)]
    print(f"{len(chosen)} workloads, torch {torch.__version__}, {args.threads} thread(s); best of {args.repeats} "
          f"runs of ~{args.seconds:g} s, each between two half-second samples of the matmul gauge")
    print(f"{'workload':<36} {'MFLOP/img':>9} {'batch':>5} {'img/s':>8} {'GFLOP/s':>8} {'gauge':>6} {'ratio':>6}")
    out = {"threads": args.threads, "torch": torch.__version__, "workloads": {}}
    for w in chosen:
        row = time_training(w, repeats=args.repeats, seconds=args.seconds)
        out["workloads"][w.name] = {"current": row}
        print(f"{w.name:<36} {row['flops_per_image'] / 1e6:>9.3f} {row['batch_size']:>5} {row['images_per_s']:>8.0f} "
              f"{row['gflops']:>8.2f} {row['gauge']:>6.1f} {row['ratio']:>6.3f}", flush=True)
    for w in chosen:
        entry = out["workloads"][w.name]
        if args.study and w.conv:
            entry["study"] = s = study(w, entry["current"], args.repeats, args.seconds)
            print(f"\n{w.name}\n  ratio: " + ", ".join(f"{k} {v:.3f}" for k, v in s["ratios"].items()))
            print("  time shares: " + ", ".join(f"{k} {v:.0%}" for k, v in s["time shares"].items()))
            e = s["evaluation"]
            print(f"  evaluation per epoch: {e['validation_share_of_epoch']:.1%} of an epoch's training steps "
                  f"({e['epoch_train_s']} s) under no_grad, {e['validation_share_inference_mode']:.1%} under "
                  f"inference_mode (identical numbers: {e['inference_mode_identical']}); before training, once: "
                  f"{e['before_training_share_of_epoch']:.1%}; seconds {e['no_grad_s']}")
            print("  conv layers alone (ratio, share of the layers' time): " + "; ".join(
                f"{r['layer']} {r['channels']} on {r['input'][2:]} {r['ratio']:.2f} ({r['time_share']:.0%})"
                for r in s["layers"]), flush=True)
        if args.exact and w.conv:
            entry["exact"] = exact = exactness(w)
            print(f"  {w.name}: bit for bit after 4 steps: " + ", ".join(f"{k} {v}" for k, v in exact.items()),
                  flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1, default=float))
    return out


if __name__ == "__main__":
    main()
