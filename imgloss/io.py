"""Image input: read one file into a float tensor in [0, 1]; pair two paths or folders.

This module owns everything between a path on disk and a ``C x H x W`` tensor:
decoding with Pillow (EXIF orientation, 16-bit precision, palette / gray / CMYK
conversion, alpha compositing, first frame of animations, the decompression-bomb
limit), antialiased resizing, and the pairing of a reference and a candidate path
(two files, or two folders matched by relative path). It never imports a model and
never prints; every expected failure is an :class:`~imgloss.errors.InputError`
(a file that cannot be read) or a :class:`~imgloss.errors.UsageError` (paths or
options that cannot be paired).

Decoding rules (:func:`read_image`):

- Formats: PNG (also APNG), JPEG (also MPO), WebP, TIFF, BMP, GIF. Other formats
  Pillow knows (EPS, PSD, ...) are refused as "cannot identify format", so untrusted
  input never reaches a plugin that shells out (EPS runs Ghostscript).
- 8-bit channels are divided by 255. 16-bit gray (modes ``I;16*``) is divided by
  65535. Pillow decodes 16-bit colour PNG/TIFF (RGB, RGBA, gray+alpha) only at 8 bits
  per channel; here they keep all 16 bits, exactly: RGB/RGBA are decoded twice (the
  second time with the byte order of Pillow's raw mode swapped, which yields the low
  bytes), 16-bit gray+alpha PNG once with its bytes unpacked as 8-bit RGBA (and it
  stays one gray channel, where Pillow would return RGBA). Uncompressed planar 16-bit
  TIFF, which Pillow would mis-read, is decoded the same way. Where no exact way exists
  (compressed planar TIFF) the image is read at 8-bit precision and a note says so.
  Mode ``I`` (32-bit integer) is read as 16-bit data: divided by 65535, values outside
  0..65535 clipped (noted). Mode ``F`` (32-bit float) is taken as already in [0, 1]:
  values outside are clipped (noted); NaN or infinity is an error.
- Gray stays one channel (``1``, ``L``, ``LA``, ``I;16``, ``I``, ``F``); everything else
  becomes three (``P``, ``PA``, ``RGB``, ``RGBA``, ``CMYK``, ``YCbCr``, ...). CMYK uses
  Pillow's plain conversion (no colour management).
- Alpha (an alpha channel, a palette transparency or a PNG colour key) is composited
  over the background in the stored (sRGB-encoded) values, as viewers do:
  ``out = colour * a + background * (1 - a)``. A note always says so: "alpha composited
  on white" (or black), or "opaque alpha channel ignored" when every pixel is opaque.
- EXIF orientation (tags 2..8) is applied, as ``PIL.ImageOps.exif_transpose`` does.
- Animated / multi-page files: the first frame is read, noted "first frame of N".
- Decompression bombs: images with more pixels than the limit are refused before
  decoding. The limit is Pillow's ``Image.MAX_IMAGE_PIXELS`` unless ``max_pixels`` is
  given (the CLI's ``--max-pixels``). Raising it above Pillow's limit sets Pillow's
  global for the duration of that one decode, under a lock (concurrent raised reads in
  one process are serialised; worker processes are unaffected). For images between
  Pillow's limit and twice that, Pillow itself also emits a ``DecompressionBombWarning``
  through :mod:`warnings`; applications that want silence filter it (the image is
  refused here either way).

Thread and process safety: every call opens and closes its own file, holds no state
between calls and touches no torch thread setting, so it runs in ``DataLoader`` worker
processes and threads alike.

Importing this module does not import torch (only Pillow and numpy): the pairing and
glob rules (:func:`pair_inputs`, :func:`glob_matches`) are usable from the CLI's fast
paths; torch is imported on the first decode or resize.
"""
from __future__ import annotations

import fnmatch
import os
import re
import stat
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from imgloss.errors import InputError, UsageError

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "IMAGE_EXTENSIONS",
    "LoadedImage",
    "Pair",
    "Pairing",
    "list_images",
    "match_channels",
    "glob_matches",
    "pair_inputs",
    "read_image",
    "resize_to",
]

#: Lowercase file suffixes listed as images when scanning folders (case-insensitive).
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
)

# Pillow format names that read_image accepts (whatever the file is called).
_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "DIB", "GIF")  # JPEG also opens MPO

# Magic numbers, to tell "a PNG whose header is cut" from "not an image at all".
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)

Background = Literal["white", "black"]
_BACKGROUNDS = {"white": 1.0, "black": 0.0}


