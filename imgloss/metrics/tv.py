"""Total variation of a single image (no reference), one value per image.

``kind="squared"`` (default, the perceptual-loss notes' form):
``2 * (sum(dh^2) / (C (H-1) W) + sum(dw^2) / (C H (W-1)))``; a direction with one
row or column contributes 0. ``kind="l1"``: ``sum|dh| + sum|dw|``. ``kind="isotropic"``:
``sum sqrt(dh^2 + dw^2)`` over all pixels with forward differences, the difference past
the last row/column taken as 0 (Neumann boundary); its gradient at a flat spot is 0.
Input ``N x C x H x W`` floats (any range, in units of ``data_range``); output shape
``N``, lower is smoother. TV looks at one image: the module is called ``TVLoss()(x)``
(a second argument, the target, is accepted and ignored, so it fits ``loss(x, y)`` loops).
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from imgloss.metrics._base import MetricLoss, Reduction, check_reduction, reduce
from imgloss.metrics._checks import check_image, check_positive

TVKind = Literal["squared", "l1", "isotropic"]
TV_KINDS = ("squared", "l1", "isotropic")


def _squared(dh: Tensor, dw: Tensor) -> Tensor:
    def term(d: Tensor) -> Tensor:
        count = d[0].numel()
        return d.square().sum(dim=(1, 2, 3)) / count if count else d.new_zeros(d.shape[0])

    return 2 * (term(dh) + term(dw))


def _l1(dh: Tensor, dw: Tensor) -> Tensor:
    return dh.abs().sum(dim=(1, 2, 3)) + dw.abs().sum(dim=(1, 2, 3))


def _isotropic(dh: Tensor, dw: Tensor) -> Tensor:
    magnitude = F.pad(dh, (0, 0, 0, 1)).square() + F.pad(dw, (0, 1)).square()
    positive = magnitude > 0
    root = torch.sqrt(torch.where(positive, magnitude, torch.ones_like(magnitude)))
    return torch.where(positive, root, torch.zeros_like(magnitude)).sum(dim=(1, 2, 3))


_KINDS = {"squared": _squared, "l1": _l1, "isotropic": _isotropic}


def _check_kind(kind: object) -> None:
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {TV_KINDS}, got {kind!r}")


def tv(
    x: Tensor,
    kind: TVKind = "squared",
    *,
    data_range: float = 1.0,
    reduction: Reduction = "none",
    check_values: bool = False,
) -> Tensor:
    """Total variation of each image in ``x`` (no reference).

    Args:
        x: ``N x C x H x W`` float (the prediction when used as a regulariser).
        kind: ``"squared"`` (default), ``"l1"`` or ``"isotropic"`` (see the module).
        data_range: span of pixel values; TV is that of ``x / data_range``.
        reduction: ``"none"`` (default: shape ``N``), ``"mean"`` or ``"sum"``.
        check_values: also refuse NaN/inf values (a host sync).

    Returns:
        TV >= 0, 0 for a constant image (lower is smoother).

    Raises:
        TypeError, ValueError: bad ``x`` (type, rank, dtype) or options.

    Example:
        >>> import torch
        >>> from imgloss.functional import tv
        >>> tv(torch.arange(18.0).reshape(1, 2, 3, 3))
        tensor([20.])
    """
    check_image("x", x, check_values=check_values)
    _check_kind(kind)
    check_positive("data_range", data_range)
    check_reduction(reduction)
    if data_range != 1:
        x = x / data_range
    dh = x[:, :, 1:, :] - x[:, :, :-1, :]
    dw = x[:, :, :, 1:] - x[:, :, :, :-1]
    return reduce(_KINDS[kind](dh, dw), reduction)


class TVLoss(MetricLoss):
    """Total variation regulariser, ``nn.Module`` form of :func:`tv`: ``TVLoss()(x)``.

    Args:
        kind: ``"squared"`` (default), ``"l1"`` or ``"isotropic"``.
        data_range, reduction (default ``"mean"``), check_values: as the function.

    Example:
        >>> import torch
        >>> from imgloss.losses import TVLoss
        >>> TVLoss()(torch.zeros(2, 3, 8, 8))
        tensor(0.)
    """

    def __init__(
        self,
        kind: TVKind = "squared",
        *,
        data_range: float = 1.0,
        reduction: Reduction = "mean",
        check_values: bool = False,
    ) -> None:
        super().__init__(data_range=data_range, reduction=reduction, check_values=check_values)
        _check_kind(kind)
        self.kind = kind

    def per_image(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return tv(x, self.kind, data_range=self.data_range, check_values=self.check_values)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:  # type: ignore[override]
        """TV of ``x`` reduced by ``self.reduction``; ``y`` is ignored."""
        return reduce(self.per_image(x), self.reduction)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, {super().extra_repr()}"
