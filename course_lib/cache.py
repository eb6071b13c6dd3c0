"""The weights cache behind ``training.fit_cached``: a key that covers everything, files that cannot lie.

A cached result is only worth having if it is the result the same training would give
now. So the key hashes everything that determines the trained weights:

- the model: its class and the code of its methods (``forward`` included) for every
  class that is not PyTorch's own, every plain attribute of every submodule (such as
  ``UNet.output``), and its initial weights (so the seed and the initialisation count);
- the training data and every argument of the fit;
- every function passed in (loss, transform, noise) by its code: the bytecode, its
  constants, default arguments, closure values and the globals it reads, followed into
  the functions it calls;
- the training code itself (``training.fit_cached`` puts ``fit`` in the key, which follows
  ``train_epoch``, ``speed.adam`` and the rest of the loop), and every class attribute of
  the model's own classes;
- the torch version.

It leaves out the number of threads: the same key trained with another thread count (or
on another CPU) gives weights that differ in rounding, amplified by training, as two honest
runs of one recipe do; with the same thread count and CPU they are identical to the bit.

The cache may be several folders, searched in order (a learner's own, then a class's
shared one); the first writable folder receives new entries. A file that cannot be read
back into the model is skipped with a one-line warning, never deleted (it may sit in a
folder the learner cannot write), and the model is trained into the writable folder.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import enum
import functools
import hashlib
import os
import re
import types
import warnings
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

KEY_CHARS = 16  # hex digits of the key in a file name: {name}-{key}.pt
MAX_NAME = 200  # characters: with "-{key}.pt" and a temporary suffix it stays under 255, the usual file name limit
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# Code from these packages is named, not hashed: the torch version in the key covers torch,
# and the rest does not change between runs of the same environment.
_NAMED_ONLY = {"builtins", "torch", "numpy", "abc", "typing", "collections", "functools", "math",
               "operator", "itertools", "dataclasses", "enum", "random", "warnings", "contextlib", "tqdm"}
_MODULE_INTERNALS = frozenset(nn.Module().__dict__)  # _parameters, _buffers, hooks, training ...
_MAX_DEPTH = 12


class CacheWarning(UserWarning):
    """The weights cache could not be used as it stands (bad entry, folder not writable)."""


def check_name(name: str) -> str:
    """A cache entry's name: up to ``MAX_NAME`` letters, digits, ``_``, ``-`` and ``.``, no path, no ``..``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name or len(name) > MAX_NAME:
        shown = name if not isinstance(name, str) or len(name) <= 60 else f"{name[:40]}... ({len(name)} characters)"
        raise ValueError(f"a cache name is 1 to {MAX_NAME} letters, digits, '_', '-' and '.', starting with a "
                         f"letter or digit, without '..' (it becomes a file name in the cache folder), got {shown!r}")
    return name


def folders(cache_dir) -> tuple[Path, ...]:
    """The cache folders, in search order, from one folder (a path) or a sequence of them."""
    items = [cache_dir] if isinstance(cache_dir, (str, PurePath)) else cache_dir
    if not isinstance(items, Sequence) or not items or not all(isinstance(f, (str, PurePath)) and str(f)
                                                                 for f in items):
        raise ValueError(f"cache_dir must be a folder or a non-empty sequence of folders, got {cache_dir!r}")
    return tuple(Path(f) for f in items)


def entry_path(cache_dir: Path, name: str, key: str) -> Path:
    """Where ``fit_cached`` keeps the entry ``name`` with ``key``: ``{cache_dir}/{name}-{key}.pt``."""
    return Path(cache_dir) / f"{check_name(name)}-{key}.pt"


# --------------------------------------------------------------------------- the key

def fingerprint(*parts) -> str:
    """A short hash of tensors, models, functions and plain values (what a cached result depends on)."""
    h = hashlib.sha256(f"torch {torch.__version__}".encode())
    seen: set = set()
    for part in parts:
        _feed(h, part, seen, 0)
    return h.hexdigest()[:KEY_CHARS]


def _put(h, *items) -> None:
    for item in items:
        h.update(str(item).encode())
        h.update(b"\x00")


def _named_only(obj) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module.split(".")[0] in _NAMED_ONLY


