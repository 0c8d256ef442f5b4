"""Argument validation shared by every metric: type, rank, dtype, shape, device, options.

Two tiers (issue 11):
- Always (metadata only, never reads a value, never syncs with the device, traceable by
  ``torch.compile(fullgraph=True)``): tensor type, rank 4, floating dtype, non-empty,
  equal shape, dtype and device of the two images.
- Only when the caller asks (``check_values=True``; the CLI's engine knows its data came
  from decoded images and needs no such check): NaN/infinity and the value range
  ``[0, data_range]``. These read every value (one fused min/max) and sync with the host.

Each check raises ``ValueError`` (``TypeError`` for non-tensors) naming the argument;
none uses ``assert``.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor


def check_image(name: str, x: object, *, check_values: bool = False, data_range: float | None = None) -> Tensor:
    """Validate an ``N x C x H x W`` floating tensor; return it unchanged.

    With ``check_values``: finite values, and when ``data_range`` is given, values in
    ``[0, data_range]`` (metrics whose constants assume that range).
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
    if check_values:
        check_finite_and_range(name, x, data_range)
    return x


def check_finite_and_range(name: str, x: Tensor, data_range: float | None) -> None:
    """The value checks: one fused min/max reduction and one host sync answer both."""
    low, high = (float(v) for v in torch.aminmax(x.detach()))
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if data_range is not None and not (low >= 0 and high <= data_range):
        raise ValueError(
            f"{name} has values outside [0, {data_range:g}] (min {low:.4g}, max {high:.4g}); "
            f"this metric assumes data range {data_range:g} (pass data_range=)"
        )


def check_pair(
    x: object, y: object, *, check_values: bool = False, data_range: float | None = None
) -> tuple[Tensor, Tensor]:
    """Validate a prediction ``x`` and a target ``y`` of identical shape, dtype and device."""
    check_image("x", x, check_values=check_values, data_range=data_range)
    check_image("y", y, check_values=check_values, data_range=data_range)
    if x.shape != y.shape:  # type: ignore[union-attr]
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")  # type: ignore[union-attr]
    if x.dtype != y.dtype or x.device != y.device:  # type: ignore[union-attr]
        raise ValueError(
            f"x and y must share dtype and device, got {x.dtype}/{x.device} and {y.dtype}/{y.device}"  # type: ignore[union-attr]
        )
    return x, y  # type: ignore[return-value]


def check_positive(name: str, value: float) -> float:
    """Validate a strictly positive, finite scalar option (``eps``, ``data_range``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)