@dataclass
class LoadedImage:
    """A decoded image.

    ``tensor``: ``torch.float32``, shape ``C x H x W``, values in [0, 1]; ``C`` is 1 for
    gray images and 3 for colour (alpha is composited away, never returned).
    ``notes``: short human notes on what decoding did ("16-bit", "EXIF rotated
    (orientation 6)", "alpha composited on white", "first frame of 12", ...), in the
    order they happened; empty for a plain 8-bit image.
    """

    tensor: Tensor
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pair:
    """One comparison: ``reference`` (None when scoring without reference) vs ``candidate``.

    ``key`` is what reports show: the path relative to the candidate folder in POSIX form
    (``"nature/cat.png"``), or the candidate's file name when two files were given.
    """

    reference: Path | None
    candidate: Path
    key: str


@dataclass
class Pairing:
    """The result of :func:`pair_inputs`: matched pairs and the files found on one side only.

    All three lists are sorted by relative path (deterministic on every platform).
    """

    pairs: list[Pair]
    unmatched_reference: list[Path]
    unmatched_candidate: list[Path]


# --------------------------------------------------------------------------- reading


def read_image(
    path: str | os.PathLike[str],
    *,
    background: Background = "white",
    max_pixels: int | None = None,
) -> LoadedImage:
    """Decode one image file into a ``C x H x W`` float32 tensor with values in [0, 1].

    ``background`` is what transparent pixels are composited over ("white" or "black").
    ``max_pixels`` is the largest width x height accepted (default: Pillow's
    ``Image.MAX_IMAGE_PIXELS``); larger images are refused before they are decoded.

    Raises :class:`InputError` (with the path and a short reason) for every file that
    cannot be read: missing, a directory, no permission, empty, not an image, truncated
    or corrupt, too large, an unsupported colour mode. Raises :class:`UsageError` for a
    bad ``background`` or ``max_pixels``.
    """
    path = Path(path)
    bg = _background_value(background)
    limit = _effective_limit(max_pixels)
    _check_file(path)
    try:
        fp = open(path, "rb")  # noqa: SIM115 - closed below, errors mapped per case
    except OSError as exc:  # the file changed since _check_file looked at it
        raise _os_error(path, exc, "open") from None
    with fp, _pillow_limit(limit):
        return _decode(path, fp, bg, background, limit)


def _background_value(background: str) -> float:
    try:
        return _BACKGROUNDS[background]
    except (KeyError, TypeError):
        raise UsageError(
            f"background must be 'white' or 'black', got {background!r}"
        ) from None


