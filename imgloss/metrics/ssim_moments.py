"""SSIM from local moments under any separable window: the shared core of the peer
SSIM conventions (:mod:`imgloss.metrics.ssim_conventions`) and MS-SSIM
(:mod:`imgloss.metrics.ms_ssim`), which need windows, borders or the contrast-structure
term that the fast public ``ssim`` kernel does not expose.

Inputs ``N x C x H x W`` with data range 1 (``C1 = 0.01^2``, ``C2 = 0.03^2``); no
validation here (callers validate). Differentiable torch code, batched, on any device.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

C1 = 0.01**2
C2 = 0.03**2


def window(kind: str, size: int, sigma: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    """The normalised 1-D window: ``gaussian`` (``sigma``) or ``uniform``, built in float64."""
    if kind == "uniform":
        taps = torch.full((size,), 1.0 / size, dtype=torch.float64)
    else:
        coords = torch.arange(size, dtype=torch.float64) - size // 2
        taps = torch.exp(-(coords**2) / (2 * sigma**2))
        taps = taps / taps.sum()
    return taps.to(dtype=dtype, device=device)


def moment_stack(x: Tensor, y: Tensor) -> Tensor:
    """``[x, y, x^2, y^2, xy]`` along the channels (``N x 5C x H x W``): one window
    filtering of it gives every local moment SSIM needs."""
    return torch.cat([x, y, x * x, y * y, x * y], dim=1)


def filter_valid(stack: Tensor, taps: Tensor, skip_short: bool = False) -> Tensor:
    """Separable depthwise filtering by ``taps`` along H then W, valid windows only.
    ``skip_short``: an axis shorter than the window is left unfiltered (pytorch-msssim)."""
    channels, size = stack.shape[1], taps.numel()
    for dim, shape in ((-2, (-1, 1)), (-1, (1, -1))):
        if skip_short and stack.shape[dim] < size:
            continue
        stack = F.conv2d(stack, taps.view(1, 1, *shape).expand(channels, 1, *shape), groups=channels)
    return stack


def components_from_moments(
    moments: Tensor, channels: int, covariance_factor: float = 1.0, clamp_variances: bool = False
) -> tuple[Tensor, Tensor]:
    """Luminance and contrast-structure maps (their product is the SSIM map) from the
    filtered :func:`moment_stack`. ``covariance_factor`` scales the (co)variances
    (``n / (n - 1)``: sample covariance); ``clamp_variances`` clamps variances at 0."""
    mu_x, mu_y, xx, yy, xy = moments.split(channels, dim=1)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    sigma_xx, sigma_yy, sigma_xy = xx - mu_xx, yy - mu_yy, xy - mu_xy
    if covariance_factor != 1.0:
        sigma_xx, sigma_yy, sigma_xy = (covariance_factor * s for s in (sigma_xx, sigma_yy, sigma_xy))
    if clamp_variances:
        sigma_xx, sigma_yy = sigma_xx.clamp(min=0), sigma_yy.clamp(min=0)
    luminance = (2 * mu_xy + C1) / (mu_xx + mu_yy + C1)
    contrast_structure = (2 * sigma_xy + C2) / (sigma_xx + sigma_yy + C2)
    return luminance, contrast_structure
