"""The VGG feature extractor shared by ``perceptual``, ``style`` and LPIPS: named ReLU taps
(AlexNet, for LPIPS-Alex, is served the same way; see :mod:`imgloss.features.alexnet`).

A :class:`FeatureNetwork` is torchvision's VGG16/VGG19 (or AlexNet) ``features`` up to
the deepest named tap, from verified weights (:mod:`imgloss.weights.store`; a failure is a
:class:`~imgloss.errors.WeightsError`, never a random network), frozen and always in eval
mode. :func:`network` hands out ONE instance per (backbone, weights file, device, dtype):
the feature losses register it as a submodule (``loss.network``), so two losses built
on the same weights file share it, and ``.to()``/``.half()`` move it as PyTorch users
expect (a moved network is found again under its new device and dtype). Weights files are
read once per process (:func:`cache_info` counts builds, weight loads and forwards;
:func:`clear_cache` forgets everything).

:func:`pair_features` runs x and y through ONE forward (a concatenated batch) of any
feature extractor: a :class:`FeatureNetwork`, or a user's own ``nn.Module`` whose
``forward(x)`` returns a dict tap -> features (e.g. torchvision's
``create_feature_extractor``). :func:`extract_pair` does the same from a backbone name.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor, nn

from imgloss import weights as weights_store
from imgloss.errors import WeightsError
from imgloss.features import alexnet

#: Tap name -> index in torchvision's ``features`` (the output of that ReLU).
#: AlexNet (LPIPS-Alex) is described in :mod:`imgloss.features.alexnet` and served the same way.
TAPS: dict[str, dict[str, int]] = {
    "vgg19": {"relu1_1": 1, "relu1_2": 3, "relu2_1": 6, "relu2_2": 8, "relu3_1": 11,
              "relu3_4": 17, "relu4_1": 20, "relu4_4": 26, "relu5_1": 29},
    "vgg16": {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22, "relu5_3": 29},
    "alexnet": alexnet.TAPS,
}
NORMALIZATIONS = ("imagenet", "none")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

Features = dict[str, Tensor]


@dataclass(frozen=True)
class CacheInfo:
    """Process-wide counters: networks ``builds``, verified weight ``loads``,
    ``forwards`` run, and ``networks`` held in the cache now."""

    builds: int
    loads: int
    forwards: int
    networks: int


@dataclass
class _Counters:
    builds: int = 0
    loads: int = 0
    forwards: int = 0


_lock = threading.Lock()
_counters = _Counters()
_states: dict[tuple[str, Path], tuple[int, weights_store.Verified]] = {}
_networks: dict[tuple[str, Path], list["FeatureNetwork"]] = {}
_epoch = [0]


def cache_info() -> CacheInfo:
    """The counters since the process started (or :func:`clear_cache`)."""
    return CacheInfo(_counters.builds, _counters.loads, _counters.forwards, sum(map(len, _networks.values())))


def cache_token() -> tuple[int, bool]:
    """Changes whenever a cached network may no longer be handed out (after
    :func:`clear_cache`, or when the unverified-weights switch flips): callers that keep
    networks in caches of their own key them on it."""
    return (_epoch[0], weights_store.allow_unverified())


def clear_cache() -> None:
    """Drop every cached network and weights state and reset the counters."""
    _epoch[0] += 1
    with _lock:
        _states.clear()
        _networks.clear()
        _counters.builds = _counters.loads = _counters.forwards = 0


def tap_indices(backbone: str, taps: Sequence[str]) -> list[int]:
    """``features`` indices of ``taps``; ``ValueError`` naming the valid taps otherwise."""
    if backbone not in TAPS:
        raise ValueError(f"backbone must be one of {', '.join(TAPS)}, got {backbone!r}")
    if not taps:
        raise ValueError("taps must name at least one layer")
    known = TAPS[backbone]
    unknown = [tap for tap in taps if tap not in known]
    if unknown:
        raise ValueError(f"unknown {backbone} taps {', '.join(map(repr, unknown))}; valid: {', '.join(known)}")
    return [known[tap] for tap in taps]


def _weights_state(backbone: str, path: Path, explicit: str | None) -> tuple[int, weights_store.Verified]:
    """Verified ``features.*`` state of ``path``, loaded once per process, with its load
    number (networks built from an older load of the same file are not handed out again).

    A state accepted unverified is reloaded (and so refused) once the
    ``IMGLOSS_ALLOW_UNVERIFIED_WEIGHTS`` switch is off.
    """
    key = (backbone, path)
    cached = _states.get(key)
    if cached is None or (not cached[1].verified and not weights_store.allow_unverified()):
        loaded = weights_store.load(backbone, explicit)
        _counters.loads += 1
        cached = _states[key] = (_counters.loads, loaded)
    return cached


def _build(backbone: str, depth: int, state: weights_store.Verified) -> nn.Sequential:
    """torchvision's ``features[:depth]`` holding ``state``'s tensors; never random.

    The layers are created on the meta device (no memory, no initialisation) and the
    verified tensors are assigned in; a mismatch is a :class:`WeightsError`.
    """
    import torchvision

    constructor = {"vgg19": torchvision.models.vgg19, "vgg16": torchvision.models.vgg16,
                   "alexnet": alexnet.constructor()}[backbone]
    with torch.device("meta"):
        layers = constructor(weights=None).features[:depth]
    prefix = "features."
    tensors = {
        key[len(prefix):]: value
        for key, value in state.state.items()
        if int(key.split(".")[1]) < depth
    }
    try:
        layers.load_state_dict(tensors, strict=True, assign=True)
    except RuntimeError as exc:
        raise WeightsError(f"{state.path}: cannot load into torchvision {backbone}: {exc}") from None
    return layers.eval().requires_grad_(False)


class FeatureNetwork(nn.Module):
    """A frozen backbone up to its deepest named tap (:data:`TAPS`); always in eval mode.

    ``forward(x, taps)``: ``x`` is ``N x 3 x H x W`` already normalised; returns a dict
    tap -> ``N x C_tap x H_tap x W_tap``, running only as deep as the deepest tap asked
    for. Gradients flow to ``x``; the parameters never require one.
    """

    def __init__(self, backbone: str, layers: nn.Sequential, source: Path, generation: int = 0) -> None:
        super().__init__()
        self.backbone = backbone
        self.source = source
        self.generation = generation
        self.layers = layers

    def train(self, mode: bool = True) -> "FeatureNetwork":
        """Stays in eval mode whatever the owner asks (a frozen feature extractor)."""
        return super().train(False)

    def forward(self, x: Tensor, taps: Sequence[str]) -> Features:
        indices = tap_indices(self.backbone, taps)
        depth = max(indices) + 1
        need = min_side(self.layers[:depth])
        if min(x.shape[-2:]) < need:
            raise ValueError(
                f"images of {x.shape[-1]}x{x.shape[-2]} px are too small for {self.backbone} up to "
                f"{taps[indices.index(depth - 1)]}: it needs at least {need} px on each side"
            )
        wanted = dict(zip(indices, taps))
        out: Features = {}
        for index in range(depth):
            x = self.layers[index](x)
            if index in wanted:
                out[wanted[index]] = x
        return out

    def extra_repr(self) -> str:
        return f"backbone={self.backbone!r}, source={str(self.source)!r}"


def _placed(candidate: FeatureNetwork, device: torch.device, dtype: torch.dtype) -> bool:
    first = next(candidate.parameters())
    return first.device == device and first.dtype == dtype


def network(
    backbone: str, weights: str | None = None, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> FeatureNetwork:
    """The shared :class:`FeatureNetwork` of ``backbone`` from ``weights`` (an explicit file or
    folder, or None for the resolution order of :mod:`imgloss.weights.store`) on ``device``
    and ``dtype``: built once per weights file, device and dtype, the file read and verified
    once. Raises :class:`~imgloss.errors.WeightsError` (missing, unverified, broken weights)."""
    if backbone not in TAPS:
        raise ValueError(f"backbone must be one of {', '.join(TAPS)}, got {backbone!r}")
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    path, _ = weights_store.find(backbone, weights)
    # Normal tensors even when first called under inference_mode (e.g. the engine's
    # probe): the shared network must also serve training code that needs autograd.
    with _lock, torch.inference_mode(False):
        generation, state = _weights_state(backbone, path, weights)
        held = _networks.setdefault((backbone, path), [])
        for candidate in held:
            if candidate.generation == generation and _placed(candidate, device, dtype):
                return candidate
        depth = max(TAPS[backbone].values()) + 1
        layers = _build(backbone, depth, state)
        built = FeatureNetwork(backbone, layers, path, generation).to(device=device, dtype=dtype)
        held[:] = [c for c in held if c.generation == built.generation] + [built]
        _counters.builds += 1
        return built


def min_side(layers: nn.Sequential) -> int:
    """The smallest input side for which every convolution and pooling of ``layers``
    still has a full window (VGG: 2 ** pools; AlexNet to relu5: 31)."""
    need = 1
    for layer in reversed(list(layers)):
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
            kernel, stride, padding = (
                v if isinstance(v, int) else v[0] for v in (layer.kernel_size, layer.stride, layer.padding)
            )
            need = max(1, (need - 1) * stride + kernel - 2 * padding)
    return need


def _prepare(x: Tensor, normalize: str) -> Tensor:
    """Gray to 3 channels, then ImageNet normalisation (or none)."""
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] != 3:
        raise ValueError(f"VGG features need 1 or 3 channels, got {x.shape[1]} (shape {tuple(x.shape)})")
    if normalize == "none":
        return x
    mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def pair_features(
    extractor: nn.Module, x: Tensor, y: Tensor, taps: Sequence[str], normalize: str = "imagenet"
) -> tuple[Features, Features]:
    """The ``taps`` of x and y from ONE forward of ``extractor`` on their concatenation.

    ``x``, ``y``: ``N x C x H x W``, C = 1 or 3 (gray is repeated), values in [0, 1]
    (callers validate). ``normalize="imagenet"`` applies ImageNet mean/std first;
    ``"none"`` feeds the input as is. ``extractor``: a :class:`FeatureNetwork`, or any
    ``nn.Module`` whose ``forward(x)`` returns a dict holding every tap.
    Returns two dicts tap -> ``N x C_tap x H_tap x W_tap``.
    """
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    h = _prepare(torch.cat([x, y]), normalize)
    if isinstance(extractor, FeatureNetwork):
        features = extractor(h, taps)
    else:
        features = extractor(h)
        missing = [tap for tap in taps if not isinstance(features, dict) or tap not in features]
        if missing:
            raise ValueError(f"the feature extractor's output has no taps {', '.join(map(repr, missing))}")
    _counters.forwards += 1
    n = x.shape[0]
    return {tap: features[tap][:n] for tap in taps}, {tap: features[tap][n:] for tap in taps}


def extract_pair(
    x: Tensor,
    y: Tensor,
    *,
    backbone: str,
    taps: Sequence[str],
    normalize: str = "imagenet",
    weights: str | None = None,
) -> tuple[Features, Features]:
    """:func:`pair_features` with the shared :func:`network` of ``backbone``
    (``vgg19``, ``vgg16`` or ``alexnet``) on x's device and dtype."""
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
    tap_indices(backbone, taps)
    if x.shape[1] not in (1, 3):
        raise ValueError(f"VGG features need 1 or 3 channels, got {x.shape[1]} (shape {tuple(x.shape)})")
    return pair_features(network(backbone, weights, x.device, x.dtype), x, y, taps, normalize)
