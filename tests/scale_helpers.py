"""Shared by the shard, merge, resume and Ray tests: a folder pair of tiny images and
JSON helpers (the CLI runners are conftest's ``invoke``/``run_module``)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
#: Cheap metrics that need no weights; ssim needs at least 11 x 11 pixels.
METRICS = "ssim,psnr,tv"
TIMING = ("seconds", "pairs_per_second")


def make_folders(root: Path, count: int = 24, seed: int = 0, size: int = 16) -> tuple[Path, Path]:
    """ref/ and cand/ with ``count`` pairs in three subfolders (two image sizes), one
    unreadable candidate (an error row) and one file on each side only."""
    rng = np.random.default_rng(seed)
    ref, cand = root / "ref", root / "cand"
    for i in range(count):
        key = f"d{i % 3}/img{i:04d}.png"
        side = size if i % 4 else size + 4
        base = rng.integers(0, 256, (side, side, 3))
        for folder, array in ((ref, base), (cand, np.clip(base + rng.normal(0, 20, base.shape), 0, 255))):
            (folder / key).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(array.astype(np.uint8)).save(folder / key)
    (cand / "d1/img0001.png").write_bytes(b"not a png")  # an error row
    Image.fromarray(np.zeros((size, size, 3), np.uint8)).save(ref / "only_ref.png")
    Image.fromarray(np.zeros((size, size, 3), np.uint8)).save(cand / "d2/only_cand.png")
    return ref, cand


def without_timing(document: dict[str, Any]) -> dict[str, Any]:
    """A JSON result document with the summary's time fields removed (they differ run to run)."""
    summary = {k: v for k, v in document["summary"].items() if k not in TIMING}
    return {**document, "summary": summary}


def load_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())
