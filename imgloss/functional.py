"""The functional API: every metric as a pure, batched, differentiable function.

Inputs are ``N x C x H x W`` float tensors with values in [0, 1]; each metric returns
one value per image (shape ``N``). See ``metric-spec`` in the README for formulas.
"""
from imgloss.metrics.charbonnier import charbonnier
from imgloss.metrics.gram import gram, gram_distance
from imgloss.metrics.perceptual import perceptual
from imgloss.metrics.lpips import lpips
from imgloss.metrics.ms_ssim import ms_ssim
from imgloss.metrics.pixel import mae, mse, psnr
from imgloss.metrics.ssim import ssim, ssim_map
from imgloss.metrics.style import style
from imgloss.metrics.tv import tv
from imgloss.metrics.wavelet import dwt2
from imgloss.metrics.wssim import wssim, wssim_terms

__all__ = [
    "charbonnier",
    "dwt2",
    "gram",
    "gram_distance",
    "lpips",
    "mae",
    "ms_ssim",
    "mse",
    "perceptual",
    "psnr",
    "ssim",
    "ssim_map",
    "style",
    "tv",
    "wssim",
    "wssim_terms",
]
