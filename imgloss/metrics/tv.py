"""Total variation of a single image (no reference), one value per image.

``kind="squared"`` (default, the perceptual-loss notes' form):
``2 * (sum(dh^2) / (C (H-1) W) + sum(dw^2) / (C H (W-1)))``; a direction with one
row or column contributes 0. ``kind="l1"``: ``sum|dh| + sum|dw|``. ``kind="isotropic"``:
``sum sqrt(dh^2 + dw^2)`` over all pixels with forward differences, the difference past
the last row/column taken as 0 (Neumann boundary); its gradient at a flat spot is 0.
Input ``N x C x H x W`` floats (any range); output shape ``N``, lower is smoother.
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from imgloss.metrics._base import MetricLoss, Reduction
from imgloss.metrics._checks import check_image

TVKind = Literal["squared", "l1", "isotropic"]
TV_KINDS = ("squared", "l1", "isotropic")


def _squared(dh: Tensor, dw: Tensor) -> Tensor:
    def term(d: Tensor) -> Tensor:
        count = d[0].numel()
        return d.square().sum(dim=(1, 2, 3)) / count if count else d.new_zeros(d.shape[0])

    return 2 * (term(dh) + term(dw))


def _l1(dh: Tensor, dw: Tensor) -> Tensor:
    return dh.abs().sum(dim=(1, 2, 3)) + dw.abs().sum(dim=(1, 2, 3))


def _isotropic(dh: Tensor, dw: Tensor) -> Tensor:
    magnitude = F.pad(dh, (0, 0, 0, 1)).square() + F.pad(dw, (0, 1)).square()
    positive = magnitude > 0
    root = torch.sqrt(torch.where(positive, magnitude, torch.ones_like(magnitude)))
    return torch.where(positive, root, torch.zeros_like(magnitude)).sum(dim=(1, 2, 3))


_KINDS = {"squared": _squared, "l1": _l1, "isotropic": _isotropic}


def tv(x: Tensor, kind: TVKind = "squared") -> Tensor:
    """Total variation of each image in ``x``; shape ``N``; 0 for a constant image."""
    check_image("x", x, unit_range=False)
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {TV_KINDS}, got {kind!r}")
    dh = x[:, :, 1:, :] - x[:, :, :-1, :]
    dw = x[:, :, :, 1:] - x[:, :, :, :-1]
    return _KINDS[kind](dh, dw)


class TVLoss(MetricLoss):
    """Total variation regulariser. Called with one image: ``TVLoss()(x)``."""

    def __init__(self, kind: TVKind = "squared", reduction: Reduction = "mean") -> None:
        super().__init__(reduction)
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {TV_KINDS}, got {kind!r}")
        self.kind = kind

    def per_image(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return tv(x, self.kind)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:  # type: ignore[override]
        return super().forward(x, y)  # type: ignore[arg-type]
