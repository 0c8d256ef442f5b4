"""Plain pixel metrics: MSE, MAE and PSNR, one value per image, and their losses.

Inputs are ``N x C x H x W`` floats (prediction, target); values are those of
``x / data_range`` against ``y / data_range``. The metric :func:`psnr` is ``+inf`` for
identical images (what the CLI reports); :class:`PSNRLoss` caps it at
``10 log10(1 / eps)`` dB (100 dB for the default ``eps = 1e-10``), so the loss of an
identical pair is finite, its gradient 0, and a batch mean never becomes ``-inf``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from imgloss.metrics._base import MetricLoss, Reduction, check_reduction, reduce
from imgloss.metrics._checks import check_pair, check_positive

#: PSNRLoss's floor on the normalised MSE: PSNR is capped at 100 dB.
PSNR_LOSS_EPS = 1e-10


def _checked(x: Tensor, y: Tensor, data_range: float, reduction: str, check_values: bool, unit: bool) -> None:
    check_positive("data_range", data_range)
    check_reduction(reduction)
    check_pair(x, y, check_values=check_values, data_range=data_range if unit else None)


def mse(
    x: Tensor, y: Tensor, *, data_range: float = 1.0, reduction: Reduction = "none", check_values: bool = False
) -> Tensor:
    """Mean squared error of prediction ``x`` to target ``y`` over C, H, W, in ``data_range^2`` units.

    Args:
        x: prediction, ``N x C x H x W`` float; y: target, same shape, dtype and device.
        data_range: span of pixel values (the error is divided by ``data_range^2``).
        reduction: ``"none"`` (default: shape ``N``), ``"mean"`` or ``"sum"``.
        check_values: also refuse NaN/inf values (a host sync).

    Returns:
        Error >= 0, 0 at x = y (lower is better).

    Raises:
        TypeError, ValueError: bad arguments (type, rank, dtype, shape, device, options).

    Example:
        >>> import torch
        >>> from imgloss.functional import mse
        >>> mse(torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), 0.5))
        tensor([0.2500])
    """
    _checked(x, y, data_range, reduction, check_values, unit=False)
    error = (x - y).square().mean(dim=(1, 2, 3))
    return reduce(error if data_range == 1 else error / data_range**2, reduction)


def mae(
    x: Tensor, y: Tensor, *, data_range: float = 1.0, reduction: Reduction = "none", check_values: bool = False
) -> Tensor:
    """Mean absolute error (L1) of prediction ``x`` to target ``y`` over C, H, W, in ``data_range`` units.

    Args and Raises: as :func:`mse`.

    Returns:
        Error >= 0, 0 at x = y (lower is better).

    Example:
        >>> import torch
        >>> from imgloss.functional import mae
        >>> mae(torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), 255.0), data_range=255)
        tensor([1.])
    """
    _checked(x, y, data_range, reduction, check_values, unit=False)
    error = (x - y).abs().mean(dim=(1, 2, 3))
    return reduce(error if data_range == 1 else error / data_range, reduction)


def psnr(
    x: Tensor,
    y: Tensor,
    *,
    data_range: float = 1.0,
    reduction: Reduction = "none",
    check_values: bool = False,
    eps: float = 0.0,
) -> Tensor:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)``.

    Args:
        x: prediction, ``N x C x H x W`` float in ``[0, data_range]``; y: target, same
            shape, dtype and device.
        data_range: span of pixel values.
        reduction: ``"none"`` (default: shape ``N``), ``"mean"`` or ``"sum"``.
        check_values: also refuse NaN/inf and values outside ``[0, data_range]``.
        eps: floor on ``MSE / data_range^2`` (0: ``inf`` at x = y, the metric; > 0 caps
            PSNR at ``10 log10(1 / eps)`` dB with a zero gradient below the floor).

    Returns:
        PSNR in dB (higher is better); ``inf`` at x = y when ``eps = 0`` (its gradient
        is 0, never NaN).

    Raises:
        TypeError, ValueError: bad arguments (type, rank, dtype, shape, device, options).

    Example:
        >>> import torch
        >>> from imgloss.functional import psnr
        >>> x = torch.zeros(2, 1, 4, 4)
        >>> psnr(x, x + 0.1)
        tensor([20., 20.])
        >>> psnr(x, x), psnr(x, x, eps=1e-10)
        (tensor([inf, inf]), tensor([100., 100.]))
    """
    _checked(x, y, data_range, reduction, check_values, unit=True)
    if eps < 0 or eps != eps:
        raise ValueError(f"eps must be a number >= 0, got {eps!r}")
    error = (x - y).square().mean(dim=(1, 2, 3))
    if data_range != 1:
        error = error / data_range**2
    if eps > 0:
        return reduce(-10.0 * torch.log10(error.clamp_min(eps)), reduction)
    return reduce(psnr_from_mse(error), reduction)


def psnr_from_mse(error: Tensor) -> Tensor:
    """``10 log10(1 / error)`` elementwise for an error in ``data_range^2`` units; ``inf`` where it is 0."""
    # At x = y the value is +inf with a zero (not NaN) gradient.
    exact = error == 0
    finite = -10.0 * torch.log10(torch.where(exact, torch.ones_like(error), error))
    return torch.where(exact, torch.full_like(error, float("inf")), finite)


class MSELoss(MetricLoss):
    """``nn.Module`` form of :func:`mse` (prediction, target); options as the function,
    ``reduction="mean"`` by default.

    Example:
        >>> import torch
        >>> from imgloss.losses import MSELoss
        >>> MSELoss()(torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2))
        tensor(1.)
    """

    def per_image(self, x: Tensor, y: Tensor) -> Tensor:
        return mse(x, y, data_range=self.data_range, check_values=self.check_values)


class MAELoss(MetricLoss):
    """``nn.Module`` form of :func:`mae` (prediction, target); options as the function.

    Example:
        >>> import torch
        >>> from imgloss.losses import MAELoss
        >>> MAELoss(reduction="sum")(torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2))
        tensor(2.)
    """

    def per_image(self, x: Tensor, y: Tensor) -> Tensor:
        return mae(x, y, data_range=self.data_range, check_values=self.check_values)


class PSNRLoss(MetricLoss):
    """Negative PSNR (dB) as a loss, ``-psnr(x, y, eps=eps)``: lower is better.

    Args:
        eps: floor on ``MSE / data_range^2`` (default ``1e-10``: PSNR capped at 100 dB),
            so an identical pair gives a finite loss (-100) with gradient 0.
        data_range, reduction (default ``"mean"``), check_values: as :func:`psnr`.

    Example:
        >>> import torch
        >>> from imgloss.losses import PSNRLoss
        >>> x = torch.rand(2, 3, 8, 8, requires_grad=True)
        >>> loss = PSNRLoss()(x, x.detach())
        >>> loss.backward()
        >>> loss, bool(x.grad.eq(0).all())
        (tensor(-100., grad_fn=<MeanBackward0>), True)
    """

    def __init__(
        self,
        eps: float = PSNR_LOSS_EPS,
        *,
        data_range: float = 1.0,
        reduction: Reduction = "mean",
        check_values: bool = False,
    ) -> None:
        super().__init__(data_range=data_range, reduction=reduction, check_values=check_values)
        self.eps = check_positive("eps", eps)

    def per_image(self, x: Tensor, y: Tensor) -> Tensor:
        return -psnr(x, y, data_range=self.data_range, check_values=self.check_values, eps=self.eps)

    def extra_repr(self) -> str:
        return f"eps={self.eps:g}, {super().extra_repr()}"
