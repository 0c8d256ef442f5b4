"""Losses computed on VGG features: the base class, the one-forward runner, and what
perceptual and style share.

A :class:`FeatureLoss` names its backbone, normalisation and taps and turns two dicts of
features into per-image values. :func:`run_feature_losses` groups any set of them
(perceptual, style, ...) by network, runs ONE forward per network for x and y together,
and feeds every loss from it; ``CombinedLoss`` and the engine both use it.
A :class:`VGGMetricLoss` starts from a registry preset (``registry.PRESETS``), lets any
of backbone, taps, per-tap weights, distance and normalisation be overridden, and
computes ``sum_l w_l * D_l``. Subclasses only say which metric they are, which
distances they know, and :meth:`~VGGMetricLoss.tap_distance`.
"""
from __future__ import annotations

from typing import ClassVar, Sequence

import torch
from torch import Tensor

from imgloss.features.vgg import NORMALIZATIONS, extract_pair, tap_indices
from imgloss.metrics._base import MetricLoss, Reduction, check_reduction, reduce
from imgloss.metrics._checks import check_pair, check_positive
from imgloss.metrics.registry import get_preset

Features = dict[str, Tensor]



class FeatureLoss(MetricLoss):
    """Base of VGG-feature losses. Subclasses set ``backbone`` (``vgg19``/``vgg16``),
    ``normalize`` (``imagenet``/``none``), ``taps`` and implement :meth:`from_features`.
    ``weights`` is an explicit weights file, or None for the usual resolution order."""

    backbone: str
    normalize: str
    taps: tuple[str, ...]

    def __init__(
        self,
        reduction: Reduction = "mean",
        weights: str | None = None,
        *,
        data_range: float = 1.0,
        check_values: bool = False,
    ) -> None:
        super().__init__(data_range=data_range, reduction=reduction, check_values=check_values)
        self.weights = weights

    def network_key(self) -> tuple[str, str, str | None]:
        """Losses with equal keys share one network and one forward."""
        return (self.backbone, self.normalize, self.weights)

    def from_features(self, fx: Features, fy: Features) -> Tensor:  # pragma: no cover - abstract
        """Per-image values (shape ``N``) from the taps of x and y."""
        raise NotImplementedError

    def terms(self, fx: Features, fy: Features) -> dict[str, Tensor]:  # pragma: no cover - abstract
        """Each tap's contribution (shape ``N``); they sum to :meth:`from_features`."""
        raise NotImplementedError

    def per_image(self, x: Tensor, y: Tensor) -> Tensor:
        return run_feature_losses([self], x, y)[0]


def _shared_features(losses: Sequence[FeatureLoss], x: Tensor, y: Tensor) -> list[tuple[Features, Features]]:
    """The features of x and y each loss needs, one forward per network (losses with
    equal :meth:`~FeatureLoss.network_key` share it). Every loss must share one
    ``data_range``; values are checked only when a loss has ``check_values``."""
    data_range = losses[0].data_range
    if any(loss.data_range != data_range for loss in losses):
        raise ValueError("feature losses run together must share one data_range")
    check_pair(x, y, check_values=any(loss.check_values for loss in losses), data_range=data_range)
    if data_range != 1:
        x, y = x / data_range, y / data_range
    results: list[tuple[Features, Features] | None] = [None] * len(losses)
    groups: dict[tuple[str, str, str | None], list[int]] = {}
    for index, loss in enumerate(losses):
        groups.setdefault(loss.network_key(), []).append(index)
    for (backbone, normalize, weights), members in groups.items():
        taps = tuple(dict.fromkeys(tap for i in members for tap in losses[i].taps))
        pair = extract_pair(x, y, backbone=backbone, taps=taps, normalize=normalize, weights=weights)
        for i in members:
            results[i] = pair
    return results  # type: ignore[return-value]


def run_feature_losses(losses: Sequence[FeatureLoss], x: Tensor, y: Tensor) -> list[Tensor]:
    """Per-image values (shape ``N``) of each loss in ``losses``, one VGG forward per network.

    ``x`` (prediction), ``y`` (target): ``N x C x H x W`` with values in
    ``[0, data_range]`` (shape, dtype and device validated here; values only when a
    loss has ``check_values``).
    """
    if not losses:
        return []
    return [loss.from_features(fx, fy) for loss, (fx, fy) in zip(losses, _shared_features(losses, x, y))]


