"""Argument validation shared by every metric: rank, dtype, shape, NaN and range.

Each check raises ``ValueError`` (``TypeError`` for non-tensors) naming the argument;
none uses ``assert``. Range and finiteness share one fused min/max reduction, the one
host sync of a check; :func:`trusted_inputs` skips it for callers whose inputs are in
[0, 1] by construction (the engine's decoded images), so a batch runs without a sync.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

import torch
from torch import Tensor


_TRUSTED: ContextVar[bool] = ContextVar("imgloss_trusted_inputs", default=False)


@contextmanager
def trusted_inputs() -> Iterator[None]:
    """Within this block, checks keep rank, dtype and shape but skip the value scan
    (NaN, range): for inputs in [0, 1] by construction, e.g. decoded image files."""
    token = _TRUSTED.set(True)
    try:
        yield
    finally:
        _TRUSTED.reset(token)


def check_image(name: str, x: object, *, unit_range: bool = True) -> Tensor:
    """Validate an ``N x C x H x W`` floating tensor; return it unchanged.

    ``unit_range`` demands values in [0, 1] (metrics whose constants assume data
    range 1); otherwise only finiteness is checked.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} must be 4-D (N x C x H x W), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(
            f"{name} must be a floating tensor with values in [0, 1], got dtype {x.dtype} "
            "(divide 8-bit images by 255)"
        )
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)})")
    if _TRUSTED.get():
        return x
    # One fused reduction (min and max propagate NaN) and one sync answer both checks.
    low, high = (float(v) for v in torch.aminmax(x.detach()))
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if unit_range and not (low >= 0 and high <= 1):
        raise ValueError(
            f"{name} has values outside [0, 1] (min {low:.4g}, max {high:.4g}); "
            "this metric assumes data range 1"
        )
    return x


def check_pair(x: object, y: object, *, unit_range: bool = True) -> tuple[Tensor, Tensor]:
    """Validate two images of identical shape, dtype and device."""
    check_image("x", x, unit_range=unit_range)
    check_image("y", y, unit_range=unit_range)
    if x.shape != y.shape:  # type: ignore[union-attr]
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")  # type: ignore[union-attr]
    if x.dtype != y.dtype or x.device != y.device:  # type: ignore[union-attr]
        raise ValueError(
            f"x and y must share dtype and device, got {x.dtype}/{x.device} and {y.dtype}/{y.device}"  # type: ignore[union-attr]
        )
    return x, y  # type: ignore[return-value]


def check_positive(name: str, value: float) -> float:
    """Validate a strictly positive scalar option."""
    if not 0 < value < float("inf"):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)
