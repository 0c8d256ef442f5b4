"""imgloss: compare images with the losses of image restoration and style transfer.

``from imgloss import ssim, CombinedLoss`` works; names load lazily so that importing
the package (and running ``imgloss --help``) does not import torch.
"""
from __future__ import annotations

import importlib
from typing import Any

from imgloss._version import __version__

_LAZY = {"functional": "imgloss.functional", "losses": "imgloss.losses"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(_LAZY[name])
    for module in ("imgloss.functional", "imgloss.losses"):
        mod = importlib.import_module(module)
        if name in mod.__all__:
            return getattr(mod, name)
    raise AttributeError(f"module 'imgloss' has no attribute {name!r}")


__all__ = ["__version__", "functional", "losses"]