def run_feature_terms(losses: Sequence[FeatureLoss], x: Tensor, y: Tensor) -> list[dict[str, Tensor]]:
    """As :func:`run_feature_losses`, each loss's per-tap terms (shape ``N``) plus
    ``"total"``, their sum (the ``--breakdown`` of the CLI)."""
    if not losses:
        return []
    out = []
    for loss, (fx, fy) in zip(losses, _shared_features(losses, x, y)):
        terms = loss.terms(fx, fy)
        out.append({**terms, "total": _total(terms)})
    return out


def _total(terms: dict[str, Tensor]) -> Tensor:
    return torch.stack(list(terms.values())).sum(dim=0)


class VGGMetricLoss(FeatureLoss):
    """Base of :class:`PerceptualLoss` and :class:`StyleLoss`.

    ``preset`` names a registry preset of ``metric``; every other option, when given,
    overrides it. Taps given without ``layer_weights`` weigh 1 each. ``weights`` is an
    explicit VGG weights file (None: the resolution order of :mod:`imgloss.weights.store`).
    """

    metric: ClassVar[str]
    distances: ClassVar[tuple[str, ...]]

    def __init__(
        self,
        preset: str = "default",
        *,
        backbone: str | None = None,
        taps: Sequence[str] | None = None,
        layer_weights: Sequence[float] | None = None,
        distance: str | None = None,
        normalize: str | None = None,
        weights: str | None = None,
        data_range: float = 1.0,
        reduction: Reduction = "mean",
        check_values: bool = False,
    ) -> None:
        super().__init__(reduction, weights, data_range=data_range, check_values=check_values)
        base = get_preset(self.metric, preset)
        self.preset = preset
        self.backbone = backbone or base.backbone
        self.taps = tuple(taps) if taps is not None else base.taps
        tap_indices(self.backbone, self.taps)
        if len(set(self.taps)) != len(self.taps):
            raise ValueError(f"taps must not repeat, got {self.taps}")
        if layer_weights is None:
            layer_weights = base.layer_weights if taps is None else (1.0,) * len(self.taps)
        self.layer_weights = tuple(float(w) for w in layer_weights)
        if len(self.layer_weights) != len(self.taps):
            raise ValueError(
                f"layer_weights has {len(self.layer_weights)} values for {len(self.taps)} taps {self.taps}"
            )
        self.distance = distance or base.distance
        if self.distance not in self.distances:
            raise ValueError(f"{self.metric} distance must be one of {self.distances}, got {self.distance!r}")
        self.normalize = normalize or base.normalize
        if self.normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {self.normalize!r}")

    @classmethod
    def compute(
        cls, x: Tensor, y: Tensor, preset: str, *, breakdown: bool, reduction: str, **options: object
    ) -> Tensor | dict[str, Tensor]:
        """The functional form (``perceptual()``, ``style()``): values of x against y,
        or the per-tap breakdown, reduced by ``reduction``."""
        check_reduction(reduction)
        values = cls(preset, **options).evaluate(x, y, breakdown)  # type: ignore[arg-type]
        if isinstance(values, dict):
            return {tap: reduce(value, reduction) for tap, value in values.items()}
        return reduce(values, reduction)

    def tap_distance(self, fx: Tensor, fy: Tensor) -> Tensor:  # pragma: no cover - abstract
        """Per-image distance (shape ``N``) between the features of one tap."""
        raise NotImplementedError

    def terms(self, fx: Features, fy: Features) -> dict[str, Tensor]:
        """Each tap's weighted contribution ``w_l * D_l`` (shape ``N``); they sum to the total."""
        return {
            tap: weight * self.tap_distance(fx[tap], fy[tap])
            for tap, weight in zip(self.taps, self.layer_weights)
        }

    def from_features(self, fx: Features, fy: Features) -> Tensor:
        return _total(self.terms(fx, fy))

    def evaluate(self, x: Tensor, y: Tensor, breakdown: bool = False) -> Tensor | dict[str, Tensor]:
        """Per-image values (shape ``N``) of x against y (``N x C x H x W`` in [0, 1],
        C = 1 or 3), from one VGG forward. With ``breakdown``: a dict tap -> weighted
        contribution (shape ``N``) plus ``"total"``, their sum."""
        terms = run_feature_terms([self], x, y)[0]
        return terms if breakdown else terms["total"]

    def extra_repr(self) -> str:
        return (
            f"preset={self.preset!r}, backbone={self.backbone!r}, taps={self.taps}, "
            f"layer_weights={self.layer_weights}, distance={self.distance!r}, "
            f"normalize={self.normalize!r}, {super().extra_repr()}"
        )
