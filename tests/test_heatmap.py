"""Heatmaps: layout and size, brightness where an edit was made, colour map, inputs."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from check_helpers import EDIT, SIZE, painted, save, texture
from imgloss.gate.heatmap import LUT, PANELS, compose, panel_box, picture_size, write_heatmap
from imgloss.io import read_image


def tensor(array: np.ndarray) -> torch.Tensor:
    """H x W x C uint8 -> C x H x W float in [0, 1]."""
    return torch.from_numpy(array).permute(2, 0, 1).float() / 255


def luminance(picture: Image.Image, panel: int, width: int, height: int) -> np.ndarray:
    return np.asarray(picture.convert("L").crop(panel_box(panel, width, height)), dtype=float)


def test_painted_rectangle_is_bright_in_both_maps_and_layout_is_exact(tmp_path) -> None:
    height, width = SIZE
    reference = save(tmp_path / "r.png", texture(5))
    candidate = save(tmp_path / "c.png", painted(texture(5)))
    out = tmp_path / "deep" / "h.png"
    write_heatmap(out, read_image(reference).tensor, read_image(candidate).tensor)
    picture = Image.open(out)
    assert picture.format == "PNG" and picture.mode == "RGB"
    assert picture.size == (len(PANELS) * width + (len(PANELS) - 1) * 4, height + 14) == picture_size(width, height)
    assert (np.asarray(picture.crop(panel_box(0, width, height))) == np.asarray(Image.open(reference))).all()
    assert (np.asarray(picture.crop(panel_box(1, width, height))) == np.asarray(Image.open(candidate))).all()
    x0, y0, x1, y1 = EDIT
    inside = np.zeros((height, width), bool)
    inside[y0:y1, x0:x1] = True
    for panel in (2, 3):
        values = luminance(picture, panel, width, height)
        assert values[inside].mean() > values[~inside].mean() + 100, panel
    error = luminance(picture, 2, width, height)
    assert (error[~inside] == error.min()).all()  # exact zero error outside the edit
    assert list(tmp_path.rglob("*.tmp")) == []


def test_identical_images_are_dark_everywhere() -> None:
    image = tensor(texture(2))
    picture = compose(image, image)
    height, width = SIZE
    for panel in (2, 3):
        colours = np.asarray(picture.crop(panel_box(panel, width, height))).reshape(-1, 3)
        assert (colours == LUT[0]).all()


def test_colormap_brightness_rises_monotonically() -> None:
    assert LUT.shape == (256, 3) and LUT.dtype == np.uint8
    lightness = LUT.astype(float) @ np.array([0.299, 0.587, 0.114])
    assert (np.diff(lightness) >= -0.5).all()
    assert lightness[-1] > 200 > 20 > lightness[0]


def test_gray_against_colour_and_size_mismatch_are_drawn() -> None:
    gray = tensor(texture(1)[..., :1])
    colour = tensor(texture(1, (16, 20)))
    picture = compose(gray, colour)
    assert picture.size == picture_size(SIZE[1], SIZE[0])  # at the reference's size
    assert compose(tensor(texture(1, (1, 1))), tensor(texture(2, (1, 1)))).size == picture_size(1, 1)
