"""VGG weights: where they come from and whether they verify (:mod:`.store`), imgloss's
own cache with import and download (:mod:`.cache`), and checkpoint reading
(:mod:`.checkpoint`). The public API is re-exported here; importing it imports no torch.

The re-exports load on first use (PEP 562), so that the CLI's ``--help``, which needs
only :data:`BACKBONES` from :mod:`.checkpoint`, does not load the cache and the store
(a tenth of its time).
"""
from __future__ import annotations

import importlib
from typing import Any

#: public name -> the submodule that defines it
_EXPORTS = {
    **dict.fromkeys(("Imported", "download", "import_file"), "cache"),
    "BACKBONES": "checkpoint",
    **dict.fromkeys(
        ("ENV_ALLOW_UNVERIFIED", "ENV_CACHE", "ENV_WEIGHTS", "OFFICIAL", "Finding", "Location", "Official",
         "Verified", "allow_unverified", "cache_dir", "find", "load", "locations", "missing_message", "status",
         "torch_hub_dir", "unverified_in_use", "verify"),
        "store",
    ),
}
_SUBMODULES = ("cache", "checkpoint", "store")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS, *_SUBMODULES])


__all__ = sorted(_EXPORTS)
