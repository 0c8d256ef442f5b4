"""The decompression-bomb limit: Pillow's global raised for one decode, under a lock;
messages for images over it and for other decode failures."""
from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image

from imgloss.errors import UsageError

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


def effective_limit(max_pixels: int | None) -> int | None:
    """The pixel limit of one read: ``max_pixels`` or Pillow's (None: no limit)."""
    if max_pixels is None:
        with _LIMIT_LOCK:  # never read another thread's temporary raise
            return Image.MAX_IMAGE_PIXELS
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise UsageError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    return max_pixels


@contextmanager
def pillow_limit(limit: int | None) -> Iterator[None]:
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


def too_large(pixels: int | None, limit: int | None) -> str:
    size = f"{pixels} pixels" if pixels is not None else "the image"
    if limit is None:
        return f"image too large: {size} exceeds the decompression-bomb limit (raise it with --max-pixels)"
    return f"image too large: {size} exceeds the limit of {limit} (raise it with --max-pixels)"


def pixels_from_message(exc: BaseException) -> int | None:
    match = re.search(r"\((\d+) pixels\)", str(exc))
    return int(match.group(1)) if match else None


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


