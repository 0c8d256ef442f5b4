"""The per-metric forms of exact tiled scoring (:mod:`imgloss.engine.tiling`): for each
plain metric, its sums over one tile's core and its value from the totals over every
tile and the whole image's ``C, H, W`` (:data:`PLAIN`), and the same for a masked pair
(:data:`MASKED`, the rules of :mod:`imgloss.metrics.masks`); and the tile geometry they
share (:class:`Box`). Sums are float64 tensors on the tile's device.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import Tensor

from imgloss.metrics.charbonnier import charbonnier
from imgloss.metrics.pixel import mae, mse, psnr_from_mse
from imgloss.metrics.ssim import WINDOW_SIZE, ssim_map_unchecked
from imgloss.metrics.wavelet import dwt2_unchecked

_WSSIM_LEVELS, _WSSIM_R = 2, 0.7


class Box:
    """A core tile ``[top, bottom) x [left, right)`` and its region (core + halo, clipped)."""

    def __init__(self, top: int, left: int, tile: int, halo: int, height: int, width: int) -> None:
        self.top, self.left = top, left
        self.bottom, self.right = min(height, top + tile), min(width, left + tile)
        self.r_top, self.r_left = max(0, top - halo), max(0, left - halo)
        self.r_bottom, self.r_right = min(height, self.bottom + halo), min(width, self.right + halo)
        self.height, self.width = height, width

    def crop(self, t: Tensor, scale: int, rows: tuple[int, int], cols: tuple[int, int]) -> Tensor:
        """Global rows/cols (at ``1/scale`` resolution) of a map computed on the region."""
        r0, c0 = self.r_top // scale, self.r_left // scale
        return t[..., rows[0] - r0:rows[1] - r0, cols[0] - c0:cols[1] - c0]

    def core(self, scale: int, full: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
        """The core's rows and cols at ``1/scale`` resolution; ``full`` is the image's
        size there (the last tile ends where the image does, whatever the rounding)."""
        bottom = full[0] if self.bottom == self.height else self.bottom // scale
        right = full[1] if self.right == self.width else self.right // scale
        return (self.top // scale, bottom), (self.left // scale, right)


def halved(size: tuple[int, int], times: int, ceil: bool) -> tuple[int, int]:
    h, w = size
    for _ in range(times):
        h, w = ((h + 1) // 2, (w + 1) // 2) if ceil else (h // 2, w // 2)
    return h, w


# ---------------------------------------------------------------------- plain metrics


def _count(x: Tensor) -> int:
    return x[0].numel()


def _mean_sum(function: Callable[[Tensor, Tensor], Tensor]) -> Callable[..., Tensor]:
    """Sum over the core of a per-pixel mean metric (its mean times the core's count)."""
    def sums(x: Tensor, y: Tensor, box: Box, core: tuple[Any, ...]) -> Tensor:
        xc, yc = x[core], y[core]
        return function(xc, yc)[0].double() * _count(xc)

    return sums


def _mean_value(total: Tensor, shape: tuple[int, int, int]) -> Tensor:
    return total.cpu() / math.prod(shape)


def _ssim_core(x: Tensor, y: Tensor, box: Box) -> tuple[Tensor, tuple[int, int], tuple[int, int]] | None:
    """The valid SSIM map over the core and its global rows and cols (map pixel (i, j)
    covers rows i..i+10, cols j..j+10); None when no window starts in the core."""
    valid = (box.height - WINDOW_SIZE + 1, box.width - WINDOW_SIZE + 1)
    rows = (box.top, min(box.bottom, valid[0]))
    cols = (box.left, min(box.right, valid[1]))
    if rows[0] >= rows[1] or cols[0] >= cols[1]:
        return None
    return box.crop(ssim_map_unchecked(x, y, "valid"), 1, rows, cols), rows, cols


def _ssim_sums(x: Tensor, y: Tensor, box: Box, core: tuple[Any, ...]) -> Tensor:
    found = _ssim_core(x, y, box)
    return torch.zeros((), dtype=torch.float64, device=x.device) if found is None else found[0].sum(dtype=torch.float64)


def _ssim_value(total: Tensor, shape: tuple[int, int, int]) -> Tensor:
    c, h, w = shape
    return total.cpu() / (c * (h - WINDOW_SIZE + 1) * (w - WINDOW_SIZE + 1))


def _wssim_core_sums(x: Tensor, y: Tensor, box: Box, reduce: Callable[..., Tensor]) -> list[Tensor]:
    """Per W-SSIM term (image, LH+HL and HH per level, last LL), ``reduce(map, full,
    rows, cols)`` of its zero-padded SSIM map cropped to the core, in that term's
    resolution (``full``: the term's size; ``rows``, ``cols``: the core there)."""
    size = (box.height, box.width)

    def term(a: Tensor, b: Tensor, level: int) -> Tensor:
        full = halved(size, level, ceil=True)
        rows, cols = box.core(2**level, full)
        return reduce(box.crop(ssim_map_unchecked(a, b, "same"), 2**level, rows, cols), full, rows, cols)

    sums = [term(x, y, 0)]
    for level in range(1, _WSSIM_LEVELS + 1):
        ll, lh, hl, hh = dwt2_unchecked(torch.cat([x, y]))
        detail = torch.cat([lh, hl], dim=1)
        sums += [term(detail[:1], detail[1:], level), term(hh[:1], hh[1:], level)]
        x, y = ll[:1], ll[1:]
    return sums + [term(x, y, _WSSIM_LEVELS)]


def _wssim_terms(shape: tuple[int, int, int]) -> list[tuple[float, int, int]]:
    """``(weight, channels, pixels)`` of each W-SSIM term of a ``C x H x W`` image."""
    c, h, w = shape
    r, carry = _WSSIM_R, 1.0
    terms = [(1.0, c, h * w)]
    for level in range(1, _WSSIM_LEVELS + 1):
        pixels = math.prod(halved((h, w), level, ceil=True))
        terms += [(carry * 2 * r * (1 - r), 2 * c, pixels), (carry * (1 - r) ** 2, c, pixels)]
        carry *= r * r
    return terms + [(carry, c, math.prod(halved((h, w), _WSSIM_LEVELS, ceil=True)))]


def _wssim_sums(x: Tensor, y: Tensor, box: Box, core: tuple[Any, ...]) -> list[Tensor]:
    return _wssim_core_sums(x, y, box, lambda values, *_: values.sum(dtype=torch.float64))


def _wssim_value(totals: list[Tensor], shape: tuple[int, int, int]) -> Tensor:
    terms = _wssim_terms(shape)
    total = sum(wt * s.cpu() / (c * n) for (wt, c, n), s in zip(terms, totals))
    return total / sum(wt for wt, _, _ in terms)


def _neighbours(t: Tensor, box: Box) -> list[tuple[Tensor, Tensor]]:
    """``(pixels, their next neighbours)`` of the region ``t``, vertical then horizontal,
    for the neighbour pairs whose first pixel lies in the core (TV's pairs)."""
    rows = (box.top - box.r_top, box.bottom - box.r_top)
    cols = (box.left - box.r_left, box.right - box.r_left)
    block = t[..., rows[0]:min(rows[1] + 1, t.shape[-2]), cols[0]:min(cols[1] + 1, t.shape[-1])]
    core_rows, core_cols = rows[1] - rows[0], cols[1] - cols[0]
    return [(block[..., :-1, :core_cols], block[..., 1:, :core_cols]),
            (block[..., :core_rows, :-1], block[..., :core_rows, 1:])]


def _tv_sums(t: Tensor, box: Box) -> list[Tensor]:
    """Squared neighbour differences whose first pixel lies in the core (TV, squared)."""
    return [(second - first).square().sum(dtype=torch.float64) for first, second in _neighbours(t, box)]


def _tv_value(totals: list[Tensor], shape: tuple[int, int, int]) -> Tensor:
    c, h, w = shape
    dh = totals[0].cpu() / (c * (h - 1) * w) if h > 1 else torch.zeros((), dtype=torch.float64)
    dw = totals[1].cpu() / (c * h * (w - 1)) if w > 1 else torch.zeros((), dtype=torch.float64)
    return 2 * (dh + dw)


def _psnr_value(total: Tensor, shape: tuple[int, int, int]) -> Tensor:
    return psnr_from_mse(_mean_value(total, shape))


#: Metric name -> (sums over a tile's core, value from the totals and the image's C, H, W).
PLAIN: dict[str, tuple[Callable[..., Any], Callable[[Any, tuple[int, int, int]], Tensor]]] = {
    "charbonnier": (_mean_sum(charbonnier), _mean_value),
    "mse": (_mean_sum(mse), _mean_value),
    "mae": (_mean_sum(mae), _mean_value),
    "psnr": (_mean_sum(mse), _psnr_value),
    "ssim": (_ssim_sums, _ssim_value),
    "wssim": (_wssim_sums, _wssim_value),
    "tv": (_tv_sums, _tv_value),
}


# ---------------------------------------------------------------------- masked plain metrics
# Each ``sums(function, x, y, mask, box, core)`` gets the reference ``x``, the filled
# candidate ``y`` and the region's mask; its value divides the weighted sums by the
# weights, as :func:`imgloss.metrics.masks.weighted_mean` does on the whole image.


def _masked_pixel_sums(function: Callable[..., Tensor], x: Tensor, y: Tensor, mask: Tensor, box: Box,
                       core: tuple[Any, ...]) -> Tensor:
    """``[sum of the per-pixel term, count]`` over the compared core pixels (all channels)."""
    keep = mask[core][0, 0]
    count = int(keep.sum()) * x.shape[1]
    if not count:
        return torch.zeros(2, dtype=torch.float64, device=x.device)
    xk, yk = (t[core][0][:, keep][None, :, :, None] for t in (x, y))
    return torch.stack([function(yk, xk)[0].double() * count, torch.tensor(float(count), dtype=torch.float64, device=x.device)])


def _masked_mse_sums(function: Callable[..., Tensor], *args: Any) -> Tensor:
    """PSNR's sums are those of the MSE over the compared pixels."""
    return _masked_pixel_sums(mse, *args)


def _masked_mean_value(totals: Tensor, shape: tuple[int, int, int]) -> Tensor:
    return totals[0].cpu() / totals[1].cpu()  # 0 / 0 = NaN when nothing is compared, as untiled


def _masked_psnr_value(totals: Tensor, shape: tuple[int, int, int]) -> Tensor:
    return psnr_from_mse(_masked_mean_value(totals, shape))


def _weighted(values: Tensor, weights: Tensor) -> Tensor:
    """``[sum of values x weights, sum of weights, sum of values]`` (float64)."""
    return torch.stack([(values * weights).sum(dtype=torch.float64), weights.sum(dtype=torch.float64),
                        values.sum(dtype=torch.float64)])


def _weighted_value(totals: Tensor, channels: int, pixels: int) -> Tensor:
    """:func:`imgloss.metrics.masks.weighted_mean` from :func:`_weighted` totals of a map
    with ``channels`` channels of ``pixels`` pixels."""
    total, weight, plain = totals.cpu()
    return total / (weight * channels) if weight > 0 else plain / (channels * pixels)


def _masked_ssim_sums(function: Callable[..., Tensor], x: Tensor, y: Tensor, mask: Tensor, box: Box,
                      core: tuple[Any, ...]) -> Tensor:
    """The valid SSIM map over the core, weighted by the mask at each window's centre."""
    found = _ssim_core(y, x, box)
    if found is None:
        return torch.zeros(3, dtype=torch.float64, device=x.device)
    values, rows, cols = found
    centre = WINDOW_SIZE // 2
    weights = mask[..., rows[0] + centre - box.r_top:rows[1] + centre - box.r_top,
                   cols[0] + centre - box.r_left:cols[1] + centre - box.r_left]
    return _weighted(values, weights.to(values.dtype))


def _masked_ssim_value(totals: Tensor, shape: tuple[int, int, int]) -> Tensor:
    c, h, w = shape
    return _weighted_value(totals, c, (h - WINDOW_SIZE + 1) * (w - WINDOW_SIZE + 1))


def _pooled(mask: Tensor, box: Box, size: tuple[int, int], rows: tuple[int, int], cols: tuple[int, int]) -> Tensor:
    """The mask area-averaged to ``size`` (``F.adaptive_avg_pool2d``'s bins: output ``i``
    covers ``[floor(i H / h), ceil((i + 1) H / h))``), at the output rows and cols given,
    from the region's mask (an integral image of it, float64)."""
    region = mask[0, 0].to(torch.float64)
    integral = torch.nn.functional.pad(region.cumsum(0).cumsum(1), (1, 0, 1, 0))

    def bins(span: tuple[int, int], full: int, out: int, offset: int) -> tuple[Tensor, Tensor]:
        i = torch.arange(span[0], span[1], device=mask.device)
        return (i * full) // out - offset, -((-(i + 1) * full) // out) - offset

    r0, r1 = bins(rows, box.height, size[0], box.r_top)
    c0, c1 = bins(cols, box.width, size[1], box.r_left)
    total = integral[r1][:, c1] - integral[r0][:, c1] - integral[r1][:, c0] + integral[r0][:, c0]
    return total / ((r1 - r0)[:, None] * (c1 - c0)[None, :])


def _masked_wssim_sums(function: Callable[..., Tensor], x: Tensor, y: Tensor, mask: Tensor, box: Box,
                       core: tuple[Any, ...]) -> list[Tensor]:
    """Per W-SSIM term, its zero-padded SSIM map over the core weighted by the mask
    area-averaged to that term's size (:func:`_pooled`)."""
    return _wssim_core_sums(y, x, box, lambda values, full, rows, cols: _weighted(
        values, _pooled(mask, box, full, rows, cols).to(values.dtype)))


def _masked_wssim_value(totals: list[Tensor], shape: tuple[int, int, int]) -> Tensor:
    terms = _wssim_terms(shape)
    total = sum(wt * _weighted_value(s, c, n) for (wt, c, n), s in zip(terms, totals))
    return total / sum(wt for wt, _, _ in terms)


def _masked_tv_sums(t: Tensor, mask: Tensor, box: Box) -> list[Tensor]:
    """TV's squared differences whose first pixel lies in the core, over neighbour pairs
    both compared, and the counts of those pairs (per direction)."""
    sums = []
    for (first, second), (kept_first, kept_second) in zip(_neighbours(t, box), _neighbours(mask.to(t.dtype), box)):
        both = kept_first * kept_second
        sums += [((second - first).square() * both).sum(dtype=torch.float64), both.sum(dtype=torch.float64)]
    return sums


def _masked_tv_value(totals: list[Tensor], shape: tuple[int, int, int]) -> Tensor:
    c = shape[0]
    terms = [s.cpu() / (n.cpu() * c) if n > 0 else torch.zeros((), dtype=torch.float64) for s, n in zip(totals[::2], totals[1::2])]
    return 2 * (terms[0] + terms[1])


#: Metric name -> (masked sums over a tile's core, value from the totals and C, H, W).
MASKED: dict[str, tuple[Callable[..., Any], Callable[[Any, tuple[int, int, int]], Tensor]]] = {
    "charbonnier": (_masked_pixel_sums, _masked_mean_value),
    "mse": (_masked_pixel_sums, _masked_mean_value),
    "mae": (_masked_pixel_sums, _masked_mean_value),
    "psnr": (_masked_mse_sums, _masked_psnr_value),
    "ssim": (_masked_ssim_sums, _masked_ssim_value),
    "wssim": (_masked_wssim_sums, _masked_wssim_value),
    "tv": (_masked_tv_sums, _masked_tv_value),
}
