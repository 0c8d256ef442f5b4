"""Where two images differ, per metric: the spatial form of each metric that has one.

:func:`metric_map` turns one pair into an ``H x W`` map (float64, the image's size) and
names the fixed colour scale it is drawn on (:data:`imgloss.report.colormap.SCALES`):

============== ======================================================= ============
metric         map                                                     scale
============== ======================================================= ============
charbonnier,   ``sqrt((x - y)^2 + eps^2)`` / ``|x - y|``, mean over C  abs_error
mae
mse, psnr      ``(x - y)^2``, mean over C                              sq_error
ssim           ``1 - SSIM`` (the run's convention), mean over C; the   ssim
               border without a full window is NaN (drawn grey)
perceptual     ``sum_l w_l * D_l`` per pixel, each tap's distance      loss
               (mean over its channels) upsampled bilinearly
lpips          ``lpips(x, y, spatial=True)``                           loss
============== ======================================================= ============

Other metrics (ms_ssim, wssim, style, tv) have no map here (:data:`MAPPED` lists those
that do). Inputs ``1 x C x H x W`` in [0, 1]; the same networks and weights as scoring.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from imgloss.metrics.registry import MetricSpec

#: Metric -> the colour scale of its map.
MAPPED: dict[str, str] = {
    "charbonnier": "abs_error", "mae": "abs_error", "mse": "sq_error", "psnr": "sq_error",
    "ssim": "ssim", "perceptual": "loss", "lpips": "loss",
}


def _pad_to(values: Tensor, height: int, width: int) -> Tensor:
    """Centre a valid-filtered map in an ``H x W`` map of NaN."""
    top, left = (height - values.shape[-2]) // 2, (width - values.shape[-1]) // 2
    out = values.new_full((height, width), float("nan"))
    out[top : top + values.shape[-2], left : left + values.shape[-1]] = values
    return out


def _perceptual(spec: MetricSpec, x: Tensor, y: Tensor, weights: str | None) -> Tensor:
    from imgloss.features.vgg import extract_pair
    from imgloss.metrics.perceptual import PerceptualLoss

    loss = PerceptualLoss(spec.preset or "default", weights=weights)
    fx, fy = extract_pair(x, y, backbone=loss.backbone, taps=loss.taps, normalize=loss.normalize, weights=weights)
    total = x.new_zeros(x.shape[-2:])
    for tap, weight in zip(loss.taps, loss.layer_weights):
        diff = fx[tap] - fy[tap]
        per_pixel = (diff.abs() if loss.distance == "l1" else diff.square()).mean(dim=1, keepdim=True)
        total = total + weight * F.interpolate(per_pixel, size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    return total


def metric_map(spec: MetricSpec, x: Tensor, y: Tensor, weights: str | None = None) -> tuple[str, Tensor]:
    """``(scale kind, H x W map)`` of ``spec``'s metric for the pair ``x``, ``y``
    (``1 x C x H x W``); ``KeyError`` when the metric has no map."""
    name = spec.info.name
    kind = MAPPED[name]
    height, width = x.shape[-2:]
    with torch.no_grad():
        if name in ("charbonnier", "mae"):
            diff = x - y
            values = diff.abs() if name == "mae" else torch.sqrt(diff.square() + 1e-6)
            return kind, values.mean(dim=1)[0]
        if name in ("mse", "psnr"):
            return kind, (x - y).square().mean(dim=1)[0]
        if name == "ssim":
            from imgloss.metrics.ssim import ssim_map

            from imgloss.metrics.registry import get_ssim_convention
            from imgloss.metrics.ssim_conventions import downsample_factor

            convention = spec.preset or "imgloss"
            dissimilarity = (1 - ssim_map(x, y, convention=convention)).mean(dim=1)[0]
            f = downsample_factor(get_ssim_convention(convention), height, width)
            if f > 1:  # piq, matlab: back to the image's scale, one block per value
                dissimilarity = dissimilarity.repeat_interleave(f, 0).repeat_interleave(f, 1)
            return kind, _pad_to(dissimilarity, height, width)
        if name == "lpips":
            from imgloss.metrics.lpips import lpips

            return kind, lpips(x, y, spec.preset or "vgg", spatial=True, weights=weights)[0, 0]
        return kind, _perceptual(spec, x, y, weights)
