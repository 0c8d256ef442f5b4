"""SSIM (Wang et al. 2004) with an 11-tap Gaussian window, sigma 1.5.

Two paddings, one formula:
- ``padding="valid"`` (the public metric): only windows that fit, as scikit-image
  (``gaussian_weights=True, use_sample_covariance=False``) and pytorch-msssim do;
  images need at least 11 px on each side.
- ``padding="same"``: zero padding of 5 px, the SSIM inside W-SSIM; any size works.

``C1 = (0.01 L)^2`` and ``C2 = (0.03 L)^2`` with ``L = data_range``. Two kernels compute
the map, forward and backward, with the same analytic gradient
(:mod:`imgloss.metrics.ssim_kernel`): a fused Triton kernel on CUDA
(:mod:`imgloss.metrics.ssim_triton`), separable depthwise convolutions elsewhere (CPU,
MPS, or Triton missing: a silent, exact fallback, never an error).
``IMGLOSS_SSIM_KERNEL=conv|triton`` (read at import) forces one of them.
"""
from __future__ import annotations

from typing import Literal

from torch import Tensor

from imgloss.metrics._base import MetricLoss, Reduction, check_reduction, reduce
from imgloss.metrics._checks import check_pair, check_positive
from imgloss.metrics.registry import get_ssim_convention
from imgloss.metrics.ssim_kernel import WINDOW_SIZE, ssim_map_raw

K1 = 0.01
K2 = 0.03
C1 = K1**2
C2 = K2**2
Padding = Literal["valid", "same"]


def check_padding(padding: str) -> None:
    """``valid`` or ``same``, else ValueError."""
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")


def _check_size(x: Tensor, padding: str) -> None:
    height, width = x.shape[-2:]
    if padding == "valid" and min(height, width) < WINDOW_SIZE:
        raise ValueError(
            f"images of {width}x{height} px are smaller than the {WINDOW_SIZE}x{WINDOW_SIZE} "
            "SSIM window; SSIM needs at least 11 px on each side"
        )


def ssim_map(
    x: Tensor,
    y: Tensor,
    padding: Padding = "valid",
    *,
    data_range: float = 1.0,
    check_values: bool = False,
    convention: str = "imgloss",
) -> Tensor:
    """Per-pixel SSIM map of prediction ``x`` against target ``y``.

    Args:
        x: prediction, ``N x C x H x W`` float (fp16/bf16/fp32/fp64), values in
            ``[0, data_range]``.
        y: target, same shape, dtype and device.
        padding: ``"valid"`` (only windows that fit; H, W >= 11) or ``"same"`` (zero
            padding of 5 px; any size).
        data_range: span of valid pixel values (sets ``C1``, ``C2``).
        check_values: also refuse NaN/inf and values outside ``[0, data_range]``
            (reads every value: a host sync).
        convention: ``imgloss`` (default) or a peer library's SSIM (see :func:`ssim`);
            its map size is the peer's.

    Returns:
        ``N x C x H' x W'`` in [-1, 1]; ``H' = H - 10`` for ``valid``, ``H`` for ``same``.

    Raises:
        TypeError: a non-tensor argument.
        ValueError: bad rank, dtype, shape, device, padding or size; with
            ``check_values``, NaN/inf or values out of range.

    Example:
        >>> import torch
        >>> from imgloss.functional import ssim_map
        >>> x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
        >>> ssim_map(x, x).shape
        torch.Size([2, 3, 6, 6])
        >>> ssim_map(x, x, "same").shape
        torch.Size([2, 3, 16, 16])
    """
    check_positive("data_range", data_range)
    check_pair(x, y, check_values=check_values, data_range=data_range)
    if convention != "imgloss":
        from imgloss.metrics.ssim_conventions import convention_ssim_map

        # SSIM with C = (K L)^2 is invariant to scaling x, y and L together.
        return convention_ssim_map(x / data_range, y / data_range, convention) if data_range != 1 else convention_ssim_map(x, y, convention)
    check_padding(padding)
    _check_size(x, padding)
    return ssim_map_unchecked(x, y, padding, data_range)


