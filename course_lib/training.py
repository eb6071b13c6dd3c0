"""The hand-written training loop: ``fit``, ``evaluate``, ``predict`` and a weights cache."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import re
import time
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


BEFORE_TRAINING_ITEMS = 2048  # History.train_loss[0] is measured on at most this many training items


@dataclass
class History:
    """What ``fit`` measured: losses per epoch and speed.

    Index 0 is the loss before training (on every item of the validation set, and on
    an evenly spread sample of at most ``BEFORE_TRAINING_ITEMS`` training items);
    later train losses are the mean over each epoch's batches, validation losses are
    measured after each epoch.
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    images_per_second: float = 0.0

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


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, *, batch_size: int = 512,
            method: str = "forward", device: str = "cpu") -> torch.Tensor:
    """Apply ``model`` (or ``model.encode``/``model.decode``) to ``x`` in batches; CPU result."""
    if not isinstance(x, torch.Tensor) or len(x) == 0:
        raise ValueError(f"x must be a non-empty tensor, got {type(x).__name__} of length "
                         f"{len(x) if hasattr(x, '__len__') else '?'}")
    model.eval()
    fn = getattr(model, method)
    return torch.cat([fn(x[i].to(device)).cpu() for i in batch_indices(len(x), batch_size)])


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


def adam(params, lr: float) -> torch.optim.Adam:
    """Adam with PyTorch's fused kernel where it exists (CPU and CUDA, torch >= 2.4).

    The fused update does the same arithmetic in one pass over all parameters instead
    of a dozen passes per tensor: an MLP autoencoder trains about 1.8x faster on a
    2-core CPU (23 vs 43 ms per batch of 64). Older torch builds fall back to the plain loop.
    """
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


