"""The engine with VGG metrics (seeded stand-in weights): an image too small for the
network is an error row naming the size, and the other pairs are scored."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from vgg_fixtures import isolated, no_network, standin_dir, use_standin  # noqa: F401

from imgloss.engine.evaluator import Evaluator
from imgloss.engine.options import EngineOptions
from imgloss.metrics.registry import MetricSpec
from imgloss.io import Pair


def test_image_too_small_for_vgg_is_an_error_row(tmp_path: Path, use_standin: Path) -> None:
    rng = np.random.default_rng(0)
    pairs = []
    for name, size in (("small", 12), ("large", 32)):
        for side in ("r", "c"):
            Image.fromarray(rng.integers(0, 256, (size, size, 3)).astype(np.uint8)).save(tmp_path / f"{side}_{name}.png")
        pairs.append(Pair(tmp_path / f"r_{name}.png", tmp_path / f"c_{name}.png", f"{name}.png"))
    metrics = tuple(MetricSpec.parse(n) for n in ("perceptual", "mae"))
    small, large = Evaluator(EngineOptions(metrics=metrics, device="cpu", workers=0)).run(pairs)
    assert small.error == (
        f"{pairs[0].candidate}: perceptual: images of 12x12 px are too small for vgg19 up to relu5_1: "
        "it needs at least 16 px on each side"
    )
    assert "mae" in small.metrics and "perceptual" not in small.metrics
    assert large.ok and large.metrics["perceptual"] > 0