def _check_file(path: Path) -> None:
    """Refuse what is not a non-empty regular file, with the reason (no decoding yet)."""
    try:
        st = path.stat()
    except OSError as exc:
        raise _os_error(path, exc, "access") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(path, "is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(path, "not a regular file")
    if st.st_size == 0:
        raise InputError(path, "empty file (0 bytes)")


def _os_error(path: Path, exc: OSError, action: str) -> InputError:
    """The InputError for an OSError raised while trying to ``action`` (open, access) ``path``."""
    if isinstance(exc, FileNotFoundError):
        return InputError(path, "broken symbolic link" if path.is_symlink() else "no such file")
    if isinstance(exc, NotADirectoryError):
        return InputError(path, "no such file (a parent is not a folder)")
    if isinstance(exc, IsADirectoryError):
        return InputError(path, "is a directory")
    if isinstance(exc, PermissionError):
        return InputError(path, "permission denied")
    return InputError(path, f"cannot {action} file ({_describe(exc)})")


def _decode(path: Path, fp: IO[bytes], bg: float, bg_name: str, limit: int | None) -> LoadedImage:
    notes: list[str] = []
    head = fp.read(16)
    im = _open(path, fp, limit)
    low: Image.Image | None = None
    try:
        frames = _frame_count(im)
        if frames is None:
            # Counting frames walked into a broken later frame: start again at frame 0.
            im.close()
            im = _open(path, fp, limit)
            notes.append("first frame (later frames unreadable)")
        elif frames > 1:
            notes.append(f"first frame of {frames}")
            im.seek(0)
        plan = _sixteen_bit_plan(im, head)
        if plan is not None and plan.high is not None:
            im.tile = list(plan.high)
        _load(path, im)
        if plan is not None and plan.kind == "two-pass":
            low = _load_low_bytes(fp, im, head)
            if low is None and plan.high is not None:  # Pillow's own reading is wrong here
                raise InputError(path, "unsupported 16-bit TIFF layout (planar, cannot decode)")
        if plan is not None and (plan.kind == "8-bit" or (plan.kind == "two-pass" and low is None)):
            notes.append("16-bit image read at 8-bit precision (Pillow cannot decode this layout at 16 bits)")
        orientation = _orientation(im, notes)
        if orientation is not None:
            im = _transpose(im, orientation)
            if low is not None:
                low = _transpose(low, orientation)
            notes.append(f"EXIF rotated (orientation {orientation})")
        values, alpha = _to_array(path, im, low, notes, plan.kind if plan else None)
    finally:
        im.close()
        if low is not None:
            low.close()
    if alpha is not None:
        if bool((alpha < 1).any()):
            a = alpha[..., None]
            values = values * a + np.float32(bg) * (np.float32(1) - a)
            notes.append(f"alpha composited on {bg_name}")
        else:
            notes.append("opaque alpha channel ignored")
    np.clip(values, 0.0, 1.0, out=values)
    import torch  # deferred: importing imgloss.io stays torch-free

    tensor = torch.from_numpy(np.ascontiguousarray(values.transpose(2, 0, 1)))
    return LoadedImage(tensor=tensor, notes=tuple(notes))


def _open(path: Path, fp: IO[bytes], limit: int | None) -> Image.Image:
    """``Image.open`` with every failure mapped; checks the pixel limit before decoding."""
    fp.seek(0)
    head = fp.read(16)
    fp.seek(0)
    try:
        with warnings.catch_warnings():
            # Refused as an InputError below instead of a warning printed on stderr.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(fp, formats=_FORMATS)
    except UnidentifiedImageError:
        fmt = next((name for magic, name in _SIGNATURES if head.startswith(magic)), None)
        if fmt is None and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            fmt = "WebP"
        if fmt is not None:
            raise InputError(path, f"truncated or corrupt image data ({fmt} header unreadable)") from None
        raise InputError(path, "not an image (cannot identify format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(path, _too_large(_pixels_from_message(exc), limit)) from None
    except MemoryError:
        raise InputError(path, "not enough memory to read the image header") from None
    except Exception as exc:  # Pillow plugins raise many types on malformed headers
        raise InputError(path, f"truncated or corrupt image data ({_describe(exc)})") from None
    width, height = im.size
    if limit is not None and width * height > limit:
        im.close()
        raise InputError(path, _too_large(width * height, limit))
    if width < 1 or height < 1:
        im.close()
        raise InputError(path, f"image has no pixels ({width} x {height})")
    return im


def _load(path: Path, im: Image.Image) -> None:
    width, height = im.size
    try:
        im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(path, _too_large(_pixels_from_message(exc), None)) from None
    except MemoryError:
        raise InputError(path, f"not enough memory to decode a {width} x {height} image") from None
    except OSError as exc:
        if exc.errno is not None:  # a real I/O error, not a Pillow decoder message
            raise InputError(path, f"read error ({_describe(exc)})") from None
        raise InputError(path, f"truncated or corrupt image data ({_describe(exc)})") from None
    except Exception as exc:  # decoders raise SyntaxError, ValueError, EOFError, ...
        raise InputError(path, f"truncated or corrupt image data ({_describe(exc)})") from None


def _frame_count(im: Image.Image) -> int | None:
    """Number of frames (1 for still images); None when counting them failed."""
    try:
        return int(getattr(im, "n_frames", 1))
    except Exception:  # a corrupt later frame: the first one may still be fine
        return None


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


def _sixteen_bit_plan(im: Image.Image, head: bytes) -> _Plan16 | None:
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


def _load_low_bytes(fp: IO[bytes], im: Image.Image, head: bytes) -> Image.Image | None:
    """Decode the file again keeping the low byte of every 16-bit sample.

    Returns None (the caller then keeps 8-bit precision and says so) if anything about
    this second decode does not match the first.
    """
    try:
        fp.seek(0)
        low = Image.open(fp, formats=(im.format,))
        plan = _sixteen_bit_plan(low, head)
        if low.size != im.size or low.mode != im.mode or plan is None or plan.low is None:
            low.close()
            return None
        low.tile = list(plan.low)
        low.load()
    except Exception:
        return None
    return low


# EXIF orientation -> the transpose that undoes it (the table of ImageOps.exif_transpose).
_ORIENTATION_OPS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _orientation(im: Image.Image, notes: list[str]) -> int | None:
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
    return value if value in _ORIENTATION_OPS else None


def _transpose(im: Image.Image, orientation: int) -> Image.Image:
    out = im.transpose(_ORIENTATION_OPS[orientation])
    out.info = dict(im.info)  # keep the palette transparency / colour key
    im.close()
    return out


def _to_array(
    path: Path,
    im: Image.Image,
    low: Image.Image | None,
    notes: list[str],
    plan: str | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(values H x W x C float32 in [0, 1], alpha H x W float32 or None)``."""
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
        return values, None
    if mode == "1":
        return np.asarray(im, dtype=np.float32)[..., None], None
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
) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        converted = im.convert(target)
    except Exception:
        raise InputError(path, f"unsupported colour mode {im.mode}") from None
    with converted:
        return _to_array(path, converted, None, notes)


def _split_alpha(
    ints: np.ndarray, scale: float, has_alpha: bool, key: object
) -> tuple[np.ndarray, np.ndarray | None]:
    """Integer ``H x W x C`` samples -> (float colour in [0, 1], float alpha or None).

    ``has_alpha``: the last channel is alpha. ``key``: a PNG colour key (an int for gray,
    an (r, g, b) tuple for colour) marking fully transparent pixels, or None.
    """
    if has_alpha:
        colour = ints[..., :-1].astype(np.float32) / np.float32(scale)
        alpha = ints[..., -1].astype(np.float32) / np.float32(scale)
        return colour, alpha
    colour = ints.astype(np.float32) / np.float32(scale)
    alpha = None
    if key is not None:
        key_values = np.asarray(key if isinstance(key, tuple) else (key,)).reshape(-1)
        if key_values.dtype.kind in "iu" and key_values.size == ints.shape[-1]:
            transparent = (ints == key_values.astype(ints.dtype)).all(axis=-1)
            alpha = np.where(transparent, np.float32(0), np.float32(1))
    return colour, alpha


# ------------------------------------------------------------------- pixel-count limit

_LIMIT_LOCK = threading.Lock()
_RAISED_FROM: list[int | None] = []  # Pillow's own limit while a raise is in effect


def _after_fork_in_child() -> None:
    # A fork taken mid-decode by another thread copies a held lock and a raised limit.
    global _LIMIT_LOCK
    if _RAISED_FROM:
        Image.MAX_IMAGE_PIXELS = _RAISED_FROM.pop()
        _RAISED_FROM.clear()
    _LIMIT_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _effective_limit(max_pixels: int | None) -> int | None:
    """The pixel limit of one read: ``max_pixels`` or Pillow's (None: no limit)."""
    if max_pixels is None:
        with _LIMIT_LOCK:  # never read another thread's temporary raise
            return Image.MAX_IMAGE_PIXELS
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise UsageError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    return max_pixels


@contextmanager
def _pillow_limit(limit: int | None) -> Iterator[None]:
    """Let Pillow's own bomb check accept images up to ``limit`` for one decode.

    Our check (in :func:`_open`) enforces ``limit`` exactly; Pillow's global only has
    to be raised when ``limit`` is above it, and is restored afterwards.
    """
    with _LIMIT_LOCK:
        current = Image.MAX_IMAGE_PIXELS
    if current is None or (limit is not None and limit <= current):
        yield
        return
    with _LIMIT_LOCK:
        _RAISED_FROM.append(Image.MAX_IMAGE_PIXELS)
        Image.MAX_IMAGE_PIXELS = limit
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = _RAISED_FROM.pop()


def _too_large(pixels: int | None, limit: int | None) -> str:
    size = f"{pixels} pixels" if pixels is not None else "the image"
    if limit is None:
        return f"image too large: {size} exceeds the decompression-bomb limit (raise it with --max-pixels)"
    return f"image too large: {size} exceeds the limit of {limit} (raise it with --max-pixels)"


def _pixels_from_message(exc: BaseException) -> int | None:
    match = re.search(r"\((\d+) pixels\)", str(exc))
    return int(match.group(1)) if match else None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


# ----------------------------------------------------------------------- tensor helpers


def match_channels(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Repeat a one-channel image to three channels when the other one has three.

    Works on ``C x H x W`` and ``N x C x H x W`` (channels at dim -3). Returns the two
    tensors, unchanged when their channel counts already agree. Raises ``ValueError``
    for other mismatches (e.g. 2 vs 3).
    """
    ca, cb = a.shape[-3], b.shape[-3]
    if ca == cb:
        return a, b
    if ca == 1 and cb == 3:
        return _repeat_channels(a), b
    if ca == 3 and cb == 1:
        return a, _repeat_channels(b)
    raise ValueError(f"cannot match {ca} channels with {cb} channels (only 1 and 3 mix)")


def _repeat_channels(t: Tensor) -> Tensor:
    reps = [1] * t.dim()
    reps[-3] = 3
    return t.repeat(*reps)


def resize_to(
    t: Tensor,
    size: tuple[int, int],
    *,
    mode: Literal["bicubic", "bilinear"] = "bicubic",
) -> Tensor:
    """Resize ``C x H x W`` (or ``N x C x H x W``) to ``size = (H, W)`` with antialiasing.

    Uses ``torch.nn.functional.interpolate(..., antialias=True)`` so downscaling does not
    alias; the result is float, same rank as ``t``, clamped to [0, 1] (bicubic
    overshoots at edges). Returns ``t`` itself when it already has that size.
    """
    if t.dim() not in (3, 4):
        raise ValueError(f"expected C x H x W or N x C x H x W, got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        raise ValueError(f"expected a floating tensor in [0, 1], got dtype {t.dtype}")
    if mode not in ("bicubic", "bilinear"):
        raise ValueError(f"mode must be 'bicubic' or 'bilinear', got {mode!r}")
    try:
        height, width = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (height, width), got {size!r}") from None
    if height < 1 or width < 1:
        raise ValueError(f"size must be positive, got {size!r}")
    if tuple(t.shape[-2:]) == (height, width):
        return t
    import torch.nn.functional as F  # deferred: importing imgloss.io stays torch-free

    batch = t if t.dim() == 4 else t.unsqueeze(0)
    out = F.interpolate(
        batch, size=(height, width), mode=mode, align_corners=False, antialias=True
    ).clamp_(0.0, 1.0)
    return out if t.dim() == 4 else out.squeeze(0)


# ----------------------------------------------------------------------------- pairing


def pair_inputs(
    reference: str | os.PathLike[str],
    candidate: str | os.PathLike[str],
    *,
    recursive: bool = True,
    glob: str | None = None,
    ignore_extension: bool = False,
) -> Pairing:
    """Pair a reference with a candidate: two files, or two folders by relative path.

    Two files: one pair, keyed by the candidate's file name (``glob`` and
    ``ignore_extension`` do not apply; the files are read whatever their suffix).

    Two folders: every image (suffix in :data:`IMAGE_EXTENSIONS`, case-insensitive)
    under each folder, recursively unless ``recursive=False``, is keyed by its path
    relative to its folder; equal keys pair, the rest are listed as unmatched (never
    paired by position). Hidden files and folders (name starting with ".") are skipped.
    ``glob`` keeps only relative POSIX paths matching the pattern on both sides
    (:func:`fnmatch.fnmatchcase`: ``*`` also crosses "/", so ``"*.png"`` matches
    ``"a/b.png"``; a ``"**/"`` may also match nothing, so ``"**/*.png"`` matches
    ``"b.png"``). ``ignore_extension`` keys by the relative path without its suffix
    (``a/x.png`` pairs with ``b/x.jpg``); the key shown is the candidate's relative path.
    A folder entry whose *name* has an image suffix is listed even when it is a
    directory, a broken link or a special file, so that reading it fails visibly
    ("is a directory") instead of it vanishing; such a directory is not descended into.

    Raises :class:`UsageError` for a missing path, a file paired with a folder, or (with
    ``ignore_extension``) two files of one folder that differ only by suffix;
    :class:`InputError` for a folder that cannot be listed.
    """
    ref, cand = Path(reference), Path(candidate)
    ref_kind = _path_kind(ref, "reference")
    cand_kind = _path_kind(cand, "candidate")
    if ref_kind == "file" and cand_kind == "file":
        return Pairing(pairs=[Pair(ref, cand, cand.name)], unmatched_reference=[], unmatched_candidate=[])
    if ref_kind != cand_kind:
        file_side, folder_side = (ref, cand) if ref_kind == "file" else (cand, ref)
        raise UsageError(
            f"cannot compare a file with a folder: {file_side} is a file and {folder_side} "
            "is a folder; give two files or two folders"
        )
    ref_files = _scan(ref, recursive=recursive, glob=glob)
    cand_files = _scan(cand, recursive=recursive, glob=glob)
    if ignore_extension:
        ref_by = _by_stem(ref, ref_files)
        cand_by = _by_stem(cand, cand_files)
    else:
        ref_by = {rel: (rel, p) for rel, p in ref_files.items()}
        cand_by = {rel: (rel, p) for rel, p in cand_files.items()}
    pairs = [
        Pair(ref_by[k][1], cand_by[k][1], cand_by[k][0])
        for k in cand_by
        if k in ref_by
    ]
    pairs.sort(key=lambda p: p.key)
    only_ref = sorted((v for k, v in ref_by.items() if k not in cand_by), key=lambda v: v[0])
    only_cand = sorted((v for k, v in cand_by.items() if k not in ref_by), key=lambda v: v[0])
    return Pairing(
        pairs=pairs,
        unmatched_reference=[p for _, p in only_ref],
        unmatched_candidate=[p for _, p in only_cand],
    )


def list_images(
    path: str | os.PathLike[str],
    *,
    recursive: bool = True,
    glob: str | None = None,
) -> list[Pair]:
    """Images to score without a reference: pairs with ``reference=None``.

    A file gives one pair keyed by its name; a folder is listed as in
    :func:`pair_inputs` (same suffix, hidden, ``recursive`` and ``glob`` rules), sorted
    by relative path. Raises :class:`UsageError` when ``path`` does not exist.
    """
    root = Path(path)
    if _path_kind(root, "input") == "file":
        return [Pair(None, root, root.name)]
    return [Pair(None, p, rel) for rel, p in sorted(_scan(root, recursive=recursive, glob=glob).items())]


def _path_kind(path: Path, role: str) -> Literal["file", "dir"]:
    try:
        is_dir = path.is_dir()
        exists = is_dir or path.exists()
    except PermissionError:
        raise InputError(path, "permission denied") from None
    except OSError as exc:
        raise InputError(path, f"cannot access path ({_describe(exc)})") from None
    if not exists:
        what = "is a broken symbolic link" if path.is_symlink() else "does not exist"
        raise UsageError(f"{role} path {what}: {path}")
    return "dir" if is_dir else "file"


def _scan(root: Path, *, recursive: bool, glob: str | None) -> dict[str, Path]:
    """``{relative POSIX path: path}`` of the image entries under ``root``."""
    found: dict[str, Path] = {}
    seen: set[tuple[int, int]] = set()  # (device, inode) of folders, against link loops

    def walk(folder: Path, prefix: str) -> None:
        try:
            st = folder.stat()
            if (st.st_dev, st.st_ino) in seen:
                return
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except PermissionError:
            raise InputError(folder, "permission denied (cannot list folder)") from None
        except OSError as exc:
            raise InputError(folder, f"cannot list folder ({_describe(exc)})") from None
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = prefix + entry.name
            if os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS:
                if glob is None or glob_matches(rel, glob):
                    found[rel] = Path(entry.path)
                continue
            if recursive and _is_dir(entry):
                walk(Path(entry.path), rel + "/")

    walk(root, "")
    return found


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows symbolic links; loops are cut by inode
    except OSError:
        return False


def _by_stem(root: Path, files: dict[str, Path]) -> dict[str, tuple[str, Path]]:
    """Key files by relative path without suffix; two files sharing one is a UsageError."""
    by_stem: dict[str, tuple[str, Path]] = {}
    clashes: list[str] = []
    for rel in sorted(files):
        stem = str(PurePosixPath(rel).with_suffix(""))
        if stem in by_stem:
            clashes.append(f"{by_stem[stem][0]} and {rel}")
            continue
        by_stem[stem] = (rel, files[rel])
    if clashes:
        shown = "; ".join(clashes[:5]) + (f"; and {len(clashes) - 5} more" if len(clashes) > 5 else "")
        raise UsageError(
            f"ignore_extension is ambiguous in {root}: files differ only by extension: {shown}"
        )
    return by_stem


def glob_matches(key: str, pattern: str) -> bool:
    """Whether a relative POSIX path matches a ``--glob`` pattern, by the rules of pairing.

    :func:`fnmatch.fnmatchcase` (case-sensitive, ``*`` also crosses "/"), except that
    each ``**/`` may also match no folder at all: ``"**/*.png"`` matches ``"x.png"``.
    """
    return any(fnmatch.fnmatchcase(key, variant) for variant in _glob_variants(pattern))




@lru_cache(maxsize=64)
def _glob_variants(pattern: str) -> tuple[str, ...]:
    """The pattern with each ``**/`` kept or dropped, so ``**/`` can match zero folders."""
    head, sep, tail = pattern.partition("**/")
    if not sep:
        return (pattern,)
    rest = _glob_variants(tail)
    return tuple(dict.fromkeys([head + sep + r for r in rest] + [head + r for r in rest]))
