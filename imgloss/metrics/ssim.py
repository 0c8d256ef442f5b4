"""SSIM (Wang et al. 2004) with an 11-tap Gaussian window, sigma 1.5, data range 1.

Two paddings, one code path:
- ``padding="valid"`` (the public metric): only windows that fit, as scikit-image
  (``gaussian_weights=True, use_sample_covariance=False``) and pytorch-msssim do;
  images need at least 11 px on each side.
- ``padding="same"``: zero padding of 5 px, the SSIM inside W-SSIM; any size works.

Inputs ``N x C x H x W`` in [0, 1]; :func:`ssim` returns shape ``N`` in [-1, 1]
(higher is better, 1 at x = y); :func:`ssim_map` returns the per-pixel map.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from imgloss.metrics._base import MetricLoss, Reduction
from imgloss.metrics._checks import check_pair
from imgloss.metrics.registry import get_ssim_convention

WINDOW_SIZE = 11
SIGMA = 1.5
C1 = 0.01**2
C2 = 0.03**2
Padding = Literal["valid", "same"]


@lru_cache(maxsize=None)
def _gaussian_1d(dtype: torch.dtype, device: torch.device) -> Tensor:
    """The normalised 11-tap Gaussian (sigma 1.5), built in float64 then cast."""
    # A normal tensor even when first built under inference_mode: it is cached and
    # later used by autograd.
    with torch.inference_mode(False):
        coords = torch.arange(WINDOW_SIZE, dtype=torch.float64) - WINDOW_SIZE // 2
        g = torch.exp(-(coords**2) / (2 * SIGMA**2))
        return (g / g.sum()).to(dtype=dtype, device=device)


def _blur(x: Tensor, padding: Padding) -> Tensor:
    """Depthwise separable Gaussian filtering of every channel of ``x``."""
    g = _gaussian_1d(x.dtype, x.device)
    channels = x.shape[1]
    pad = WINDOW_SIZE // 2 if padding == "same" else 0
    x = F.conv2d(x, g.view(1, 1, -1, 1).expand(channels, 1, -1, 1), padding=(pad, 0), groups=channels)
    return F.conv2d(x, g.view(1, 1, 1, -1).expand(channels, 1, 1, -1), padding=(0, pad), groups=channels)


def check_padding(padding: str) -> None:
    """``valid`` or ``same``, else ValueError."""
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")


def ssim_map(x: Tensor, y: Tensor, padding: Padding = "valid", *, convention: str = "imgloss") -> Tensor:
    """Per-pixel SSIM map, shape ``N x C x H' x W'`` (H' = H - 10 for ``valid``).

    ``convention`` (``imgloss``, ``skimage``, ``skimage-default``, ``pytorch-msssim``,
    ``piq``, ``torchmetrics``, ``matlab``): compute SSIM as that library does
    (:mod:`imgloss.metrics.ssim_conventions`; ``padding`` then does not apply).
    """
    if convention != "imgloss":
        from imgloss.metrics.ssim_conventions import convention_ssim_map

        return convention_ssim_map(x, y, convention)
    check_pair(x, y)
    check_padding(padding)
    height, width = x.shape[-2:]
    if padding == "valid" and min(height, width) < WINDOW_SIZE:
        raise ValueError(
            f"images of {width}x{height} px are smaller than the {WINDOW_SIZE}x{WINDOW_SIZE} "
            "SSIM window; SSIM needs at least 11 px on each side"
        )
    return ssim_map_unchecked(x, y, padding)


def ssim_map_unchecked(x: Tensor, y: Tensor, padding: Padding) -> Tensor:
    """:func:`ssim_map` without validation, for callers that validated already
    (W-SSIM feeds it wavelet subbands, which leave [0, 1])."""
    channels = x.shape[1]
    # One depthwise convolution computes all five local moments.
    moments = _blur(torch.cat([x, y, x * x, y * y, x * y], dim=1), padding)
    mu_x, mu_y, xx, yy, xy = moments.split(channels, dim=1)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    sigma_xx, sigma_yy, sigma_xy = xx - mu_xx, yy - mu_yy, xy - mu_xy
    luminance = (2 * mu_xy + C1) / (mu_xx + mu_yy + C1)
    contrast_structure = (2 * sigma_xy + C2) / (sigma_xx + sigma_yy + C2)
    return luminance * contrast_structure


def ssim(x: Tensor, y: Tensor, padding: Padding = "valid", *, convention: str = "imgloss") -> Tensor:
    """Mean SSIM per image over channels and pixels, shape ``N``, range [-1, 1].

    ``convention`` reproduces a peer library's number (see :func:`ssim_map`).
    """
    return ssim_map(x, y, padding, convention=convention).mean(dim=(1, 2, 3))


class SSIMLoss(MetricLoss):
    """``1 - ssim(x, y)`` per image; 0 at x = y."""

    def __init__(self, padding: Padding = "valid", reduction: Reduction = "mean", *, convention: str = "imgloss") -> None:
        super().__init__(reduction)
        check_padding(padding)
        get_ssim_convention(convention)
        self.padding = padding
        self.convention = convention

    def per_image(self, x: Tensor, y: Tensor) -> Tensor:
        return 1 - ssim(x, y, self.padding, convention=self.convention)
