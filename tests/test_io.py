"""Tests of imgloss.io: decoding rules, every bad-input case, resizing and pairing.

All fixtures are built in tmp_path with Pillow (16-bit colour PNGs are written by hand,
since Pillow cannot write them); the last tests use the committed sample_images/.
"""
from __future__ import annotations

import builtins
import json
import os
import struct
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

import imgloss.io as io_module
import imgloss.io.decode
import imgloss.io.limits
from imgloss.errors import InputError, UsageError
from imgloss.io import (
    IMAGE_EXTENSIONS,
    LoadedImage,
    Pair,
    Pairing,
    glob_matches,
    list_images,
    match_channels,
    pair_inputs,
    read_image,
    resize_to,
)

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# ----------------------------------------------------------------------------- helpers


def _rgb(h: int = 6, w: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _save(path: Path, array: np.ndarray, **kwargs) -> Path:
    Image.fromarray(array).save(path, **kwargs)
    return path


def _u8(values: object) -> np.ndarray:
    """8-bit values as read_image scales them (float32 division, correctly rounded)."""
    return np.asarray(values, dtype=np.float32) / np.float32(255)


def _hwc(loaded: LoadedImage) -> np.ndarray:
    return loaded.tensor.permute(1, 2, 0).numpy()


def _paeth(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    a, b, c = (x.astype(np.int32) for x in (a, b, c))
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def _write_png16(path: Path, samples: np.ndarray, color_type: int) -> Path:
    """Write an ``H x W x C`` uint16 array as a 16-bit PNG, cycling all five row filters."""
    h, w, c = samples.shape
    bpp = 2 * c
    rows = samples.astype(">u2").reshape(h, w * c).view(np.uint8).reshape(h, w * bpp)
    out = bytearray()
    prior = np.zeros(w * bpp, dtype=np.uint8)
    for y in range(h):
        x = rows[y]
        left = np.concatenate([np.zeros(bpp, np.uint8), x[:-bpp]])
        up_left = np.concatenate([np.zeros(bpp, np.uint8), prior[:-bpp]])
        kind = y % 5
        predictor = [
            np.zeros_like(x, dtype=np.int32),
            left.astype(np.int32),
            prior.astype(np.int32),
            (left.astype(np.int32) + prior.astype(np.int32)) // 2,
            _paeth(left, prior, up_left),
        ][kind]
        out.append(kind)
        out += ((x.astype(np.int32) - predictor) % 256).astype(np.uint8).tobytes()
        prior = x

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(out)))
        + chunk(b"IEND", b"")
    )
    return path


def _reason(excinfo: pytest.ExceptionInfo[InputError]) -> str:
    return excinfo.value.reason


# -------------------------------------------------------------------- plain decoding


def test_rgb_png_is_exact_and_float32(tmp_path: Path) -> None:
    arr = _rgb()
    loaded = read_image(_save(tmp_path / "x.png", arr))
    assert loaded.tensor.dtype == torch.float32
    assert loaded.tensor.shape == (3, 6, 8)
    assert loaded.tensor.is_contiguous()
    np.testing.assert_array_equal(_hwc(loaded), arr.astype(np.float32) / 255)
    assert loaded.notes == ()


def test_gray_stays_one_channel(tmp_path: Path) -> None:
    arr = _rgb()[..., 0]
    loaded = read_image(_save(tmp_path / "g.png", arr))
    assert loaded.tensor.shape == (1, 6, 8)
    np.testing.assert_array_equal(loaded.tensor[0].numpy(), _u8(arr))


def test_bilevel_is_gray_zero_or_one(tmp_path: Path) -> None:
    im = Image.new("1", (5, 4), 0)
    im.putpixel((2, 1), 1)
    im.save(tmp_path / "b.png")
    t = read_image(tmp_path / "b.png").tensor
    assert t.shape == (1, 4, 5)
    assert t[0, 1, 2] == 1.0 and t.sum() == 1.0


def test_webp_lossless_and_bmp(tmp_path: Path) -> None:
    arr = _rgb(seed=3)
    for name, kwargs in [("x.webp", {"lossless": True}), ("x.bmp", {})]:
        loaded = read_image(_save(tmp_path / name, arr, **kwargs))
        np.testing.assert_array_equal(_hwc(loaded), _u8(arr))


# -------------------------------------------------------------------------- alpha


def _rgba_fixture(tmp_path: Path) -> Path:
    arr = np.zeros((1, 3, 4), dtype=np.uint8)
    arr[0, 0] = (200, 100, 50, 0)  # fully transparent
    arr[0, 1] = (200, 100, 50, 255)  # opaque
    arr[0, 2] = (200, 100, 50, 51)  # alpha 0.2
    return _save(tmp_path / "rgba.png", arr)


