"""Exact tiled scoring of one pair too large for the memory budget (any image size).

The image is cut into core tiles of ``T x T`` px (offsets aligned: 4 px for W-SSIM's two
Haar levels, 16 px, VGG's total stride, when a VGG metric runs); each tile is read with
a halo (``halo`` px on every side, clipped at the image border) from the host samples,
converted to float on the device, and every metric adds SUMS over the core to running
totals; the values are formed once at the end from the totals and the whole image's
counts, never as means of means. What each metric needs:

- Charbonnier, MSE, MAE, PSNR: per-pixel terms, no halo.
- TV: differences with the next row / column (1 px).
- SSIM (valid): the 11 px window (10 px below and right of each map pixel).
- W-SSIM (Haar, 2 levels): tiles aligned to 4 px, so each tile's subbands are the image's
  subbands there; a halo of 5 subband px at the deepest level (20 px) covers the
  zero-padded 11 px windows; zero padding then falls exactly where the image's does.
- VGG taps: a halo beyond the receptive field of the deepest tap (every conv's zero
  padding at a tile edge reaches no core feature) and offsets on the network's total
  stride (pooling windows fall where they do on the whole image); perceptual sums
  ``|fx - fy|`` (or its square) over core features; style accumulates ``F F^T`` over
  the core features of every tile (the Gram matrix of the whole image).
A masked pair (:mod:`imgloss.metrics.masks`) is tiled too: each tile's candidate is
filled from the reference where ignored, and each masked mean becomes sums of weighted
terms and of weights (pixel metrics over compared pixels; SSIM weighted at each
window's centre; W-SSIM by the mask area-averaged to each subband, on adaptive
pooling's own bins; TV over neighbour pairs both compared), each map's plain sum kept
for the all-ignored fallback.
Results equal the untiled values up to float summation order (1e-6 relative; VGG taps
up to the convolution algorithm's rounding).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from imgloss.engine.device import to_device
from imgloss.features.vgg import TAPS
from imgloss.metrics.charbonnier import charbonnier
from imgloss.metrics.gram import gram_distance
from imgloss.metrics.pixel import mae, mse, psnr_from_mse
from imgloss.metrics.registry import SSIM_CONVENTIONS
from imgloss.metrics.ssim import WINDOW_SIZE, ssim_map_unchecked
from imgloss.metrics.wavelet import dwt2_unchecked
from imgloss.signals import check as check_stop

#: Rough bytes of working memory per channel-pixel of one pair (sizes batches and tiles).
_BYTES_PER_PIXEL = {"pixel": 400, "vgg": 2600}
#: Convolutions per block of torchvision's VGG ``features`` (a 2x2 max-pool after each).
_VGG_BLOCKS = {"vgg19": (2, 2, 4, 4, 4), "vgg16": (2, 2, 3, 3, 3)}
_WSSIM_LEVELS, _WSSIM_R = 2, 0.7


def pair_bytes(shape: Sequence[int], vgg: bool) -> int:
    """Estimated working memory of scoring one ``C x H x W`` pair untiled."""
    return int(math.prod(shape[-3:])) * _BYTES_PER_PIXEL["vgg" if vgg else "pixel"]


def vgg_geometry(backbone: str, depth: int) -> tuple[int, int]:
    """``(halo, stride)`` for ``features[:depth]``: a halo (a multiple of the stride)
    beyond the receptive-field radius, and the total stride."""
    field, stride, index = 1, 1, 0
    for convs in _VGG_BLOCKS[backbone]:
        for _ in range(convs):
            if index >= depth:
                break
            field += 2 * stride  # 3x3 conv
            index += 2  # conv, relu
        if index >= depth:
            break
        field += stride  # 2x2 pool, stride 2
        stride *= 2
        index += 1
    radius = field // 2 + 1
    return (-(-radius // stride) + 1) * stride, stride


def _tap_stride(backbone: str, index: int) -> int:
    """Pools before ``features[index]``: the tap's stride is 2 to that power."""
    pools, position = 0, 0
    for convs in _VGG_BLOCKS[backbone]:
        position += 2 * convs
        if index < position:
            break
        position += 1
        pools += 1
    return 2**pools


class _Box:
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


