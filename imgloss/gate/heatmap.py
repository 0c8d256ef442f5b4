"""Where two images differ, as one picture: reference | candidate | error | 1 - SSIM.

:func:`compose` lays out four panels of the reference's size side by side, each under a
one-line label: the two images, the per-pixel absolute error (mean over channels) and
the per-pixel SSIM dissimilarity ``1 - SSIM`` (11x11 Gaussian window, zero-padded so
the map has the image's size, mean over channels, clipped to [0, 1]). Both maps are
scaled to their own maximum (named in the label, at least 1/255 so that identical
images stay dark) and coloured with an inferno-like map whose brightness rises with
the value: bright means different. Pillow draws; no matplotlib. Torch is needed for
the SSIM map.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from imgloss.io import match_channels, resize_to
from imgloss.metrics.ssim import ssim_map
from imgloss.report.colormap import LUT
from imgloss.report.output import atomic_write_bytes

#: Pixels between panels, and the height of the label strip above them.
GAP = 4
LABEL_HEIGHT = 14
PANELS = ("reference", "candidate", "absolute error", "1 - SSIM")
#: The smallest full scale of a map, so that noise-free pairs are not blown up.
MIN_SCALE = 1 / 255

def difference_maps(x: Tensor, y: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """``(|x - y|, 1 - SSIM)`` per pixel, each ``H x W`` float64 in [0, 1].

    ``x`` and ``y``: ``C x H x W`` float in [0, 1], same shape.
    """
    x64, y64 = x.to(torch.float64)[None], y.to(torch.float64)[None]
    error = (x64 - y64).abs().mean(dim=1)[0]
    dissimilarity = (1 - ssim_map(x64, y64, padding="same")).mean(dim=1)[0].clamp(0, 1)
    return error.numpy(), dissimilarity.numpy()


def colorize(values: np.ndarray) -> tuple[Image.Image, float]:
    """An ``H x W`` map of values >= 0 as an RGB image, scaled to its maximum.

    Returns the image and the full-scale value (the maximum, at least :data:`MIN_SCALE`).
    """
    scale = max(float(values.max(initial=0.0)), MIN_SCALE)
    index = np.clip(values / scale * 255, 0, 255).round().astype(np.uint8)
    return Image.fromarray(LUT[index], "RGB"), scale


def _to_image(t: Tensor) -> Image.Image:
    """``C x H x W`` float in [0, 1] (C = 1 or 3) -> an 8-bit RGB image."""
    array = (t.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return Image.fromarray(np.ascontiguousarray(array), "RGB")


def panel_box(index: int, width: int, height: int) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` of panel ``index`` (order of :data:`PANELS`) in a
    picture of ``width x height`` images."""
    left = index * (width + GAP)
    return left, LABEL_HEIGHT, left + width, LABEL_HEIGHT + height


def picture_size(width: int, height: int) -> tuple[int, int]:
    """``(width, height)`` of the composed picture for ``width x height`` images."""
    return len(PANELS) * width + (len(PANELS) - 1) * GAP, LABEL_HEIGHT + height


def compose(reference: Tensor, candidate: Tensor) -> Image.Image:
    """The four-panel picture; ``candidate`` is resized to the reference's size if needed.

    Both are ``C x H x W`` float in [0, 1] with C = 1 or 3.
    """
    x, y = match_channels(reference, candidate)
    height, width = x.shape[-2:]
    y = resize_to(y, (height, width))
    error, dissimilarity = difference_maps(x, y)
    error_image, error_scale = colorize(error)
    ssim_image, ssim_scale = colorize(dissimilarity)
    labels = (PANELS[0], PANELS[1], f"{PANELS[2]} (max {error_scale:.3g})", f"{PANELS[3]} (max {ssim_scale:.3g})")
    picture = Image.new("RGB", picture_size(width, height), "white")
    font = ImageFont.load_default()
    for index, (panel, label) in enumerate(zip((_to_image(x), _to_image(y), error_image, ssim_image), labels)):
        left, top, _, _ = panel_box(index, width, height)
        strip = Image.new("RGB", (width, LABEL_HEIGHT), "white")
        ImageDraw.Draw(strip).text((1, 1), label, fill="black", font=font)
        picture.paste(strip, (left, 0))
        picture.paste(panel, (left, top))
    return picture


def write_heatmap(path: Path, reference: Tensor, candidate: Tensor) -> None:
    """Compose the picture and write it to ``path`` as PNG, atomically (folders created)."""
    buffer = io.BytesIO()
    compose(reference, candidate).save(buffer, format="PNG")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
