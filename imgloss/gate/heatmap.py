"""Where two images differ, as one picture: reference | candidate | error | 1 - SSIM.

:func:`compose` lays out four panels side by side, each under a readable title: the
two images, the per-pixel absolute error ``|x - y|`` (mean over channels) and the
per-pixel SSIM dissimilarity ``1 - SSIM`` (11x11 Gaussian window, mean over channels,
clipped to [0, 1]). Each map has its colour bar beside it.

Scales (:mod:`imgloss.report.colormap`): ``fixed`` (the default) draws absolute error
on 0..0.25 and 1 - SSIM on 0..1 for every pair, so a faint global shift stays dark and
two heatmaps can be compared by eye; ``auto`` stretches each map to its own maximum
(at least 1/255). The title names the map's maximum either way.

SSIM has a value only where its window fits inside the image (5 px from each edge)
and, with a mask, only where the mask keeps pixels: pixels without a value are drawn
in the colour map's "no value" grey, never as black (which would read as "identical").
Panels narrower than :data:`MIN_PANEL_WIDTH` sit left-aligned in a slot that wide, so
titles stay readable for small images. Pillow draws; no matplotlib. Torch is needed
for the SSIM map.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from imgloss.io import match_channels, resize_to
from imgloss.metrics.ssim import WINDOW_SIZE, ssim_map
from imgloss.report.colormap import LUT, choose_scale, colorize, colour_bar, title_height, titled, bar_margin
from imgloss.report.output import atomic_write_bytes

__all__ = ["LUT", "PANELS", "compose", "difference_maps", "panel_box", "picture_size", "write_heatmap"]

#: Pixels between panels.
GAP = 8
#: The narrowest slot of a panel (its title must fit).
MIN_PANEL_WIDTH = 120
#: Room for a colour bar and its labels beside each map.
BAR_SLOT = 72
PANELS = ("reference", "candidate", "absolute error", "1 - SSIM")
#: The colour scale (a key of colormap.SCALES) of each map panel.
MAP_KINDS = {2: "abs_error", 3: "ssim"}


def difference_maps(x: Tensor, y: Tensor, mask: Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(|x - y|, 1 - SSIM)`` per pixel, each ``H x W`` float64 in [0, 1] or NaN.

    ``x`` and ``y``: ``C x H x W`` float in [0, 1], same shape; ``mask``: ``H x W``
    bool, True where pixels count (None: all). 1 - SSIM is NaN within 5 px of the
    edges (the window does not fit there) and both maps are NaN where the mask is False.
    """
    x64, y64 = x.to(torch.float64)[None], y.to(torch.float64)[None]
    error = (x64 - y64).abs().mean(dim=1)[0].numpy()
    x32, y32 = x64.float(), y64.float()  # the SSIM map is only drawn: float32 is 4x faster
    height, width = error.shape
    dissimilarity = np.full((height, width), np.nan)
    if min(height, width) >= WINDOW_SIZE:
        half = WINDOW_SIZE // 2
        valid = (1 - ssim_map(x32, y32, padding="valid")).mean(dim=1)[0].clamp(0, 1).double().numpy()
        dissimilarity[half : height - half, half : width - half] = valid
    if mask is not None:
        keep = mask.cpu().numpy().astype(bool)
        error = np.where(keep, error, np.nan)
        dissimilarity = np.where(keep, dissimilarity, np.nan)
    return error, dissimilarity


def _to_image(t: Tensor) -> Image.Image:
    """``C x H x W`` float in [0, 1] (C = 1 or 3) -> an 8-bit RGB image."""
    array = (t.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return Image.fromarray(np.ascontiguousarray(array), "RGB")


def _slot(index: int, width: int) -> int:
    """Width of panel ``index``'s slot: the image (or the minimum), plus a bar for maps."""
    return max(width, MIN_PANEL_WIDTH) + (BAR_SLOT if index in MAP_KINDS else 0)


def panel_box(index: int, width: int, height: int) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` of the image of panel ``index`` (order of
    :data:`PANELS`) in a picture of ``width x height`` images."""
    left = sum(_slot(i, width) + GAP for i in range(index))
    top = title_height()
    return left, top, left + width, top + height


def picture_size(width: int, height: int) -> tuple[int, int]:
    """``(width, height)`` of the composed picture for ``width x height`` images."""
    total = sum(_slot(i, width) for i in range(len(PANELS))) + (len(PANELS) - 1) * GAP
    return total, title_height() + max(height, 2) + bar_margin()


def _peak(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.max(initial=0.0))


def compose(reference: Tensor, candidate: Tensor, scale: str = "fixed", mask: Tensor | None = None) -> Image.Image:
    """The four-panel picture; ``candidate`` is resized to the reference's size if needed.

    Both are ``C x H x W`` float in [0, 1] with C = 1 or 3; ``scale``: ``fixed`` or
    ``auto`` (see the module docstring); ``mask``: ``H x W`` bool, True where pixels count.
    """
    x, y = match_channels(reference, candidate)
    height, width = x.shape[-2:]
    y = resize_to(y, (height, width))
    maps = dict(zip(MAP_KINDS, difference_maps(x, y, mask)))
    picture = Image.new("RGB", picture_size(width, height), "white")
    images = {0: _to_image(x), 1: _to_image(y)}
    for index, title in enumerate(PANELS):
        left, _, _, _ = panel_box(index, width, height)
        if index in MAP_KINDS:
            values = maps[index]
            colour_scale = choose_scale(MAP_KINDS[index], values, scale)
            title = f"{title} (max {_peak(values):.3g})"
            images[index] = Image.fromarray(colorize(values, colour_scale), "RGB")
            bar = colour_bar(colour_scale, height)
            picture.paste(bar, (left + max(width, MIN_PANEL_WIDTH) + 4, title_height() - bar_margin()))
        slot = Image.new("RGB", (max(width, MIN_PANEL_WIDTH), height), "white")
        slot.paste(images[index], (0, 0))
        panel = titled(slot, title)
        picture.paste(panel.crop((0, 0, panel.width, title_height() + height)), (left, 0))
    return picture


def write_heatmap(path: Path, reference: Tensor, candidate: Tensor, scale: str = "fixed", mask: Tensor | None = None) -> None:
    """Compose the picture and write it to ``path`` as PNG, atomically (folders created)."""
    buffer = io.BytesIO()
    compose(reference, candidate, scale, mask).save(buffer, format="PNG")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
