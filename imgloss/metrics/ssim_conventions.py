"""SSIM as the peers compute it: ``ssim(x, y, convention=NAME)`` reproduces that library.

Each convention is registry metadata (:data:`imgloss.metrics.registry.SSIM_CONVENTIONS`:
window, covariance, padding, downsampling, short sides); this module turns it into
torch code on the moments of :mod:`imgloss.metrics.ssim_moments`, batched, on the inputs' device, differentiable.

Inputs ``N x C x H x W`` in [0, 1] (data range 1). Every peer averages the map over
pixels and channels, so one ``mean`` serves all. The map of a downsampling
convention has the downsampled size; ``reflect`` gives a map of the input's size.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from imgloss.metrics._checks import check_pair
from imgloss.metrics.registry import SSIMConvention, get_ssim_convention
from imgloss.metrics.ssim_moments import components_from_moments, filter_valid, moment_stack, window


def downsample_factor(convention: SSIMConvention, height: int, width: int) -> int:
    """The integer factor the convention shrinks an ``height x width`` image by (1: none).
    piq rounds ``min / 256`` half to even (Python), MATLAB half away from zero."""
    if convention.downsample == "none":
        return 1
    ratio = min(height, width) / 256
    return max(1, round(ratio) if convention.downsample == "piq" else math.floor(ratio + 0.5))


def _symmetric_pad(x: Tensor, before: int, after: int, dim: int) -> Tensor:
    """MATLAB's ``'symmetric'`` border (mirror including the edge pixel) along ``dim``."""
    size = x.shape[dim]
    head = x.narrow(dim, 0, before).flip(dim)
    tail = x.narrow(dim, size - after, after).flip(dim)
    return torch.cat([head, x, tail], dim=dim)


def _downsample(x: Tensor, convention: SSIMConvention) -> Tensor:
    f = downsample_factor(convention, *x.shape[-2:])
    if f == 1:
        return x
    if convention.downsample == "piq":
        return F.avg_pool2d(x, kernel_size=f)
    # ssim.m: imfilter(img, ones(f)/f^2, 'symmetric', 'same') then img(1:f:end, 1:f:end).
    # An even-size MATLAB kernel is anchored at floor((f + 1) / 2): pad that much minus
    # one before, the rest after, and pool in f x f blocks from the first pixel.
    before = (f + 1) // 2 - 1
    after = f - 1 - before
    for dim in (-2, -1):
        x = _symmetric_pad(x, before, after, dim)
    return F.avg_pool2d(x, kernel_size=f)


def _filter(stack: Tensor, convention: SSIMConvention) -> Tensor:
    """Filtering of the moment stack by the convention's window and borders."""
    taps = window(convention.window, convention.size, convention.sigma, stack.dtype, stack.device)
    if convention.padding == "reflect":
        pad = convention.size // 2
        stack = F.pad(stack, (pad, pad, pad, pad), mode="reflect")
    return filter_valid(stack, taps, skip_short=convention.short_axes == "skip")


def _check_size(convention: SSIMConvention, height: int, width: int, f: int) -> None:
    if convention.short_axes == "skip":
        return
    # Reflect padding by size // 2 needs more pixels than the pad.
    needed = convention.size if convention.padding == "valid" else convention.size // 2 + 1
    if min(height, width) < needed:
        after = f" after downsampling by {f}" if f > 1 else ""
        raise ValueError(
            f"images of {width}x{height} px{after} are smaller than the {convention.size}x{convention.size} "
            f"window of the {convention.name} SSIM convention; it needs at least {needed} px on each side"
        )


def convention_ssim_map(x: Tensor, y: Tensor, convention: str) -> Tensor:
    """The SSIM map as the peer ``convention`` computes it, ``N x C x H' x W'``."""
    check_pair(x, y)
    spec = get_ssim_convention(convention)
    height, width = x.shape[-2:]
    f = downsample_factor(spec, height, width)
    x, y = _downsample(x, spec), _downsample(y, spec)
    _check_size(spec, *x.shape[-2:], f)
    factor = 1.0
    if spec.covariance == "sample":
        n = spec.size**2
        factor = n / (n - 1)
    luminance, contrast_structure = components_from_moments(
        _filter(moment_stack(x, y), spec), x.shape[1], factor, spec.clamp_variances
    )
    return luminance * contrast_structure


def convention_ssim(x: Tensor, y: Tensor, convention: str) -> Tensor:
    """Mean SSIM per image (shape ``N``) as the peer ``convention`` computes it."""
    return convention_ssim_map(x, y, convention).mean(dim=(1, 2, 3))
