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
from imgloss.engine.tile_sums import MASKED, PLAIN, Box, halved
from imgloss.features.vgg import TAPS
from imgloss.metrics.gram import gram_distance
from imgloss.metrics.registry import SSIM_CONVENTIONS
from imgloss.metrics.ssim import WINDOW_SIZE
from imgloss.signals import check as check_stop

#: Rough bytes of working memory per channel-pixel of one pair (sizes batches and tiles).
_BYTES_PER_PIXEL = {"pixel": 400, "vgg": 2600}
#: Convolutions per block of torchvision's VGG ``features`` (a 2x2 max-pool after each).
_VGG_BLOCKS = {"vgg19": (2, 2, 4, 4, 4), "vgg16": (2, 2, 3, 3, 3)}


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


def _plain_tiled_form(spec: Any, table: dict[str, Any]) -> bool:
    """Whether a plain metric has a tiled form in ``table`` (:data:`PLAIN`, :data:`MASKED`),
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
        table = MASKED if masked else PLAIN
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
                box = Box(top, left, tile, self.halo, height, width)
                rows, cols = slice(box.r_top, box.r_bottom), slice(box.r_left, box.r_right)
                yr = to_device(y[:, rows, cols][None], device)
                xr = None if x is None else to_device(x[:, rows, cols][None], device)
                self._add(totals, xr, yr, box, None if mask is None else mask[rows, cols][None, None].to(device))
        table = PLAIN if mask is None else MASKED
        return self._finish(totals, x is not None, (channels, height, width), table), [], tile

    # ------------------------------------------------------------------ sums per tile

    def _add(self, totals: dict[str, Any], x: Tensor | None, y: Tensor, box: Box, mask: Tensor | None) -> None:
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
                        sums = PLAIN[name][0](image, box) if mask is None else MASKED[name][0](image, mask, box)
                        _accumulate(totals, column, sums)
            elif x is not None and mask is None:
                _accumulate(totals, spec.column, PLAIN[name][0](x, y, box, core))
            elif x is not None:
                _accumulate(totals, spec.column, MASKED[name][0](function, x, y, mask, box, core))
        if self.losses and x is not None:
            autocast = torch.autocast(y.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32)
            with autocast:
                self._add_features(totals, x, y, box)

    def _add_features(self, totals: dict[str, Any], x: Tensor, y: Tensor, box: Box) -> None:
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
                    full = halved((box.height, box.width), int(math.log2(scale)), ceil=False)
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
        """Every column's value from the totals; ``table``: :data:`PLAIN` or :data:`MASKED`."""
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
                th, tw = halved((height, width), int(math.log2(scale)), ceil=False)
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