def _feed(h, obj, seen: set, depth: int) -> None:
    """Add ``obj`` to the hash ``h``: by value for data, by code for functions and classes."""
    if depth > _MAX_DEPTH:
        _put(h, "deep", type(obj).__qualname__)
        return
    d = depth + 1
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes, PurePath, enum.Enum,
                                       torch.dtype, torch.device)):
        _put(h, type(obj).__name__, repr(obj))
    elif isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        _put(h, "tensor", tuple(t.shape), t.dtype)
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())  # the raw bytes, any dtype
    elif isinstance(obj, np.ndarray):
        _put(h, "ndarray", obj.shape, obj.dtype)
        h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, torch.Generator):
        _feed(h, obj.get_state(), seen, d)
    elif isinstance(obj, (list, tuple)):
        _put(h, type(obj).__name__, len(obj))
        for item in obj:
            _feed(h, item, seen, d)
    elif isinstance(obj, dict):
        _put(h, "dict", len(obj))
        for key in sorted(obj, key=repr):
            _put(h, repr(key))
            _feed(h, obj[key], seen, d)
    elif isinstance(obj, (set, frozenset)):
        _put(h, "set", sorted(map(repr, obj)))
    elif id(obj) in seen:  # a cycle or a repeat of a model, function or object: its name is enough
        _put(h, "seen", type(obj).__qualname__)
    else:
        seen.add(id(obj))
        _feed_object(h, obj, seen, d)


def _feed_object(h, obj, seen: set, d: int) -> None:
    if isinstance(obj, nn.Module):
        _feed_module(h, obj, seen, d)
    elif isinstance(obj, functools.partial):
        _put(h, "partial")
        _feed(h, (obj.func, obj.args, obj.keywords), seen, d)
    elif isinstance(obj, types.MethodType):
        _put(h, "method")
        _feed(h, (obj.__func__, obj.__self__), seen, d)
    elif isinstance(obj, types.FunctionType):
        _feed_function(h, obj, seen, d)
    elif isinstance(obj, type):
        _feed_class(h, obj, seen, d)
    elif isinstance(obj, types.ModuleType):
        _put(h, "module", obj.__name__)
    elif isinstance(obj, (types.BuiltinFunctionType, types.BuiltinMethodType)) or _named_only(obj) and callable(obj):
        label = getattr(obj, "__qualname__", None) or repr(obj)  # an instance (torch.no_grad()): its repr,
        _put(h, "named", getattr(obj, "__module__", ""), _no_address(label, obj))  # less any memory address
    elif dataclasses.is_dataclass(obj):
        _feed_class(h, type(obj), seen, d)
        _feed(h, {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}, seen, d)
    elif hasattr(obj, "__dict__"):  # an object such as a callable class's instance: its class and state
        _feed_class(h, type(obj), seen, d)
        _feed(h, vars(obj), seen, d)
    else:  # no state to read: its repr, unless that only names a memory address
        _put(h, type(obj).__module__, type(obj).__qualname__, _no_address(repr(obj), obj))


def _no_address(text: str, obj) -> str:
    """``text``, or the name of ``obj``'s type where ``text`` holds a memory address (it differs every run)."""
    return type(obj).__qualname__ if " at 0x" in text else text


def _feed_module(h, module: nn.Module, seen: set, d: int) -> None:
    """Every submodule's class (code included), plain attributes, parameters and buffers."""
    for path, sub in module.named_modules():
        _put(h, "module", path)
        _feed_class(h, type(sub), seen, d)
        _feed(h, {k: v for k, v in vars(sub).items() if k not in _MODULE_INTERNALS}, seen, d)
        for kind, tensors in (("p", sub._parameters), ("b", sub._buffers)):
            for key, t in tensors.items():
                _put(h, kind, key)
                _feed(h, t, seen, d)


def _feed_class(h, cls: type, seen: set, d: int) -> None:
    """A class by name, and by the code of its methods unless it is PyTorch's (or another library's)."""
    _put(h, "class", cls.__module__, cls.__qualname__)
    if ("class", id(cls)) in seen:  # its code is in the hash already
        return
    seen.add(("class", id(cls)))
    for klass in cls.__mro__:
        if _named_only(klass):
            continue
        for key, value in sorted(vars(klass).items()):
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            elif isinstance(value, property):
                value = value.fget
            if isinstance(value, types.FunctionType):
                _put(h, "def", klass.__qualname__, key)
                _feed(h, value, seen, d)
            elif not (key.startswith("__") and key.endswith("__")):  # a class attribute, e.g. read in forward
                _put(h, "attr", klass.__qualname__, key)
                _feed(h, value, seen, d)


