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

from functools import lru_cache
from typing import Any, ClassVar, Sequence

import torch
from torch import Tensor, nn

from imgloss.features import vgg
from imgloss.features.vgg import NORMALIZATIONS, tap_indices
from imgloss.metrics._base import MetricLoss, Reduction, check_reduction, reduce
from imgloss.metrics._checks import check_pair, check_positive
from imgloss.metrics.registry import get_preset

Features = dict[str, Tensor]



class FeatureLoss(MetricLoss):
    """Base of feature-network losses. Subclasses set ``backbone`` (``vgg19``/``vgg16``/
    ``alexnet``), ``normalize`` (``imagenet``/``none``) and ``taps``, call
    :meth:`attach_network` once they are known, and implement :meth:`from_features`.

    The feature network is the registered submodule ``self.network``: the shared
    :func:`imgloss.features.vgg.network` of ``weights`` (an explicit file, or None for the
    usual resolution order) built on ``device``/``dtype``, or the user's own ``extractor``
    (an ``nn.Module`` whose ``forward(x)`` returns a dict holding every tap). It is
    non-persistent: ``state_dict()`` leaves it out and ``load_state_dict()`` neither
    expects nor loads it, while ``.to()``, ``.half()`` and DDP see it as usual.
    """

    backbone: str
    normalize: str
    taps: tuple[str, ...]
    network: nn.Module

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
        self._load_prefix = ""
        self.register_state_dict_post_hook(_leave_out_network)
        self.register_load_state_dict_pre_hook(_skip_network_keys)
        self.register_load_state_dict_post_hook(_network_not_missing)

    def attach_network(
        self, extractor: nn.Module | None, device: torch.device | str | None, dtype: torch.dtype | None
    ) -> None:
        """Register ``extractor``, or the shared network of ``backbone`` and ``weights`` on
        ``device`` (default CPU) and ``dtype`` (default float32), as ``self.network``."""
        if extractor is None:
            extractor = vgg.network(self.backbone, self.weights, device or "cpu", dtype or torch.float32)
        elif not isinstance(extractor, nn.Module):
            raise TypeError(f"extractor must be an nn.Module, got {type(extractor).__name__}")
        self.network = extractor

    def network_key(self) -> tuple[int, str]:
        """Losses with equal keys share one forward (same network, same normalisation)."""
        return (id(self.network), self.normalize)

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
    groups: dict[tuple[int, str], list[int]] = {}
    for index, loss in enumerate(losses):
        groups.setdefault(loss.network_key(), []).append(index)
    for (_, normalize), members in groups.items():
        taps = tuple(dict.fromkeys(tap for i in members for tap in losses[i].taps))
        pair = vgg.pair_features(losses[members[0]].network, x, y, taps, normalize)
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


def functional_module(cls: type[FeatureLoss], x: Tensor, *args: Any, **options: Any) -> FeatureLoss:
    """The module behind a functional call (``perceptual()``, ``style()``, ``lpips()``):
    ``cls(*args, **options)`` with its network on x's device and dtype, built once per
    option set and reused (no module, weights lookup or file ``stat`` per call)."""
    frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items()))
    return _functional_module(cls, args, frozen, x.device, x.dtype, vgg.cache_token())


@lru_cache(maxsize=32)
def _functional_module(
    cls: type[FeatureLoss], args: tuple[Any, ...], options: tuple[tuple[str, Any], ...],
    device: torch.device, dtype: torch.dtype, _token: tuple[int, bool],
) -> FeatureLoss:
    return cls(*args, **dict(options), device=device, dtype=dtype)  # type: ignore[call-arg]


def _leave_out_network(module: FeatureLoss, state: dict[str, Any], prefix: str, _metadata: Any) -> None:
    for key in [k for k in state if k.startswith(prefix + "network.")]:
        del state[key]


def _skip_network_keys(module: FeatureLoss, state: dict[str, Any], prefix: str, *_: Any) -> None:
    """Never load into the (shared, verified) network; remember where it sits."""
    module._load_prefix = prefix
    for key in [k for k in state if k.startswith(prefix + "network.")]:
        del state[key]


def _network_not_missing(module: FeatureLoss, incompatible: Any) -> None:
    own = module._load_prefix + "network."
    incompatible.missing_keys[:] = [k for k in incompatible.missing_keys if not k.startswith(own)]


def _total(terms: dict[str, Tensor]) -> Tensor:
    return torch.stack(list(terms.values())).sum(dim=0)


class VGGMetricLoss(FeatureLoss):
    """Base of :class:`PerceptualLoss` and :class:`StyleLoss`.

    ``preset`` names a registry preset of ``metric``; every other option, when given,
    overrides it. Taps given without ``layer_weights`` weigh 1 each. ``weights`` is an
    explicit VGG weights file (None: the resolution order of :mod:`imgloss.weights.store`).
    ``extractor``: your own feature network instead of the VGG (an ``nn.Module`` whose
    ``forward(x)`` returns a dict holding every tap; its tap names are then free);
    ``device``/``dtype``: where the shared VGG is built (as PyTorch's factory keywords;
    ``.to()`` moves it later as usual).
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
        extractor: nn.Module | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(reduction, weights, data_range=data_range, check_values=check_values)
        base = get_preset(self.metric, preset)
        self.preset = preset
        self.backbone = backbone or base.backbone
        self.taps = tuple(taps) if taps is not None else base.taps
        if extractor is None:
            tap_indices(self.backbone, self.taps)
        elif not self.taps:
            raise ValueError("taps must name at least one layer")
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
        self.attach_network(extractor, device, dtype)

    @classmethod
    def compute(
        cls, x: Tensor, y: Tensor, preset: str, *, breakdown: bool, reduction: str, **options: object
    ) -> Tensor | dict[str, Tensor]:
        """The functional form (``perceptual()``, ``style()``): values of x against y,
        or the per-tap breakdown, reduced by ``reduction``."""
        check_reduction(reduction)
        values = functional_module(cls, x, preset, **options).evaluate(x, y, breakdown)  # type: ignore[attr-defined]
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
