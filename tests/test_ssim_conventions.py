"""``ssim(..., convention=NAME)`` against each peer library, on the same inputs.

Peers (the test extra): scikit-image (its Wang et al. recipe and its defaults),
pytorch-msssim, piq, torchmetrics; ``matlab`` against a NumPy/SciPy transcription of
Wang's ssim.m (imfilter 'symmetric' box + subsampling, filter2 'valid'), on 0..255
values with L = 255 as the original runs. Images are smooth random fields with a
distortion, float64, in sizes that exercise each convention's downsampling (384 px:
factor 2 for both; 640 px: piq rounds 2.5 to 2, MATLAB to 3) and odd sides.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch


from imgloss.functional import ssim, ssim_map
from imgloss.losses import SSIMLoss
from imgloss.metrics.registry import SSIM_CONVENTIONS
from imgloss.metrics.ssim_conventions import downsample_factor
from pair_files import pixels, write_pair

skimage_metrics = pytest.importorskip("skimage.metrics")
pytorch_msssim = pytest.importorskip("pytorch_msssim")
piq = pytest.importorskip("piq")
torchmetrics_image = pytest.importorskip("torchmetrics.functional.image")
signal = pytest.importorskip("scipy.signal")

TOL = 1e-5
SHAPES = [(2, 3, 40, 52), (1, 1, 37, 41)]
#: Sizes where piq and matlab downsample (their SSIM then runs on a small image; the
#: others would only repeat the small cases slowly: float64 convolutions are slow on CPUs).
DOWNSAMPLED = [(1, 3, 384, 390), (1, 1, 385, 397), (1, 1, 640, 650)]


def pair(n: int, c: int, h: int, w: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, c, h // 4 + 1, w // 4 + 1, generator=g, dtype=torch.float64)
    x = torch.nn.functional.interpolate(base, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)
    y = (0.8 * x + 0.2 * torch.rand(n, c, h, w, generator=g, dtype=torch.float64)).clamp(0, 1)
    return x, y


def skimage_ssim(x: torch.Tensor, y: torch.Tensor, **options) -> torch.Tensor:
    values = [
        skimage_metrics.structural_similarity(
            a.permute(1, 2, 0).numpy(), b.permute(1, 2, 0).numpy(), data_range=1, channel_axis=-1, **options
        )
        for a, b in zip(x, y)
    ]
    return torch.tensor(values, dtype=torch.float64)


def _imfilter_symmetric_same(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """MATLAB ``imfilter(image, kernel, 'symmetric', 'same')`` (correlation; the anchor of
    a kernel of size k is floor((k + 1) / 2), 1-based)."""
    k = kernel.shape[0]
    before = (k + 1) // 2 - 1
    padded = np.pad(image, ((before, k - 1 - before),) * 2, mode="symmetric")
    return signal.fftconvolve(padded, kernel, mode="valid")  # a box: correlation = convolution


def matlab_ssim_m(img1: np.ndarray, img2: np.ndarray) -> float:
    """Wang's ssim.m (2009) line by line, for 2-D images with values 0..255."""
    m, n = img1.shape
    k1, k2, big_l = 0.01, 0.03, 255.0
    f = max(1, int(np.floor(min(m, n) / 256 + 0.5)))  # MATLAB round: half away from zero
    if f > 1:
        lpf = np.ones((f, f)) / f**2
        img1 = _imfilter_symmetric_same(img1, lpf)[::f, ::f]
        img2 = _imfilter_symmetric_same(img2, lpf)[::f, ::f]
    coords = np.arange(11) - 5.0
    g = np.exp(-(coords[:, None] ** 2 + coords[None, :] ** 2) / (2 * 1.5**2))
    window = g / g.sum()  # fspecial('gaussian', 11, 1.5)
    c1, c2 = (k1 * big_l) ** 2, (k2 * big_l) ** 2

    def filter2(a: np.ndarray) -> np.ndarray:  # correlation = convolution: the window is symmetric
        return signal.fftconvolve(a, window, mode="valid")

    mu1, mu2 = filter2(img1), filter2(img2)
    mu1_sq, mu2_sq, mu1_mu2 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    sigma1_sq = filter2(img1 * img1) - mu1_sq
    sigma2_sq = filter2(img2 * img2) - mu2_sq
    sigma12 = filter2(img1 * img2) - mu1_mu2
    ssim_map_ = ((2 * mu1_mu2 + c1) * (2 * sigma12 + c2)) / ((mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2))
    return float(ssim_map_.mean())


