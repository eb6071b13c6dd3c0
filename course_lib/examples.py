"""The two containers of every dataset in the course: ``Examples`` (x, y) and ``Splits`` (train/val/test)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch


class Examples(NamedTuple):
    """Inputs ``x`` (N, ...) and their integer labels ``y`` (N,): images (N, C, H, W) in [0, 1] or series (N, C, L)."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.x)

    def take(self, index: torch.Tensor) -> Examples:
        """The examples at ``index``, as contiguous tensors."""
        return Examples(self.x[index].contiguous(), self.y[index].contiguous())


@dataclass(frozen=True)
class Splits:
    """Train / validation / test splits of one dataset and where they came from.

    The test split is never used to choose anything. For ECG5000, ``train`` and ``val``
    hold normal beats only and ``train_anomalous`` keeps the training file's anomalous
    beats, which the anomaly chapter does not train on.
    """

    train: Examples
    val: Examples
    test: Examples
    name: str
    source: str
    is_real: bool
    classes: tuple[str, ...]
    train_anomalous: Examples | None = None

    def describe(self) -> str:
        """One line: name, source and split sizes."""
        if self.train_anomalous is None:
            return (f"{self.name} from {self.source}: train {len(self.train)}, "
                    f"val {len(self.val)}, test {len(self.test)}, image shape "
                    f"{tuple(self.train.x.shape[1:])}")
        share = (self.test.y != 1).float().mean().item()
        return (f"{self.name} from {self.source}: train {len(self.train)} normal beats, "
                f"val {len(self.val)} normal beats, test {len(self.test)} beats "
                f"({share:.0%} anomalous), beat shape {tuple(self.train.x.shape[1:])}")

    @property
    def test_is_anomaly(self) -> torch.Tensor:
        """For ECG5000: the test beats' anomaly labels (N,), 1 for every class but 1 (normal)."""
        return (self.test.y != 1).long()
