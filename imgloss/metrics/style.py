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
from imgloss.metrics._base import Reduction, check_reduction, reduce
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

    Args:
        x: prediction, ``N x C x H x W`` float in ``[0, data_range]``, C = 1 or 3.
        y: target, same shape, dtype and device.
        preset: a registry preset (``imgloss metrics`` lists them); the options below
            override it.
        backbone: ``vgg19`` or ``vgg16``; taps: ReLU tap names; layer_weights: one per
            tap (1 each when only taps are given); distance: ``mse`` (default) or ``l1`` over the Gram entries;
            normalize: ``imagenet`` or ``none``.
        weights: an explicit VGG weights file (None: ``IMGLOSS_WEIGHTS``, the torch hub
            cache, imgloss's cache; always verified).
        breakdown: return tap -> weighted term plus ``"total"`` instead of the total.
        data_range: span of pixel values (inputs are divided by it before the network).
        reduction: ``"none"`` (default: shape ``N``), ``"mean"`` or ``"sum"``.
        check_values: also refuse NaN/inf and values outside ``[0, data_range]``.

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
    check_reduction(reduction)
    loss = StyleLoss(
        preset, backbone=backbone, taps=taps, layer_weights=layer_weights,
        distance=distance, normalize=normalize, weights=weights,
        data_range=data_range, check_values=check_values,
    )
    values = loss.evaluate(x, y, breakdown)
    if isinstance(values, dict):
        return {tap: reduce(value, reduction) for tap, value in values.items()}
    return reduce(values, reduction)
