"""The training API: an ``nn.Module`` per metric and ``CombinedLoss``.

Every module is called as ``loss(x, y)`` = ``loss(prediction, target)``, both
``N x C x H x W`` floats in ``[0, data_range]``, and reduces per-image values with
``reduction = "mean"`` (default) | ``"sum"`` | ``"none"``. Similarities become losses as
``1 - s`` (``SSIMLoss``, ``WSSIMLoss``); ``PSNRLoss`` is ``-PSNR`` capped at 100 dB.
Only shape, dtype and device are checked per call; ``check_values=True`` also reads the
values (NaN/inf, range), at the price of a host sync.
"""
from __future__ import annotations

from typing import Any, Mapping

from torch import Tensor, nn

from imgloss.metrics._base import MetricLoss, Reduction, check_reduction, reduce
from imgloss.metrics.charbonnier import CharbonnierLoss
from imgloss.metrics.feature_loss import FeatureLoss, run_feature_losses
from imgloss.metrics.lpips import LPIPSLoss
from imgloss.metrics.ms_ssim import MSSSIMLoss
from imgloss.metrics.perceptual import PerceptualLoss
from imgloss.metrics.pixel import MAELoss, MSELoss, PSNRLoss
from imgloss.metrics.registry import get_metric
from imgloss.metrics.ssim import SSIMLoss
from imgloss.metrics.style import StyleLoss
from imgloss.metrics.tv import TVLoss
from imgloss.metrics.wssim import WSSIMLoss

#: The S3Net total loss: l1 L_cha + l2 L_W-SSIM + l3 L_per. The paper does not publish
#: the lambdas; imgloss uses 1 for each.
S3NET = {"charbonnier": 1.0, "wssim": 1.0, "perceptual": 1.0}


class CombinedLoss(nn.Module):
    """Weighted sum of registry losses, e.g. ``CombinedLoss({"charbonnier": 1, "wssim": 1})``.

    Args:
        weights: metric name -> weight (default :data:`S3NET`: charbonnier, wssim and
            perceptual, 1 each; the paper publishes no lambdas).
        options: keyword arguments per term's module, e.g. ``{"perceptual": {"preset": "drn"}}``.
        data_range: span of pixel values, passed to every term.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
        check_values: every term also refuses NaN/inf and out-of-range values.

    All VGG-feature terms (perceptual, style) share one forward per network. ``x`` is
    the prediction (TV is computed on it), ``y`` the target. :meth:`terms` gives each
    term's per-image value.

    Raises:
        ValueError: an unknown metric (with a suggestion), options for a metric not in
            ``weights``, no metric, or a bad option.

    Example:
        >>> import torch
        >>> from imgloss.losses import CombinedLoss
        >>> loss = CombinedLoss({"charbonnier": 1.0, "wssim": 0.5})
        >>> x = torch.zeros(1, 1, 8, 8)
        >>> loss(x, x)
        tensor(0.0010)
    """

    def __init__(
        self,
        weights: Mapping[str, float] | None = None,
        options: Mapping[str, Mapping[str, Any]] | None = None,
        reduction: Reduction = "mean",
        *,
        data_range: float = 1.0,
        check_values: bool = False,
    ) -> None:
        super().__init__()
        weights = dict(S3NET if weights is None else weights)
        options = dict(options or {})
        unused = set(options) - set(weights)
        if unused:
            raise ValueError(f"options given for metrics not in the loss: {', '.join(sorted(unused))}")
        if not weights:
            raise ValueError("weights must name at least one metric")
        self.reduction = check_reduction(reduction)
        self.weights = {name: float(w) for name, w in weights.items()}
        common = {"reduction": "none", "data_range": data_range, "check_values": check_values}
        self.parts = nn.ModuleDict(
            {name: get_metric(name).load_loss()(**{**common, **options.get(name, {})}) for name in self.weights}
        )

    def terms(self, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        """Each term's unweighted per-image loss (shape ``N``) of prediction ``x``, target ``y``."""
        feature_names = [n for n, m in self.parts.items() if isinstance(m, FeatureLoss)]
        values = dict(
            zip(feature_names, run_feature_losses([self.parts[n] for n in feature_names], x, y))  # type: ignore[misc]
        )
        for name, module in self.parts.items():
            if name not in values:
                values[name] = module.per_image(x, y)  # type: ignore[operator]
        return {name: values[name] for name in self.parts}

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """The weighted sum of the terms, reduced by ``self.reduction``."""
        values = self.terms(x, y)
        total = sum(self.weights[name] * value for name, value in values.items())
        return reduce(total, self.reduction)  # type: ignore[arg-type]


__all__ = [
    "CharbonnierLoss",
    "CombinedLoss",
    "FeatureLoss",
    "LPIPSLoss",
    "MAELoss",
    "MSELoss",
    "MSSSIMLoss",
    "MetricLoss",
    "PSNRLoss",
    "PerceptualLoss",
    "S3NET",
    "SSIMLoss",
    "StyleLoss",
    "TVLoss",
    "WSSIMLoss",
]
