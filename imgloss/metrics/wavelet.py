"""Batched 2-D discrete wavelet transform in torch, filter banks from PyWavelets.

``dwt2(x, wavelet)`` equals ``pywt.dwt2(x, wavelet)`` (mode ``"symmetric"``, pywt's
default) for any wavelet ``pywt.Wavelet`` knows: the signal is extended by half-sample
symmetric reflection (``x[-1] = x[0]``, ``x[n] = x[n-1]``; repeated for filters longer
than the signal), then filtered with a stride-2 convolution. Output size per axis is
``floor((n + L - 1) / 2)`` for filter length ``L``; for Haar that is ``ceil(n / 2)``,
an odd last row or column being repeated. Differentiable, any device and dtype.
"""
from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

from imgloss.metrics._checks import check_image


@lru_cache(maxsize=None)
def filters(wavelet: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Decomposition low- and high-pass filters of ``wavelet`` from pywt."""
    import pywt

    try:
        bank = pywt.Wavelet(wavelet)
    except ValueError as exc:
        raise ValueError(f"wavelet {wavelet!r} is not a discrete wavelet pywt knows: {exc}") from None
    return tuple(bank.dec_lo), tuple(bank.dec_hi)


@lru_cache(maxsize=None)
def _symmetric_index(n: int, left: int, right: int, device: torch.device) -> Tensor:
    """Indices of the half-sample symmetric extension of a length-``n`` axis."""
    with torch.inference_mode(False):  # cached, then used by autograd: never an inference tensor
        i = torch.arange(-left, n + right) % (2 * n)
        return torch.where(i < n, i, 2 * n - 1 - i).to(device)


def _analysis(x: Tensor, lo: Tensor, hi: Tensor, dim: int) -> tuple[Tensor, Tensor]:
    """One-axis analysis step along ``dim`` (-1 or -2): returns (low, high)."""
    length = lo.numel()
    n = x.shape[dim]
    # pywt's coefficient k is sum_m f[m] x[2k + 1 - m]: extend by L - 2 on the left and by
    # just enough on the right for floor((n + L - 1) / 2) outputs (none for even Haar).
    left = length - 2
    right = 2 * ((n + length - 1) // 2 - 1) + length - n - left
    if left or right:
        x = x.index_select(dim, _symmetric_index(n, left, right, x.device))
    channels = x.shape[1]
    # conv2d correlates, so the filters are reversed to convolve.
    bank = torch.stack([lo.flip(0), hi.flip(0)])  # 2 x L
    shape = (2, 1, 1, length) if dim == -1 else (2, 1, length, 1)
    stride = (1, 2) if dim == -1 else (2, 1)
    weight = bank.view(shape).repeat(channels, 1, 1, 1)
    out = F.conv2d(x, weight, stride=stride, groups=channels)
    return out[:, 0::2], out[:, 1::2]


def dwt2(x: Tensor, wavelet: str = "haar") -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One level of the 2-D DWT of ``x`` (``N x C x H x W``).

    Returns ``(LL, LH, HL, HH)``, each ``N x C x H' x W'``; ``LH`` is pywt's ``cH``
    (high-pass along H), ``HL`` its ``cV`` (high-pass along W), ``HH`` its ``cD``.
    For Haar on ``[[a, b], [c, d]]``: ``LL = (a+b+c+d)/2``, ``LH = (a+b-c-d)/2``,
    ``HL = (a-b+c-d)/2``, ``HH = (a-b-c+d)/2``.
    """
    check_image("x", x, unit_range=False)
    return dwt2_unchecked(x, wavelet)


def dwt2_unchecked(x: Tensor, wavelet: str = "haar") -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """:func:`dwt2` without input validation (for callers that validated already)."""
    dec_lo, dec_hi = filters(wavelet)
    lo = torch.tensor(dec_lo, dtype=x.dtype, device=x.device)
    hi = torch.tensor(dec_hi, dtype=x.dtype, device=x.device)
    low_w, high_w = _analysis(x, lo, hi, dim=-1)
    ll, lh = _analysis(low_w, lo, hi, dim=-2)
    hl, hh = _analysis(high_w, lo, hi, dim=-2)
    return ll, lh, hl, hh
