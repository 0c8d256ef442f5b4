"""Per-metric maps as PNG files: ``DIR/<pair key>.<column>.png``, each map on its fixed,
documented scale (:data:`imgloss.report.colormap.SCALES`) with a colour bar; written
atomically. numpy and Pillow only."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from imgloss.report.colormap import SCALES, with_colour_bar
from imgloss.report.output import atomic_write_bytes

MAP_SUFFIX = ".png"


def map_path(folder: Path, key: str, column: str) -> Path:
    """``folder/<key>.<column>.png`` (``:`` and ``/`` in a column become ``-``)."""
    safe = column.replace(":", "-").replace("/", "-")
    return folder / f"{key}.{safe}{MAP_SUFFIX}"


def write_map(path: Path, values: np.ndarray, kind: str, title: str) -> None:
    """Draw ``values`` (``H x W`` float, NaN = no value) on the fixed scale ``kind``."""
    buffer = io.BytesIO()
    with_colour_bar(values, SCALES[kind], title).save(buffer, format="PNG")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
