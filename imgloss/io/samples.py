"""A decoded Pillow image as numpy samples: ``H x W x C`` integers with their scale
(255 or 65535; 16-bit colour recombined from two decodes by :mod:`.sixteen_bit`), or
float32 already in [0, 1] (mode ``F``), and the alpha channel apart (an alpha channel,
a palette transparency or a PNG colour key) as float32 in [0, 1]. Palette, CMYK, YCbCr
and the other modes are converted with Pillow (CMYK without colour management), each
conversion noted. No torch here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from imgloss.errors import InputError


def unit_samples(ints: np.ndarray, scale: float) -> np.ndarray:
    """Samples as float32 in [0, 1] (floats are already)."""
    return ints if ints.dtype == np.float32 else ints.astype(np.float32) / np.float32(scale)


def to_samples(
    path: Path,
    im: Image.Image,
    low: Image.Image | None,
    notes: list[str],
    plan: str | None = None,
) -> tuple[np.ndarray, np.ndarray | None, float]:
    """``(samples H x W x C, alpha H x W float32 in [0, 1] or None, scale)``: integer
    samples (divide by ``scale`` for [0, 1]) or float32 ones already in [0, 1] (scale 1)."""
    mode = im.mode
    key = im.info.get("transparency")
    if plan == "gray-alpha":  # bytes L_hi, L_lo, A_hi, A_lo unpacked as "RGBA"
        raw = np.asarray(im).astype(np.uint16)
        notes.append("16-bit")
        return _split_alpha((raw[..., 0::2] << 8) | raw[..., 1::2], 65535.0, True, None)
    if low is not None:  # 16-bit RGB / RGBA, recombined from two decodes
        ints = (np.asarray(im).astype(np.uint16) << 8) | np.asarray(low).astype(np.uint16)
        notes.append("16-bit")
        return _split_alpha(ints, 65535.0, mode == "RGBA", key)
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        notes.append("16-bit")
        return _split_alpha(np.asarray(im)[..., None], 65535.0, False, key)
    if mode == "I":
        ints = np.asarray(im)
        if ints.size and (int(ints.min()) < 0 or int(ints.max()) > 65535):
            notes.append("32-bit integer values outside 0..65535 clipped")
            ints = np.clip(ints, 0, 65535)
        notes.append("32-bit integer read as 16-bit")
        return _split_alpha(ints[..., None], 65535.0, False, key)
    if mode == "F":
        values = np.array(im, dtype=np.float32)[..., None]
        if not bool(np.isfinite(values).all()):
            raise InputError(path, "float image contains NaN or infinite values")
        notes.append("32-bit float")
        if values.size and (float(values.min()) < 0.0 or float(values.max()) > 1.0):
            notes.append("float values outside [0, 1] clipped")
        return values, None, 1.0
    if mode == "1":  # 0/255: 255 / 255 is exactly 1.0
        return np.asarray(im, dtype=np.uint8)[..., None] * np.uint8(255), None, 255.0
    if mode == "L":
        return _split_alpha(np.asarray(im)[..., None], 255.0, False, key)
    if mode == "RGB":
        return _split_alpha(np.asarray(im), 255.0, False, key)
    if mode in ("LA", "RGBA"):
        return _split_alpha(np.asarray(im), 255.0, True, None)
    if mode == "P":
        has_alpha = "transparency" in im.info or im.palette is not None and im.palette.mode == "RGBA"
        return _convert(path, im, "RGBA" if has_alpha else "RGB", notes)
    if mode in ("PA", "RGBa"):
        return _convert(path, im, "RGBA", notes)
    if mode == "La":
        return _convert(path, im, "LA", notes)
    if mode == "CMYK":
        notes.append("CMYK converted to RGB (no colour management)")
    return _convert(path, im, "RGB", notes)  # RGBX, YCbCr, CMYK, LAB, HSV, ...


def _convert(
    path: Path, im: Image.Image, target: str, notes: list[str]
) -> tuple[np.ndarray, np.ndarray | None, float]:
    try:
        converted = im.convert(target)
    except Exception:
        raise InputError(path, f"unsupported colour mode {im.mode}") from None
    with converted:
        return to_samples(path, converted, None, notes)


def _split_alpha(
    ints: np.ndarray, scale: float, has_alpha: bool, key: object
) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Integer ``H x W x C`` samples -> (colour samples, float alpha in [0, 1] or None, scale).

    ``has_alpha``: the last channel is alpha. ``key``: a PNG colour key (an int for gray,
    an (r, g, b) tuple for colour) marking fully transparent pixels, or None.
    """
    if has_alpha:
        alpha = ints[..., -1].astype(np.float32) / np.float32(scale)
        return ints[..., :-1], alpha, scale
    alpha = None
    if key is not None:
        key_values = np.asarray(key if isinstance(key, tuple) else (key,)).reshape(-1)
        if key_values.dtype.kind in "iu" and key_values.size == ints.shape[-1]:
            transparent = (ints == key_values.astype(ints.dtype)).all(axis=-1)
            alpha = np.where(transparent, np.float32(0), np.float32(1))
    return ints, alpha, scale