def _feed_code(h, code: types.CodeType, names: set[str]) -> None:
    """Bytecode, constants and names (not the file or line: moving a cell changes nothing)."""
    _put(h, "code", code.co_name, code.co_argcount, code.co_kwonlyargcount, code.co_varnames, code.co_names)
    h.update(code.co_code)
    names.update(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _feed_code(h, const, names)
        elif isinstance(const, frozenset):
            _put(h, sorted(map(repr, const)))
        else:
            _put(h, type(const).__name__, repr(const))


def _feed_function(h, fn: types.FunctionType, seen: set, d: int) -> None:
    """A function by its code, defaults, closure and the globals it reads, calls followed."""
    _put(h, "function", fn.__module__, fn.__qualname__)
    if _named_only(fn):
        return
    names: set[str] = set()
    _feed_code(h, fn.__code__, names)
    _feed(h, (fn.__defaults__, fn.__kwdefaults__), seen, d)
    for cell in fn.__closure__ or ():
        try:
            _feed(h, cell.cell_contents, seen, d)
        except ValueError:  # an empty cell
            _put(h, "empty cell")
    for name in sorted(names):
        if name in fn.__globals__:
            _put(h, "global", name)
            _feed(h, fn.__globals__[name], seen, d)


# --------------------------------------------------------------------------- the files

class Hit(NamedTuple):
    """A usable entry: the saved history, the file, and the thread count it was trained with (0: unknown)."""

    history: object
    path: Path
    threads: int


def writable_folder(cache_folders: Sequence[Path]) -> Path | None:
    """The first folder where entries can be written (made if missing); else None, with one warning."""
    reasons = []
    for folder in cache_folders:
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
            probe = Path(folder) / f".probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
            return Path(folder)
        except OSError as e:
            reasons.append(f"{folder} ({e.strerror or e})")
    warnings.warn(f"the weights cache folder{'s' * (len(reasons) > 1)} {', '.join(reasons)} cannot be written; "
                  "training without saving the weights", CacheWarning, stacklevel=3)
    return None


def lookup(cache_folders: Sequence[Path], name: str, key: str, model: nn.Module, into: type = dict,
           device: str = "cpu") -> Hit | None:
    """The first usable entry ``name``-``key`` in the folders, in order, loaded into ``model``; None if none."""
    for folder in cache_folders:
        hit = load(entry_path(folder, name, key), model, into=into, device=device)
        if hit is not None:
            return hit
    return None


def load(path: Path, model: nn.Module, into: type = dict, device: str = "cpu") -> Hit | None:
    """The entry at ``path`` (its history as ``into(**history)``) loaded into ``model``; None if unusable.

    An unusable entry (unreadable, truncated, or made for another model) is skipped with one
    warning and left where it is. The weights go into a copy first, so an entry that does not
    fit leaves ``model`` as it was.
    """
    try:
        present = path.is_file()
    except OSError:  # a folder this user may not read: nothing there for them
        present = False
    if not present:
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        trial = copy.deepcopy(model)
        trial.load_state_dict(saved["state_dict"])
        history = into(**saved["history"])
        threads = int(saved.get("trained_with", {}).get("threads", 0))
    except Exception as e:  # any unreadable, truncated or foreign file
        reason = str(e).strip().splitlines()[0][:120] if str(e).strip() else type(e).__name__
        warnings.warn(f"weights cache entry {path} is unusable ({type(e).__name__}: {reason}); "
                      "skipped (left as it is), training afresh", CacheWarning, stacklevel=4)
        return None
    model.load_state_dict(saved["state_dict"])
    model.to(device).eval()
    return Hit(history, path, threads)


def save(path: Path, model: nn.Module, history: dict) -> bool:
    """Write an entry atomically (a temporary file, then a rename); False, with a warning, if it failed.

    The entry also records the thread count it was trained with (weights depend on it in rounding).
    """
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # two kernels saving one model do not collide
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    trained_with = {"threads": torch.get_num_threads(), "torch": str(torch.__version__)}
    try:
        torch.save({"state_dict": state, "history": history, "trained_with": trained_with}, tmp)
        tmp.replace(path)
        return True
    except (OSError, RuntimeError) as e:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        warnings.warn(f"could not save {path.name} in the weights cache ({str(e).splitlines()[0][:120]}); "
                      "the trained model is kept in memory only", CacheWarning, stacklevel=3)
        return False
