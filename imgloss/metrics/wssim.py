"""W-SSIM, the wavelet SSIM of Y-net used by S3Net, normalised to 1 at x = y.

A weighted sum of zero-padded SSIMs (``ssim(..., padding="same")``) over the images
and their multi-level DWT subbands, ``carry = 1`` at the start:
the images (weight 1); per level, LH and HL stacked as 2C channels
(``carry * 2r(1-r)``) and HH (``carry * (1-r)^2``), then ``carry *= r^2`` and the
next level works on LL; finally the last LL (``carry``). The weights sum to 2 for any
``r`` and any level count from 1 (``levels=0`` leaves the image term alone, weight 1),
and ``wssim = sum / sum_of_weights`` is in [-1, 1], higher is better. The reference
code's loss is ``-sum``: ``reference_loss = -2 * wssim``.

Speed: x and y share one transform per level (Haar by slicing), and every subband of a
level (LH, HL, HH; and LL at the last level) goes through ONE SSIM-map call as a
channel stack, so W-SSIM costs about two SSIMs' work.
"""
from __future__ import annotations

import torch
from torch import Tensor

from imgloss.metrics._base import MetricLoss, Reduction, check_reduction, reduce
from imgloss.metrics._checks import check_pair, check_positive
from imgloss.metrics.ssim import ssim_map_unchecked
from imgloss.metrics.wavelet import dwt2_unchecked, filters


def _check_options(wavelet: str, levels: int, r: float) -> None:
    filters(wavelet)  # an unknown name fails here, whatever the level count
    if not isinstance(levels, int) or isinstance(levels, bool) or levels < 0:
        raise ValueError(f"levels must be a non-negative integer, got {levels!r}")
    if not 0 < r < 1:
        raise ValueError(f"r must be in (0, 1), got {r!r}")


def ssim_term_maps(
    x: Tensor, y: Tensor, wavelet: str = "haar", levels: int = 2, r: float = 0.7, data_range: float = 1.0
) -> list[tuple[str, float, Tensor]]:
    """W-SSIM's terms as SSIM maps, unvalidated: ``(name, weight, map)`` in order, each map
    ``N x C_term x h x w`` (zero-padded SSIM) at the term's own resolution. The one
    level loop behind :func:`wssim_terms`, the masked W-SSIM and the W-SSIM maps."""
    n, c = x.shape[:2]
    terms = [("image", 1.0, ssim_map_unchecked(x, y, "same", data_range))]
    carry = 1.0
    pair = torch.cat([x, y])  # x and y share each transform
    for level in range(1, levels + 1):
        ll, lh, hl, hh = dwt2_unchecked(pair, wavelet)
        last = level == levels
        bands = torch.cat([lh, hl, hh, ll] if last else [lh, hl, hh], dim=1)
        groups = [2 * c, c, c] if last else [2 * c, c]
        maps = ssim_map_unchecked(bands[:n], bands[n:], "same", data_range).split(groups, dim=1)
        terms.append((f"LH+HL{level}", carry * 2 * r * (1 - r), maps[0]))
        terms.append((f"HH{level}", carry * (1 - r) ** 2, maps[1]))
        carry *= r * r
        if last:
            terms.append((f"LL{levels}", carry, maps[2]))
        pair = ll
    return terms


def wssim_terms(
    x: Tensor,
    y: Tensor,
    wavelet: str = "haar",
    levels: int = 2,
    r: float = 0.7,
    *,
    data_range: float = 1.0,
    check_values: bool = False,
) -> list[tuple[str, float, Tensor]]:
    """The weighted terms of W-SSIM: ``(name, weight, ssim per image)`` in order.

    Names: ``image``, then per level ``LH+HL<k>`` and ``HH<k>``, then ``LL<levels>``.
    Arguments as :func:`wssim`.

    Example:
        >>> import torch
        >>> from imgloss.functional import wssim_terms
        >>> x = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0))
        >>> [(name, round(weight, 4)) for name, weight, _ in wssim_terms(x, x)]
        [('image', 1.0), ('LH+HL1', 0.42), ('HH1', 0.09), ('LH+HL2', 0.2058), ('HH2', 0.0441), ('LL2', 0.2401)]
    """
    check_positive("data_range", data_range)
    check_pair(x, y, check_values=check_values, data_range=data_range)
    _check_options(wavelet, levels, r)
    return [
        (name, weight, values.mean(dim=(1, 2, 3)))
        for name, weight, values in ssim_term_maps(x, y, wavelet, levels, r, data_range)
    ]


def wssim(
    x: Tensor,
    y: Tensor,
    wavelet: str = "haar",
    levels: int = 2,
    r: float = 0.7,
    *,
    data_range: float = 1.0,
    reduction: Reduction = "none",
    check_values: bool = False,
) -> Tensor:
    """Normalised W-SSIM of prediction ``x`` against target ``y``; 1 at x = y.

    Args:
        x: prediction, ``N x C x H x W`` float in ``[0, data_range]`` (any size, 1x1 up).
        y: target, same shape, dtype and device.
        wavelet: any discrete wavelet ``pywt.Wavelet`` knows (default ``haar``).
        levels: DWT levels (>= 0, default 2).
        r: level weight in (0, 1) (default 0.7: weights 1, .42, .09, .2058, .0441, .2401).
        data_range: span of pixel values (sets the SSIM constants).
        reduction: ``"none"`` (default: shape ``N``), ``"mean"`` or ``"sum"``.
        check_values: also refuse NaN/inf and values outside ``[0, data_range]``.

    Returns:
        Similarity in [-1, 1] (higher is better); the reference loss is ``-2 * wssim``.

    Raises:
        TypeError: a non-tensor argument.
        ValueError: bad rank, dtype, shape, device or options.

    Example:
        >>> import torch
        >>> from imgloss.functional import wssim
        >>> x = torch.arange(64.0).reshape(1, 1, 8, 8) / 63
        >>> round(float(wssim(x, 0.5 * x)), 6)
        0.70255
    """
    check_reduction(reduction)
    terms = wssim_terms(x, y, wavelet, levels, r, data_range=data_range, check_values=check_values)
    total = sum(weight * value for _, weight, value in terms)
    return reduce(total / sum(weight for _, weight, _ in terms), reduction)


class WSSIMLoss(MetricLoss):
    """``1 - wssim(x, y)`` per image (prediction, target); 0 at x = y (reference loss =
    ``2 * this - 2``). Options as :func:`wssim`; ``reduction="mean"`` by default.

    Example:
        >>> import torch
        >>> from imgloss.losses import WSSIMLoss
        >>> x = torch.arange(64.0).reshape(1, 1, 8, 8) / 63
        >>> round(float(WSSIMLoss()(0.5 * x, x)), 6)
        0.29745
    """

    def __init__(
        self,
        wavelet: str = "haar",
        levels: int = 2,
        r: float = 0.7,
        *,
        data_range: float = 1.0,
        reduction: Reduction = "mean",
        check_values: bool = False,
    ) -> None:
        super().__init__(data_range=data_range, reduction=reduction, check_values=check_values)
        _check_options(wavelet, levels, r)
        self.wavelet, self.levels, self.r = wavelet, levels, r

    def per_image(self, x: Tensor, y: Tensor) -> Tensor:
        return 1 - wssim(
            x, y, self.wavelet, self.levels, self.r, data_range=self.data_range, check_values=self.check_values
        )

    def extra_repr(self) -> str:
        return f"wavelet={self.wavelet!r}, levels={self.levels}, r={self.r:g}, {super().extra_repr()}"
