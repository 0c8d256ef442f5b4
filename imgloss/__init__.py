"""imgloss: compare images with the losses of image restoration and style transfer.

``from imgloss import ssim, CombinedLoss`` works; names load lazily so that importing
the package, any of its torch-free submodules (``from imgloss import config``) and
running ``imgloss --help`` do not import torch.
"""
from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from imgloss._version import __version__

_API = ("imgloss.functional", "imgloss.losses")


def __getattr__(name: str) -> Any:
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")  # a submodule: import only it
    for module in _API:
        mod = importlib.import_module(module)
        if name in mod.__all__:
            return getattr(mod, name)
    raise AttributeError(f"module 'imgloss' has no attribute {name!r}")


__all__ = ["__version__", "functional", "losses"]
