"""The VGG feature extractor shared by ``perceptual``, ``style`` and LPIPS: named ReLU taps
(AlexNet, for LPIPS-Alex, is served the same way; see :mod:`imgloss.features.alexnet`).

:func:`extract_pair` runs x and y through ONE forward of torchvision's VGG16/VGG19
``features`` (a concatenated batch) and returns the requested taps of each. The network
is built only up to the deepest tap requested so far, from verified weights
(:mod:`imgloss.weights.store`; a failure is a :class:`~imgloss.errors.WeightsError`, never a
random network), in eval mode with frozen parameters, and cached for the process per
(backbone, device, dtype, weights file). :func:`cache_info` counts builds, weight loads
and forwards (for tests and benchmarks); :func:`clear_cache` forgets everything.
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
_states: dict[tuple[str, Path], weights_store.Verified] = {}
_networks: dict[tuple[str, str, torch.dtype, Path], tuple[weights_store.Verified, nn.Sequential]] = {}


def cache_info() -> CacheInfo:
    """The counters since the process started (or :func:`clear_cache`)."""
    return CacheInfo(_counters.builds, _counters.loads, _counters.forwards, len(_networks))


def clear_cache() -> None:
    """Drop every cached network and weights state and reset the counters."""
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


def _weights_state(backbone: str, path: Path, explicit: str | None) -> weights_store.Verified:
    """Verified ``features.*`` state of ``path``, loaded once per process.

    A state accepted unverified is reloaded (and so refused) once the
    ``IMGLOSS_ALLOW_UNVERIFIED_WEIGHTS`` switch is off.
    """
    key = (backbone, path)
    cached = _states.get(key)
    if cached is None or (not cached.verified and not weights_store.allow_unverified()):
        cached = _states[key] = weights_store.load(backbone, explicit)
        _counters.loads += 1
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


def _network(backbone: str, depth: int, device: torch.device, dtype: torch.dtype,
             explicit: str | None) -> nn.Sequential:
    path, _ = weights_store.find(backbone, explicit)
    key = (backbone, str(device), dtype, path)
    # Normal tensors even when first called under inference_mode (e.g. the engine's
    # probe): the cached network must also serve training code that needs autograd.
    with _lock, torch.inference_mode(False):
        state = _weights_state(backbone, path, explicit)
        built_from, network = _networks.get(key, (None, None))
        if network is None or built_from is not state or len(network) < depth:
            network = _build(backbone, depth, state).to(device=device, dtype=dtype)
            _networks[key] = (state, network)
            _counters.builds += 1
        return network


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


def extract_pair(
    x: Tensor,
    y: Tensor,
    *,
    backbone: str,
    taps: Sequence[str],
    normalize: str = "imagenet",
    weights: str | None = None,
) -> tuple[Features, Features]:
    """The ``taps`` of x and y from one forward of ``backbone`` (``vgg19`` or ``vgg16``).

    ``x``, ``y``: ``N x C x H x W`` with C = 1 or 3 and values in [0, 1] (callers
    validate); the network runs on their device and dtype. ``normalize="imagenet"``
    applies ImageNet mean/std first; ``"none"`` feeds the input as is. ``weights``
    is an explicit weights file or folder, or None for the resolution order of
    :mod:`imgloss.weights.store`. Returns two dicts tap -> ``N x C_tap x H_tap x W_tap``.
    Gradients flow to x and y; the network's parameters are frozen.
    """
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    indices = tap_indices(backbone, taps)
    depth = max(indices) + 1
    network = _network(backbone, depth, x.device, x.dtype, weights)
    smallest = min_side(network)
    if min(x.shape[-2:]) < smallest:
        raise ValueError(
            f"images of {x.shape[-1]}x{x.shape[-2]} px are too small for {backbone} up to {taps[indices.index(depth - 1)]}: "
            f"it needs at least {smallest} px on each side"
        )
    wanted = dict(zip(indices, taps))
    h = _prepare(torch.cat([x, y]), normalize)
    n = x.shape[0]
    fx: Features = {}
    fy: Features = {}
    for index in range(depth):
        h = network[index](h)
        if index in wanted:
            fx[wanted[index]], fy[wanted[index]] = h[:n], h[n:]
    _counters.forwards += 1
    return fx, fy
