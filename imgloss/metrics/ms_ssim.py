"""MS-SSIM (Wang, Simoncelli & Bovik 2003): SSIM over 5 dyadic scales, data range 1.

At each scale SSIM's local moments (:mod:`imgloss.metrics.ssim_moments`) are taken
with valid filtering (11-tap Gaussian, sigma 1.5); the contrast-structure mean ``cs_s`` of
scales 1-4 and the full SSIM mean of scale 5 are clamped at 0 and combined per
channel as ``prod_s v_s ** w_s`` with the standard weights
``(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)``, then averaged over channels.
Between scales both images are 2x2 average-pooled; an odd side is zero-padded by
one pixel first (counted in the average), as pytorch-msssim does, so the values
equal ``pytorch_msssim.ms_ssim(x, y, data_range=1, size_average=False)``.

The coarsest scale still needs an 11 px window: images need at least
``MIN_SIZE = 161`` px on each side (``(11 - 1) * 2**4 + 1``).
Inputs ``N x C x H x W`` in [0, 1]; output shape ``N`` in [0, 1], higher is better.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from imgloss.metrics._base import MetricLoss, Reduction, check_reduction, reduce
from imgloss.metrics._checks import check_pair, check_positive
from imgloss.metrics.ssim_moments import components_from_moments, filter_valid, moment_stack, window

#: The standard per-scale exponents (Wang et al. 2003), finest scale first.
WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
#: The smallest side 5 scales accept: the 5th scale must still hold one 11 px window.
WINDOW_SIZE, SIGMA = 11, 1.5
MIN_SIZE = (WINDOW_SIZE - 1) * 2 ** (len(WEIGHTS) - 1) + 1


def check_size(height: int, width: int) -> None:
    """``ValueError`` naming the size and :data:`MIN_SIZE` when an image is too small."""
    if min(height, width) < MIN_SIZE:
        raise ValueError(
            f"images of {width}x{height} px are too small for MS-SSIM with {len(WEIGHTS)} scales: "
            f"it needs at least {MIN_SIZE} px on each side"
        )


def _downsample(x: Tensor) -> Tensor:
    """2x2 average pooling; an odd side gets one zero-padded pixel (counted)."""
    return F.avg_pool2d(x, kernel_size=2, padding=[s % 2 for s in x.shape[-2:]])


def ms_ssim(
    x: Tensor, y: Tensor, *, data_range: float = 1.0, reduction: Reduction = "none", check_values: bool = False
) -> Tensor:
    """MS-SSIM of prediction ``x`` against target ``y``.

    Args:
        x: prediction, ``N x C x H x W`` float in ``[0, data_range]``, at least
            :data:`MIN_SIZE` (161) px on each side; y: target, same shape, dtype, device.
        data_range: span of pixel values (``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2``).
        reduction: ``"none"`` (default: shape ``N``), ``"mean"`` or ``"sum"``.
        check_values: also refuse NaN/inf and values outside ``[0, data_range]``.

    Returns:
        MS-SSIM in [0, 1], 1 at x = y (higher is better).

    Raises:
        TypeError, ValueError: bad arguments, or an image under 161 px a side (named).

    Example:
        >>> import torch
        >>> from imgloss.functional import ms_ssim
        >>> y = torch.rand(1, 3, 161, 161, generator=torch.Generator().manual_seed(0))
        >>> ms_ssim(y, y)
        tensor([1.])
    """
    check_positive("data_range", data_range)
    check_reduction(reduction)
    check_pair(x, y, check_values=check_values, data_range=data_range)
    check_size(*x.shape[-2:])
    if data_range != 1:
        # SSIM with C = (K L)^2 is invariant to scaling x, y and L together.
        x, y = x / data_range, y / data_range
    weights = x.new_tensor(WEIGHTS).view(-1, 1, 1)
    taps = window("gaussian", WINDOW_SIZE, SIGMA, x.dtype, x.device)
    factors = []
    for scale in range(len(WEIGHTS)):
        moments = filter_valid(moment_stack(x, y), taps)
        luminance, contrast_structure = components_from_moments(moments, x.shape[1])
        if scale < len(WEIGHTS) - 1:
            factors.append(contrast_structure.mean(dim=(2, 3)))
            x, y = _downsample(x), _downsample(y)
        else:
            factors.append((luminance * contrast_structure).mean(dim=(2, 3)))
    per_channel = torch.prod(torch.relu(torch.stack(factors)) ** weights, dim=0)  # N x C
    return reduce(per_channel.mean(dim=1), reduction)


class MSSSIMLoss(MetricLoss):
    """``1 - ms_ssim(x, y)`` (prediction, target); 0 at x = y. Options as :func:`ms_ssim`,
    ``reduction="mean"`` by default.

    Example:
        >>> import torch
        >>> from imgloss.losses import MSSSIMLoss
        >>> y = torch.rand(2, 1, 161, 161, generator=torch.Generator().manual_seed(0))
        >>> MSSSIMLoss()(y, y)
        tensor(0.)
    """

    def per_image(self, x: Tensor, y: Tensor) -> Tensor:
        return 1 - ms_ssim(x, y, data_range=self.data_range, check_values=self.check_values)
