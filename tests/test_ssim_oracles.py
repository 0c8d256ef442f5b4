"""The public ``ssim`` (valid filtering) against two independent implementations.

Oracles: scikit-image ``structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1)`` and pytorch-msssim ``ssim(data_range=1,
size_average=False)``, on real photographs from ``skimage.data`` (downscaled to
128 px) with additive noise, Gaussian blur and JPEG (quality 20) distortions, all in
float64. pytorch-msssim builds its Gaussian window in float32, hence agreement to
~5e-6 only; scikit-image agrees to rounding.
"""
from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
import pytest
import torch

skimage_data = pytest.importorskip("skimage.data")
skimage_metrics = pytest.importorskip("skimage.metrics")
pytorch_msssim = pytest.importorskip("pytorch_msssim")
Image = pytest.importorskip("PIL.Image")
ndimage = pytest.importorskip("scipy.ndimage")

from imgloss.functional import ssim  # noqa: E402

TOL = 1e-5


@lru_cache(maxsize=None)
def photo(name: str) -> np.ndarray:
    """A float64 photograph in [0, 1], H x W (gray) or H x W x 3, about 128 px."""
    if name == "camera":
        a = skimage_data.camera()[::4, ::4]  # 512 -> 128
    elif name == "astronaut":
        a = skimage_data.astronaut()[::4, ::4]  # 512 -> 128
    elif name == "coffee":
        a = skimage_data.coffee()[::3, ::4][:128, :128]  # 400 x 600 -> 128 x 128
    else:  # pragma: no cover - test bug
        raise KeyError(name)
    return np.ascontiguousarray(a, dtype=np.float64) / 255


def noisy(a: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(12345)
    return np.clip(a + rng.normal(0.0, 0.05, a.shape), 0.0, 1.0)


def blurred(a: np.ndarray) -> np.ndarray:
    sigma = (2.0, 2.0, 0.0) if a.ndim == 3 else 2.0
    return ndimage.gaussian_filter(a, sigma=sigma)


def jpeg(a: np.ndarray) -> np.ndarray:
    """Encode with Pillow JPEG quality 20 in memory and decode again."""
    buffer = io.BytesIO()
    Image.fromarray(np.round(a * 255).astype(np.uint8)).save(buffer, format="JPEG", quality=20)
    buffer.seek(0)
    return np.asarray(Image.open(buffer), dtype=np.float64) / 255


DISTORTIONS = {"noise": noisy, "blur": blurred, "jpeg": jpeg}
PHOTOS = ["camera", "astronaut", "coffee"]


def to_tensor(a: np.ndarray) -> torch.Tensor:
    """H x W or H x W x C numpy -> 1 x C x H x W float64 tensor."""
    t = torch.from_numpy(a)
    t = t[None] if a.ndim == 2 else t.permute(2, 0, 1)
    return t[None].contiguous().to(torch.float64)


def skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return float(
        skimage_metrics.structural_similarity(
            a,
            b,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=1,
            channel_axis=2 if a.ndim == 3 else None,
        )
    )


CASES = [(p, d) for p in PHOTOS for d in DISTORTIONS]


@pytest.mark.parametrize("name, distortion", CASES)
def test_ssim_equals_skimage(name: str, distortion: str) -> None:
    a = photo(name)
    b = DISTORTIONS[distortion](a)
    assert a.shape == b.shape and a.shape[:2] == (128, 128)
    ours = ssim(to_tensor(a), to_tensor(b))
    assert ours.shape == (1,) and ours.dtype == torch.float64
    expected = skimage_ssim(a, b)
    # a real distortion: far from 1, so agreement is not trivial
    assert expected < 0.95
    assert abs(float(ours) - expected) <= TOL


@pytest.mark.parametrize("name, distortion", CASES)
def test_ssim_equals_pytorch_msssim(name: str, distortion: str) -> None:
    a = photo(name)
    b = DISTORTIONS[distortion](a)
    x, y = to_tensor(a), to_tensor(b)
    ours = ssim(x, y)
    expected = pytorch_msssim.ssim(x, y, data_range=1, size_average=False)
    assert expected.shape == ours.shape == (1,)
    assert abs(float(ours) - float(expected)) <= TOL


def test_ssim_batch_of_photos_matches_skimage_per_image() -> None:
    """A batch of three distorted versions of one RGB photo, each against skimage."""
    a = photo("astronaut")
    distorted = [f(a) for f in DISTORTIONS.values()]
    x = torch.cat([to_tensor(a)] * 3)
    y = torch.cat([to_tensor(b) for b in distorted])
    ours = ssim(x, y)
    assert ours.shape == (3,)
    expected = [skimage_ssim(a, b) for b in distorted]
    for got, want in zip(ours.tolist(), expected):
        assert abs(got - want) <= TOL
    # and pytorch-msssim on the whole batch
    torch.testing.assert_close(
        ours, pytorch_msssim.ssim(x, y, data_range=1, size_average=False), atol=TOL, rtol=0
    )


def test_ssim_non_square_crop_matches_skimage() -> None:
    a = photo("camera")[:37, :101]
    b = noisy(a)
    assert abs(float(ssim(to_tensor(a), to_tensor(b))) - skimage_ssim(a, b)) <= TOL


def test_ssim_minimum_size_11_matches_skimage() -> None:
    a = photo("coffee")[40:51, 60:71]  # exactly one window
    b = blurred(a)
    assert abs(float(ssim(to_tensor(a), to_tensor(b))) - skimage_ssim(a, b)) <= TOL
