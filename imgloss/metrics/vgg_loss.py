"""The protocol of losses computed on VGG features, and the one-forward runner.

A :class:`FeatureLoss` names its backbone, normalisation and taps and turns two
dicts of features into per-image values. :func:`run_feature_losses` groups any set of
them (perceptual, style, ...) by network, runs ONE forward per network for x and y
together, and feeds every loss from it. ``CombinedLoss`` and the engine both use it.
"""
from __future__ import annotations

from typing import Sequence

from torch import Tensor

from imgloss.metrics._base import MetricLoss, Reduction
from imgloss.metrics._checks import check_pair

Features = dict[str, Tensor]


class FeatureLoss(MetricLoss):
    """Base of VGG-feature losses. Subclasses set ``backbone`` (``vgg19``/``vgg16``),
    ``normalize`` (``imagenet``/``none``), ``taps`` and implement :meth:`from_features`.
    ``weights`` is an explicit weights file, or None for the usual resolution order."""

    backbone: str
    normalize: str
    taps: tuple[str, ...]

    def __init__(self, reduction: Reduction = "mean", weights: str | None = None) -> None:
        super().__init__(reduction)
        self.weights = weights

    def network_key(self) -> tuple[str, str, str | None]:
        """Losses with equal keys share one network and one forward."""
        return (self.backbone, self.normalize, self.weights)

    def from_features(self, fx: Features, fy: Features) -> Tensor:  # pragma: no cover - abstract
        """Per-image values (shape ``N``) from the taps of x and y."""
        raise NotImplementedError

    def per_image(self, x: Tensor, y: Tensor) -> Tensor:
        return run_feature_losses([self], x, y)[0]


def run_feature_losses(losses: Sequence[FeatureLoss], x: Tensor, y: Tensor) -> list[Tensor]:
    """Per-image values of each loss in ``losses``, one VGG forward per network.

    ``x``, ``y``: ``N x C x H x W`` with values in [0, 1] (validated here).
    """
    if not losses:
        return []
    check_pair(x, y)
    from imgloss.features.vgg import extract_pair

    results: list[Tensor | None] = [None] * len(losses)
    groups: dict[tuple[str, str, str | None], list[int]] = {}
    for index, loss in enumerate(losses):
        groups.setdefault(loss.network_key(), []).append(index)
    for (backbone, normalize, weights), members in groups.items():
        taps = tuple(dict.fromkeys(tap for i in members for tap in losses[i].taps))
        fx, fy = extract_pair(x, y, backbone=backbone, taps=taps, normalize=normalize, weights=weights)
        for i in members:
            results[i] = losses[i].from_features(fx, fy)
    return results  # type: ignore[return-value]
