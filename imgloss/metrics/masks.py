"""Metric values of image pairs with ignore regions (the CI gate's masks).

``mask``: ``N x 1 x H x W``, 1 where pixels are compared, 0 where they are ignored
(any float or bool dtype; same device as the images). Two rules, for every metric:

1. **Fill.** The candidate's ignored pixels take the reference's values before any
   metric runs (:func:`fill`), so no pixel, SSIM window, wavelet subband or VGG
   receptive field sees a difference inside an ignored region: a change there changes
   no value of any metric.
2. **Masked mean.** A metric that is the mean of a per-pixel quantity averages it over
   the compared pixels only (:data:`MASKED_MEANS`):

   - ``mse``, ``mae``, ``charbonnier``, ``psnr``: the metric's own function on the
     compared pixels alone (PSNR from their MSE);
   - ``ssim`` (every convention): its SSIM map, weighted by the mask at each window's
     centre (the mask area-averaged to the map's grid when a convention downsamples);
   - ``wssim``: each term's zero-padded SSIM map weighted by the mask, area-averaged to
     that level's subband size (2 x 2 means per Haar level);
   - ``tv``: squared differences of vertical and horizontal neighbours that are both
     compared (for the candidate's ``tv`` and the reference's ``tv_ref``).

   ``ms_ssim``, ``perceptual``, ``style`` and ``lpips`` take rule 1 only: their value is
   that of the whole filled image, so ignored pixels count as identical (a dilution by
   the ignored share, not a difference).

With an all-ones mask every value is the unmasked metric's. A weighted map whose weights
are all zero (e.g. the compared pixels all lie within 5 px of the border, where no SSIM
window is centred) falls back to the mean of the whole filled map.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from imgloss.metrics.registry import SSIM_CONVENTIONS, MetricSpec
from imgloss.metrics.ssim import ssim_map
from imgloss.metrics.wssim import ssim_term_maps

#: W-SSIM's defaults, as the engine computes it (Haar, 2 levels, r = 0.7).
_WSSIM_LEVELS, _WSSIM_R = 2, 0.7


def fill(candidate: Tensor, reference: Tensor, mask: Tensor) -> Tensor:
    """``candidate`` with its ignored pixels replaced by ``reference``'s (rule 1)."""
    return torch.where(mask.bool(), candidate, reference)


def weighted_mean(values: Tensor, weights: Tensor) -> Tensor:
    """Per-image mean of ``values`` (``N x C x h x w``) weighted by ``weights``
    (``N x 1 x h x w``); the plain mean where an image's weights are all zero."""
    weights = weights.to(values.dtype)
    total = (values * weights).sum(dim=(1, 2, 3))
    count = weights.sum(dim=(1, 2, 3)) * values.shape[1]
    return torch.where(count > 0, total / count.clamp_min(torch.finfo(values.dtype).tiny), values.mean(dim=(1, 2, 3)))


def resample(mask: Tensor, size: tuple[int, int]) -> Tensor:
    """``mask`` (``N x 1 x H x W``) area-averaged to ``size`` (itself when equal)."""
    mask = mask.to(torch.float32) if not mask.is_floating_point() else mask
    return mask if tuple(mask.shape[-2:]) == tuple(size) else F.adaptive_avg_pool2d(mask, size)


def map_weights(mask: Tensor, map_size: tuple[int, int], window: int) -> Tensor:
    """The mask on the grid of a windowed map of ``map_size``: per axis, a map shorter
    than the image by ``window - 1`` or more was filtered without padding (its pixel ``i``
    is the window centred at ``i + window // 2``), else the map covers the whole side."""
    height, width = mask.shape[-2:]
    pre = [m + window - 1 if m + window - 1 <= side else m for m, side in zip(map_size, (height, width))]
    weights = resample(mask, (pre[0], pre[1]))
    top, left = ((p - m) // 2 for p, m in zip(pre, map_size))
    return weights[..., top : top + map_size[0], left : left + map_size[1]]


def _pixels(spec: MetricSpec, function: Callable[..., Tensor], x: Tensor, y: Tensor, mask: Tensor) -> Tensor:
    """The metric's own function on each image's compared pixels (``1 x C x K x 1``)."""
    keep = mask[:, 0].bool()
    values = [function(x[i][:, keep[i]][None, :, :, None], y[i][:, keep[i]][None, :, :, None]) for i in range(len(x))]
    return torch.cat(values)


def _ssim(spec: MetricSpec, function: Callable[..., Tensor], x: Tensor, y: Tensor, mask: Tensor) -> Tensor:
    convention = spec.preset or "imgloss"
    values = ssim_map(x, y, convention=convention)
    return weighted_mean(values, map_weights(mask, tuple(values.shape[-2:]), SSIM_CONVENTIONS[convention].size))


def _wssim(spec: MetricSpec, function: Callable[..., Tensor], x: Tensor, y: Tensor, mask: Tensor) -> Tensor:
    """W-SSIM (:mod:`imgloss.metrics.wssim`, Haar, 2 levels, r = 0.7) with each term's
    SSIM map weighted by the mask resampled to that term's size."""
    terms = [
        (weight, weighted_mean(values, resample(mask, tuple(values.shape[-2:]))))
        for _, weight, values in ssim_term_maps(x, y, "haar", _WSSIM_LEVELS, _WSSIM_R)
    ]
    return sum(w * v for w, v in terms) / sum(w for w, _ in terms)


def masked_tv(x: Tensor, mask: Tensor) -> Tensor:
    """Squared-form TV (:func:`imgloss.metrics.tv.tv`) over neighbour pairs that are
    both compared: ``2 (mean dh^2 + mean dw^2)``, each mean over the kept pairs."""
    keep = mask.to(x.dtype)

    def term(d: Tensor, both: Tensor) -> Tensor:
        count = both.sum(dim=(1, 2, 3)) * x.shape[1]
        total = (d.square() * both).sum(dim=(1, 2, 3))
        return torch.where(count > 0, total / count.clamp_min(1), torch.zeros_like(total))

    dh = x[:, :, 1:, :] - x[:, :, :-1, :]
    dw = x[:, :, :, 1:] - x[:, :, :, :-1]
    return 2 * (term(dh, keep[:, :, 1:, :] * keep[:, :, :-1, :]) + term(dw, keep[:, :, :, 1:] * keep[:, :, :, :-1]))


def _tv(spec: MetricSpec, function: Callable[..., Tensor], x: Tensor, y: Tensor | None, mask: Tensor) -> Tensor:
    return masked_tv(x, mask)


#: Metrics whose masked value is a masked mean (rule 2); the others take rule 1 only.
MASKED_MEANS: dict[str, Callable[..., Tensor]] = {
    "mse": _pixels, "mae": _pixels, "charbonnier": _pixels, "psnr": _pixels, "ssim": _ssim, "wssim": _wssim, "tv": _tv,
}


def masked_value(spec: MetricSpec, function: Callable[..., Any], x: Tensor, y: Tensor | None, mask: Tensor) -> Tensor:
    """One value per image of the metric ``spec`` (``function`` is its pure function)
    for prediction ``x`` against target ``y`` (None for a no-reference metric), with
    ``mask``'s ignored pixels left out by the rules of this module."""
    if y is not None:
        x = fill(x, y, mask)
    special = MASKED_MEANS.get(spec.info.name)
    if special is not None:
        return special(spec, function, x, y, mask)
    return function(x) if y is None else function(x, y)
