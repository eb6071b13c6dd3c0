"""The hand-written training loop: ``fit``, ``evaluate``, ``predict`` and a weights cache."""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import numbers
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from . import cache, report
from .config import check_device
from .progress import TrainingProgress, stop_reason, summary_line
from .speed import adam

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


BEFORE_TRAINING_ITEMS = 2048  # History.train_loss[0] is measured on at most this many training items


@dataclass
class History:
    """What ``fit`` measured: losses per epoch, speed and compute.

    Index 0 is the loss before training (on every item of the validation set, and on
    an evenly spread sample of at most ``BEFORE_TRAINING_ITEMS`` training items);
    later train losses are the mean over each epoch's batches, validation losses are
    measured after each epoch. ``seconds`` covers the epochs with their validation,
    ``train_seconds`` the training steps alone.
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    images_per_second: float = 0.0
    val_metric: list[float] = field(default_factory=list)  # ``fit(val_metric=...)`` before and after each epoch
    best_epoch: int | None = None  # with ``patience``: the epoch whose weights the model keeps
    converged: bool = False        # with ``patience``: validation stopped improving before num_epochs
    flops_per_image: float = 0.0   # one training step's forward + loss + backward, per image (count_flops)
    train_images: int = 0          # images the training steps went through (epochs x training items)
    train_seconds: float = 0.0     # time spent in training steps (validation passes excluded)

    @property
    def epochs(self) -> int:
        """How many epochs ran (fewer than asked for when training stopped early)."""
        return len(self.train_loss) - 1

    @property
    def train_flops(self) -> float:
        """Floating-point operations of every training step together (the optimiser's update not counted)."""
        return self.flops_per_image * self.train_images

    @property
    def gflops_per_second(self) -> float:
        """The training steps' achieved speed: ``train_flops`` per ``train_seconds``, in GFLOP/s (0 untimed)."""
        return self.train_flops / self.train_seconds / 1e9 if self.train_seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def _check_pair(x: torch.Tensor, target: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise ValueError(f"{name}: inputs and targets must be tensors, got "
                         f"{type(x).__name__} and {type(target).__name__}")
    if len(x) != len(target) or len(x) == 0:
        raise ValueError(f"{name}: need as many targets as inputs (and at least one), "
                         f"got {len(x)} inputs and {len(target)} targets")


def batch_indices(n: int, batch_size: int, generator: torch.Generator | None = None):
    """Index tensors that cover range(n) in batches, shuffled when a generator is given."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    return order.split(batch_size)


@contextlib.contextmanager
def denormals_flushed():
    """Inside: float32 numbers below 1.2e-38 (denormals) are computed as zero, on CPUs that can.

    Adam keeps a running mean of each weight's gradient and multiplies it by 0.9 every step
    the gradient is 0. A first-layer weight of an MLP autoencoder sees a gradient only when its
    pixel is inked, and pixels near a digit's border almost never are: their running means decay
    for hundreds of steps through the range below 1.2e-38 (after 12 epochs, 18% of the 784-512
    layer's). The CPU handles such numbers in slow microcode, which cost the MLP autoencoders a
    fifth to a quarter of their training time (RESULTS.md, issue 31). Flushed, they are 0: every
    loss, weight and figure of a full run came out the same. ``torch.set_flush_denormal`` sets the
    calling thread's flag (x86 CPUs; elsewhere it does nothing); it is put back off afterwards.
    """
    flushed = torch.set_flush_denormal(True)
    try:
        yield flushed
    finally:
        if flushed:
            torch.set_flush_denormal(False)


def device_of(model: nn.Module) -> torch.device:
    """Where ``model``'s weights are (the CPU for a model without any)."""
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, *, batch_size: int = 512,
            method: str = "forward", device: str | None = None) -> torch.Tensor:
    """Apply ``model`` (or ``model.encode``/``model.decode``) to ``x`` in batches; CPU result.

    The batches go to ``device``, by default the one the model is on.
    """
    if not isinstance(x, torch.Tensor) or len(x) == 0:
        raise ValueError(f"x must be a non-empty tensor, got {type(x).__name__} of length "
                         f"{len(x) if hasattr(x, '__len__') else '?'}")
    device = device_of(model) if device is None else device
    model.eval()
    fn = getattr(model, method)
    return torch.cat([fn(x[i].to(device)).cpu() for i in batch_indices(len(x), batch_size)])


def predict_labels(model: nn.Module, x: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """The class a segmentation ``model`` scores highest at each pixel: (B, H, W) labels."""
    return predict(model, x, batch_size=batch_size).argmax(1)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, target: torch.Tensor | None = None, *,
             loss_fn: LossFn = nn.functional.mse_loss, batch_size: int = 512,
             transform: Transform | None = None, seed: int = 0, device: str = "cpu") -> float:
    """Mean loss of ``model`` over a dataset (``target`` defaults to ``x``: reconstruction)."""
    target = x if target is None else target
    _check_pair(x, target, "evaluate")
    model.eval()
    g = torch.Generator().manual_seed(seed)
    total = 0.0
    for idx in batch_indices(len(x), batch_size):
        x_in = x[idx] if transform is None else transform(x[idx], g)
        total += loss_fn(model(x_in.to(device)), target[idx].to(device)).item() * len(idx)
    return total / len(x)


def train_epoch(model: nn.Module, x: torch.Tensor, target: torch.Tensor, optimizer, *,
                batch_size: int, loss_fn: LossFn, generator: torch.Generator,
                transform: Transform | None = None, scheduler=None, device: str = "cpu",
                on_step: Callable[[int], None] | None = None) -> float:
    """One pass over ``x`` in shuffled batches, chapter 01's loop; returns the mean batch loss.

    ``on_step(step)`` is called after each batch (from 1), e.g. to show progress.
    """
    model.train()
    total = 0.0
    for step, idx in enumerate(batch_indices(len(x), batch_size, generator=generator), 1):
        x_in = x[idx] if transform is None else transform(x[idx], generator)
        x_hat = model(x_in.to(device))                   # forward
        loss = loss_fn(x_hat, target[idx].to(device))
        optimizer.zero_grad()
        loss.backward()                                  # backward
        optimizer.step()                                 # update
        if scheduler is not None:
            scheduler.step()
        total += loss.item() * len(idx)
        if on_step is not None:
            on_step(step)
    return total / len(x)


def count_flops(model: nn.Module, x: torch.Tensor, target: torch.Tensor | None = None, *, batch_size: int,
                loss_fn: LossFn = nn.functional.mse_loss, transform: Transform | None = None,
                device: str = "cpu") -> float:
    """FLOPs per image of one training step (forward, loss, backward) on the first batch of ``x``.

    PyTorch's ``FlopCounterMode`` counts them (matrix products and convolutions; the
    optimiser's update is not counted). It runs on a copy of the model in training mode, with
    the random-number state saved and restored and the transform given its own generator, so
    no weight, gradient, optimiser state, batch-norm statistic or random number of a training
    that follows is changed.
    """
    from torch.utils.flop_counter import FlopCounterMode

    target = x if target is None else target
    _check_pair(x, target, "count_flops")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n = min(batch_size, len(x))
    trial = copy.deepcopy(model).to(device).train()
    dev = torch.device(device)
    forked = [] if dev.type == "cpu" else [dev.index or 0]
    with torch.random.fork_rng(devices=forked, device_type=dev.type if forked else "cuda"), \
            FlopCounterMode(display=False) as counter:
        x_in = x[:n] if transform is None else transform(x[:n], torch.Generator().manual_seed(0))
        loss_fn(trial(x_in.to(device)), target[:n].to(device)).backward()
    return counter.get_total_flops() / n


def _flops_or_zero(model: nn.Module, x: torch.Tensor, target: torch.Tensor, **kwargs) -> float:
    """``count_flops``, or 0 (not counted) for a model it cannot copy or run once more: training goes on."""
    try:
        return count_flops(model, x, target, **kwargs)
    except (RuntimeError, TypeError, ValueError, NotImplementedError, copy.Error):
        return 0.0


def fit(model: nn.Module, x: torch.Tensor, target: torch.Tensor | None = None, *,
        x_val: torch.Tensor | None = None, target_val: torch.Tensor | None = None,
        num_epochs: int, batch_size: int, lr: float, loss_fn: LossFn = nn.functional.mse_loss,
        transform: Transform | None = None, seed: int = 0, device: str = "cpu",
        progress: bool = True, schedule: str = "constant", patience: int | None = None,
        min_improvement: float = 1e-3, val_metric: Callable[[nn.Module], float] | None = None,
        label: str = "training") -> History:
    """Train ``model`` to map ``transform(x)`` (default: ``x``) to ``target`` (default: ``x``).

    ``train_epoch`` once per epoch with Adam, the losses measured before and after each.

    Args:
        transform: applied to every batch of inputs with a torch generator,
            e.g. fresh noise for a denoiser; targets stay clean.
        x_val: optional validation inputs, evaluated after every epoch.
        schedule: ``"constant"`` keeps ``lr``; ``"one-cycle"`` warms up to ``lr`` over the
            first 30% of the steps and then anneals to almost zero (PyTorch's OneCycleLR),
            which reaches a given loss in fewer epochs for networks with batch norm;
            ``"plateau"`` divides the rate by 5 whenever the validation loss has not
            improved for two epochs (PyTorch's ReduceLROnPlateau).
        patience: early stopping: stop once the validation loss has not improved (by a
            share ``min_improvement`` of the best so far) for ``patience`` epochs, and keep
            the weights of the best epoch. ``num_epochs`` is then only a ceiling, and
            ``History.converged`` says whether training stopped before reaching it.
        val_metric: optional ``val_metric(model) -> float``, e.g. a validation score the
            lesson is about, measured (in eval mode) before training and after every
            epoch into ``History.val_metric``: a learning curve in the units that matter.

    The FLOPs of a training step are counted once beforehand (``count_flops``, which changes
    nothing), and the run's cost goes to ``report.workload`` under ``label`` (nothing is shown).
    """
    target = x if target is None else target
    check_fit_settings(num_epochs=num_epochs, batch_size=batch_size, lr=lr, min_improvement=min_improvement)
    device = check_device(device)
    if schedule not in ("constant", "one-cycle", "plateau"):
        raise ValueError(f"schedule must be 'constant', 'one-cycle' or 'plateau', got {schedule!r}")
    if (patience is not None or schedule == "plateau") and x_val is None:
        raise ValueError("early stopping and the plateau schedule watch the validation loss: give x_val")
    if patience is not None and (not isinstance(patience, int) or patience < 1):
        raise ValueError(f"patience must be a whole number of epochs >= 1, got {patience!r}")
    check_training_data(model, x, target, loss_fn, transform, device, "fit")
    if x_val is not None:
        target_val = x_val if target_val is None else target_val
        check_training_data(model, x_val, target_val, loss_fn, transform, device, "fit (validation)")
    model.to(device)
    g = torch.Generator().manual_seed(seed)
    optimizer = adam(model.parameters(), lr=lr)
    scheduler = plateau = None
    if schedule == "one-cycle":
        steps = num_epochs * -(-len(x) // batch_size)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    elif schedule == "plateau":
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.2, patience=1,
                                                             threshold=min_improvement)
    stopper = EarlyStopping(model, patience, min_improvement) if patience is not None else None
    with denormals_flushed():  # Adam's decaying running means cost an MLP a fifth of its time below 1e-38
        history = History(flops_per_image=_flops_or_zero(model, x, target, batch_size=batch_size, loss_fn=loss_fn,
                                                         transform=transform, device=device))
        measure = functools.partial(evaluate, model, loss_fn=loss_fn, transform=transform, device=device)

        def validate():
            if x_val is not None:
                history.val_loss.append(measure(x_val, target_val, seed=seed + 1))
            if val_metric is not None:
                model.eval()
                with torch.no_grad():
                    history.val_metric.append(float(val_metric(model)))

        every = -(-len(x) // BEFORE_TRAINING_ITEMS)  # a spread-out sample is enough for epoch 0
        history.train_loss.append(measure(x[::every], target[::every], seed=seed))
        validate()
        start = time.perf_counter()
        steps = -(-len(x) // batch_size)
        shown = TrainingProgress(label, num_epochs, steps, enabled=progress)
        for epoch in range(1, num_epochs + 1):
            stepping = time.perf_counter()
            history.train_loss.append(train_epoch(model, x, target, optimizer, batch_size=batch_size,
                                                  loss_fn=loss_fn, generator=g, transform=transform,
                                                  scheduler=scheduler, device=device,
                                                  on_step=lambda step, e=epoch: shown.step(e, step)))
            history.train_seconds += time.perf_counter() - stepping
            if not math.isfinite(history.train_loss[-1]):
                shown.finish(f"{label}: stopped in epoch {history.epochs}: the training loss became "
                             f"{history.train_loss[-1]}")
                raise ValueError(f"fit: the training loss became {history.train_loss[-1]} in epoch {history.epochs}: "
                                 f"the weights diverged; try a smaller lr than {lr:g}")
            validate()
            shown.epoch(epoch, history.train_loss[-1], history.val_loss[-1] if history.val_loss else None)
            if plateau is not None:
                plateau.step(history.val_loss[-1])
            if stopper is not None and stopper.stop(history.val_loss[-1]):
                history.converged = True
                break
    history.seconds = time.perf_counter() - start
    history.train_images = history.epochs * len(x)
    history.images_per_second = history.train_images / max(history.seconds, 1e-9)
    if stopper is not None:
        history.best_epoch = stopper.restore()
    kept = history.best_epoch if history.best_epoch else history.epochs  # the epoch whose weights the model has
    shown.finish(summary_line(label, history.epochs, history.seconds, history.best_epoch,
                              history.val_loss[kept] if history.val_loss else None,
                              stop_reason(num_epochs, history.converged, patience, min_improvement)))
    model.eval()
    note_workload(label, history, batch_size, device)
    return history


def check_fit_settings(*, num_epochs, batch_size, lr, min_improvement) -> None:
    """Refuse, naming the parameter, settings ``fit`` cannot train with (each would fail late or train on NaN)."""
    for name, value in (("num_epochs", num_epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    for name, value in (("lr", lr), ("min_improvement", min_improvement)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < math.inf:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if lr == 0:
        raise ValueError("lr must be > 0, got 0: with a learning rate of 0 nothing is learned")


def note_workload(name: str, history: History, batch_size: int, device: str, cached: bool = False) -> None:
    """Tell the run's report what a training cost (``report.workload``); a cache hit trained nothing."""
    report.workload(name, flops_per_image=history.flops_per_image, images=0 if cached else history.train_images,
                    train_seconds=0.0 if cached else history.train_seconds,
                    seconds=0.0 if cached else history.seconds, batch_size=batch_size,
                    threads=torch.get_num_threads(), device=str(device), cached=cached)


class EarlyStopping:
    """Watches the validation loss after each epoch, keeps the best weights, says when to stop."""

    def __init__(self, model: nn.Module, patience: int, min_improvement: float = 1e-3):
        self.model, self.patience, self.min_improvement = model, patience, min_improvement
        self.best, self.best_epoch, self.epoch, self.best_state = float("inf"), 0, 0, None

    def stop(self, val_loss: float) -> bool:
        """Record one epoch's validation loss; True once ``patience`` epochs brought nothing."""
        self.epoch += 1
        if val_loss < self.best * (1 - self.min_improvement):
            self.best, self.best_epoch = val_loss, self.epoch
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        return self.epoch - self.best_epoch >= self.patience

    def restore(self) -> int:
        """Put the best epoch's weights back into the model; return that epoch (from 1)."""
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        return self.best_epoch


def check_training_data(model: nn.Module, x: torch.Tensor, target: torch.Tensor, loss_fn: LossFn,
                        transform: Transform | None, device: str, name: str) -> None:
    """Refuse, with a ValueError that says why, what ``fit`` cannot train on.

    Float64 inputs (the models are float32), NaN or infinite values, and a target the
    loss cannot compare with the model's output: tried on two items in eval mode, which
    changes no weight, statistic or random number of the training.
    """
    _check_pair(x, target, name)
    for what, t in (("inputs", x), ("targets", target)):
        if t.dtype == torch.float64:
            raise ValueError(f"{name}: {what} are float64, the models float32; convert them with .float()")
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise ValueError(f"{name}: {what} contain NaN or infinite values "
                             f"({int((~torch.isfinite(t)).sum())} of {t.numel()})")
    was_training = model.training
    model.to(device).eval()
    with torch.no_grad():
        x_in = x[:2] if transform is None else transform(x[:2], torch.Generator().manual_seed(0))
        out = model(x_in.to(device))
        y = target[:2].to(device)
        if y.is_floating_point() and out.shape != y.shape:
            raise ValueError(f"{name}: the model outputs {tuple(out.shape[1:])} per item but the targets "
                             f"are {tuple(y.shape[1:])}; a loss would broadcast them and train on nonsense")
        try:
            with warnings.catch_warnings():  # the error below says it in one line
                warnings.simplefilter("ignore")
                loss_fn(out, y)
        except (RuntimeError, ValueError, IndexError, TypeError) as e:
            raise ValueError(f"{name}: the loss cannot compare the model's output {tuple(out.shape)} with "
                             f"targets {tuple(y.shape)} ({y.dtype}): {str(e).splitlines()[0]}") from None
    model.train(was_training)


# --------------------------------------------------------------------------- weights cache

def fit_cached(model: nn.Module, cache_dir: Path | Sequence[Path] | None, name: str, x: torch.Tensor,
               target: torch.Tensor | None = None, **fit_kwargs) -> History:
    """``fit``, or load the weights a previous identical ``fit`` saved in a cache folder.

    The key (``cache.fingerprint``) covers the model's code, attributes and initial
    weights, the data, every fit argument, the code of every function passed in and the
    training code itself (``fit``, followed into the loop and the optimiser), so any change
    retrains. ``val_metric`` is in the key too: the history it fills is part of what a hit
    returns, so a changed metric must not return the old curve. ``progress`` and ``label``
    only show the training and are left out. ``cache_dir`` is one folder or several, searched
    in order; the first writable one receives new entries. ``cache_dir=None`` disables the
    cache. ``fit``'s progress line is labelled ``name``; a hit prints one line instead (the
    epochs, and the shared folder it came from when that is not the first folder, so a
    learner's screen shows no paths of their own); an unusable file is skipped with a warning
    and trained afresh.
    """
    cache.check_name(name)
    fit_kwargs.setdefault("label", name)
    if cache_dir is None:
        return fit(model, x, target, **fit_kwargs)
    folders = cache.folders(cache_dir)
    settings = sorted((k, v) for k, v in fit_kwargs.items() if k not in ("progress", "label"))  # they only show
    key = cache.fingerprint(fit, model, x, target, settings)
    hit = cache.lookup(folders, name, key, model, into=History, device=fit_kwargs.get("device", "cpu"))
    if hit is not None:
        print(hit_line(name, hit, folders))
        history = hit.history
        if not history.flops_per_image:  # an entry saved before FLOPs were counted
            history.flops_per_image = _flops_or_zero(model, x, x if target is None else target,
                                                     batch_size=fit_kwargs["batch_size"],
                                                     **{k: fit_kwargs[k] for k in ("loss_fn", "transform", "device")
                                                        if k in fit_kwargs})
        note_workload(fit_kwargs["label"], history, fit_kwargs["batch_size"], fit_kwargs.get("device", "cpu"),
                      cached=True)
        return history
    folder = cache.writable_folder(folders)
    history = fit(model, x, target, **fit_kwargs)
    if folder is not None:
        cache.save(cache.entry_path(folder, name, key), model, history.as_dict())
    return history


def hit_line(name: str, hit, folders) -> str:
    """The one line a cache hit prints: what was loaded, how it was trained, and from which shared folder."""
    h = hit.history
    details = [f"{h.epochs} epochs"] + ([f"best epoch {h.best_epoch}"] if h.best_epoch else [])
    if hit.threads:
        details.append(f"trained with {hit.threads} thread{'s' * (hit.threads > 1)}")
    where = "" if hit.path.parent == Path(folders[0]) else f" in the shared folder {hit.path.parent}"
    return f"{name}: trained weights loaded from the weights cache{where} ({', '.join(details)})"


class PixelCrossEntropy:
    """Per-pixel cross-entropy for segmentation, with the background class (0) weighted down."""

    def __init__(self, num_classes: int, background_weight: float = 1.0):
        if num_classes < 2 or not 0 < background_weight <= 1:
            raise ValueError(f"need num_classes >= 2 and 0 < background_weight <= 1, got "
                             f"{num_classes} and {background_weight}")
        self.num_classes, self.background_weight = num_classes, background_weight
        self.weight = torch.ones(num_classes)
        self.weight[0] = background_weight

    def __call__(self, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Scores (B, num_classes, H, W), labels (B, H, W) -> mean weighted loss."""
        return nn.functional.cross_entropy(scores, y, weight=self.weight.to(scores.device))

    def __repr__(self) -> str:
        return f"PixelCrossEntropy(num_classes={self.num_classes}, background_weight={self.background_weight})"
