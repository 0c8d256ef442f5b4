"""Colour for per-pixel maps: the fixed, documented scales, the colour map, the colour bar.

Every picture imgloss draws of a per-pixel map (``check --diff-dir`` heatmaps,
``--maps``) goes through this module so that one colour means one value everywhere:

- :data:`SCALES` names the fixed scale of each kind of map (the default,
  ``--heatmap-scale fixed``):

  ============== ============================================== ==========
  kind           value per pixel                                full scale
  ============== ============================================== ==========
  ``abs_error``  ``|x - y|``, mean over channels, images in     0 .. 0.25
                 [0, 1] (0.25 = 64 grey levels of 255)
  ``sq_error``   ``(x - y)^2``, mean over channels              0 .. 0.0625
  ``ssim``       ``1 - SSIM`` (dissimilarity), 11x11 Gaussian   0 .. 1
  ``loss``       any other non-negative per-pixel loss          0 .. 1
  ============== ============================================== ==========

  Values beyond the top of a fixed scale take the top colour (the colour bar's top
  label says ``>=``). ``--heatmap-scale auto`` uses :func:`auto_scale` instead: 0 to
  the map's own maximum (at least 1/255), which shows faint differences but makes
  every map look alike; its colour bar names the maximum.
- :data:`LUT` is an inferno-like colour map (black -> purple -> orange -> pale
  yellow) whose lightness rises monotonically: bright means different, also in grey.
- Pixels without a value (``NaN``: outside an SSIM window, masked out) are drawn in
  :data:`NO_VALUE`, a mid grey that is not on the colour map, never as black ("no
  difference").
- :func:`colour_bar` draws the vertical bar with ticks and labels, :func:`with_colour_bar`
  puts a titled map beside its bar, and :func:`font` gives a readable label font.

numpy and Pillow only; no torch, no matplotlib.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from imgloss.options import HEATMAP_SCALES as SCALE_MODES

#: The smallest full scale of an automatic scale, so that noise-free pairs stay dark.
MIN_AUTO_SCALE = 1 / 255
#: The colour of pixels that carry no value (NaN): a grey off the colour map.
NO_VALUE = (128, 128, 128)
#: The label font size in pixels (readable at 100 % zoom).
LABEL_SIZE = 13

# Anchors of matplotlib's "inferno" (black -> purple -> orange -> pale yellow), whose
# lightness rises monotonically; interpolated linearly to 256 entries.
_ANCHORS = np.array(
    [(0, 0, 4), (40, 11, 84), (101, 21, 110), (159, 42, 99), (212, 72, 66), (245, 125, 21), (250, 193, 39), (252, 255, 164)],
    dtype=np.float64,
)
#: 256 x 3 uint8: the colour of index 0 (lowest) to 255 (highest).
LUT: np.ndarray = np.stack(
    [np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(_ANCHORS)), _ANCHORS[:, c]) for c in range(3)], axis=1
).round().astype(np.uint8)


@dataclass(frozen=True)
class Scale:
    """The values a colour map spans: ``low`` is LUT[0], ``high`` is LUT[255].

    ``label`` names the quantity (shown above the colour bar); ``fixed`` says whether
    the range is the documented one (values above ``high`` are clipped, shown as
    ``>= high``) or came from the map itself.
    """

    label: str
    low: float
    high: float
    fixed: bool = True

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.high > self.low):
            raise ValueError(f"a colour scale needs finite low < high, got {self.low}..{self.high}")


#: The fixed scale of each kind of map (see the table in the module docstring).
SCALES: dict[str, Scale] = {
    "abs_error": Scale("absolute error", 0.0, 0.25),
    "sq_error": Scale("squared error", 0.0, 0.0625),
    "ssim": Scale("1 - SSIM", 0.0, 1.0),
    "loss": Scale("loss", 0.0, 1.0),
}


def auto_scale(values: np.ndarray, label: str) -> Scale:
    """0 .. the largest finite value of ``values`` (at least :data:`MIN_AUTO_SCALE`)."""
    finite = values[np.isfinite(values)]
    return Scale(label, 0.0, max(float(finite.max(initial=0.0)), MIN_AUTO_SCALE), fixed=False)


def choose_scale(kind: str, values: np.ndarray, mode: str = "fixed") -> Scale:
    """The scale for a map of ``kind`` (a key of :data:`SCALES`) under ``mode``."""
    if mode not in SCALE_MODES:
        raise ValueError(f"heatmap scale must be one of {', '.join(SCALE_MODES)}, got {mode!r}")
    fixed = SCALES[kind]
    return fixed if mode == "fixed" else auto_scale(values, fixed.label)


def colorize(values: np.ndarray, scale: Scale) -> np.ndarray:
    """An ``H x W`` float map as ``H x W x 3`` uint8 colours on ``scale``.

    Values are clipped to ``[low, high]`` (``+inf`` takes the top colour); NaN takes
    :data:`NO_VALUE`.
    """
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    position = (np.where(missing, scale.low, values) - scale.low) / (scale.high - scale.low)
    index = np.clip(position * 255, 0, 255).round().astype(np.uint8)
    colours = LUT[index]
    colours[missing] = NO_VALUE
    return colours


@lru_cache(maxsize=8)
def font(size: int = LABEL_SIZE) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at ``size`` px (its small bitmap font without FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow < 10.1 or no FreeType
        return ImageFont.load_default()


def text_size(text: str, size: int = LABEL_SIZE) -> tuple[int, int]:
    """``(width, height)`` in pixels of ``text`` in :func:`font` at ``size``."""
    left, top, right, bottom = font(size).getbbox(text)
    return int(math.ceil(right - min(left, 0))), int(math.ceil(bottom - min(top, 0)))


def tick_values(scale: Scale, most: int = 6) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 x 10^k) from ``scale.low`` to
    ``scale.high``, both ends included, at most ``most`` of them."""
    span = scale.high - scale.low
    for exponent in range(math.floor(math.log10(span)) - 1, math.floor(math.log10(span)) + 2):
        for mantissa in (1, 2, 2.5, 5):
            step = mantissa * 10.0**exponent
            count = math.floor(span / step + 1e-9)
            if count + 1 <= most:
                inner = [scale.low + step * i for i in range(count + 1)]
                if scale.high - inner[-1] < step / 2 and len(inner) > 1:
                    inner[-1] = scale.high  # the top end replaces a tick too close to it
                else:
                    inner.append(scale.high)
                return inner
    return [scale.low, scale.high]


