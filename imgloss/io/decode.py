"""Decode one image file into a tensor in [0, 1] (C x H x W): float, or its exact integer samples.

This module owns everything between a path on disk and a ``C x H x W`` tensor:
decoding with Pillow (EXIF orientation, 16-bit precision via :mod:`.sixteen_bit`,
palette / gray / CMYK conversion, alpha compositing, first frame of animations, the
decompression-bomb limit of :mod:`.limits`). It never imports a model and never
prints; every expected failure is an :class:`~imgloss.errors.InputError` (a file that
cannot be read) or a :class:`~imgloss.errors.UsageError` (a bad option).

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

Integer hand-off (:func:`read_image_raw`): the same decode, stopped before the float
conversion: ``uint8`` (8-bit data, and 1-bit as 0/255), ``uint16`` (16-bit data) or, where
decoding already produced floats (alpha composited, ``F`` images), ``float32``.
:func:`to_unit_float` turns it into exactly what :func:`read_image` returns (the same
correctly rounded float32 division), so the engine moves 4x (2x) fewer bytes and converts
on the device.

Thread and process safety: every call opens and closes its own file, holds no state
between calls and touches no torch thread setting, so it runs in ``DataLoader`` worker
processes and threads alike.

Importing this module does not import torch (only Pillow and numpy); torch is imported
on the first decode.
"""
from __future__ import annotations

import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from imgloss.errors import InputError, UsageError
from imgloss.io.limits import describe_error, effective_limit, pillow_limit, pixels_from_message, too_large
from imgloss.io.conversions import icc_description
from imgloss.io.sixteen_bit import load_low_bytes, sixteen_bit_plan
from imgloss.io.tensors import to_unit_float

if TYPE_CHECKING:
    from torch import Tensor

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
    #: Pillow's mode of the file as stored ("P", "L", "RGB", "CMYK", ...), before conversion.
    mode: str = ""
    #: The description of an embedded ICC profile that is not sRGB (its values are
    #: compared as stored: the profile is not applied), or None.
    icc_profile: str | None = None


@dataclass
class RawImage:
    """A decoded image before the float conversion: ``data`` is ``C x H x W``, ``uint8``
    (divide by 255), ``uint16`` (divide by 65535) or ``float32`` (already in [0, 1]);
    ``notes``, ``mode`` and ``icc_profile`` as :class:`LoadedImage`'s."""

    data: Tensor
    notes: tuple[str, ...] = ()
    mode: str = ""
    icc_profile: str | None = None


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
    raw = read_image_raw(path, background=background, max_pixels=max_pixels)
    return LoadedImage(to_unit_float(raw.data), raw.notes, raw.mode, raw.icc_profile)


def read_image_raw(
    path: str | os.PathLike[str],
    *,
    background: Background = "white",
    max_pixels: int | None = None,
) -> RawImage:
    """:func:`read_image` without the float conversion: the exact integer samples where
    the file has them (see :class:`RawImage`); same options, same errors."""
    path = Path(path)
    bg = _background_value(background)
    limit = effective_limit(max_pixels)
    _check_file(path)
    try:
        fp = open(path, "rb")  # noqa: SIM115 - closed below, errors mapped per case
    except OSError as exc:  # the file changed since _check_file looked at it
        raise _os_error(path, exc, "open") from None
    with fp, pillow_limit(limit):
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
    return InputError(path, f"cannot {action} file ({describe_error(exc)})")


def _decode(path: Path, fp: IO[bytes], bg: float, bg_name: str, limit: int | None) -> RawImage:
    notes: list[str] = []
    head = fp.read(16)
    im = _open(path, fp, limit)
    mode, icc = im.mode, icc_description(im.info.get("icc_profile"))
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
        plan = sixteen_bit_plan(im, head)
        if plan is not None and plan.high is not None:
            im.tile = list(plan.high)
        _load(path, im)
        if plan is not None and plan.kind == "two-pass":
            low = load_low_bytes(fp, im, head)
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
        values, alpha, scale = _to_array(path, im, low, notes, plan.kind if plan else None)
    finally:
        im.close()
        if low is not None:
            low.close()
    if alpha is not None:
        if bool((alpha < 1).any()):
            a = alpha[..., None]
            values = _unit(values, scale) * a + np.float32(bg) * (np.float32(1) - a)
            notes.append(f"alpha composited on {bg_name}")
        else:
            notes.append("opaque alpha channel ignored")
    if values.dtype == np.float32:
        np.clip(values, 0.0, 1.0, out=values)
    elif values.dtype != (np.uint8 if scale == 255.0 else np.uint16):  # native uint16 (tensors.SCALES)
        values = values.astype(np.uint16)
    import torch  # deferred: importing imgloss.io stays torch-free

    planes = np.ascontiguousarray(values.transpose(2, 0, 1))
    if not planes.flags.writeable:  # one channel straight from Pillow's buffer: own it
        planes = planes.copy()
    tensor = torch.from_numpy(planes)
    return RawImage(data=tensor, notes=tuple(notes), mode=mode, icc_profile=icc)


def _unit(ints: np.ndarray, scale: float) -> np.ndarray:
    """Samples as float32 in [0, 1] (floats are already)."""
    return ints if ints.dtype == np.float32 else ints.astype(np.float32) / np.float32(scale)


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
        raise InputError(path, too_large(pixels_from_message(exc), limit)) from None
    except MemoryError:
        raise InputError(path, "not enough memory to read the image header") from None
    except Exception as exc:  # Pillow plugins raise many types on malformed headers
        raise InputError(path, f"truncated or corrupt image data ({describe_error(exc)})") from None
    width, height = im.size
    if limit is not None and width * height > limit:
        im.close()
        raise InputError(path, too_large(width * height, limit))
    if width < 1 or height < 1:
        im.close()
        raise InputError(path, f"image has no pixels ({width} x {height})")
    return im


def _load(path: Path, im: Image.Image) -> None:
    width, height = im.size
    try:
        im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(path, too_large(pixels_from_message(exc), None)) from None
    except MemoryError:
        raise InputError(path, f"not enough memory to decode a {width} x {height} image") from None
    except OSError as exc:
        if exc.errno is not None:  # a real I/O error, not a Pillow decoder message
            raise InputError(path, f"read error ({describe_error(exc)})") from None
        raise InputError(path, f"truncated or corrupt image data ({describe_error(exc)})") from None
    except Exception as exc:  # decoders raise SyntaxError, ValueError, EOFError, ...
        raise InputError(path, f"truncated or corrupt image data ({describe_error(exc)})") from None


def _frame_count(im: Image.Image) -> int | None:
    """Number of frames (1 for still images); None when counting them failed."""
    try:
        return int(getattr(im, "n_frames", 1))
    except Exception:  # a corrupt later frame: the first one may still be fine
        return None


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
        return _to_array(path, converted, None, notes)


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
