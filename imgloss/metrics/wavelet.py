"""Batched 2-D discrete wavelet transform in torch, filter banks from PyWavelets.

``dwt2(x, wavelet)`` equals ``pywt.dwt2(x, wavelet)`` (mode ``"symmetric"``, pywt's
default) for any wavelet ``pywt.Wavelet`` knows: the signal is extended by half-sample
symmetric reflection (``x[-1] = x[0]``, ``x[n] = x[n-1]``; repeated for filters longer
than the signal), then filtered with a stride-2 convolution. Output size per axis is
``floor((n + L - 1) / 2)`` for filter length ``L``; for Haar that is ``ceil(n / 2)``,
an odd last row or column being repeated. Differentiable, any device and dtype.
Haar (``haar``/``db1``) is computed by slicing the 2x2 blocks (no convolution).
"""
from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

from imgloss.metrics._checks import check_image


_HAAR = (2**-0.5, 2**-0.5), (-(2**-0.5), 2**-0.5)
#: wavelet name -> (dec_lo, dec_hi); filled from pywt on first use (Haar known ahead, so
#: ``torch.compile`` traces Haar without calling pywt).
_BANKS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {"haar": _HAAR, "db1": _HAAR}


def filters(wavelet: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Decomposition low- and high-pass filters of ``wavelet`` from pywt, cached.

    Under ``torch.compile`` only cached banks are read (pywt cannot be traced): Haar
    always, any other wavelet once it has been used outside compilation.
    """
    bank = _BANKS.get(wavelet)
    if bank is not None:
        return bank
    if torch.compiler.is_compiling():
        raise ValueError(f"wavelet {wavelet!r}: call once outside torch.compile first (pywt is not traceable)")
    import pywt

    try:
        found = pywt.Wavelet(wavelet)
    except ValueError as exc:
        raise ValueError(f"wavelet {wavelet!r} is not a discrete wavelet pywt knows: {exc}") from None
    bank = _BANKS[wavelet] = (tuple(found.dec_lo), tuple(found.dec_hi))
    return bank


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
    check_image("x", x)
    return dwt2_unchecked(x, wavelet)


def is_haar(wavelet: str) -> bool:
    """Whether ``wavelet``'s filter bank is Haar's (``haar``, ``db1``)."""
    lo, hi = filters(wavelet)
    return len(lo) == 2 and lo[0] == lo[1] and hi[0] == -hi[1] and lo[0] > 0 and hi[1] > 0


def haar2(x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One Haar level by slicing 2x2 blocks ``[[a, b], [c, d]]`` (an odd last row or
    column repeated first): ``LL = (a+b+c+d)/2``, ``LH = (a+b-c-d)/2``,
    ``HL = (a-b+c-d)/2``, ``HH = (a-b-c+d)/2``."""
    height, width = x.shape[-2:]
    if height % 2 or width % 2:
        x = F.pad(x, (0, width % 2, 0, height % 2), mode="replicate")
    top, bottom = x[..., 0::2, :], x[..., 1::2, :]
    column_sum, column_diff = top + bottom, top - bottom  # [a+c, b+d] and [a-c, b-d]
    a_plus_c, b_plus_d = column_sum[..., 0::2], column_sum[..., 1::2]
    a_minus_c, b_minus_d = column_diff[..., 0::2], column_diff[..., 1::2]
    return (
        (a_plus_c + b_plus_d) * 0.5,
        (a_minus_c + b_minus_d) * 0.5,
        (a_plus_c - b_plus_d) * 0.5,
        (a_minus_c - b_minus_d) * 0.5,
    )


def dwt2_unchecked(x: Tensor, wavelet: str = "haar") -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """:func:`dwt2` without input validation (for callers that validated already)."""
    if is_haar(wavelet):
        return haar2(x)
    dec_lo, dec_hi = filters(wavelet)
    lo = torch.tensor(dec_lo, dtype=x.dtype, device=x.device)
    hi = torch.tensor(dec_hi, dtype=x.dtype, device=x.device)
    low_w, high_w = _analysis(x, lo, hi, dim=-1)
    ll, lh = _analysis(low_w, lo, hi, dim=-2)
    hl, hh = _analysis(high_w, lo, hi, dim=-2)
    return ll, lh, hl, hh