def fit(model: nn.Module, x: torch.Tensor, target: torch.Tensor | None = None, *,
        x_val: torch.Tensor | None = None, target_val: torch.Tensor | None = None,
        num_epochs: int, batch_size: int, lr: float, loss_fn: LossFn = nn.functional.mse_loss,
        transform: Transform | None = None, seed: int = 0, device: str = "cpu",
        progress: bool = True, schedule: str = "constant") -> History:
    """Train ``model`` to map ``transform(x)`` (default: ``x``) to ``target`` (default: ``x``).

    Args:
        transform: applied to every batch of inputs with a torch generator,
            e.g. fresh noise for a denoiser; targets stay clean.
        x_val: optional validation inputs, evaluated after every epoch.
        schedule: ``"constant"`` keeps ``lr``; ``"one-cycle"`` warms up to ``lr`` over the
            first 30% of the steps and then anneals to almost zero (PyTorch's OneCycleLR),
            which reaches a given loss in fewer epochs for networks with batch norm.
    """
    target = x if target is None else target
    _check_pair(x, target, "fit")
    if num_epochs < 1 or lr <= 0:
        raise ValueError(f"need num_epochs >= 1 and lr > 0, got {num_epochs} and {lr}")
    if schedule not in ("constant", "one-cycle"):
        raise ValueError(f"schedule must be 'constant' or 'one-cycle', got {schedule!r}")
    if x_val is not None:
        target_val = x_val if target_val is None else target_val
        _check_pair(x_val, target_val, "fit (validation)")
    model.to(device)
    g = torch.Generator().manual_seed(seed)
    optimizer = adam(model.parameters(), lr=lr)
    scheduler = None
    if schedule == "one-cycle":
        steps = num_epochs * -(-len(x) // batch_size)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    history = History()

    def validate():
        if x_val is not None:
            history.val_loss.append(evaluate(model, x_val, target_val, loss_fn=loss_fn,
                                             transform=transform, seed=seed + 1, device=device))

    every = -(-len(x) // BEFORE_TRAINING_ITEMS)  # a spread-out sample is enough for epoch 0
    history.train_loss.append(evaluate(model, x[::every], target[::every], loss_fn=loss_fn,
                                       transform=transform, seed=seed, device=device))
    validate()
    start = time.perf_counter()
    bar = tqdm(range(num_epochs), desc="epochs", disable=not progress, leave=False)
    for _ in bar:
        model.train()
        total = 0.0
        for idx in batch_indices(len(x), batch_size, generator=g):
            x_in = x[idx] if transform is None else transform(x[idx], g)
            x_hat = model(x_in.to(device))                   # forward
            loss = loss_fn(x_hat, target[idx].to(device))
            optimizer.zero_grad()
            loss.backward()                                  # backward
            optimizer.step()                                 # update
            if scheduler is not None:
                scheduler.step()
            total += loss.item() * len(idx)
        history.train_loss.append(total / len(x))
        validate()
        bar.set_postfix(train=f"{history.train_loss[-1]:.4f}",
                        val=f"{history.val_loss[-1]:.4f}" if history.val_loss else "-")
    history.seconds = time.perf_counter() - start
    history.images_per_second = num_epochs * len(x) / max(history.seconds, 1e-9)
    model.eval()
    return history


# --------------------------------------------------------------------------- weights cache

def fingerprint(*parts) -> str:
    """A short hash of tensors, models and plain values (what a cached result depends on)."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, torch.Tensor):
            t = part.detach().cpu().contiguous()
            h.update(str((tuple(t.shape), t.dtype)).encode())
            h.update(t.numpy().tobytes())
        elif isinstance(part, nn.Module):
            h.update(repr(part).encode())
        else:
            h.update(json.dumps(part, sort_keys=True, default=repr).encode())
    return h.hexdigest()[:16]


def describe_callable(fn) -> str:
    """A description of a function that is the same in every session (no memory addresses)."""
    if isinstance(fn, functools.partial):
        args = ", ".join([*map(repr, fn.args), *(f"{k}={v!r}" for k, v in sorted(fn.keywords.items()))])
        return f"partial({describe_callable(fn.func)}, {args})"
    name = getattr(fn, "__qualname__", None)
    if name is not None:
        return f"{getattr(fn, '__module__', '')}.{name}"
    text = repr(fn)
    if " at 0x" in text:
        raise ValueError(f"cannot make a stable cache key for {text}; give it a __repr__ without an address")
    return text


_CACHE_FILE = re.compile(r"(.+)-[0-9a-f]{16}\.pt")  # fit_cached's files: {name}-{fingerprint}.pt


def cached_names(cache_dir: Path) -> list[str]:
    """The model name of every entry ``fit_cached`` saved in ``cache_dir``, once per entry."""
    return [m.group(1) for p in Path(cache_dir).glob("*.pt") if (m := _CACHE_FILE.fullmatch(p.name))]


def fit_cached(model: nn.Module, cache_dir: Path | None, name: str, x: torch.Tensor,
               target: torch.Tensor | None = None, **fit_kwargs) -> History:
    """``fit``, or load the weights a previous identical ``fit`` saved in ``cache_dir``.

    The key covers the model's architecture, the data and every fit argument,
    so a changed setting retrains. ``cache_dir=None`` disables the cache. A
    corrupt or mismatched cache file is reported and retrained, never a crash.
    """
    if cache_dir is None:
        return fit(model, x, target, **fit_kwargs)
    for_key = {k: v for k, v in fit_kwargs.items() if k not in {"progress", "device"}}
    tensors = [v for v in for_key.values() if isinstance(v, torch.Tensor)]
    plain = {k: describe_callable(v) if callable(v) else v
             for k, v in for_key.items() if not isinstance(v, torch.Tensor)}
    key = fingerprint(model, x, *([] if target is None else [target]), *tensors, plain)
    path = Path(cache_dir) / f"{name}-{key}.pt"
    if path.exists():
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(saved["state_dict"])
            model.to(fit_kwargs.get("device", "cpu")).eval()
            return History(**saved["history"])
        except (RuntimeError, KeyError, TypeError, EOFError, ValueError,
                pickle.UnpicklingError, zipfile.BadZipFile) as e:
            warnings.warn(f"weights cache {path.name} is unreadable ({type(e).__name__}); retraining",
                          stacklevel=2)
    history = fit(model, x, target, **fit_kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # two kernels saving the same model do not collide
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "history": history.as_dict()}, tmp)
    tmp.replace(path)
    return history


class PixelCrossEntropy:
    """Per-pixel cross-entropy for segmentation, with the background class (0) weighted down.

    A class, not a closure, so that its settings enter ``fit_cached``'s key through its repr.
    """

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
