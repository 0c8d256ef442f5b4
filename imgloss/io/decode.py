"""Decode one image file into a tensor in [0, 1] (C x H x W): float, or its exact integer samples.

This module owns the way from a path on disk to a ``C x H x W`` tensor: checking the
file, opening it (:mod:`.opening`: formats, the decompression-bomb limit of
:mod:`.limits`), the first frame of animations, 16-bit precision (:mod:`.sixteen_bit`),
EXIF orientation (:mod:`.orientation`), samples, palette / gray / CMYK conversion and
alpha (:mod:`.samples`), alpha compositing and the notes. It never imports a model and never
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
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

import numpy as np
from PIL import Image

from imgloss.errors import InputError, UsageError
from imgloss.io.conversions import icc_description
from imgloss.io.limits import describe_error, effective_limit, pillow_limit
from imgloss.io.opening import frame_count, load_pixels, open_image
from imgloss.io.orientation import exif_orientation, transpose
from imgloss.io.samples import to_samples, unit_samples
from imgloss.io.sixteen_bit import load_low_bytes, sixteen_bit_plan
from imgloss.io.tensors import to_unit_float

if TYPE_CHECKING:
    from torch import Tensor

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
    im = open_image(path, fp, limit)
    mode, icc = im.mode, icc_description(im.info.get("icc_profile"))
    low: Image.Image | None = None
    try:
        frames = frame_count(im)
        if frames is None:
            # Counting frames walked into a broken later frame: start again at frame 0.
            im.close()
            im = open_image(path, fp, limit)
            notes.append("first frame (later frames unreadable)")
        elif frames > 1:
            notes.append(f"first frame of {frames}")
            im.seek(0)
        plan = sixteen_bit_plan(im, head)
        if plan is not None and plan.high is not None:
            im.tile = list(plan.high)
        load_pixels(path, im)
        if plan is not None and plan.kind == "two-pass":
            low = load_low_bytes(fp, im, head)
            if low is None and plan.high is not None:  # Pillow's own reading is wrong here
                raise InputError(path, "unsupported 16-bit TIFF layout (planar, cannot decode)")
        if plan is not None and (plan.kind == "8-bit" or (plan.kind == "two-pass" and low is None)):
            notes.append("16-bit image read at 8-bit precision (Pillow cannot decode this layout at 16 bits)")
        orientation = exif_orientation(im, notes)
        if orientation is not None:
            im = transpose(im, orientation)
            if low is not None:
                low = transpose(low, orientation)
            notes.append(f"EXIF rotated (orientation {orientation})")
        values, alpha, scale = to_samples(path, im, low, notes, plan.kind if plan else None)
    finally:
        im.close()
        if low is not None:
            low.close()
    if alpha is not None:
        if bool((alpha < 1).any()):
            a = alpha[..., None]
            values = unit_samples(values, scale) * a + np.float32(bg) * (np.float32(1) - a)
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
