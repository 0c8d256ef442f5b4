"""Where two images differ, per metric: the spatial form of each metric that has one.

:func:`metric_maps` turns one pair into ``H x W`` maps (float64, the image's size), each
with the fixed colour scale it is drawn on (:data:`imgloss.report.colormap.SCALES`): the
metric's map under its column, and with ``breakdown`` one map per part under
``COLUMN/PART`` (the names of ``--breakdown``'s columns). :func:`metric_map` is the total
alone.

============== ======================================================= ============
metric         map (parts with ``breakdown``)                          scale
============== ======================================================= ============
charbonnier,   ``sqrt((x - y)^2 + eps^2)`` / ``|x - y|``, mean over C  abs_error
mae
mse, psnr      ``(x - y)^2``, mean over C                              sq_error
ssim           ``1 - SSIM`` (the run's convention), mean over C; the   ssim
               border without a full window is NaN (drawn grey)
wssim          ``sum_i w_i (1 - SSIM_i) / sum_i w_i`` over W-SSIM's     ssim
               terms (image, ``LH+HL<k>``, ``HH<k>``, ``LL<levels>``);
               each term's zero-padded ``1 - SSIM`` map (mean over its
               channels) is blown back up to ``H x W`` by repeating
               each value over the pixels it summarises (nearest);
               parts: each term's ``1 - SSIM`` map, unweighted
perceptual     ``sum_l w_l * D_l`` per pixel, each tap's distance      loss
               (mean over its channels) upsampled bilinearly; parts:
               each tap's weighted term ``w_l * D_l``
lpips          ``lpips(x, y, spatial=True)``; parts: each tap's map    loss
               (its learned 1x1 layer), upsampled bilinearly
============== ======================================================= ============

Parts add up to the total (W-SSIM: their weighted mean). Means: a pixel map's mean is
the metric (mae, mse, charbonnier; ssim over its valid window); W-SSIM's terms at their
own resolution (:func:`wssim_term_maps`) weigh up to exactly ``1 - wssim``, and the
image-size total keeps that mean exactly when each side divides by ``2^levels`` (Haar);
upsampled feature maps (perceptual, lpips) are close to, not equal to, the value.

No map: ``style`` (a Gram matrix sums over every position, so no pixel owns a share of
the distance: any split is a signed attribution, not a distance), ``ms_ssim`` (a product
of per-scale means raised to powers) and ``tv`` (no reference). :data:`MAPPED` lists the
metrics that have one. Inputs ``1 x C x H x W`` in [0, 1]; the same networks and
weights as scoring.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from imgloss.metrics.registry import MetricSpec

#: Metric -> the colour scale of its map.
MAPPED: dict[str, str] = {
    "charbonnier": "abs_error", "mae": "abs_error", "mse": "sq_error", "psnr": "sq_error",
    "ssim": "ssim", "wssim": "ssim", "perceptual": "loss", "lpips": "loss",
}
#: Metrics whose map has parts (``--breakdown``).
WITH_PARTS = ("wssim", "perceptual", "lpips")


def _pad_to(values: Tensor, height: int, width: int) -> Tensor:
    """Centre a valid-filtered map in an ``H x W`` map of NaN."""
    top, left = (height - values.shape[-2]) // 2, (width - values.shape[-1]) // 2
    out = values.new_full((height, width), float("nan"))
    out[top : top + values.shape[-2], left : left + values.shape[-1]] = values
    return out


def _upsampled(values: Tensor, size: tuple[int, int], mode: str) -> Tensor:
    """An ``N x 1 x h x w`` map resized to ``size`` (``bilinear`` or ``nearest``)."""
    if mode == "nearest":
        return F.interpolate(values, size=size, mode="nearest")
    return F.interpolate(values, size=size, mode="bilinear", align_corners=False)


def wssim_term_maps(
    x: Tensor, y: Tensor, wavelet: str = "haar", levels: int = 2, r: float = 0.7
) -> list[tuple[str, float, Tensor]]:
    """W-SSIM's terms as maps: ``(name, weight, 1 - SSIM map)`` per term, in the order and
    with the names and weights of :func:`imgloss.metrics.wssim.wssim_terms`; each map is
    ``N x 1 x h x w`` at the term's own resolution (zero-padded SSIM, mean over the
    term's channels). ``sum(w * map.mean()) / sum(w) == 1 - wssim`` per image."""
    from imgloss.metrics.wssim import ssim_term_maps

    return [
        (name, weight, 1 - values.mean(dim=1, keepdim=True))
        for name, weight, values in ssim_term_maps(x, y, wavelet, levels, r)
    ]


