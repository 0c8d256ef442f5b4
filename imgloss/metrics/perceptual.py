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

from imgloss.metrics._base import Reduction
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
    data_range: float = 1.0,
    reduction: Reduction = "none",
    check_values: bool = False,
) -> Tensor | dict[str, Tensor]:
    """Perceptual (VGG feature) distance of prediction ``x`` to target ``y``.

    Args:
        x: prediction, ``N x C x H x W`` float in ``[0, data_range]``, C = 1 or 3.
        y: target, same shape, dtype and device.
        preset: a registry preset (``imgloss metrics`` lists them); the options below
            override it.
        backbone: ``vgg19`` or ``vgg16``; taps: ReLU tap names; layer_weights: one per
            tap (1 each when only taps are given); distance: ``l1`` (default) or ``mse`` over the features;
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
        >>> from imgloss.functional import perceptual
        >>> x, y = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
        >>> perceptual(x, y).shape  # needs the VGG weights  # doctest: +SKIP
        torch.Size([2])
    """
    return PerceptualLoss.compute(
        x, y, preset, breakdown=breakdown, reduction=reduction, backbone=backbone, taps=taps,
        layer_weights=layer_weights, distance=distance, normalize=normalize, weights=weights,
        data_range=data_range, check_values=check_values,
    )