def _halved(size: tuple[int, int], times: int, ceil: bool) -> tuple[int, int]:
    h, w = size
    for _ in range(times):
        h, w = ((h + 1) // 2, (w + 1) // 2) if ceil else (h // 2, w // 2)
    return h, w


def _plain_tiled_form(spec: Any, table: dict[str, Any]) -> bool:
    """Whether a plain metric has a tiled form in ``table`` (:data:`_PLAIN`, :data:`_MASKED`),
    SSIM only under conventions whose map is imgloss's (11x11 Gaussian, population
    covariance, valid windows, no downsampling or clamping); the others are scored whole."""
    name = spec.info.name
    if name != "ssim":
        return name in table
    convention = SSIM_CONVENTIONS[spec.preset or "imgloss"]
    return (convention.window, convention.size, convention.sigma, convention.covariance, convention.padding,
            convention.downsample, convention.clamp_variances) == ("gaussian", WINDOW_SIZE, 1.5, "population",
                                                                   "valid", "none", False)


def _tiled_form(loss: Any) -> bool:
    """Whether a feature loss has a tiled form: perceptual and style on VGG taps."""
    from imgloss.metrics.perceptual import PerceptualLoss
    from imgloss.metrics.style import StyleLoss

    return isinstance(loss, (PerceptualLoss, StyleLoss))


class TiledScorer:
    """Scores one pair tile by tile with the engine's metrics (see the module docstring).

    ``plain``: ``(MetricSpec, function)`` of metrics needing no network; ``feature`` and
    ``losses``: the VGG metrics' specs and their loss modules."""

    def __init__(self, plain: Sequence[tuple[Any, Callable[..., Tensor]]], feature: Sequence[Any],
                 losses: Sequence[Any], dtype: torch.dtype) -> None:
        self.plain, self.feature, self.losses, self.dtype = list(plain), list(feature), list(losses), dtype
        self.align, self.halo = (4, 2 * WINDOW_SIZE) if plain else (1, 0)
        for loss in filter(_tiled_form, losses):  # the others (LPIPS) make can_tile False
            depth = max(TAPS[loss.backbone][t] for t in loss.taps) + 1
            halo, stride = vgg_geometry(loss.backbone, depth)
            self.align, self.halo = max(self.align, stride), max(self.halo, halo)
        self.halo = -(-self.halo // self.align) * self.align

    def can_tile(self, shape: Sequence[int], masked: bool = False) -> bool:
        """Every metric has a tiled form (``masked``: a masked one), and the image spans
        more than one tile."""
        table = _MASKED if masked else _PLAIN
        known = all(_plain_tiled_form(spec, table) for spec, _ in self.plain) and all(map(_tiled_form, self.losses))
        return known and min(shape[-2:]) > 2 * self.halo + self.align

    def tile_for(self, channels: int, budget: int) -> int:
        """The largest aligned core side whose region fits ``budget``."""
        per_pixel = channels * _BYTES_PER_PIXEL["vgg" if self.losses else "pixel"]
        side = int(math.sqrt(max(budget, 1) / per_pixel)) - 2 * self.halo
        return max(self.align, side // self.align * self.align)

    def score(self, x: Tensor | None, y: Tensor, device: torch.device, budget: int,
              mask: Tensor | None = None) -> tuple[dict[str, Tensor], list[str], int]:
        """``x``, ``y``: ``C x H x W`` host samples (x None without a reference); ``mask``:
        ``H x W`` bool, True where compared (None: every pixel). Returns each column's value
        (0-dim float64 tensors), failures, and the tile side used."""
        channels, height, width = y.shape
        tile = self.tile_for(channels, budget)
        totals: dict[str, Any] = {}
        for top in range(0, height, tile):
            for left in range(0, width, tile):
                check_stop()  # SIGINT/SIGTERM: a long single pair stops within a tile
                box = _Box(top, left, tile, self.halo, height, width)
                rows, cols = slice(box.r_top, box.r_bottom), slice(box.r_left, box.r_right)
                yr = to_device(y[:, rows, cols][None], device)
                xr = None if x is None else to_device(x[:, rows, cols][None], device)
                self._add(totals, xr, yr, box, None if mask is None else mask[rows, cols][None, None].to(device))
        table = _PLAIN if mask is None else _MASKED
        return self._finish(totals, x is not None, (channels, height, width), table), [], tile

    # ------------------------------------------------------------------ sums per tile

    def _add(self, totals: dict[str, Any], x: Tensor | None, y: Tensor, box: _Box, mask: Tensor | None) -> None:
        """Add one tile's sums; ``mask``: the region's ``1 x 1 x h x w`` bool (None: none)."""
        full = (box.height, box.width)
        rows, cols = box.core(1, full)
        core = (..., slice(rows[0] - box.r_top, rows[1] - box.r_top), slice(cols[0] - box.r_left, cols[1] - box.r_left))
        if mask is not None and x is not None:
            y = torch.where(mask, y, x)  # ignored candidate pixels take the reference's values
        for spec, function in self.plain:
            name = spec.info.name
            if name == "tv":
                for column, image in ((spec.column, y), (spec.reference_column, x)):
                    if image is not None:
                        sums = _tv_sums(image, box) if mask is None else _masked_tv_sums(image, mask, box)
                        _accumulate(totals, column, sums)
            elif x is not None and mask is None:
                _accumulate(totals, spec.column, _PLAIN[name][0](x, y, box, core))
            elif x is not None:
                _accumulate(totals, spec.column, _MASKED[name][0](function, x, y, mask, box, core))
        if self.losses and x is not None:
            autocast = torch.autocast(y.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32)
            with autocast:
                self._add_features(totals, x, y, box)

    def _add_features(self, totals: dict[str, Any], x: Tensor, y: Tensor, box: _Box) -> None:
        from imgloss.features.vgg import pair_features
        from imgloss.metrics.style import StyleLoss

        groups: dict[Any, list[tuple[Any, Any]]] = {}
        for spec, loss in zip(self.feature, self.losses):
            groups.setdefault(loss.network_key(), []).append((spec, loss))
        for (_, normalize), members in groups.items():
            taps = tuple(dict.fromkeys(t for _, loss in members for t in loss.taps))
            backbone = members[0][1].backbone
            fx, fy = pair_features(members[0][1].network, x, y, taps, normalize)
            for spec, loss in members:
                sums = []
                for tap in loss.taps:
                    scale = _tap_stride(backbone, TAPS[backbone][tap])
                    full = _halved((box.height, box.width), int(math.log2(scale)), ceil=False)
                    rows, cols = box.core(scale, full)
                    cx, cy = (box.crop(f[tap], scale, rows, cols).float() for f in (fx, fy))
                    if isinstance(loss, StyleLoss):
                        flat_x, flat_y = (c.reshape(c.shape[1], -1) for c in (cx, cy))
                        sums.append(torch.stack([flat_x @ flat_x.T, flat_y @ flat_y.T]))
                    else:
                        diff = cx - cy
                        sums.append((diff.abs() if loss.distance == "l1" else diff.square()).sum(dtype=torch.float64))
                _accumulate(totals, spec.column, sums)

    # ------------------------------------------------------------------ values from totals

    def _finish(self, totals: dict[str, Any], with_reference: bool, shape: tuple[int, int, int],
                table: dict[str, tuple[Callable[..., Any], Callable[[Any, tuple[int, int, int]], Tensor]]],
                ) -> dict[str, Tensor]:
        """Every column's value from the totals; ``table``: :data:`_PLAIN` or :data:`_MASKED`."""
        from imgloss.metrics.style import StyleLoss

        channels, height, width = shape
        values: dict[str, Tensor] = {}
        for spec, _ in self.plain:
            name = spec.info.name
            if name == "tv":
                values[spec.column] = table[name][1](totals[spec.column], shape)
                if with_reference:
                    values[spec.reference_column] = table[name][1](totals[spec.reference_column], shape)
            elif with_reference:
                values[spec.column] = table[name][1](totals[spec.column], shape)
        for spec, loss in zip(self.feature, self.losses):
            if not with_reference:
                continue
            total = torch.zeros((), dtype=torch.float64)
            for tap, weight, acc in zip(loss.taps, loss.layer_weights, totals[spec.column]):
                scale = _tap_stride(loss.backbone, TAPS[loss.backbone][tap])
                th, tw = _halved((height, width), int(math.log2(scale)), ceil=False)
                depth = acc.shape[-1] if isinstance(loss, StyleLoss) else None
                count = (depth or _tap_channels(loss.backbone, tap)) * th * tw
                if isinstance(loss, StyleLoss):
                    grams = (acc / count).float()
                    term = gram_distance(grams[0:1], grams[1:2], loss.distance)[0].double().cpu()
                else:
                    term = acc.cpu() / count
                total = total + weight * term
            values[spec.column] = total
        return values


def _tap_channels(backbone: str, tap: str) -> int:
    block = int(tap[4]) - 1  # relu<block>_<n>
    return (64, 128, 256, 512, 512)[block]


def _accumulate(totals: dict[str, Any], name: str, sums: Any) -> None:
    if name not in totals:
        totals[name] = sums
    elif isinstance(sums, list):
        totals[name] = [a + b for a, b in zip(totals[name], sums)]
    else:
        totals[name] = totals[name] + sums


# ---------------------------------------------------------------------- plain metrics


def _count(x: Tensor) -> int:
    return x[0].numel()


def _mean_sum(function: Callable[[Tensor, Tensor], Tensor]) -> Callable[..., Tensor]:
    """Sum over the core of a per-pixel mean metric (its mean times the core's count)."""
    def sums(x: Tensor, y: Tensor, box: _Box, core: tuple[Any, ...]) -> Tensor:
        xc, yc = x[core], y[core]
        return function(xc, yc)[0].double() * _count(xc)

    return sums


def _mean_value(total: Tensor, shape: tuple[int, int, int]) -> Tensor:
    return total.cpu() / math.prod(shape)


def _ssim_sums(x: Tensor, y: Tensor, box: _Box, core: tuple[Any, ...]) -> Tensor:
    """Valid SSIM: map pixel (i, j) covers rows i..i+10, cols j..j+10."""
    valid = (box.height - WINDOW_SIZE + 1, box.width - WINDOW_SIZE + 1)
    rows = (box.top, min(box.bottom, valid[0]))
    cols = (box.left, min(box.right, valid[1]))
    if rows[0] >= rows[1] or cols[0] >= cols[1]:
        return torch.zeros((), dtype=torch.float64, device=x.device)
    return box.crop(ssim_map_unchecked(x, y, "valid"), 1, rows, cols).sum(dtype=torch.float64)


def _ssim_value(total: Tensor, shape: tuple[int, int, int]) -> Tensor:
    c, h, w = shape
    return total.cpu() / (c * (h - WINDOW_SIZE + 1) * (w - WINDOW_SIZE + 1))


def _wssim_core_sums(x: Tensor, y: Tensor, box: _Box, reduce: Callable[..., Tensor]) -> list[Tensor]:
    """Per W-SSIM term (image, LH+HL and HH per level, last LL), ``reduce(map, full,
    rows, cols)`` of its zero-padded SSIM map cropped to the core, in that term's
    resolution (``full``: the term's size; ``rows``, ``cols``: the core there)."""
    size = (box.height, box.width)

    def term(a: Tensor, b: Tensor, level: int) -> Tensor:
        full = _halved(size, level, ceil=True)
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
        pixels = math.prod(_halved((h, w), level, ceil=True))
        terms += [(carry * 2 * r * (1 - r), 2 * c, pixels), (carry * (1 - r) ** 2, c, pixels)]
        carry *= r * r
    return terms + [(carry, c, math.prod(_halved((h, w), _WSSIM_LEVELS, ceil=True)))]


def _wssim_sums(x: Tensor, y: Tensor, box: _Box, core: tuple[Any, ...]) -> list[Tensor]:
    return _wssim_core_sums(x, y, box, lambda values, *_: values.sum(dtype=torch.float64))


def _wssim_value(totals: list[Tensor], shape: tuple[int, int, int]) -> Tensor:
    terms = _wssim_terms(shape)
    total = sum(wt * s.cpu() / (c * n) for (wt, c, n), s in zip(terms, totals))
    return total / sum(wt for wt, _, _ in terms)


def _tv_sums(t: Tensor, box: _Box) -> list[Tensor]:
    """Squared neighbour differences whose first pixel lies in the core (TV, squared)."""
    rows = (box.top - box.r_top, box.bottom - box.r_top)
    cols = (box.left - box.r_left, box.right - box.r_left)
    block = t[..., rows[0]:min(rows[1] + 1, t.shape[-2]), cols[0]:min(cols[1] + 1, t.shape[-1])]
    core_rows, core_cols = rows[1] - rows[0], cols[1] - cols[0]
    dh = block[..., 1:, :core_cols] - block[..., :-1, :core_cols]
    dw = block[..., :core_rows, 1:] - block[..., :core_rows, :-1]
    return [dh.square().sum(dtype=torch.float64), dw.square().sum(dtype=torch.float64)]


def _tv_value(totals: list[Tensor], shape: tuple[int, int, int]) -> Tensor:
    c, h, w = shape
    dh = totals[0].cpu() / (c * (h - 1) * w) if h > 1 else torch.zeros((), dtype=torch.float64)
    dw = totals[1].cpu() / (c * h * (w - 1)) if w > 1 else torch.zeros((), dtype=torch.float64)
    return 2 * (dh + dw)


def _psnr_value(total: Tensor, shape: tuple[int, int, int]) -> Tensor:
    return psnr_from_mse(_mean_value(total, shape))


#: Metric name -> (sums over a tile's core, value from the totals and the image's C, H, W).
_PLAIN: dict[str, tuple[Callable[..., Any], Callable[[Any, tuple[int, int, int]], Tensor]]] = {
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


def _masked_pixel_sums(function: Callable[..., Tensor], x: Tensor, y: Tensor, mask: Tensor, box: _Box,
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


def _masked_ssim_sums(function: Callable[..., Tensor], x: Tensor, y: Tensor, mask: Tensor, box: _Box,
                      core: tuple[Any, ...]) -> Tensor:
    """The valid SSIM map over the core, weighted by the mask at each window's centre."""
    valid = (box.height - WINDOW_SIZE + 1, box.width - WINDOW_SIZE + 1)
    rows = (box.top, min(box.bottom, valid[0]))
    cols = (box.left, min(box.right, valid[1]))
    if rows[0] >= rows[1] or cols[0] >= cols[1]:
        return torch.zeros(3, dtype=torch.float64, device=x.device)
    values = box.crop(ssim_map_unchecked(y, x, "valid"), 1, rows, cols)
    centre = WINDOW_SIZE // 2
    weights = mask[..., rows[0] + centre - box.r_top:rows[1] + centre - box.r_top,
                   cols[0] + centre - box.r_left:cols[1] + centre - box.r_left]
    return _weighted(values, weights.to(values.dtype))


def _masked_ssim_value(totals: Tensor, shape: tuple[int, int, int]) -> Tensor:
    c, h, w = shape
    return _weighted_value(totals, c, (h - WINDOW_SIZE + 1) * (w - WINDOW_SIZE + 1))


def _pooled(mask: Tensor, box: _Box, size: tuple[int, int], rows: tuple[int, int], cols: tuple[int, int]) -> Tensor:
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


def _masked_wssim_sums(function: Callable[..., Tensor], x: Tensor, y: Tensor, mask: Tensor, box: _Box,
                       core: tuple[Any, ...]) -> list[Tensor]:
    """Per W-SSIM term, its zero-padded SSIM map over the core weighted by the mask
    area-averaged to that term's size (:func:`_pooled`)."""
    return _wssim_core_sums(y, x, box, lambda values, full, rows, cols: _weighted(
        values, _pooled(mask, box, full, rows, cols).to(values.dtype)))


def _masked_wssim_value(totals: list[Tensor], shape: tuple[int, int, int]) -> Tensor:
    terms = _wssim_terms(shape)
    total = sum(wt * _weighted_value(s, c, n) for (wt, c, n), s in zip(terms, totals))
    return total / sum(wt for wt, _, _ in terms)


def _masked_tv_sums(t: Tensor, mask: Tensor, box: _Box) -> list[Tensor]:
    """TV's squared differences whose first pixel lies in the core, over neighbour pairs
    both compared, and the counts of those pairs (per direction)."""
    rows = (box.top - box.r_top, box.bottom - box.r_top)
    cols = (box.left - box.r_left, box.right - box.r_left)
    keep = mask.to(t.dtype)
    block, kept = (a[..., rows[0]:min(rows[1] + 1, a.shape[-2]), cols[0]:min(cols[1] + 1, a.shape[-1])] for a in (t, keep))
    core_rows, core_cols = rows[1] - rows[0], cols[1] - cols[0]
    sums = []
    for dim, core_size in ((-2, core_cols), (-1, core_rows)):
        other = (..., slice(None), slice(0, core_size)) if dim == -2 else (..., slice(0, core_size), slice(None))
        b, k = block[other], kept[other]
        d = b.narrow(dim, 1, b.shape[dim] - 1) - b.narrow(dim, 0, b.shape[dim] - 1)
        both = k.narrow(dim, 1, k.shape[dim] - 1) * k.narrow(dim, 0, k.shape[dim] - 1)
        sums += [(d.square() * both).sum(dtype=torch.float64), both.sum(dtype=torch.float64)]
    return sums


def _masked_tv_value(totals: list[Tensor], shape: tuple[int, int, int]) -> Tensor:
    c = shape[0]
    terms = [s.cpu() / (n.cpu() * c) if n > 0 else torch.zeros((), dtype=torch.float64) for s, n in zip(totals[::2], totals[1::2])]
    return 2 * (terms[0] + terms[1])


#: Metric name -> (masked sums over a tile's core, value from the totals and C, H, W).
_MASKED: dict[str, tuple[Callable[..., Any], Callable[[Any, tuple[int, int, int]], Tensor]]] = {
    "charbonnier": (_masked_pixel_sums, _masked_mean_value),
    "mse": (_masked_pixel_sums, _masked_mean_value),
    "mae": (_masked_pixel_sums, _masked_mean_value),
    "psnr": (_masked_mse_sums, _masked_psnr_value),
    "ssim": (_masked_ssim_sums, _masked_ssim_value),
    "wssim": (_masked_wssim_sums, _masked_wssim_value),
    "tv": (_masked_tv_sums, _masked_tv_value),
}