@pytest.mark.parametrize("background, bg", [("white", 1.0), ("black", 0.0)])
def test_rgba_composited_on_background(tmp_path: Path, background: str, bg: float) -> None:
    loaded = read_image(_rgba_fixture(tmp_path), background=background)
    px = _hwc(loaded)[0]
    assert loaded.tensor.shape == (3, 1, 3)
    np.testing.assert_array_equal(px[0], [bg, bg, bg])
    np.testing.assert_array_equal(px[1], _u8([200, 100, 50]))
    expected = np.array([200, 100, 50]) / 255 * 0.2 + bg * 0.8
    np.testing.assert_allclose(px[2], expected, atol=1e-6)
    assert loaded.notes == (f"alpha composited on {background}",)


def test_opaque_alpha_is_noted_not_silent(tmp_path: Path) -> None:
    arr = np.dstack([_rgb(), np.full((6, 8), 255, np.uint8)])
    loaded = read_image(_save(tmp_path / "o.png", arr))
    np.testing.assert_array_equal(_hwc(loaded), _u8(arr[..., :3]))
    assert loaded.notes == ("opaque alpha channel ignored",)


def test_la_stays_gray_and_composites(tmp_path: Path) -> None:
    arr = np.array([[[100, 255], [100, 0], [100, 102]]], dtype=np.uint8)  # 1 x 3, LA
    Image.fromarray(arr, "LA").save(tmp_path / "la.png")
    loaded = read_image(tmp_path / "la.png", background="black")
    assert loaded.tensor.shape == (1, 1, 3)
    np.testing.assert_allclose(loaded.tensor[0, 0].numpy(), [100 / 255, 0.0, 100 / 255 * 0.4], atol=1e-6)
    assert "alpha composited on black" in loaded.notes


def test_palette_png_with_transparency(tmp_path: Path) -> None:
    im = Image.new("P", (2, 1), 0)
    im.putpalette([10, 20, 30, 200, 0, 0] + [0] * 762)
    im.putpixel((1, 0), 1)
    im.save(tmp_path / "p.png", transparency=0)
    loaded = read_image(tmp_path / "p.png")
    np.testing.assert_array_equal(_hwc(loaded)[0], [[1, 1, 1], _u8([200, 0, 0])])
    assert loaded.notes == ("alpha composited on white",)


def test_rgb_colour_key_transparency(tmp_path: Path) -> None:
    arr = np.array([[[1, 2, 3], [4, 5, 6]]], dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "k.png", transparency=(1, 2, 3))
    loaded = read_image(tmp_path / "k.png", background="black")
    np.testing.assert_array_equal(_hwc(loaded)[0], [[0, 0, 0], _u8([4, 5, 6])])
    assert loaded.notes == ("alpha composited on black",)


# ------------------------------------------------------------------- other modes


def test_palette_gif(tmp_path: Path) -> None:
    im = Image.new("P", (4, 2), 0)
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * 759)
    im.putpixel((1, 0), 1)
    im.putpixel((2, 1), 2)
    im.save(tmp_path / "p.gif")
    loaded = read_image(tmp_path / "p.gif")
    px = _hwc(loaded)
    assert loaded.tensor.shape == (3, 2, 4)
    np.testing.assert_array_equal(px[0, 1], [1, 0, 0])
    np.testing.assert_array_equal(px[1, 2], [0, 0, 1])
    np.testing.assert_array_equal(px[0, 0], [0, 0, 0])
    assert loaded.notes == ()


def test_animated_gif_reads_first_frame(tmp_path: Path) -> None:
    palette = [0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759
    frames = []
    for index in (1, 2, 0):
        frame = Image.new("P", (8, 8), index)
        frame.putpalette(palette)
        frames.append(frame)
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=40, loop=0)
    loaded = read_image(tmp_path / "a.gif")
    np.testing.assert_array_equal(_hwc(loaded).reshape(-1, 3), np.tile([1.0, 0, 0], (64, 1)))
    assert loaded.notes == ("first frame of 3",)


def test_cmyk_jpeg_converts_to_rgb(tmp_path: Path) -> None:
    Image.new("CMYK", (16, 16), (255, 0, 0, 0)).save(tmp_path / "c.jpg", quality=95)
    loaded = read_image(tmp_path / "c.jpg")
    assert loaded.tensor.shape == (3, 16, 16)
    np.testing.assert_allclose(loaded.tensor.mean(dim=(1, 2)).numpy(), [0, 1, 1], atol=0.03)
    assert any("CMYK" in note for note in loaded.notes)


def test_float_tiff_is_clipped_with_a_note(tmp_path: Path) -> None:
    arr = np.array([[-0.5, 0.25, 1.5]], dtype=np.float32)
    Image.fromarray(arr, "F").save(tmp_path / "f.tif")
    loaded = read_image(tmp_path / "f.tif")
    np.testing.assert_array_equal(loaded.tensor[0, 0].numpy(), [0.0, 0.25, 1.0])
    assert "float values outside [0, 1] clipped" in loaded.notes


