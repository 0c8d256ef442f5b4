"""Whether results of two runs may be joined (``imgloss merge``) or continued
(``--resume``): the same imgloss version and the same options that decide the values.

Options that change only speed (``batch_size``, ``workers``) may differ; so may, for
``merge``, the shard and the per-shard lists of a check's unpaired files, and for
``--resume`` the check's limits (the file keeps raw values; the check judges them
anew). Anything else that differs is named, with both values. No torch.
"""
from __future__ import annotations

from typing import AbstractSet, Any, Mapping

#: Run options that may differ between the parts that ``merge`` joins.
MERGE_FREE = frozenset({"batch_size", "workers", "shard"})
#: Run options that may differ between a ``--resume`` file and the run that continues it.
RESUME_FREE = frozenset({"batch_size", "workers", "check"})
#: Keys of a check's options that are per part (its unpaired files).
FREE_CHECK = frozenset({"missing", "extra"})


def _deciding(options: Mapping[str, Any], free: AbstractSet[str]) -> dict[str, Any]:
    kept = {name: value for name, value in options.items() if name not in free}
    if isinstance(kept.get("shard"), dict):  # named by its part; its listing is checked on its own
        kept["shard"] = kept["shard"].get("part")
    if isinstance(kept.get("check"), dict):
        kept["check"] = {k: v for k, v in kept["check"].items() if k not in FREE_CHECK}
    return kept


def differences(here: Mapping[str, Any], there: Mapping[str, Any], free: AbstractSet[str]) -> list[str]:
    """``["imgloss version: 0.1.0 vs 0.2.0", "metrics: ['ssim'] vs ['psnr']", ...]`` between
    two runs' metadata (``{"imgloss": version, "options": {...}}``), ignoring the options
    in ``free``; empty when joinable."""
    found = []
    if here.get("imgloss") != there.get("imgloss"):
        found.append(f"imgloss version: {here.get('imgloss')} vs {there.get('imgloss')}")
    a, b = _deciding(here.get("options") or {}, free), _deciding(there.get("options") or {}, free)
    for name in dict.fromkeys([*a, *b]):
        if a.get(name) != b.get(name):
            found.append(f"{name}: {a.get(name)!r} vs {b.get(name)!r}")
    return found
