"""The thin ``nn.Module`` shell every metric's loss form shares: batch reduction.

A metric's pure function returns one value per image (shape ``N``); the module calls
it, optionally turns a similarity into a loss (``1 - s``), and reduces the batch with
``reduction = "mean" | "sum" | "none"``.
"""
from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

Reduction = Literal["mean", "sum", "none"]
REDUCTIONS = ("mean", "sum", "none")


def reduce(values: Tensor, reduction: str) -> Tensor:
    """Reduce per-image values (shape ``N``) by ``mean``, ``sum`` or ``none``."""
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction == "none":
        return values
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


class MetricLoss(nn.Module):
    """Base class: subclasses implement ``per_image(x, y) -> Tensor[N]``."""

    def __init__(self, reduction: Reduction = "mean") -> None:
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def per_image(self, x: Tensor, y: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return reduce(self.per_image(x, y), self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
