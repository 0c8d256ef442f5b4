"""MS-SSIM against pytorch-msssim, batching, the minimum size and the CLI error row.

Oracle: ``pytorch_msssim.ms_ssim(x, y, data_range=1, size_average=False)`` in float64
on smooth random images (a blurred noise field plus a distortion), with odd and even
sides so the zero-padded pooling between scales is exercised. pytorch-msssim builds
its window in float32, hence 1e-5.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from imgloss.functional import ms_ssim
from imgloss.losses import MSSSIMLoss
from imgloss.metrics.ms_ssim import MIN_SIZE

pytorch_msssim = pytest.importorskip("pytorch_msssim")

TOL = 1e-5


def pair(n: int, c: int, h: int, w: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth image (blurred noise, so the coarse scales carry structure) and a noisy,
    darkened copy; float64 in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, c, h // 4 + 1, w // 4 + 1, generator=g, dtype=torch.float64)
    x = torch.nn.functional.interpolate(base, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)
    y = (0.8 * x + 0.1 * torch.rand(n, c, h, w, generator=g, dtype=torch.float64)).clamp(0, 1)
    return x, y


@pytest.mark.parametrize("shape", [(2, 1, 161, 161), (1, 3, 175, 200), (2, 3, 192, 163)])
def test_equals_pytorch_msssim(shape: tuple[int, int, int, int]) -> None:
    x, y = pair(*shape)
    ours = ms_ssim(x, y)
    theirs = pytorch_msssim.ms_ssim(x, y, data_range=1.0, size_average=False)
    assert ours.shape == (shape[0],)
    assert torch.allclose(ours, theirs, atol=TOL, rtol=0), (ours, theirs)
    assert 0.3 < float(ours.min()) < 0.99  # a real distortion, not a trivial value


@pytest.mark.slow
def test_identity_is_one_and_batch_equals_singles() -> None:
    x, y = pair(3, 3, 170, 181, seed=3)
    assert torch.allclose(ms_ssim(x, x.clone()), torch.ones(3, dtype=torch.float64), atol=1e-12)
    batched = ms_ssim(x, y)
    singles = torch.cat([ms_ssim(x[i : i + 1], y[i : i + 1]) for i in range(3)])
    assert torch.allclose(batched, singles, atol=1e-12)


def test_float32_close_to_float64() -> None:
    x, y = pair(1, 3, 161, 170, seed=5)
    assert torch.allclose(ms_ssim(x.float(), y.float()).double(), ms_ssim(x, y), atol=1e-5)


@pytest.mark.parametrize("size", [(160, 400), (400, 160), (32, 32)])
def test_too_small_names_the_minimum(size: tuple[int, int]) -> None:
    h, w = size
    x = torch.rand(1, 1, h, w)
    with pytest.raises(ValueError, match=rf"{w}x{h} px are too small for MS-SSIM with 5 scales: it needs at least 161 px"):
        ms_ssim(x, x)
    assert MIN_SIZE == 161


def test_loss_module_and_gradient() -> None:
    x, y = pair(2, 1, 161, 161, seed=7)
    x.requires_grad_(True)
    loss = MSSSIMLoss()(x, y)
    loss.backward()
    assert torch.allclose(loss.detach(), 1 - ms_ssim(x.detach(), y).mean())
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_cli_small_pair_is_an_error_row_others_scored(tmp_path: Path, invoke) -> None:
    rng = np.random.default_rng(0)
    ref, cand = tmp_path / "ref", tmp_path / "cand"
    ref.mkdir()
    cand.mkdir()
    for name, side in (("big.png", 170), ("small.png", 64)):
        a = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        Image.fromarray(a).save(ref / name)
        Image.fromarray(255 - a).save(cand / name)
    result = invoke("compare", ref, cand, "-m", "ms_ssim", "--format", "csv")
    assert result.exit_code == 3, result.output
    rows = {line.split(",")[0]: line for line in result.stdout.splitlines()[1:]}
    big = [line for key, line in rows.items() if key.endswith("big.png")][0]
    small = [line for key, line in rows.items() if key.endswith("small.png")][0]
    assert big.split(",")[2] != "" and "error" not in big
    assert "ms_ssim: images of 64x64 px are too small for MS-SSIM with 5 scales: it needs at least 161 px" in small
