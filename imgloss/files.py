"""Atomic file writes: a temp file beside the target, renamed into place when complete.

Every file imgloss writes whole (reports, JUnit, heatmaps, the weights cache and its
manifest, updated golden images) goes through :func:`atomic_write`, so a crash or an
error never leaves a half-written file under the real name. No torch here.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(temp)`` on a new temp file beside ``path``, then rename it to ``path``.

    The temp file is created 0644 (not mkstemp's 0600, which would hide reports from
    CI artifact readers) and removed if ``write`` or the rename fails; ``path`` is then
    unchanged.
    """
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(handle, 0o644)
        os.close(handle)
        write(Path(temp))
        os.replace(temp, path)
    finally:
        Path(temp).unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda temp: temp.write_bytes(data))
