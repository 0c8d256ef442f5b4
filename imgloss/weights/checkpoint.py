"""Read one VGG checkpoint file safely and say exactly what is wrong with it.

Owns the file-level checks: emptiness, format (a torch zip archive or a legacy pickle),
truncation, safe loading with ``torch.load(weights_only=True)`` (a pickle that asks to
call code is refused and never run), and the exact key set, tensor shapes and dtypes of
torchvision's VGG16/VGG19/AlexNet state dicts and of LPIPS's linear layers. It knows nothing about where files live or which
hashes are official (that is :mod:`imgloss.weights.store`). Importing it does not import torch.
"""
from __future__ import annotations

import hashlib
import re
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from imgloss.errors import WeightsError

if TYPE_CHECKING:
    from torch import Tensor

StateDict = dict[str, "Tensor"]

#: torchvision's ``cfgs`` ("D" = VGG16, "E" = VGG19): conv widths, ``M`` = max-pool.
_CONFIGS: dict[str, tuple[int | str, ...]] = {
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
              512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}
#: The classifier of a full torchvision VGG checkpoint (features are 512 x 7 x 7).
_CLASSIFIER: dict[str, tuple[int, ...]] = {
    "classifier.0.weight": (4096, 512 * 7 * 7), "classifier.0.bias": (4096,),
    "classifier.3.weight": (4096, 4096), "classifier.3.bias": (4096,),
    "classifier.6.weight": (1000, 4096), "classifier.6.bias": (1000,),
}
#: torchvision's AlexNet: ``features`` (conv 11/4, 5, 3, 3, 3) and its classifier (256 x 6 x 6 in).
_ALEXNET_FEATURES: dict[str, tuple[int, ...]] = {
    "features.0.weight": (64, 3, 11, 11), "features.0.bias": (64,),
    "features.3.weight": (192, 64, 5, 5), "features.3.bias": (192,),
    "features.6.weight": (384, 192, 3, 3), "features.6.bias": (384,),
    "features.8.weight": (256, 384, 3, 3), "features.8.bias": (256,),
    "features.10.weight": (256, 256, 3, 3), "features.10.bias": (256,),
}
_ALEXNET_CLASSIFIER: dict[str, tuple[int, ...]] = {
    "classifier.1.weight": (4096, 256 * 6 * 6), "classifier.1.bias": (4096,),
    "classifier.4.weight": (4096, 4096), "classifier.4.bias": (4096,),
    "classifier.6.weight": (1000, 4096), "classifier.6.bias": (1000,),
}
#: LPIPS v0.1's linear calibration layers (``lpips`` package ``weights/v0.1/{vgg,alex}.pth``):
#: one 1x1 convolution without bias per tap, keys ``lin{i}.model.1.weight``.
_LPIPS_WIDTHS = {"lpips-vgg": (64, 128, 256, 512, 512), "lpips-alex": (64, 192, 384, 256, 256)}
BACKBONES = (*_CONFIGS, "alexnet", *_LPIPS_WIDTHS)

_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MAGIC = b"\x80"  # every pickle of protocol >= 2 starts with the PROTO opcode
_BLOCKED_GLOBAL = re.compile(r"GLOBAL (\S+)")
_SAFE_MODULES = ("torch", "collections")  # what a checkpoint's pickle legitimately imports


class CheckpointError(WeightsError):
    """A weights file that cannot be used; ``reason`` is a short human phrase."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def feature_shapes(backbone: str) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the tensors imgloss keeps of ``backbone``'s file: torchvision's
    ``features.*`` (VGG, AlexNet), or every LPIPS linear layer (``lpips-vgg``, ``lpips-alex``)."""
    if backbone == "alexnet":
        return dict(_ALEXNET_FEATURES)
    if backbone in _LPIPS_WIDTHS:
        return {f"lin{i}.model.1.weight": (1, width, 1, 1) for i, width in enumerate(_LPIPS_WIDTHS[backbone])}
    shapes: dict[str, tuple[int, ...]] = {}
    index, channels = 0, 3
    for item in _CONFIGS[backbone]:
        if item == "M":
            index += 1  # max-pool
            continue
        width = int(item)
        shapes[f"features.{index}.weight"] = (width, channels, 3, 3)
        shapes[f"features.{index}.bias"] = (width,)
        index, channels = index + 2, width  # conv + ReLU
    return shapes


def _classifier(backbone: str) -> dict[str, tuple[int, ...]]:
    """The tensors a full file has beyond :func:`feature_shapes` (none for LPIPS layers)."""
    if backbone in _LPIPS_WIDTHS:
        return {}
    return _ALEXNET_CLASSIFIER if backbone == "alexnet" else _CLASSIFIER


