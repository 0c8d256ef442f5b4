"""Open one image file with Pillow, before any pixel is decoded: only the formats imgloss
reads (:data:`FORMATS`; others Pillow knows, such as EPS, which runs Ghostscript, are
refused as "cannot identify format"), a header that is cut told apart from a file that
is not an image at all (:data:`SIGNATURES`), the pixel limit checked before decoding
(:mod:`.limits`), and every Pillow failure mapped to an :class:`~imgloss.errors.InputError`
naming the file. :func:`load_pixels` decodes with the same mapping; :func:`frame_count`
counts the frames of animations and multi-page files. No torch here.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import IO

from PIL import Image, UnidentifiedImageError

from imgloss.errors import InputError
from imgloss.io.limits import describe_error, pixels_from_message, too_large

#: Pillow format names that read_image accepts (whatever the file is called).
FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "DIB", "GIF")  # JPEG also opens MPO

#: Magic numbers, to tell "a PNG whose header is cut" from "not an image at all".
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)


def open_image(path: Path, fp: IO[bytes], limit: int | None) -> Image.Image:
    """``Image.open`` with every failure mapped; checks the pixel limit before decoding."""
    fp.seek(0)
    head = fp.read(16)
    fp.seek(0)
    try:
        with warnings.catch_warnings():
            # Refused as an InputError below instead of a warning printed on stderr.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(fp, formats=FORMATS)
    except UnidentifiedImageError:
        fmt = next((name for magic, name in SIGNATURES if head.startswith(magic)), None)
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


def load_pixels(path: Path, im: Image.Image) -> None:
    """Decode the pixels of ``im`` (``Image.load``), every failure an InputError naming ``path``."""
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


def frame_count(im: Image.Image) -> int | None:
    """Number of frames (1 for still images); None when counting them failed."""
    try:
        return int(getattr(im, "n_frames", 1))
    except Exception:  # a corrupt later frame: the first one may still be fine
        return None
