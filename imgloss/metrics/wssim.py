"""W-SSIM, the wavelet SSIM of Y-net used by S3Net, normalised to 1 at x = y.

A weighted sum of zero-padded SSIMs (``ssim(..., padding="same")``) over the images
and their multi-level DWT subbands, ``carry = 1`` at the start:
the images (weight 1); per level, LH and HL stacked as 2C channels
(``carry * 2r(1-r)``) and HH (``carry * (1-r)^2``), then ``carry *= r^2`` and the
next level works on LL; finally the last LL (``carry``). The weights sum to 2 for any
``r`` and any level count from 1 (``levels=0`` leaves the image term alone, weight 1),
and ``wssim = sum / sum_of_weights`` is in [-1, 1], higher is better. The reference
code's loss is ``-sum``: ``reference_loss = -2 * wssim``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from imgloss.metrics._base import MetricLoss, Reduction
from imgloss.metrics._checks import check_pair
from imgloss.metrics.ssim import ssim_map_unchecked
from imgloss.metrics.wavelet import dwt2_unchecked, filters


def _check_options(wavelet: str, levels: int, r: float) -> None:
    filters(wavelet)  # an unknown name fails here, whatever the level count
    if not isinstance(levels, int) or isinstance(levels, bool) or levels < 0:
        raise ValueError(f"levels must be a non-negative integer, got {levels!r}")
    if not 0 < r < 1:
        raise ValueError(f"r must be in (0, 1), got {r!r}")


def _same_ssim(x: Tensor, y: Tensor) -> Tensor:
    return ssim_map_unchecked(x, y, "same").mean(dim=(1, 2, 3))


def wssim_terms(
    x: Tensor, y: Tensor, wavelet: str = "haar", levels: int = 2, r: float = 0.7
) -> list[tuple[str, float, Tensor]]:
    """The weighted terms of W-SSIM: ``(name, weight, ssim per image)`` in order."""
    check_pair(x, y)
    _check_options(wavelet, levels, r)
    terms = [("image", 1.0, _same_ssim(x, y))]
    carry = 1.0
    n = x.shape[0]
    for level in range(1, levels + 1):
        # x and y share one transform call (a batch of 2N).
        ll, lh, hl, hh = dwt2_unchecked(torch.cat([x, y]), wavelet)
        detail = torch.cat([lh, hl], dim=1)
        terms.append((f"LH+HL{level}", carry * 2 * r * (1 - r), _same_ssim(detail[:n], detail[n:])))
        terms.append((f"HH{level}", carry * (1 - r) ** 2, _same_ssim(hh[:n], hh[n:])))
        carry *= r * r
        x, y = ll[:n], ll[n:]
    if levels:
        terms.append((f"LL{levels}", carry, _same_ssim(x, y)))
    return terms


def wssim(x: Tensor, y: Tensor, wavelet: str = "haar", levels: int = 2, r: float = 0.7) -> Tensor:
    """Normalised W-SSIM per image, shape ``N``, range [-1, 1]; 1 at x = y.

    Defaults: Haar, 2 levels, ``r = 0.7`` (weights 1, .42, .09, .2058, .0441, .2401).
    """
    terms = wssim_terms(x, y, wavelet, levels, r)
    total = sum(weight * value for _, weight, value in terms)
    return total / sum(weight for _, weight, _ in terms)


class WSSIMLoss(MetricLoss):
    """``1 - wssim(x, y)`` per image; 0 at x = y (reference loss = 2 * this - 2)."""

    def __init__(self, wavelet: str = "haar", levels: int = 2, r: float = 0.7, reduction: Reduction = "mean") -> None:
        super().__init__(reduction)
        _check_options(wavelet, levels, r)
        self.wavelet, self.levels, self.r = wavelet, levels, r

    def per_image(self, x: Tensor, y: Tensor) -> Tensor:
        return 1 - wssim(x, y, self.wavelet, self.levels, self.r)
