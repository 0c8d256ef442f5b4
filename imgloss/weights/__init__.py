"""VGG weights: where they come from and whether they verify (:mod:`.store`), imgloss's
own cache with import and download (:mod:`.cache`), and checkpoint reading
(:mod:`.checkpoint`). The public API is re-exported here; importing it imports no torch.
"""
from imgloss.weights.cache import Imported, download, import_file
from imgloss.weights.checkpoint import BACKBONES
from imgloss.weights.store import (
    ENV_ALLOW_UNVERIFIED,
    ENV_CACHE,
    ENV_WEIGHTS,
    OFFICIAL,
    Finding,
    Location,
    Official,
    Verified,
    allow_unverified,
    cache_dir,
    find,
    load,
    locations,
    missing_message,
    status,
    torch_hub_dir,
    unverified_in_use,
    verify,
)

__all__ = [
    "BACKBONES",
    "ENV_ALLOW_UNVERIFIED",
    "ENV_CACHE",
    "ENV_WEIGHTS",
    "Finding",
    "Imported",
    "Location",
    "OFFICIAL",
    "Official",
    "Verified",
    "allow_unverified",
    "cache_dir",
    "download",
    "find",
    "import_file",
    "load",
    "locations",
    "missing_message",
    "status",
    "torch_hub_dir",
    "unverified_in_use",
    "verify",
]
