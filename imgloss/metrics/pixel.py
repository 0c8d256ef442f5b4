"""Plain pixel metrics: MSE, MAE and PSNR, one value per image.

Inputs are ``N x C x H x W`` floats; PSNR assumes data range 1 (values in [0, 1])
and is ``+inf`` for identical images.
"""
from __future__ import annotations

import torch
from torch import Tensor

from imgloss.metrics._base import MetricLoss
from imgloss.metrics._checks import check_pair


def mse(x: Tensor, y: Tensor) -> Tensor:
    """Mean squared error over C, H, W; shape ``N``; lower is better, 0 at x = y."""
    check_pair(x, y, unit_range=False)
    return (x - y).square().mean(dim=(1, 2, 3))


def mae(x: Tensor, y: Tensor) -> Tensor:
    """Mean absolute error over C, H, W; shape ``N``; lower is better, 0 at x = y."""
    check_pair(x, y, unit_range=False)
    return (x - y).abs().mean(dim=(1, 2, 3))


def psnr(x: Tensor, y: Tensor) -> Tensor:
    """Peak signal-to-noise ratio in dB, ``10 log10(1 / MSE)``; ``inf`` at x = y."""
    check_pair(x, y)
    return psnr_from_mse((x - y).square().mean(dim=(1, 2, 3)))


def psnr_from_mse(error: Tensor) -> Tensor:
    """``10 log10(1 / error)`` elementwise, ``inf`` where the error is 0."""
    # At x = y the value is +inf with a zero (not NaN) gradient.
    exact = error == 0
    finite = -10.0 * torch.log10(torch.where(exact, torch.ones_like(error), error))
    return torch.where(exact, torch.full_like(error, float("inf")), finite)


class MSELoss(MetricLoss):
    """``nn.Module`` form of :func:`mse`."""

    def per_image(self, x: Tensor, y: Tensor) -> Tensor:
        return mse(x, y)


class MAELoss(MetricLoss):
    """``nn.Module`` form of :func:`mae`."""

    def per_image(self, x: Tensor, y: Tensor) -> Tensor:
        return mae(x, y)


class PSNRLoss(MetricLoss):
    """Negative PSNR (dB) as a loss: lower is better; ``-inf`` at x = y."""

    def per_image(self, x: Tensor, y: Tensor) -> Tensor:
        return -psnr(x, y)