def full_shapes(backbone: str) -> dict[str, tuple[int, ...]]:
    """Key -> shape of a full checkpoint (torchvision: features and classifier)."""
    return {**feature_shapes(backbone), **_classifier(backbone)}


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in ``chunk``-byte blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _check_format(path: Path) -> None:
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(path, "empty file (0 bytes)")
    with open(path, "rb") as stream:
        head = stream.read(4)
    if head == _ZIP_MAGIC:
        if not zipfile.is_zipfile(path):
            raise CheckpointError(
                path, f"truncated: the zip archive ends early at {size} bytes (an interrupted download or copy?)"
            )
    elif not head.startswith(_PICKLE_MAGIC):
        raise CheckpointError(
            path, "not a PyTorch checkpoint: neither a zip archive nor a pickle (random bytes or another format)"
        )


def _foreign_global(path: Path) -> str | None:
    """The first global a plain (non-zip) pickle file imports outside torch and
    collections, read with :mod:`pickletools` (which never executes anything)."""
    import pickletools

    if zipfile.is_zipfile(path):
        return None  # torch names the blocked global of a zip checkpoint itself
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(path.read_bytes()):
            if isinstance(arg, str):
                strings.append(arg)
            name = None
            if opcode.name == "GLOBAL":
                name = str(arg).replace(" ", ".")
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                name = f"{strings[-2]}.{strings[-1]}"
            if name and name.split(".")[0] not in _SAFE_MODULES:
                return name
    except ValueError:
        return None  # not a parseable pickle: reported as corrupt
    return None


def read_state_dict(path: str | Path) -> StateDict:
    """Load a checkpoint with ``torch.load(weights_only=True)``; never runs pickled code.

    Raises :class:`CheckpointError` naming the problem: empty, truncated, not a
    checkpoint, a pickle that asks to call code, or not a dict of tensors.
    """
    import pickle

    import torch

    path = Path(path)
    _check_format(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's protocol-version notes are noise here
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        blocked = _BLOCKED_GLOBAL.search(str(exc))
        called = blocked.group(1) if blocked else _foreign_global(path)
        if called:
            raise CheckpointError(
                path, f"refused: the pickle asks to call {called} (code in a weights file; it was not run)"
            ) from None
        raise CheckpointError(path, "not a valid checkpoint: the pickle stream is corrupt or holds non-tensor data") from None
    except (EOFError, OSError, RuntimeError, ValueError) as exc:
        raise CheckpointError(path, f"truncated or corrupt checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CheckpointError(path, f"not a state dict of tensors (got {type(state).__name__})")
    return state


def _listing(names: set[str], limit: int = 4) -> str:
    ordered = sorted(names)
    more = f" and {len(ordered) - limit} more" if len(ordered) > limit else ""
    return ", ".join(ordered[:limit]) + more


def _key_problem(state: StateDict, backbone: str) -> str | None:
    keys = set(state)
    expected = feature_shapes(backbone)
    if keys == set(expected) or keys == set(full_shapes(backbone)):
        return None
    if keys & set(_classifier(backbone)):
        expected = full_shapes(backbone)
    parts = []
    if missing := set(expected) - keys:
        parts.append(f"missing {_listing(missing)}")
    if unexpected := keys - set(expected):
        parts.append(f"unexpected {_listing(unexpected)}")
    return f"wrong keys for {describe(backbone)}: " + "; ".join(parts)


def describe(backbone: str) -> str:
    """``torchvision VGG19``, ``torchvision ALEXNET``, ``LPIPS v0.1 VGG linear layers``."""
    if backbone in _LPIPS_WIDTHS:
        return f"LPIPS v0.1 {backbone.split('-')[1].upper()} linear layers"
    return f"torchvision {backbone.upper()}"


def check_layout(path: str | Path, state: StateDict, backbone: str) -> None:
    """Demand torchvision's exact ``backbone`` key set (features only, or features and
    classifier), every tensor's shape and a floating dtype; else :class:`CheckpointError`."""
    problem = _key_problem(state, backbone)
    if problem:
        raise CheckpointError(path, problem)
    expected = full_shapes(backbone)
    for key in sorted(state, key=lambda k: tuple(int(p) if p.isdigit() else p for p in k.split("."))):
        tensor = state[key]
        if tuple(tensor.shape) != expected[key]:
            raise CheckpointError(
                path, f"wrong tensor shapes: {key} is {tuple(tensor.shape)}, {describe(backbone)} "
                f"has {expected[key]}"
            )
        if not tensor.is_floating_point():
            raise CheckpointError(path, f"wrong tensor dtype: {key} is {tensor.dtype}, expected floating point")


def detect_backbone(path: str | Path, state: StateDict) -> str:
    """The backbone whose key set ``state`` has; :class:`CheckpointError` if none."""
    for backbone in BACKBONES:
        if _key_problem(state, backbone) is None:
            return backbone
    raise CheckpointError(
        path, f"wrong keys: matches none of {', '.join(map(describe, BACKBONES))} (keys {_listing(set(state))})"
    )


def features_only(state: StateDict, backbone: str) -> StateDict:
    """The tensors imgloss keeps of ``backbone``'s state dict (drops a classifier)."""
    kept = feature_shapes(backbone)
    return {key: value for key, value in state.items() if key in kept}