def matlab_ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """ssim.m per channel (it takes gray images), averaged over channels."""
    return torch.tensor(
        [np.mean([matlab_ssim_m(255 * a.numpy(), 255 * b.numpy()) for a, b in zip(xi, yi)]) for xi, yi in zip(x, y)],
        dtype=torch.float64,
    )


PEERS = {
    "imgloss": lambda x, y: ssim(x, y),
    "skimage": lambda x, y: skimage_ssim(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False),
    "skimage-default": lambda x, y: skimage_ssim(x, y),
    "pytorch-msssim": lambda x, y: pytorch_msssim.ssim(x, y, data_range=1, size_average=False),
    "piq": lambda x, y: piq.ssim(x, y, data_range=1.0, reduction="none"),
    "torchmetrics": lambda x, y: torchmetrics_image.structural_similarity_index_measure(
        x, y, data_range=1.0, reduction="none"
    ),
    "matlab": matlab_ssim,
}


def test_every_registered_convention_has_a_peer_test() -> None:
    assert sorted(PEERS) == sorted(SSIM_CONVENTIONS)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("convention", list(PEERS))
def test_reproduces_peer(convention: str, shape: tuple[int, int, int, int]) -> None:
    check_peer(convention, shape)


@pytest.mark.slow
@pytest.mark.parametrize("shape", DOWNSAMPLED, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("convention", ["piq", "matlab"])
def test_reproduces_downsampling_peer(convention: str, shape: tuple[int, int, int, int]) -> None:
    check_peer(convention, shape)


def check_peer(convention: str, shape: tuple[int, int, int, int]) -> None:
    x, y = pair(*shape)
    ours = ssim(x, y, convention=convention)
    theirs = PEERS[convention](x, y)
    assert ours.shape == (shape[0],)
    assert torch.allclose(ours, theirs.to(ours), atol=TOL, rtol=0), (ours, theirs)


@pytest.mark.slow
def test_conventions_really_differ() -> None:
    """The peers disagree on the same input (else the conventions would be pointless)."""
    x, y = (t.float() for t in pair(1, 1, 640, 650))
    values = {name: float(ssim(x, y, convention=name)) for name in SSIM_CONVENTIONS}
    assert values["imgloss"] == values["skimage"]
    assert abs(values["imgloss"] - values["pytorch-msssim"]) < 1e-6
    for name in ("skimage-default", "piq", "torchmetrics", "matlab"):
        assert abs(values[name] - values["imgloss"]) > 5e-4, (name, values)
    assert abs(values["piq"] - values["matlab"]) > 1e-4  # factor 2 vs 3 at 640 px


def test_downsample_factors() -> None:
    piq_c, matlab_c = SSIM_CONVENTIONS["piq"], SSIM_CONVENTIONS["matlab"]
    assert [downsample_factor(piq_c, s, 1000) for s in (383, 384, 640, 896)] == [1, 2, 2, 4]
    assert [downsample_factor(matlab_c, s, 1000) for s in (383, 384, 640, 896)] == [1, 2, 3, 4]
    assert downsample_factor(SSIM_CONVENTIONS["imgloss"], 4000, 4000) == 1


def test_matlab_box_downsampling_known_values() -> None:
    """Factor 2 (513 px): 2x2 boxes from the first pixel; the odd last row and column
    average with their mirror images, i.e. with themselves."""
    from imgloss.metrics.ssim_conventions import _downsample

    big = torch.zeros(1, 1, 513, 513, dtype=torch.float64)
    big[..., :5, :5] = torch.arange(25, dtype=torch.float64).view(5, 5)
    big[..., -1, -1] = 7.0
    out = _downsample(big, SSIM_CONVENTIONS["matlab"])
    assert out.shape[-2:] == (257, 257)
    assert out[0, 0, 0, 0] == (0 + 1 + 5 + 6) / 4
    assert out[0, 0, 1, 1] == (12 + 13 + 17 + 18) / 4
    assert out[0, 0, -1, -1] == 7.0


def test_pytorch_msssim_short_side_is_skipped_like_the_peer() -> None:
    x, y = pair(1, 1, 8, 40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = pytorch_msssim.ssim(x, y, data_range=1, size_average=False)
    assert torch.allclose(ssim(x, y, convention="pytorch-msssim"), theirs, atol=TOL)
    with pytest.raises(ValueError, match="11 px"):
        ssim(x, y)


@pytest.mark.parametrize("convention", ["skimage-default", "piq", "torchmetrics", "matlab"])
def test_too_small_names_the_convention_and_size(convention: str) -> None:
    x = torch.rand(1, 1, 4, 30)
    with pytest.raises(ValueError, match=rf"30x4 px are smaller than .* {convention} SSIM convention; it needs at least \d+ px"):
        ssim(x, x, convention=convention)


def test_unknown_convention_suggests() -> None:
    x = torch.rand(1, 1, 16, 16)
    with pytest.raises(ValueError, match="unknown SSIM convention 'skimage_default'.*Did you mean 'skimage-default'"):
        ssim(x, x, convention="skimage_default")
    with pytest.raises(ValueError, match="unknown SSIM convention"):
        SSIMLoss(convention="nope")


def test_map_shapes_float32_batch_and_gradient() -> None:
    x, y = pair(3, 3, 48, 40, seed=2)
    assert ssim_map(x, y, convention="torchmetrics").shape == (3, 3, 48, 40)
    assert ssim_map(x, y, convention="skimage-default").shape == (3, 3, 42, 34)
    for name in SSIM_CONVENTIONS:
        batched = ssim(x, y, convention=name)
        singles = torch.cat([ssim(x[i : i + 1], y[i : i + 1], convention=name) for i in range(3)])
        assert torch.allclose(batched, singles, atol=1e-12), name
        assert torch.allclose(ssim(x.float(), y.float(), convention=name).double(), batched, atol=1e-5), name
    xg = x.clone().requires_grad_(True)
    SSIMLoss(convention="piq")(xg, y).backward()
    assert xg.grad is not None and xg.grad.abs().sum() > 0


# --------------------------------------------------------------------------- CLI


def _csv_row(output: str) -> dict[str, str]:
    header, row = output.strip().splitlines()[:2]
    return dict(zip(header.split(","), row.split(",")))


def test_cli_convention_option_and_column_variant(tmp_path: Path, invoke) -> None:
    ref, cand = write_pair(tmp_path, 36, 44, seed=4, spread=40)
    result = invoke("compare", ref, cand, "-m", "ssim,ssim:torchmetrics", "--ssim-convention", "skimage-default",
                    "-f", "csv")
    assert result.exit_code == 0, result.output
    row = _csv_row(result.stdout)
    x, y = pixels(ref), pixels(cand)
    assert float(row["ssim"]) == pytest.approx(float(ssim(x, y, convention="skimage-default")), abs=1e-6)
    assert float(row["ssim:torchmetrics"]) == pytest.approx(float(ssim(x, y, convention="torchmetrics")), abs=1e-6)
    assert abs(float(row["ssim"]) - float(ssim(x, y))) > 1e-4  # the convention was applied


def test_cli_convention_from_config_and_bad_name(tmp_path: Path, invoke) -> None:
    ref, cand = write_pair(tmp_path, 36, 44, seed=4, spread=40)
    config = tmp_path / "pyproject.toml"
    config.write_text('[tool.imgloss]\nssim-convention = "torchmetrics"\n', encoding="utf-8")
    result = invoke("compare", ref, cand, "-m", "ssim", "-f", "json", "--config", config)
    assert result.exit_code == 0, result.output
    x, y = pixels(ref), pixels(cand)
    report = json.loads(result.stdout)
    assert report["options"]["ssim_convention"] == "torchmetrics"
    value = report["summary"]["metrics"]["ssim"]["worst"]["value"]
    assert value == pytest.approx(float(ssim(x, y, convention="torchmetrics")), abs=1e-6)
    bad = invoke("compare", ref, cand, "--ssim-convention", "scikit")
    assert bad.exit_code == 2
    assert "skimage-default" in bad.stderr
    spec = invoke("compare", ref, cand, "-m", "ssim:pytorch_msssim")
    assert spec.exit_code == 2 and "Did you mean 'pytorch-msssim'" in spec.stderr


@pytest.mark.slow
def test_subprocess_metrics_lists_conventions() -> None:
    done = subprocess.run([sys.executable, "-m", "imgloss", "metrics"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "250"})
    assert done.returncode == 0, done.stderr
    for name in SSIM_CONVENTIONS:
        assert f"ssim:{name} " in done.stdout
