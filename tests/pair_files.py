"""A reference/candidate pair of small RGB PNG files, and pixels decoded without imgloss
(for CLI tests that compare the CLI's numbers with the functional API's)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image


def write_pair(folder: Path, height: int, width: int, seed: int, spread: int) -> tuple[Path, Path]:
    """``folder/ref.png`` (uniform noise) and ``folder/cand.png`` (it plus noise in
    ``[-spread, spread)``, clipped); returns their paths."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-spread, spread, a.shape), 0, 255).astype(np.uint8)
    Image.fromarray(a).save(folder / "ref.png")
    Image.fromarray(b).save(folder / "cand.png")
    return folder / "ref.png", folder / "cand.png"


def pixels(path: Path, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``1 x 3 x H x W`` in [0, 1], decoded with Pillow and NumPy."""
    return torch.from_numpy(np.asarray(Image.open(path), dtype=np.float64) / 255).to(dtype).permute(2, 0, 1)[None]
