"""Heatmaps: layout and size, brightness where an edit was made, fixed and auto scales,
no-value pixels drawn grey (never black), colour bars, masks, inputs."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from check_helpers import EDIT, SIZE, painted, save, texture
from imgloss.gate.heatmap import LUT, MIN_PANEL_WIDTH, PANELS, compose, difference_maps, panel_box, picture_size, write_heatmap
from imgloss.io import read_image
from imgloss.report.colormap import NO_VALUE


def tensor(array: np.ndarray) -> torch.Tensor:
    """H x W x C uint8 -> C x H x W float in [0, 1]."""
    return torch.from_numpy(array).permute(2, 0, 1).float() / 255


def luminance(picture: Image.Image, panel: int, width: int, height: int) -> np.ndarray:
    return np.asarray(picture.convert("L").crop(panel_box(panel, width, height)), dtype=float)


def colours(picture: Image.Image, panel: int, width: int, height: int) -> np.ndarray:
    return np.asarray(picture.crop(panel_box(panel, width, height)))


def test_painted_rectangle_is_bright_in_both_maps_and_layout_is_exact(tmp_path) -> None:
    height, width = SIZE
    reference = save(tmp_path / "r.png", texture(5))
    candidate = save(tmp_path / "c.png", painted(texture(5)))
    out = tmp_path / "deep" / "h.png"
    write_heatmap(out, read_image(reference).tensor, read_image(candidate).tensor)
    picture = Image.open(out)
    assert picture.format == "PNG" and picture.mode == "RGB"
    assert picture.size == picture_size(width, height)
    assert (np.asarray(picture.crop(panel_box(0, width, height))) == np.asarray(Image.open(reference))).all()
    assert (np.asarray(picture.crop(panel_box(1, width, height))) == np.asarray(Image.open(candidate))).all()
    x0, y0, x1, y1 = EDIT
    inside = np.zeros((height, width), bool)
    inside[y0:y1, x0:x1] = True
    valid = np.zeros((height, width), bool)
    valid[5:-5, 5:-5] = True
    for panel in (2, 3):
        values = luminance(picture, panel, width, height)
        assert values[inside & valid].mean() > values[~inside & valid].mean() + 100, panel
    error = luminance(picture, 2, width, height)
    assert (error[~inside] == error.min()).all()  # exact zero error outside the edit
    assert list(tmp_path.rglob("*.tmp")) == []


def test_identical_images_are_dark_where_there_is_a_value_and_grey_at_the_ssim_border() -> None:
    image = tensor(texture(2))
    picture = compose(image, image)
    height, width = SIZE
    assert (colours(picture, 2, width, height).reshape(-1, 3) == LUT[0]).all()
    ssim = colours(picture, 3, width, height)
    assert (ssim[5:-5, 5:-5].reshape(-1, 3) == LUT[0]).all()
    border = np.ones((height, width), bool)
    border[5:-5, 5:-5] = False
    assert (ssim[border] == NO_VALUE).all()  # no value, not "perfect"


def test_faint_global_shift_is_dark_on_the_fixed_scale_and_bright_on_auto() -> None:
    reference = texture(3)
    shifted = (reference.astype(int) + 3).clip(0, 255).astype(np.uint8)
    height, width = SIZE
    fixed = luminance(compose(tensor(reference), tensor(shifted), "fixed"), 2, width, height)
    auto = luminance(compose(tensor(reference), tensor(shifted), "auto"), 2, width, height)
    assert fixed.max() < 30  # 3/255 of a 0.25 full scale: near black
    assert auto.mean() > 200  # stretched to its own maximum: looks like a major error


def test_fixed_scale_maps_a_known_error_to_its_colour() -> None:
    reference = np.zeros((16, 16, 3), np.uint8)
    candidate = np.full((16, 16, 3), 32, np.uint8)  # |error| = 32/255 = 0.1255 -> 0.502 of 0.25
    picture = compose(tensor(reference), tensor(candidate))
    expected = LUT[round(32 / 255 / 0.25 * 255)]
    assert (colours(picture, 2, 16, 16).reshape(-1, 3) == expected).all()


def test_each_map_has_a_colour_bar_with_its_range() -> None:
    height, width = SIZE
    picture = np.asarray(compose(tensor(texture(1)), tensor(painted(texture(1)))))
    for panel in (2, 3):
        left, top, right, bottom = panel_box(panel, width, height)
        bar_x = left + MIN_PANEL_WIDTH + 4 + 2
        column = picture[top:bottom, bar_x]
        assert (column[0] == LUT[255]).all() and (column[-1] == LUT[0]).all(), panel


def test_mask_greys_out_ignored_pixels_in_both_maps() -> None:
    reference, candidate = tensor(texture(4)), tensor(painted(texture(4)))
    mask = torch.ones(SIZE, dtype=torch.bool)
    x0, y0, x1, y1 = EDIT
    mask[y0:y1, x0:x1] = False
    error, dissimilarity = difference_maps(reference, candidate, mask)
    assert np.isnan(error[y0:y1, x0:x1]).all() and np.isnan(dissimilarity[y0:y1, x0:x1]).all()
    assert np.nanmax(error) == 0.0
    height, width = SIZE
    picture = compose(reference, candidate, mask=mask)
    assert (colours(picture, 2, width, height)[y0:y1, x0:x1] == NO_VALUE).all()


def test_gray_against_colour_and_size_mismatch_are_drawn() -> None:
    gray = tensor(texture(1)[..., :1])
    colour = tensor(texture(1, (16, 20)))
    picture = compose(gray, colour)
    assert picture.size == picture_size(SIZE[1], SIZE[0])  # at the reference's size
    assert compose(tensor(texture(1, (1, 1))), tensor(texture(2, (1, 1)))).size == picture_size(1, 1)


def test_unknown_scale_is_refused() -> None:
    with pytest.raises(ValueError, match="heatmap scale"):
        compose(tensor(texture(1)), tensor(texture(1)), "log")


def test_panels_are_in_order_and_do_not_overlap() -> None:
    boxes = [panel_box(i, 300, 10) for i in range(len(PANELS))]
    assert all(a[2] < b[0] for a, b in zip(boxes, boxes[1:]))
    assert boxes[-1][2] <= picture_size(300, 10)[0]
