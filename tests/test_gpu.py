"""CUDA-only checks (skipped without a GPU): VGG metrics through the engine on CUDA
equal the CPU in fp32 (TF32 is switched off for fp32 scoring), and bf16/fp16 run."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from vgg_fixtures import isolated, no_network, standin_dir, use_standin  # noqa: F401

from imgloss.engine.evaluator import Evaluator
from imgloss.engine.options import EngineOptions
from imgloss.metrics.registry import MetricSpec
from imgloss.io import Pair

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]
NAMES = ("perceptual", "perceptual:johnson", "style", "ssim", "wssim")


def pairs(folder: Path, n: int = 6, size: int = 64) -> list[Pair]:
    rng = np.random.default_rng(3)
    out = []
    for i in range(n):
        base = rng.integers(0, 256, (size, size, 3)).astype(np.uint8)
        noisy = np.clip(base + rng.normal(0, 15, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(base).save(folder / f"r{i}.png")
        Image.fromarray(noisy).save(folder / f"c{i}.png")
        out.append(Pair(folder / f"r{i}.png", folder / f"c{i}.png", f"{i}.png"))
    return out


def scores(device: str, items: list[Pair], precision: str = "fp32") -> np.ndarray:
    metrics = tuple(MetricSpec.parse(n) for n in NAMES)
    evaluator = Evaluator(EngineOptions(metrics=metrics, device=device, precision=precision, workers=0))
    return np.array([[r.metrics[c] for c in evaluator.columns()] for r in evaluator.run(items)])


def test_vgg_metrics_on_cuda_equal_cpu_in_fp32(tmp_path: Path, use_standin: Path) -> None:
    items = pairs(tmp_path)
    cpu, gpu = scores("cpu", items), scores("cuda", items)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_half_precision_runs_and_stays_close(tmp_path: Path, use_standin: Path, precision: str) -> None:
    items = pairs(tmp_path)
    exact, half = scores("cuda", items), scores("cuda", items, precision)
    assert np.isfinite(half).all()
    np.testing.assert_allclose(half, exact, rtol=5e-2, atol=1e-3)