def tick_label(value: float, scale: Scale, top: bool) -> str:
    """A tick's text: 3 significant digits; the top of a fixed scale reads ``>= high``."""
    text = f"{value:.3g}"
    return f">={text}" if top and scale.fixed else text


def colour_bar(scale: Scale, height: int, bar_width: int = 14, size: int = LABEL_SIZE) -> Image.Image:
    """A vertical colour bar for a map ``height`` px tall: high at the top, ticks and
    labels to the right (as many round ticks as fit without overlapping, at least the
    two ends).

    The image is ``height + label height`` px tall; the bar's rows start half a label
    down, so row ``i`` of the map lines up with row ``i + margin(size)`` of the bar
    (see :func:`bar_margin`) and the end labels fit. White background.
    """
    margin = bar_margin(size)
    span = max(height, 2)
    ticks = tick_values(scale, most=min(6, max(2, span // (2 * margin + 2) + 1)))
    labels = [tick_label(v, scale, i == len(ticks) - 1) for i, v in enumerate(ticks)]
    width = bar_width + 5 + max(text_size(t, size)[0] for t in labels) + 2
    image = Image.new("RGB", (width, span + 2 * margin), "white")
    rows = LUT[np.round(np.linspace(255, 0, span)).astype(np.uint8)]
    image.paste(Image.fromarray(np.ascontiguousarray(np.repeat(rows[:, None, :], bar_width, axis=1)), "RGB"), (0, margin))
    draw = ImageDraw.Draw(image)
    for value, label in zip(ticks, labels):
        y = margin + span - 1 - round((value - scale.low) / (scale.high - scale.low) * (span - 1))
        draw.line([(bar_width, y), (bar_width + 3, y)], fill="black")
        left, top, _, bottom = font(size).getbbox(label)
        draw.text((bar_width + 5, y - (top + bottom) // 2), label, fill="black", font=font(size))
    return image


def bar_margin(size: int = LABEL_SIZE) -> int:
    """Rows above (and below) the bar itself in :func:`colour_bar`: half a label."""
    return text_size("0.1>=", size)[1] // 2 + 1


def fit_text(text: str, width: int, size: int = LABEL_SIZE) -> str:
    """``text``, cut at the end with an ellipsis until it is at most ``width`` px wide."""
    if text_size(text, size)[0] <= width:
        return text
    while len(text) > 1 and text_size(text + "…", size)[0] > width:
        text = text[:-1]
    return text + "…"


def title_height(size: int = LABEL_SIZE) -> int:
    """Height in px of the white title strip above a panel (:func:`titled`)."""
    return text_size("Ag", size)[1] + 6


def titled(panel: Image.Image, title: str, size: int = LABEL_SIZE) -> Image.Image:
    """``panel`` under a white strip of :func:`title_height` carrying ``title``
    (cut with an ellipsis to the panel's width)."""
    strip = title_height(size)
    image = Image.new("RGB", (panel.width, panel.height + strip), "white")
    ImageDraw.Draw(image).text((1, 2), fit_text(title, panel.width - 2, size), fill="black", font=font(size))
    image.paste(panel, (0, strip))
    return image


def with_colour_bar(values: np.ndarray, scale: Scale, title: str | None = None) -> Image.Image:
    """The coloured map of ``values`` (``H x W`` float) under ``title`` (default: the
    scale's label), with its colour bar to the right, lined up row for row. White
    background."""
    panel = titled(Image.fromarray(colorize(values, scale), "RGB"), title or scale.label)
    bar = colour_bar(scale, panel.height - title_height())
    top = title_height() - bar_margin()
    image = Image.new("RGB", (panel.width + 6 + bar.width, max(panel.height, top + bar.height) - min(top, 0)), "white")
    image.paste(panel, (0, max(-top, 0)))
    image.paste(bar, (panel.width + 6, max(top, 0)))
    return image
