"""Charbonnier loss (LapSRN, S3Net): ``mean(sqrt((x - y)^2 + eps^2))`` per image.

Lower is better; the minimum, at x = y, is exactly ``eps``. Inputs are
``N x C x H x W`` floats (prediction, target; any range); differences are measured in
units of ``data_range``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from imgloss.metrics._base import MetricLoss, Reduction, check_reduction, reduce
from imgloss.metrics._checks import check_pair, check_positive


def charbonnier(
    x: Tensor,
    y: Tensor,
    eps: float = 1e-3,
    *,
    data_range: float = 1.0,
    reduction: Reduction = "none",
    check_values: bool = False,
) -> Tensor:
    """Charbonnier distance of prediction ``x`` to target ``y``, mean over C, H, W.

    This is the LapSRN/S3Net form (``eps^2 = 1e-6`` under the root); it is not kornia's
    ``sqrt(d^2 + 1) - 1``.

    Args:
        x: prediction, ``N x C x H x W`` float.
        y: target, same shape, dtype and device.
        eps: smoothing constant (> 0), in units of ``data_range``; default 1e-3.
        data_range: span of pixel values; the distance uses ``(x - y) / data_range``.
        reduction: ``"none"`` (default: shape ``N``), ``"mean"`` or ``"sum"``.
        check_values: also refuse NaN/inf values (a host sync).

    Returns:
        Distance >= ``eps`` (lower is better), exactly ``eps`` at x = y.

    Raises:
        TypeError: a non-tensor argument.
        ValueError: bad rank, dtype, shape, device, ``eps``, ``data_range`` or reduction.

    Example:
        >>> import torch
        >>> from imgloss.functional import charbonnier
        >>> x = torch.zeros(2, 1, 4, 4)
        >>> charbonnier(x, x)
        tensor([0.0010, 0.0010])
        >>> charbonnier(x, x + 0.5, reduction="mean")
        tensor(0.5000)
    """
    check_positive("eps", eps)
    check_positive("data_range", data_range)
    check_reduction(reduction)
    check_pair(x, y, check_values=check_values)
    diff = x - y if data_range == 1 else (x - y) / data_range
    return reduce(torch.sqrt(diff.square() + eps * eps).mean(dim=(1, 2, 3)), reduction)


class CharbonnierLoss(MetricLoss):
    """``nn.Module`` form of :func:`charbonnier` (prediction, target).

    Args:
        eps: smoothing constant (> 0); default 1e-3.
        data_range, reduction (default ``"mean"``), check_values: as the function.

    Example:
        >>> import torch
        >>> from imgloss.losses import CharbonnierLoss
        >>> CharbonnierLoss()(torch.zeros(2, 1, 4, 4), torch.ones(2, 1, 4, 4))
        tensor(1.0000)
    """

    def __init__(
        self,
        eps: float = 1e-3,
        *,
        data_range: float = 1.0,
        reduction: Reduction = "mean",
        check_values: bool = False,
    ) -> None:
        super().__init__(data_range=data_range, reduction=reduction, check_values=check_values)
        self.eps = check_positive("eps", eps)

    def per_image(self, x: Tensor, y: Tensor) -> Tensor:
        return charbonnier(x, y, self.eps, data_range=self.data_range, check_values=self.check_values)

    def extra_repr(self) -> str:
        return f"eps={self.eps:g}, {super().extra_repr()}"
