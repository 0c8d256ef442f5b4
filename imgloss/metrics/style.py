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
) -> Tensor | dict[str, Tensor]:
    """Per-image Gram (style) distance (shape ``N``) of x to y.

    Options as :func:`imgloss.metrics.perceptual.perceptual`; ``distance`` is ``mse``
    (default) or ``l1`` over the Gram entries. ``breakdown=True`` returns tap ->
    weighted term plus ``"total"``.
    """
    loss = StyleLoss(
        preset, backbone=backbone, taps=taps, layer_weights=layer_weights,
        distance=distance, normalize=normalize, weights=weights,
    )
    return loss.evaluate(x, y, breakdown)
