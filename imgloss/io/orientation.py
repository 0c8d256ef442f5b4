"""EXIF orientation (tags 2..8): which transpose undoes it, as
``PIL.ImageOps.exif_transpose`` does, keeping the palette transparency and colour key.
No torch here.
"""
from __future__ import annotations

from PIL import Image


#: EXIF orientation -> the transpose that undoes it (the table of ImageOps.exif_transpose).
ORIENTATION_OPS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def exif_orientation(im: Image.Image, notes: list[str]) -> int | None:
    """The EXIF orientation to undo (2..8), or None; unreadable EXIF is noted, not fatal."""
    try:
        value = im.getexif().get(0x0112)
    except Exception:
        notes.append("EXIF unreadable, orientation not applied")
        return None
    try:
        value = int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return value if value in ORIENTATION_OPS else None


def transpose(im: Image.Image, orientation: int) -> Image.Image:
    """``im`` turned upright (a new image; ``im`` is closed), with its ``info`` kept."""
    out = im.transpose(ORIENTATION_OPS[orientation])
    out.info = dict(im.info)  # keep the palette transparency / colour key
    im.close()
    return out
