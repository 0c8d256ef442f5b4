"""Shared helpers of the ``imgloss check`` tests: small images with a known edit and a
scan for leftover temp files (the CLI runners are conftest's ``invoke``/``run_module``).

Import explicitly (``from check_helpers import ...``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_images"
#: (x0, y0, x1, y1), half-open: the rectangle painted white in ``edited.png``.
EDIT = (8, 6, 24, 18)
SIZE = (32, 40)  # height, width
#: Limits that identical pairs pass and the edited pair breaks.
LIMITS = ("--max", "charbonnier=0.01", "--min", "ssim=0.98")


def texture(seed: int = 0, size: tuple[int, int] = SIZE) -> np.ndarray:
    """A smooth-ish RGB uint8 image (``H x W x 3``), so that SSIM is meaningful."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 200, (size[0] // 4 + 1, size[1] // 4 + 1, 3)).astype(np.uint8)
    return np.array(Image.fromarray(coarse).resize((size[1], size[0]), Image.BILINEAR))


def save(path: Path, array: np.ndarray) -> Path:
    """Write ``array`` (``H x W x 3`` or ``H x W`` uint8) as an image; folders are created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def painted(array: np.ndarray, box: tuple[int, int, int, int] = EDIT) -> np.ndarray:
    """A copy of ``array`` with the half-open ``box`` painted white."""
    x0, y0, x1, y1 = box
    out = array.copy()
    out[y0:y1, x0:x1] = 255
    return out


def make_folders(root: Path) -> tuple[Path, Path]:
    """``golden/`` and ``cand/`` with ``same.png`` and ``sub/same2.png`` (identical) and
    ``edited.png`` (the candidate has the :data:`EDIT` rectangle painted white)."""
    golden, cand = root / "golden", root / "cand"
    for key, seed in (("same.png", 1), ("sub/same2.png", 2)):
        save(golden / key, texture(seed))
        save(cand / key, texture(seed))
    save(golden / "edited.png", texture(3))
    save(cand / "edited.png", painted(texture(3)))
    return golden, cand


def leftovers(root: Path) -> list[Path]:
    """Temp files a run must never leave: ``*.partial``, ``*.tmp``, update stages."""
    return [
        p for p in root.rglob("*")
        if p.name.endswith((".partial", ".tmp", ".imgloss-update")) or ".imgloss-update" in p.name
    ]


def error_lines(stderr: str, kind: str = "error") -> list[str]:
    """The ``imgloss: <kind>: ...`` lines of ``stderr``."""
    return [line for line in stderr.splitlines() if line.startswith(f"imgloss: {kind}:")]
