"""Charbonnier loss (LapSRN, S3Net): ``mean(sqrt((x - y)^2 + eps^2))`` per image.

Lower is better; the minimum, at x = y, is exactly ``eps``. Inputs are
``N x C x H x W`` floats (any range); the result has shape ``N``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from imgloss.metrics._base import MetricLoss, Reduction
from imgloss.metrics._checks import check_pair, check_positive


def charbonnier(x: Tensor, y: Tensor, eps: float = 1e-3) -> Tensor:
    """Per-image Charbonnier distance, mean over C, H, W. Default ``eps = 1e-3``.

    This is the LapSRN/S3Net form (``1e-6`` under the root); it is not kornia's
    ``sqrt(d^2 + 1) - 1``.
    """
    check_pair(x, y, unit_range=False)
    check_positive("eps", eps)
    return torch.sqrt((x - y).square() + eps * eps).mean(dim=(1, 2, 3))


class CharbonnierLoss(MetricLoss):
    """``nn.Module`` form of :func:`charbonnier`."""

    def __init__(self, eps: float = 1e-3, reduction: Reduction = "mean") -> None:
        super().__init__(reduction)
        self.eps = check_positive("eps", eps)

    def per_image(self, x: Tensor, y: Tensor) -> Tensor:
        return charbonnier(x, y, self.eps)