def test_float_tiff_with_nan_is_an_input_error(tmp_path: Path) -> None:
    Image.fromarray(np.array([[0.5, np.nan]], dtype=np.float32), "F").save(tmp_path / "n.tif")
    with pytest.raises(InputError, match="NaN"):
        read_image(tmp_path / "n.tif")


def test_int32_tiff_read_as_16_bit(tmp_path: Path) -> None:
    Image.fromarray(np.array([[1000, 70000]], dtype=np.int32), "I").save(tmp_path / "i.tif")
    loaded = read_image(tmp_path / "i.tif")
    np.testing.assert_allclose(loaded.tensor[0, 0].numpy(), [1000 / 65535, 1.0], rtol=0, atol=1e-7)
    assert "32-bit integer values outside 0..65535 clipped" in loaded.notes


# ------------------------------------------------------------------------- 16 bits


def test_16bit_gray_png_keeps_precision(tmp_path: Path) -> None:
    arr = np.array([[1000, 1001, 65535], [0, 1, 30000]], dtype=np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    loaded = read_image(tmp_path / "g16.png")
    assert loaded.tensor.shape == (1, 2, 3)
    np.testing.assert_allclose(loaded.tensor[0].numpy(), arr / 65535, rtol=0, atol=1e-7)
    assert abs(loaded.tensor[0, 0, 0].item() - 1000 / 65535) < 1e-7
    assert loaded.tensor[0, 0, 1] > loaded.tensor[0, 0, 0]  # one 16-bit step survives
    assert loaded.notes == ("16-bit",)


@pytest.mark.parametrize("channels, color_type", [(3, 2), (4, 6)])
def test_16bit_colour_png_keeps_precision(tmp_path: Path, channels: int, color_type: int) -> None:
    rng = np.random.default_rng(7)
    arr = rng.integers(0, 65536, (11, 9, channels), dtype=np.uint16)
    arr[0, 0, :3] = 1000
    if channels == 4:
        arr[..., 3] = 65535
        arr[1, 1, 3] = 0
    loaded = read_image(_write_png16(tmp_path / "c16.png", arr, color_type), background="black")
    expected = arr[..., :3] / 65535
    if channels == 4:
        expected[1, 1] = 0.0
    np.testing.assert_allclose(_hwc(loaded), expected, rtol=0, atol=1e-7)
    assert loaded.notes[0] == "16-bit"


def test_16bit_rgb_tiff_keeps_precision(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    arr = np.random.default_rng(2).integers(0, 65536, (5, 7, 3), dtype=np.uint16)
    for name, kwargs in [("raw.tif", {}), ("zip.tif", {"compression": "zlib"}), ("be.tif", {"byteorder": ">"})]:
        tifffile.imwrite(tmp_path / name, arr, photometric="rgb", **kwargs)
        loaded = read_image(tmp_path / name)
        np.testing.assert_allclose(_hwc(loaded), arr / 65535, rtol=0, atol=1e-7)
        assert loaded.notes == ("16-bit",)


def test_16bit_gray_alpha_png_stays_gray_and_keeps_precision(tmp_path: Path) -> None:
    arr = np.zeros((2, 3, 2), dtype=np.uint16)
    arr[..., 0] = [[1000, 1001, 0x1234], [0, 65535, 7]]
    arr[..., 1] = 65535
    arr[1, 0, 1] = 0  # one transparent pixel
    loaded = read_image(_write_png16(tmp_path / "la16.png", arr, 4), background="white")
    assert loaded.tensor.shape == (1, 2, 3)  # Pillow itself would return RGBA
    expected = arr[..., 0] / 65535
    expected[1, 0] = 1.0
    np.testing.assert_allclose(loaded.tensor[0].numpy(), expected, rtol=0, atol=1e-7)
    assert loaded.notes == ("16-bit", "alpha composited on white")


def test_16bit_planar_tiff_is_not_garbage(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    planes = np.random.default_rng(4).integers(0, 65536, (3, 5, 7), dtype=np.uint16)
    for name, kwargs in [("le.tif", {}), ("be.tif", {"byteorder": ">"})]:
        tifffile.imwrite(tmp_path / name, planes, photometric="rgb", planarconfig="separate", **kwargs)
        loaded = read_image(tmp_path / name)
        np.testing.assert_allclose(loaded.tensor.numpy(), planes / 65535, rtol=0, atol=1e-7)
        assert loaded.notes == ("16-bit",)
    # Compressed planar goes through libtiff: exact high bytes only, and it says so.
    tifffile.imwrite(tmp_path / "zip.tif", planes, photometric="rgb", planarconfig="separate", compression="zlib")
    loaded = read_image(tmp_path / "zip.tif")
    np.testing.assert_allclose(loaded.tensor.numpy(), (planes >> 8) / 255, rtol=0, atol=1e-7)
    assert loaded.notes == ("16-bit image read at 8-bit precision (Pillow cannot decode this layout at 16 bits)",)


# --------------------------------------------------------------------------- EXIF


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def test_exif_orientation_6_jpeg_is_rotated(tmp_path: Path) -> None:
    arr = np.zeros((20, 40, 3), dtype=np.uint8)  # stored 40 wide, 20 high
    arr[:, :20] = (255, 0, 0)  # left half red
    arr[:, 20:] = (0, 0, 255)  # right half blue
    Image.fromarray(arr).save(tmp_path / "r.jpg", exif=_exif(6), quality=95)
    loaded = read_image(tmp_path / "r.jpg")
    assert loaded.tensor.shape == (3, 40, 20)  # width and height swapped
    top, bottom = _hwc(loaded)[5:15].mean(axis=(0, 1)), _hwc(loaded)[25:35].mean(axis=(0, 1))
    np.testing.assert_allclose(top, [1, 0, 0], atol=0.05)  # rotated clockwise: left -> top
    np.testing.assert_allclose(bottom, [0, 0, 1], atol=0.05)
    assert "EXIF rotated (orientation 6)" in loaded.notes


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientations_match_pillow_exif_transpose(tmp_path: Path, orientation: int) -> None:
    arr = _rgb(3, 5, seed=orientation)
    path = tmp_path / f"o{orientation}.png"
    Image.fromarray(arr).save(path, exif=_exif(orientation))
    with Image.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im)) / np.float32(255)
    loaded = read_image(path)
    np.testing.assert_array_equal(_hwc(loaded), expected)
    assert any("EXIF" in note for note in loaded.notes) == (orientation != 1)


def test_exif_rotation_applies_to_16_bit_colour(tmp_path: Path) -> None:
    arr = np.random.default_rng(5).integers(0, 65536, (3, 4, 3), dtype=np.uint16)
    path = _write_png16(tmp_path / "r16.png", arr, 2)
    data = path.read_bytes()  # splice an eXIf chunk (orientation 8) before IDAT
    exif = _exif(8).tobytes()
    chunk = struct.pack(">I", len(exif)) + b"eXIf" + exif + struct.pack(">I", zlib.crc32(b"eXIf" + exif))
    idat = data.index(b"IDAT") - 4
    path.write_bytes(data[:idat] + chunk + data[idat:])
    loaded = read_image(path)
    np.testing.assert_allclose(_hwc(loaded), np.rot90(arr, 1) / 65535, rtol=0, atol=1e-7)
    assert set(loaded.notes) == {"16-bit", "EXIF rotated (orientation 8)"}


# ------------------------------------------------------------------- bad inputs


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        read_image(tmp_path / "nope.png")
    assert _reason(exc) == "no such file"
    assert exc.value.path == str(tmp_path / "nope.png")


def test_broken_symlink(tmp_path: Path) -> None:
    (tmp_path / "link.png").symlink_to(tmp_path / "gone.png")
    with pytest.raises(InputError) as exc:
        read_image(tmp_path / "link.png")
    assert _reason(exc) == "broken symbolic link"


def test_zero_byte_file(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InputError) as exc:
        read_image(tmp_path / "empty.png")
    assert _reason(exc) == "empty file (0 bytes)"


def test_text_file_named_png(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("hello, I am not a picture\n")
    with pytest.raises(InputError) as exc:
        read_image(tmp_path / "notes.png")
    assert _reason(exc) == "not an image (cannot identify format)"


def test_eps_is_refused_without_running_ghostscript(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_text("%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    with pytest.raises(InputError) as exc:
        read_image(tmp_path / "x.png")
    assert _reason(exc) == "not an image (cannot identify format)"


def test_directory_named_like_an_image(tmp_path: Path) -> None:
    (tmp_path / "x.png").mkdir()
    with pytest.raises(InputError) as exc:
        read_image(tmp_path / "x.png")
    assert _reason(exc) == "is a directory"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_is_not_a_regular_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.png")
    with pytest.raises(InputError) as exc:
        read_image(tmp_path / "pipe.png")  # must not block reading the pipe
    assert _reason(exc) == "not a regular file"


def test_truncated_png(tmp_path: Path) -> None:
    good = _save(tmp_path / "good.png", _rgb(64, 64)).read_bytes()
    (tmp_path / "half.png").write_bytes(good[: len(good) // 2])
    with pytest.raises(InputError) as exc:
        read_image(tmp_path / "half.png")
    assert _reason(exc).startswith("truncated or corrupt image data (")


def test_png_cut_inside_its_header(tmp_path: Path) -> None:
    good = _save(tmp_path / "good.png", _rgb()).read_bytes()
    (tmp_path / "cut.png").write_bytes(good[:20])
    with pytest.raises(InputError) as exc:
        read_image(tmp_path / "cut.png")
    assert _reason(exc).startswith("truncated or corrupt image data (")
    (tmp_path / "sig.png").write_bytes(good[:9])
    with pytest.raises(InputError) as exc:
        read_image(tmp_path / "sig.png")
    assert _reason(exc) == "truncated or corrupt image data (PNG header unreadable)"


def test_corrupt_png_data(tmp_path: Path) -> None:
    data = bytearray(_save(tmp_path / "good.png", _rgb(64, 64)).read_bytes())
    data[100:180] = bytes(80)
    (tmp_path / "bad.png").write_bytes(bytes(data))
    with pytest.raises(InputError) as exc:
        read_image(tmp_path / "bad.png")
    assert _reason(exc).startswith("truncated or corrupt image data")


def test_truncated_jpeg(tmp_path: Path) -> None:
    good = _save(tmp_path / "good.jpg", _rgb(64, 64)).read_bytes()
    (tmp_path / "half.jpg").write_bytes(good[: len(good) // 2])
    with pytest.raises(InputError) as exc:
        read_image(tmp_path / "half.jpg")
    assert _reason(exc).startswith("truncated or corrupt image data")


@pytest.mark.skipif(IS_ROOT, reason="root reads files whatever their mode")
def test_unreadable_file_chmod(tmp_path: Path) -> None:
    path = _save(tmp_path / "secret.png", _rgb())
    path.chmod(0)
    try:
        with pytest.raises(InputError) as exc:
            read_image(path)
        assert _reason(exc) == "permission denied"
    finally:
        path.chmod(0o644)


def test_unreadable_file_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(tmp_path / "secret.png", _rgb())

    def deny(file, *args, **kwargs):
        if Path(file) == path:
            raise PermissionError(13, "Permission denied", str(file))
        return builtins.open(file, *args, **kwargs)

    monkeypatch.setattr(io_module.decode, "open", deny, raising=False)
    with pytest.raises(InputError) as exc:
        read_image(path)
    assert _reason(exc) == "permission denied"


def test_too_many_pixels_for_max_pixels(tmp_path: Path) -> None:
    path = _save(tmp_path / "big.png", _rgb(20, 30))
    with pytest.raises(InputError) as exc:
        read_image(path, max_pixels=599)
    assert _reason(exc) == "image too large: 600 pixels exceeds the limit of 599 (raise it with --max-pixels)"
    assert read_image(path, max_pixels=600).tensor.shape == (3, 20, 30)


def test_pillow_bomb_error_becomes_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(tmp_path / "bomb.png", _rgb(20, 30))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 600 > 2 * 100: Pillow raises
    with pytest.raises(InputError) as exc:
        read_image(path)
    assert _reason(exc) == "image too large: 600 pixels exceeds the limit of 100 (raise it with --max-pixels)"


def test_pillow_bomb_warning_becomes_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(tmp_path / "bomb.png", _rgb(20, 30))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 400)  # 400 < 600 <= 800: Pillow warns
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning escapes to the user's stderr
        with pytest.raises(InputError, match="600 pixels exceeds the limit of 400 .*--max-pixels"):
            read_image(path)


def test_max_pixels_raises_pillow_limit_only_for_that_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _save(tmp_path / "big.png", _rgb(20, 30))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    assert read_image(path, max_pixels=1000).tensor.shape == (3, 20, 30)
    assert Image.MAX_IMAGE_PIXELS == 100
    with pytest.raises(InputError):
        read_image(path)


def test_concurrent_reads_with_mixed_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _save(tmp_path / "big.png", _rgb(20, 30))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)

    def one(i: int) -> str:
        try:
            read_image(path, max_pixels=1000 if i % 2 else None)
            return "ok"
        except InputError:
            return "refused"

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, range(40)))
    assert results == ["refused", "ok"] * 20
    assert Image.MAX_IMAGE_PIXELS == 100
    assert not io_module.limits._LIMIT_LOCK.locked()


def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    path = _save(tmp_path / "x.png", _rgb())
    with pytest.raises(UsageError, match="background"):
        read_image(path, background="grey")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="max_pixels"):
        read_image(path, max_pixels=0)


def test_reads_in_dataloader_worker_processes(tmp_path: Path) -> None:
    paths = [_save(tmp_path / f"{i}.png", _rgb(seed=i)) for i in range(4)]

    class Files(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(paths)

        def __getitem__(self, i: int) -> torch.Tensor:
            return read_image(paths[i]).tensor

    loader = torch.utils.data.DataLoader(Files(), batch_size=2, num_workers=2)
    batches = list(loader)
    got = torch.cat(batches)
    expected = torch.stack([read_image(p).tensor for p in paths])
    assert torch.equal(got, expected)


# ------------------------------------------------------------------ tensor helpers


def test_match_channels() -> None:
    gray, colour = torch.rand(1, 4, 5), torch.rand(3, 4, 5)
    a, b = match_channels(gray, colour)
    assert a.shape == (3, 4, 5) and b is colour
    assert torch.equal(a[0], gray[0]) and torch.equal(a[2], gray[0])
    b2, a2 = match_channels(colour, gray)
    assert a2.shape == (3, 4, 5) and b2 is colour
    x, y = match_channels(torch.rand(2, 1, 4, 5), torch.rand(2, 3, 4, 5))
    assert x.shape == (2, 3, 4, 5)
    same = torch.rand(1, 4, 5)
    assert match_channels(same, gray)[0] is same
    with pytest.raises(ValueError):
        match_channels(torch.rand(2, 4, 5), colour)


def test_resize_to_shape_range_and_antialias() -> None:
    board = ((torch.arange(64)[:, None] + torch.arange(64)[None, :]) % 2).float()
    t = board.expand(3, 64, 64).contiguous()
    small = resize_to(t, (16, 16))
    assert small.shape == (3, 16, 16) and small.dtype == torch.float32
    assert small.min() >= 0 and small.max() <= 1
    torch.testing.assert_close(small, torch.full_like(small, 0.5), atol=0.02, rtol=0)  # no aliasing
    step = torch.zeros(1, 8, 8)
    step[:, :, 4:] = 1
    big = resize_to(step, (20, 30))  # bicubic overshoots: must be clamped
    assert big.shape == (1, 20, 30) and big.min() >= 0 and big.max() <= 1
    assert resize_to(t, (64, 64)) is t
    assert resize_to(torch.rand(2, 3, 10, 12), (5, 6), mode="bilinear").shape == (2, 3, 5, 6)
    with pytest.raises(ValueError):
        resize_to(t, (0, 4))
    with pytest.raises(ValueError):
        resize_to(torch.zeros(3, 4, 4, dtype=torch.uint8), (2, 2))


# --------------------------------------------------------------------------- pairing


def _touch_images(root: Path, rels: list[str]) -> None:
    for rel in rels:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (2, 2)).save(path, format="PNG")  # contents do not matter here


def test_image_extensions() -> None:
    assert IMAGE_EXTENSIONS == frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif"})


def test_two_files_make_one_pair(tmp_path: Path) -> None:
    _touch_images(tmp_path, ["ref/a.png", "out/b.png"])
    pairing = pair_inputs(tmp_path / "ref/a.png", tmp_path / "out/b.png")
    assert pairing == Pairing([Pair(tmp_path / "ref/a.png", tmp_path / "out/b.png", "b.png")], [], [])


def test_folders_pair_by_relative_path_with_unmatched_both_sides(tmp_path: Path) -> None:
    common = ["z.png", "a.png", "b.JPG", "sub/c.png", "sub/deep/d.tif", "sub2/a.png"]
    _touch_images(tmp_path / "ref", common + ["only_ref.png", "sub/only_ref2.webp"])
    _touch_images(tmp_path / "out", common + ["only_out.bmp", "sub/deep/x.gif"])
    (tmp_path / "ref/readme.txt").write_text("not an image")
    pairing = pair_inputs(tmp_path / "ref", tmp_path / "out")
    keys = [p.key for p in pairing.pairs]
    assert keys == sorted(common)
    for pair in pairing.pairs:
        assert pair.reference == tmp_path / "ref" / pair.key
        assert pair.candidate == tmp_path / "out" / pair.key
    assert pairing.unmatched_reference == [tmp_path / "ref/only_ref.png", tmp_path / "ref/sub/only_ref2.webp"]
    assert pairing.unmatched_candidate == [tmp_path / "out/only_out.bmp", tmp_path / "out/sub/deep/x.gif"]
    assert pair_inputs(tmp_path / "ref", tmp_path / "out") == pairing  # deterministic


def test_never_pairs_by_position(tmp_path: Path) -> None:
    _touch_images(tmp_path / "ref", ["1.png", "2.png"])
    _touch_images(tmp_path / "out", ["a.png", "b.png"])
    pairing = pair_inputs(tmp_path / "ref", tmp_path / "out")
    assert pairing.pairs == []
    assert len(pairing.unmatched_reference) == len(pairing.unmatched_candidate) == 2


def test_hidden_files_and_folders_are_skipped(tmp_path: Path) -> None:
    for side in ("ref", "out"):
        _touch_images(tmp_path / side, ["a.png", ".hidden.png", ".git/b.png", "sub/.c.png"])
    pairing = pair_inputs(tmp_path / "ref", tmp_path / "out")
    assert [p.key for p in pairing.pairs] == ["a.png"]
    assert pairing.unmatched_reference == pairing.unmatched_candidate == []


def test_extension_match_is_case_insensitive(tmp_path: Path) -> None:
    for side in ("ref", "out"):
        _touch_images(tmp_path / side, ["A.PNG", "b.JpEg", "c.TIFF"])
    assert [p.key for p in pair_inputs(tmp_path / "ref", tmp_path / "out").pairs] == ["A.PNG", "b.JpEg", "c.TIFF"]


def test_non_recursive(tmp_path: Path) -> None:
    for side in ("ref", "out"):
        _touch_images(tmp_path / side, ["a.png", "sub/b.png"])
    pairing = pair_inputs(tmp_path / "ref", tmp_path / "out", recursive=False)
    assert [p.key for p in pairing.pairs] == ["a.png"]
    assert pairing.unmatched_reference == pairing.unmatched_candidate == []


@pytest.mark.parametrize(
    "pattern, keys",
    [
        ("*.png", ["a.png", "faces/b.png", "faces/deep/c.png"]),
        ("faces/**", ["faces/b.png", "faces/deep/c.png", "faces/e.jpg"]),
        ("**/*.png", ["a.png", "faces/b.png", "faces/deep/c.png"]),
        ("faces/**/*.png", ["faces/b.png", "faces/deep/c.png"]),
        ("[ad].*", ["a.png", "d.jpg"]),
    ],
)
def test_glob_filters_both_sides(tmp_path: Path, pattern: str, keys: list[str]) -> None:
    rels = ["a.png", "d.jpg", "faces/b.png", "faces/deep/c.png", "faces/e.jpg"]
    for side in ("ref", "out"):
        _touch_images(tmp_path / side, rels)
    _touch_images(tmp_path / "out", ["faces/only_out.gif"])
    pairing = pair_inputs(tmp_path / "ref", tmp_path / "out", glob=pattern)
    assert [p.key for p in pairing.pairs] == keys
    assert pairing.unmatched_reference == []


def test_ignore_extension(tmp_path: Path) -> None:
    _touch_images(tmp_path / "ref", ["x.png", "sub/y.png", "z.png"])
    _touch_images(tmp_path / "out", ["x.jpg", "sub/y.webp", "w.png"])
    assert pair_inputs(tmp_path / "ref", tmp_path / "out").pairs == []
    pairing = pair_inputs(tmp_path / "ref", tmp_path / "out", ignore_extension=True)
    assert pairing.pairs == [
        Pair(tmp_path / "ref/sub/y.png", tmp_path / "out/sub/y.webp", "sub/y.webp"),
        Pair(tmp_path / "ref/x.png", tmp_path / "out/x.jpg", "x.jpg"),
    ]
    assert pairing.unmatched_reference == [tmp_path / "ref/z.png"]
    assert pairing.unmatched_candidate == [tmp_path / "out/w.png"]


def test_ignore_extension_ambiguity_names_the_files(tmp_path: Path) -> None:
    _touch_images(tmp_path / "ref", ["x.png"])
    _touch_images(tmp_path / "out", ["x.jpg", "x.png"])
    with pytest.raises(UsageError) as exc:
        pair_inputs(tmp_path / "ref", tmp_path / "out", ignore_extension=True)
    assert "x.jpg and x.png" in str(exc.value) and str(tmp_path / "out") in str(exc.value)


def test_file_against_folder_is_a_usage_error(tmp_path: Path) -> None:
    _touch_images(tmp_path, ["ref/a.png", "out/a.png"])
    with pytest.raises(UsageError, match="cannot compare a file with a folder"):
        pair_inputs(tmp_path / "ref/a.png", tmp_path / "out")
    with pytest.raises(UsageError, match="cannot compare a file with a folder"):
        pair_inputs(tmp_path / "ref", tmp_path / "out/a.png")


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    _touch_images(tmp_path, ["ref/a.png"])
    with pytest.raises(UsageError, match="candidate path does not exist"):
        pair_inputs(tmp_path / "ref", tmp_path / "nope")
    with pytest.raises(UsageError, match="reference path does not exist"):
        pair_inputs(tmp_path / "nope.png", tmp_path / "ref/a.png")
    with pytest.raises(UsageError, match="does not exist"):
        list_images(tmp_path / "nope")


def test_directory_named_like_an_image_surfaces_as_a_failing_pair(tmp_path: Path) -> None:
    _touch_images(tmp_path / "ref", ["x.png", "y.png"])
    _touch_images(tmp_path / "out", ["y.png"])
    (tmp_path / "out/x.png").mkdir()
    _touch_images(tmp_path / "out/x.png", ["inner.png"])  # not descended into
    pairing = pair_inputs(tmp_path / "ref", tmp_path / "out")
    assert [p.key for p in pairing.pairs] == ["x.png", "y.png"]
    assert pairing.unmatched_candidate == []
    with pytest.raises(InputError) as exc:
        read_image(pairing.pairs[0].candidate)
    assert _reason(exc) == "is a directory"


def test_symlink_loop_does_not_hang(tmp_path: Path) -> None:
    for side in ("ref", "out"):
        _touch_images(tmp_path / side, ["sub/a.png"])
        (tmp_path / side / "sub/loop").symlink_to(tmp_path / side)
    pairing = pair_inputs(tmp_path / "ref", tmp_path / "out")
    assert [p.key for p in pairing.pairs] == ["sub/a.png"]


@pytest.mark.skipif(IS_ROOT, reason="root lists folders whatever their mode")
def test_unlistable_subfolder_is_an_input_error(tmp_path: Path) -> None:
    _touch_images(tmp_path / "ref", ["a.png", "locked/b.png"])
    _touch_images(tmp_path / "out", ["a.png"])
    (tmp_path / "ref/locked").chmod(0)
    try:
        with pytest.raises(InputError, match="permission denied"):
            pair_inputs(tmp_path / "ref", tmp_path / "out")
    finally:
        (tmp_path / "ref/locked").chmod(0o755)


def test_unlistable_subfolder_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _touch_images(tmp_path / "ref", ["a.png", "locked/b.png"])
    _touch_images(tmp_path / "out", ["a.png"])
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(InputError) as exc:
        pair_inputs(tmp_path / "ref", tmp_path / "out")
    assert exc.value.path == str(tmp_path / "ref/locked")
    assert _reason(exc) == "permission denied (cannot list folder)"


def test_list_images(tmp_path: Path) -> None:
    _touch_images(tmp_path / "d", ["b.png", "a.jpg", "sub/c.gif", ".h.png"])
    (tmp_path / "d/x.txt").write_text("")
    pairs = list_images(tmp_path / "d")
    assert pairs == [
        Pair(None, tmp_path / "d/a.jpg", "a.jpg"),
        Pair(None, tmp_path / "d/b.png", "b.png"),
        Pair(None, tmp_path / "d/sub/c.gif", "sub/c.gif"),
    ]
    assert [p.key for p in list_images(tmp_path / "d", recursive=False)] == ["a.jpg", "b.png"]
    assert [p.key for p in list_images(tmp_path / "d", glob="sub/*")] == ["sub/c.gif"]
    assert list_images(tmp_path / "d/b.png") == [Pair(None, tmp_path / "d/b.png", "b.png")]


def test_glob_matches() -> None:
    assert glob_matches("a/b.png", "*.png")
    assert glob_matches("b.png", "**/*.png") and glob_matches("a/b.png", "**/*.png")
    assert glob_matches("faces/x/y.png", "faces/**")
    assert not glob_matches("B.PNG", "*.png")  # case-sensitive on every platform
    assert not glob_matches("other/b.png", "faces/**")


# --------------------------------------------------------------------- sample_images


def _manifest() -> dict:
    return json.loads((SAMPLES / "manifest.json").read_text())


def test_sample_images_pair_as_documented() -> None:
    manifest = _manifest()
    pairing = pair_inputs(SAMPLES / "reference", SAMPLES / "distorted")
    assert [p.key for p in pairing.pairs] == sorted(manifest["pairs"])
    assert pairing.unmatched_reference == []
    assert pairing.unmatched_candidate == [SAMPLES / "distorted" / manifest["unmatched"]]
    assert any("/" in p.key for p in pairing.pairs)


def test_sample_images_read_with_documented_sizes() -> None:
    manifest = _manifest()
    sizes = set()
    channels = set()
    for key, info in manifest["pairs"].items():
        ref = read_image(SAMPLES / "reference" / key).tensor
        dist = read_image(SAMPLES / "distorted" / key).tensor
        assert ref.shape == dist.shape == (info["channels"], info["height"], info["width"])
        assert not torch.equal(ref, dist)
        sizes.add(ref.shape[1:])
        channels.add(ref.shape[0])
    assert len(sizes) >= 2 and channels == {1, 3}
    total = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    assert total < 5_000_000


def test_sample_local_edit_is_confined_to_its_region() -> None:
    manifest = _manifest()
    key = next(k for k, v in manifest["pairs"].items() if v["distortion"] == "local_edit")
    x0, y0, x1, y1 = manifest["pairs"][key]["region"]
    ref = read_image(SAMPLES / "reference" / key).tensor
    dist = read_image(SAMPLES / "distorted" / key).tensor
    diff = (ref - dist).abs().amax(dim=0)
    inside = torch.zeros_like(diff, dtype=torch.bool)
    inside[y0:y1, x0:x1] = True
    assert diff[~inside].max() == 0
    assert diff[inside].mean() > 0.2
