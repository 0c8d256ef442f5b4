"""Gram matrices of feature maps and the distance between two sets of them.

``gram(F)`` is per image: ``G = F F^T / (C H W)`` with F the ``C x (H W)`` matrix of
one image (never a Gram over ``(N C) x (H W)``, which mixes a batch).
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from imgloss.metrics._checks import check_image

GramDistance = Literal["mse", "l1"]


def gram(features: Tensor, *, check_values: bool = False) -> Tensor:
    """Per-image Gram matrix of ``N x C x H x W`` features; shape ``N x C x C``.

    ``check_values`` also refuses NaN/inf features (a host sync). Computed in at least
    float32, outside autocast.

    Example:
        >>> import torch
        >>> from imgloss.functional import gram
        >>> gram(torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]]))
        tensor([[[1.2500, 2.7500],
                 [2.7500, 6.2500]]])
    """
    check_image("features", features, check_values=check_values)
    n, c, h, w = features.shape
    # At least float32 and outside autocast: a sum over H W products overflows fp16.
    flat = features.reshape(n, c, h * w).to(torch.promote_types(features.dtype, torch.float32))
    with torch.autocast(features.device.type, enabled=False):
        return flat @ flat.transpose(1, 2) / (c * h * w)


def gram_distance(gx: Tensor, gy: Tensor, distance: GramDistance = "mse") -> Tensor:
    """Mean squared (or absolute) difference over the ``C x C`` entries; shape ``N``."""
    if gx.shape != gy.shape:
        raise ValueError(f"gx and gy must have the same shape, got {tuple(gx.shape)} and {tuple(gy.shape)}")
    diff = gx - gy
    if distance == "mse":
        return diff.square().mean(dim=(1, 2))
    if distance == "l1":
        return diff.abs().mean(dim=(1, 2))
    raise ValueError(f"distance must be 'mse' or 'l1', got {distance!r}")
