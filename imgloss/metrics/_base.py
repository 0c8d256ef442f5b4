"""What every metric's function and ``nn.Module`` share: the reduction and the thin module.

Conventions (one place, documented in the README's library section):
- argument order ``(x, y)`` = ``(prediction, target)``, both ``N x C x H x W`` floats;
- ``data_range`` (default 1.0): the span of valid pixel values (1 for [0, 1] images,
  255 for 8-bit values kept as floats); every metric's value equals the value of
  ``x / data_range`` against ``y / data_range``;
- ``reduction``: functions default to ``"none"`` (one value per image, shape ``N``, what
  the CLI reports), modules to ``"mean"`` (a scalar for ``backward()``); ``"sum"`` too;
- ``check_values``: off by default (no host sync in a training step); on, NaN/inf and
  values outside ``[0, data_range]`` raise ``ValueError``.
"""
from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from imgloss.metrics._checks import check_positive

Reduction = Literal["mean", "sum", "none"]
REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: object) -> str:
    """``mean``, ``sum`` or ``none``, else ``ValueError``."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction  # type: ignore[return-value]


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
    """Base class: subclasses implement ``per_image(x, y) -> Tensor[N]`` (prediction,
    target) and call their function with ``self.data_range`` and ``self.check_values``."""

    def __init__(self, *, data_range: float = 1.0, reduction: Reduction = "mean", check_values: bool = False) -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)
        self.data_range = check_positive("data_range", data_range)
        self.check_values = bool(check_values)

    def per_image(self, x: Tensor, y: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Loss of prediction ``x`` against target ``y``, reduced by ``self.reduction``."""
        return reduce(self.per_image(x, y), self.reduction)

    def extra_repr(self) -> str:
        return f"data_range={self.data_range:g}, reduction={self.reduction!r}"