def ssim_map_unchecked(x: Tensor, y: Tensor, padding: Padding, data_range: float = 1.0) -> Tensor:
    """:func:`ssim_map` without validation, for callers that validated already
    (W-SSIM feeds it wavelet subbands, which leave ``[0, data_range]``)."""
    return ssim_map_raw(x, y, padding == "same", (K1 * data_range) ** 2, (K2 * data_range) ** 2)


def ssim(
    x: Tensor,
    y: Tensor,
    padding: Padding = "valid",
    *,
    data_range: float = 1.0,
    reduction: Reduction = "none",
    check_values: bool = False,
    convention: str = "imgloss",
) -> Tensor:
    """Mean SSIM per image of prediction ``x`` against target ``y``, over channels and pixels.

    Args:
        x: prediction, ``N x C x H x W`` float, values in ``[0, data_range]``.
        y: target, same shape, dtype and device.
        padding: ``"valid"`` (the metric; equals scikit-image and pytorch-msssim) or
            ``"same"`` (zero padding, W-SSIM's form).
        data_range: span of valid pixel values (``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2``).
        reduction: ``"none"`` (default: shape ``N``), ``"mean"`` or ``"sum"``.
        check_values: also refuse NaN/inf and values outside ``[0, data_range]``.
        convention: ``imgloss`` (default), or compute SSIM as a peer library does
            (``skimage``, ``skimage-default``, ``pytorch-msssim``, ``piq``,
            ``torchmetrics``, ``matlab``; :mod:`imgloss.metrics.ssim_conventions`;
            ``padding`` then does not apply).

    Returns:
        Similarity in [-1, 1], 1 at x = y (higher is better); the loss is ``1 - ssim``.

    Raises:
        TypeError: a non-tensor argument.
        ValueError: as :func:`ssim_map`, or an unknown reduction.

    Example:
        >>> import torch
        >>> from imgloss.functional import ssim
        >>> y = torch.linspace(0, 1, 256).reshape(1, 1, 16, 16)
        >>> ssim(y, y)
        tensor([1.])
        >>> round(float(ssim(0.5 * y, y)), 4)
        0.6521
        >>> round(float(ssim(127.5 * y, 255 * y, data_range=255)), 4)
        0.6521
    """
    check_reduction(reduction)
    values = ssim_map(x, y, padding, data_range=data_range, check_values=check_values, convention=convention)
    return reduce(values.mean(dim=(1, 2, 3)), reduction)


class SSIMLoss(MetricLoss):
    """``1 - ssim(x, y)`` per image (prediction, target); 0 at x = y.

    Args:
        padding: ``"valid"`` or ``"same"`` (see :func:`ssim`).
        data_range: span of valid pixel values.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
        check_values: refuse NaN/inf and out-of-range values (a host sync per call).
        convention: a peer library's SSIM (see :func:`ssim`).

    Raises:
        ValueError: a bad option (at construction) or bad inputs (at call).

    Example:
        >>> import torch
        >>> from imgloss.losses import SSIMLoss
        >>> y = torch.linspace(0, 1, 256).reshape(1, 1, 16, 16)
        >>> x = (0.5 * y).requires_grad_()
        >>> loss = SSIMLoss()(x, y)
        >>> loss.backward()
        >>> round(float(loss.detach()), 4), x.grad.shape
        (0.3479, torch.Size([1, 1, 16, 16]))
    """

    def __init__(
        self,
        padding: Padding = "valid",
        *,
        data_range: float = 1.0,
        reduction: Reduction = "mean",
        check_values: bool = False,
        convention: str = "imgloss",
    ) -> None:
        super().__init__(data_range=data_range, reduction=reduction, check_values=check_values)
        check_padding(padding)
        get_ssim_convention(convention)
        self.padding = padding
        self.convention = convention

    def per_image(self, x: Tensor, y: Tensor) -> Tensor:
        return 1 - ssim(
            x, y, self.padding, data_range=self.data_range, check_values=self.check_values, convention=self.convention
        )

    def extra_repr(self) -> str:
        return f"padding={self.padding!r}, convention={self.convention!r}, {super().extra_repr()}"