def _parts(spec: MetricSpec, x: Tensor, y: Tensor, weights: str | None) -> tuple[dict[str, Tensor], Tensor]:
    """The parts (name -> ``H x W``) of a metric in :data:`WITH_PARTS`, and its total map."""
    name, size = spec.info.name, tuple(x.shape[-2:])
    if name == "wssim":
        terms = wssim_term_maps(x, y)
        parts = {term: _upsampled(values, size, "nearest")[0, 0] for term, _, values in terms}
        total = sum(weight * parts[term] for term, weight, _ in terms) / sum(weight for _, weight, _ in terms)
        return parts, total
    from imgloss.features.vgg import extract_pair

    if name == "lpips":
        from imgloss.metrics.lpips import LPIPSLoss

        loss = LPIPSLoss(spec.preset or "vgg", weights=weights)
        fx, fy = extract_pair(x, y, backbone=loss.backbone, taps=loss.taps, normalize=loss.normalize, weights=weights)
        tap_maps = loss.tap_maps(fx, fy)
    else:
        from imgloss.metrics.perceptual import PerceptualLoss

        loss = PerceptualLoss(spec.preset or "default", weights=weights)
        fx, fy = extract_pair(x, y, backbone=loss.backbone, taps=loss.taps, normalize=loss.normalize, weights=weights)
        tap_maps = {}
        for tap, weight in zip(loss.taps, loss.layer_weights):
            diff = fx[tap] - fy[tap]
            tap_maps[tap] = weight * (diff.abs() if loss.distance == "l1" else diff.square()).mean(dim=1, keepdim=True)
    parts = {tap: _upsampled(values, size, "bilinear")[0, 0] for tap, values in tap_maps.items()}
    return parts, torch.stack(list(parts.values())).sum(dim=0)


def metric_maps(
    spec: MetricSpec, x: Tensor, y: Tensor, weights: str | None = None, breakdown: bool = False
) -> dict[str, tuple[str, Tensor]]:
    """``column -> (scale kind, H x W map)`` of ``spec``'s metric for the pair ``x``, ``y``
    (``1 x C x H x W``): ``spec.column`` (the total), then with ``breakdown`` one map per
    part, ``COLUMN/PART`` (see the module docstring). ``KeyError`` when the metric has no map."""
    name = spec.info.name
    kind = MAPPED[name]
    height, width = x.shape[-2:]
    with torch.no_grad():
        if name in WITH_PARTS:
            parts, total = _parts(spec, x, y, weights)
            shown = parts if breakdown else {}
            return {spec.column: (kind, total), **{f"{spec.column}/{part}": (kind, m) for part, m in shown.items()}}
        if name in ("charbonnier", "mae"):
            diff = x - y
            values = diff.abs() if name == "mae" else torch.sqrt(diff.square() + 1e-6)
            return {spec.column: (kind, values.mean(dim=1)[0])}
        if name in ("mse", "psnr"):
            return {spec.column: (kind, (x - y).square().mean(dim=1)[0])}
        from imgloss.metrics.registry import get_ssim_convention
        from imgloss.metrics.ssim import ssim_map
        from imgloss.metrics.ssim_conventions import downsample_factor

        convention = spec.preset or "imgloss"
        dissimilarity = (1 - ssim_map(x, y, convention=convention)).mean(dim=1)[0]
        f = downsample_factor(get_ssim_convention(convention), height, width)
        if f > 1:  # piq, matlab: back to the image's scale, one block per value
            dissimilarity = dissimilarity.repeat_interleave(f, 0).repeat_interleave(f, 1)
        return {spec.column: (kind, _pad_to(dissimilarity, height, width))}


def metric_map(spec: MetricSpec, x: Tensor, y: Tensor, weights: str | None = None) -> tuple[str, Tensor]:
    """``(scale kind, H x W map)`` of ``spec``'s metric for the pair ``x``, ``y``
    (``1 x C x H x W``), the total of :func:`metric_maps`; ``KeyError`` when the metric
    has no map."""
    return metric_maps(spec, x, y, weights)[spec.column]
