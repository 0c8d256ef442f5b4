"""Colour scales: fixed ranges as documented, colours by value, NaN off the map, colour bar layout."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from imgloss.report.colormap import (
    LUT,
    NO_VALUE,
    SCALES,
    Scale,
    auto_scale,
    bar_margin,
    choose_scale,
    colorize,
    colour_bar,
    tick_label,
    tick_values,
    title_height,
    with_colour_bar,
)


def test_documented_fixed_scales() -> None:
    assert (SCALES["abs_error"].low, SCALES["abs_error"].high) == (0.0, 0.25)
    assert (SCALES["ssim"].low, SCALES["ssim"].high) == (0.0, 1.0)
    assert (SCALES["sq_error"].low, SCALES["sq_error"].high) == (0.0, 0.0625)
    assert all(s.fixed for s in SCALES.values())


def test_lut_lightness_rises_monotonically() -> None:
    assert LUT.shape == (256, 3) and LUT.dtype == np.uint8
    lightness = LUT.astype(float) @ np.array([0.299, 0.587, 0.114])
    assert (np.diff(lightness) >= -0.5).all()
    assert lightness[-1] > 200 > 20 > lightness[0]
    assert tuple(NO_VALUE) not in {tuple(c) for c in LUT}


def test_colorize_maps_values_to_fixed_positions() -> None:
    scale = SCALES["abs_error"]
    values = np.array([[0.0, 0.125, 0.25, 0.9, np.inf, np.nan, -1.0]])
    colours = colorize(values, scale)
    assert colours.shape == (1, 7, 3) and colours.dtype == np.uint8
    assert (colours[0, 0] == LUT[0]).all() and (colours[0, 1] == LUT[128]).all()
    assert (colours[0, 2] == LUT[255]).all() and (colours[0, 3] == LUT[255]).all() and (colours[0, 4] == LUT[255]).all()
    assert tuple(colours[0, 5]) == NO_VALUE
    assert (colours[0, 6] == LUT[0]).all()


def test_a_faint_global_shift_stays_dark_on_the_fixed_scale_but_not_on_auto() -> None:
    shift = np.full((8, 8), 2 / 255)
    fixed = colorize(shift, choose_scale("abs_error", shift, "fixed"))
    auto = colorize(shift, choose_scale("abs_error", shift, "auto"))
    assert (fixed == LUT[8]).all()  # (2/255) / 0.25 * 255 = index 8 of 255: near black
    assert (auto == LUT[255]).all()


def test_auto_scale_ignores_non_finite_and_has_a_floor() -> None:
    assert auto_scale(np.array([0.1, np.nan, np.inf]), "x").high == pytest.approx(0.1)
    assert auto_scale(np.zeros(3), "x").high == pytest.approx(1 / 255)
    assert not auto_scale(np.zeros(3), "x").fixed
    with pytest.raises(ValueError, match="heatmap scale"):
        choose_scale("ssim", np.zeros(1), "log")
    with pytest.raises(ValueError, match="low < high"):
        Scale("x", 1.0, 1.0)


@pytest.mark.parametrize(
    ("high", "expected"),
    [(0.25, [0, 0.05, 0.1, 0.15, 0.2, 0.25]), (1.0, [0, 0.2, 0.4, 0.6, 0.8, 1.0]), (0.37, [0, 0.1, 0.2, 0.3, 0.37])],
)
def test_ticks_are_round_and_include_both_ends(high: float, expected: list[float]) -> None:
    assert tick_values(Scale("x", 0.0, high)) == pytest.approx(expected)
    assert tick_label(high, Scale("x", 0.0, high), top=True) == f">={high:.3g}"
    assert tick_label(high, Scale("x", 0.0, high, fixed=False), top=True) == f"{high:.3g}"


def test_colour_bar_runs_from_high_at_top_to_low_at_bottom() -> None:
    bar = np.asarray(colour_bar(SCALES["ssim"], 100))
    margin = bar_margin()
    assert bar.shape[0] == 100 + 2 * margin
    assert (bar[margin, 0] == LUT[255]).all() and (bar[margin + 99, 0] == LUT[0]).all()
    assert (bar[: margin - 1, 0] == 255).all()  # white above the bar
    text = bar[:, 20:]
    assert (text < 128).any()  # labels drawn in black


def test_map_with_colour_bar_lines_up_rows_and_keeps_values() -> None:
    values = np.tile(np.linspace(0, 1, 40)[:, None], (1, 30))
    picture = with_colour_bar(values, SCALES["ssim"], "1 - SSIM")
    array = np.asarray(picture)
    top = title_height()
    assert (array[top : top + 40, :30] == colorize(values, SCALES["ssim"])).all()
    bar_left = 30 + 6
    assert (array[top, bar_left] == LUT[255]).all() and (array[top + 39, bar_left] == LUT[0]).all()
    assert isinstance(picture, Image.Image) and picture.mode == "RGB"


def test_tiny_map_still_gets_a_readable_bar() -> None:
    picture = with_colour_bar(np.zeros((1, 1)), SCALES["abs_error"])
    assert picture.height >= 2 * bar_margin() and picture.width > 20
