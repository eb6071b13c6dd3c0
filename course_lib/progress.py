"""One line that follows a training run while it runs and ends as its summary.

In a notebook the line is a display that is updated in place (an IPython display handle), so
an executed notebook, a static page of it and a screen reader all keep only the final line:
how many epochs ran, the best one, and why training stopped. Outside a notebook the line is
a tqdm bar on stderr while training runs, then the summary is printed.
"""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

UPDATE_EVERY_S = 2.0  # the line is redrawn at most this often within an epoch


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (where a display can be updated in place)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and hasattr(shell, "kernel")


class _Line:
    """A line of plain text shown once and then rewritten in place (``IPython.display.Pretty``)."""

    def __init__(self, text: str):
        from IPython.display import Pretty, display

        self._pretty = Pretty
        self._handle = display(Pretty(text), display_id=True)

    def update(self, text: str) -> None:
        self._handle.update(self._pretty(text))


class TrainingProgress:
    """Progress of one ``fit``: ``step`` after each batch, ``epoch`` after each epoch, ``finish`` at the end."""

    def __init__(self, label: str, num_epochs: int, steps_per_epoch: int, enabled: bool = True):
        self.label, self.num_epochs, self.steps = label, num_epochs, steps_per_epoch
        self.enabled, self.epochs_done, self.last = enabled, 0, ""
        self._shown, self._bar, self._line = 0.0, None, None
        if not enabled:
            return
        if _in_kernel():
            self._line = _Line(f"{label}: training, epoch 1 of at most {num_epochs} ...")
        else:
            self._bar = tqdm(total=num_epochs * steps_per_epoch, desc=label, leave=False, file=sys.stderr,
                             disable=None)  # no bar where stderr is not a terminal (CI logs)
        self._shown = time.perf_counter()

    def step(self, epoch: int, step: int) -> None:
        """Batch ``step`` (from 1) of epoch ``epoch`` (from 1) is done."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(1)
        elif time.perf_counter() - self._shown >= UPDATE_EVERY_S:
            self._show(f"{self.label}: epoch {epoch} of at most {self.num_epochs}, batch {step} of {self.steps}"
                       + self.last)

    def epoch(self, epoch: int, train_loss: float, val_loss: float | None) -> None:
        """Epoch ``epoch`` (from 1) is done; its mean training loss and validation loss."""
        self.epochs_done = epoch
        self.last = f"; after epoch {epoch}: train {train_loss:.4g}" + (
            "" if val_loss is None else f", validation {val_loss:.4g}")
        if self.enabled and self._line is not None:
            self._show(f"{self.label}: {epoch} of at most {self.num_epochs} epochs done" + self.last)

    def finish(self, summary: str) -> None:
        """Replace the line by ``summary`` (or print it, outside a notebook)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
        if self._line is not None:
            self._line.update(summary)
        else:
            print(summary)

    def _show(self, text: str) -> None:
        self._line.update(text)
        self._shown = time.perf_counter()


def stop_reason(num_epochs: int, converged: bool, patience: int | None, min_improvement: float) -> str:
    """Why a ``fit`` ended, in a few words."""
    if converged:
        return (f"stopped: no validation gain of {min_improvement:.1%} for {patience} epochs "
                "(validation loss stopped improving)")
    if patience is not None:
        return f"stopped by the {num_epochs}-epoch ceiling, validation loss still improving"
    return f"the planned {num_epochs} epoch{'s' if num_epochs != 1 else ''}"


def summary_line(label: str, epochs: int, seconds: float, best_epoch: int | None, best_val: float | None,
                 reason: str) -> str:
    """``label: 23 epochs in 41 s, best epoch 20 (validation loss 0.0078); stopped: ...``.

    ``best_val`` is the validation loss of the weights the model keeps: the best epoch's
    with early stopping, else the last epoch's.
    """
    best = f", best epoch {best_epoch}" if best_epoch else ""
    val = "" if best_val is None else f" (validation loss {best_val:.4g}{'' if best_epoch else ' at the end'})"
    return f"{label}: {epochs} epoch{'s' if epochs != 1 else ''} in {seconds:.0f} s{best}{val}; {reason}"
