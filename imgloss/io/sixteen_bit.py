"""16-bit colour PNG/TIFF read exactly: Pillow keeps only the high byte; this recovers the low one."""
from __future__ import annotations

from dataclasses import dataclass
import sys
from typing import IO, Literal

from PIL import Image

# 16-bit colour PNG/TIFF: Pillow unpacks "RGB;16B", "RGBA;16L", "LA;16B" ... to 8 bits per
# channel by keeping the high byte of each sample. Exact ways back, chosen per layout:
# - "two-pass" (RGB, RGBA): unpack the same data again with the opposite byte order,
#   which keeps the low bytes instead; same bits per pixel, so PNG unfiltering and TIFF
#   strips are identical; high << 8 | low is the 16-bit sample. Uncompressed planar TIFF
#   (one strip set per band), which Pillow mis-reads with 8-bit band unpackers, gets
#   16-bit band unpackers ("R;16L" ...) for both passes.
# - "gray-alpha" (16-bit LA PNG, which Pillow opens as RGBA): unpack its 32 bits per pixel
#   as plain 8-bit "RGBA", i.e. the four bytes L_hi, L_lo, A_hi, A_lo, in one decode.
_OPPOSITE_ORDER = {
    "RGB;16B": "RGB;16L",
    "RGB;16L": "RGB;16B",
    "RGBA;16B": "RGBA;16L",
    "RGBA;16L": "RGBA;16B",
}
_BANDS = ("R", "G", "B", "A")


@dataclass(frozen=True)
class _Plan16:
    """How to keep 16 bits per sample for an image Pillow would reduce to 8 bits.

    ``kind``: "two-pass", "gray-alpha" or "8-bit" (no exact way: read at 8 bits, noted).
    ``high``: tiles replacing Pillow's for the main decode (None: keep Pillow's).
    ``low``: tiles of the low-byte decode ("two-pass" only).
    """

    kind: Literal["two-pass", "gray-alpha", "8-bit"]
    high: tuple | None = None
    low: tuple | None = None


def _tile_rawmode(tile: tuple) -> str | None:
    args = tile[3]
    if isinstance(args, str):
        return args
    if isinstance(args, tuple) and args and isinstance(args[0], str):
        return args[0]
    return None


def _with_rawmode(tile: tuple, rawmode: str) -> tuple:
    args = tile[3]
    new_args = rawmode if isinstance(args, str) else (rawmode, *args[1:])
    if hasattr(tile, "_replace"):
        return tile._replace(args=new_args)
    return (*tuple(tile)[:3], new_args)


def _native(rawmode: str) -> str:
    if rawmode.endswith(";16N"):
        return rawmode[:-1] + ("L" if sys.byteorder == "little" else "B")
    return rawmode


def _tiff_tag(im: Image.Image, tag: int) -> tuple:
    try:
        value = im.tag_v2.get(tag)  # type: ignore[attr-defined]
    except Exception:
        return ()
    if value is None:
        return ()
    return value if isinstance(value, tuple) else (value,)


def sixteen_bit_plan(im: Image.Image, head: bytes) -> _Plan16 | None:
    """The plan for a 16-bit colour PNG/TIFF; None for everything else."""
    if im.format not in ("PNG", "TIFF") or im.mode not in ("RGB", "RGBA") or not im.tile:
        return None
    tiles = list(im.tile)
    raws = [_native(_tile_rawmode(tile) or "") for tile in tiles]
    if im.format == "TIFF" and _tiff_tag(im, 284) == (2,):  # planar: one plane per band
        bits = _tiff_tag(im, 258)
        if not bits or any(b != 16 for b in bits):
            return None
        if all(raw in _BANDS for raw in raws):  # uncompressed: Pillow would mis-read it
            hi, lo = ("L", "B") if head[:2] == b"II" else ("B", "L")
            return _Plan16(
                "two-pass",
                tuple(_with_rawmode(t, f"{r};16{hi}") for t, r in zip(tiles, raws)),
                tuple(_with_rawmode(t, f"{r};16{lo}") for t, r in zip(tiles, raws)),
            )
        return _Plan16("8-bit")  # libtiff reassembles the planes; its low bytes are not exact
    if all(raw in _OPPOSITE_ORDER for raw in raws):
        return _Plan16("two-pass", None, tuple(_with_rawmode(t, _OPPOSITE_ORDER[r]) for t, r in zip(tiles, raws)))
    if im.format == "PNG" and im.mode == "RGBA" and set(raws) == {"LA;16B"}:
        return _Plan16("gray-alpha", tuple(_with_rawmode(t, "RGBA") for t in tiles))
    if any(";16" in raw for raw in raws):
        return _Plan16("8-bit")
    return None


def load_low_bytes(fp: IO[bytes], im: Image.Image, head: bytes) -> Image.Image | None:
    """Decode the file again keeping the low byte of every 16-bit sample.

    Returns None (the caller then keeps 8-bit precision and says so) if anything about
    this second decode does not match the first.
    """
    try:
        fp.seek(0)
        low = Image.open(fp, formats=(im.format,))
        plan = sixteen_bit_plan(low, head)
        if low.size != im.size or low.mode != im.mode or plan is None or plan.low is None:
            low.close()
            return None
        low.tile = list(plan.low)
        low.load()
    except Exception:
        return None
    return low


