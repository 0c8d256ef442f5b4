"""Perceptual loss: ``sum_l w_l * D(phi_l(x), phi_l(y))`` on VGG features, per image.

``D`` is the per-image mean over C, H, W of the absolute (``l1``) or squared (``mse``)
feature difference. Presets (``registry.PRESETS["perceptual"]``): ``default``
(pix2pixHD: VGG19 relu1_1..relu5_1, L1, weights 1/32..1), ``drn`` (S3Net),
``johnson``, ``johnson-content``. Inputs ``N x C x H x W`` in [0, 1] (C = 1 or 3);
output shape ``N``, lower is better, 0 at x = y. Needs verified VGG weights.
"""
from __future__ import annotations

from typing import Sequence

from torch import Tensor

from imgloss.metrics.feature_loss import VGGMetricLoss


class PerceptualLoss(VGGMetricLoss):
    """``nn.Module`` form of :func:`perceptual` (same options, plus ``reduction``)."""

    metric = "perceptual"
    distances = ("l1", "mse")

    def tap_distance(self, fx: Tensor, fy: Tensor) -> Tensor:
        diff = fx - fy
        values = diff.abs() if self.distance == "l1" else diff.square()
        return values.mean(dim=(1, 2, 3))


def perceptual(
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
    """Per-image perceptual distance (shape ``N``) of x to y.

    ``preset`` sets every option; ``backbone`` (``vgg19``/``vgg16``), ``taps``,
    ``layer_weights`` (1 each when only taps are given), ``distance`` (``l1``/``mse``)
    and ``normalize`` (``imagenet``/``none``) override it. ``weights`` is an explicit
    VGG weights file. ``breakdown=True`` returns tap -> weighted term plus ``"total"``.
    """
    loss = PerceptualLoss(
        preset, backbone=backbone, taps=taps, layer_weights=layer_weights,
        distance=distance, normalize=normalize, weights=weights,
    )
    return loss.evaluate(x, y, breakdown)
