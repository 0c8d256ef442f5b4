"""Style loss: distance between per-image Gram matrices of VGG features, summed over taps.

Per image and tap ``G = F F^T / (C H W)`` (:func:`imgloss.metrics.gram.gram`, never a
Gram over the batch), then the mean squared (``mse``, default) or absolute (``l1``)
difference over the ``C x C`` entries, weighted and summed. Default preset: VGG19
relu1_1..relu5_1, weights 1. Inputs ``N x C x H x W`` in [0, 1] (C = 1 or 3);
output shape ``N``, lower is better, 0 at x = y. Needs verified VGG weights.
"""
from __future__ import annotations

from typing import Sequence

from torch import Tensor

from imgloss.metrics.gram import gram, gram_distance
from imgloss.metrics._base import Reduction
from imgloss.metrics.feature_loss import VGGMetricLoss


class StyleLoss(VGGMetricLoss):
    """``nn.Module`` form of :func:`style` (same options, plus ``reduction``)."""

    metric = "style"
    distances = ("mse", "l1")

    def tap_distance(self, fx: Tensor, fy: Tensor) -> Tensor:
        return gram_distance(gram(fx), gram(fy), self.distance)  # type: ignore[arg-type]


def style(
    x: Tensor,
    y: Tensor,
    preset: str = "default",
    *,
    backbone: str | None = None,
    taps: Sequence[str] | None = None,
    layer_weights: Sequence[float] | None = None,
    distance: str | None = None,
    normalize: str | None = None,
    weights: str | None = None,
    breakdown: bool = False,
    data_range: float = 1.0,
    reduction: Reduction = "none",
    check_values: bool = False,
) -> Tensor | dict[str, Tensor]:
    """Style (Gram-matrix) distance of prediction ``x`` to target ``y``.

    Args: as :func:`imgloss.metrics.perceptual.perceptual`, except ``distance``:
        ``mse`` (default) or ``l1`` over the ``C x C`` Gram entries.

    Returns:
        Distance >= 0 (lower is better), 0 at x = y; a dict with ``breakdown``.

    Raises:
        ValueError: bad inputs or options; WeightsError: no verified weights.

    Example:
        >>> import torch
        >>> from imgloss.functional import style
        >>> x, y = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
        >>> style(x, y).shape  # needs the VGG weights  # doctest: +SKIP
        torch.Size([2])
    """
    return StyleLoss.compute(
        x, y, preset, breakdown=breakdown, reduction=reduction, backbone=backbone, taps=taps,
        layer_weights=layer_weights, distance=distance, normalize=normalize, weights=weights,
        data_range=data_range, check_values=check_values,
    )
