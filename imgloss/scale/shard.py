"""``--shard I/N``: which pairs one of N jobs scores.

A pair belongs to shard ``blake2b(key) mod N + 1``, where ``key`` is its relative path
as reports show it (``nature/cat.png``), hashed as bytes: the same on every machine,
file system and listing order, so N jobs given the same inputs cover every pair exactly
once. Files found on one side only are split the same way (by their path relative to
their folder), so each is reported by exactly one shard. A sharded run records the
scope of its part (``"1/3"``, the number of pairs of the whole run and a digest of the
whole listing) so that ``imgloss merge`` can check the parts belong together. No torch.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from imgloss.errors import UsageError
from imgloss.io import Pairing

_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """``"2/8"`` -> ``Shard(2, 8)``; anything else (``0/3``, ``4/3``, ``a/b``) is a UsageError."""
        match = _SPEC.fullmatch(text)
        if match is None or not 1 <= int(match[1]) <= int(match[2]):
            raise UsageError(f"--shard must be I/N with 1 <= I <= N (e.g. 2/8 for the 2nd of 8 jobs), got {text!r}")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, key: str) -> bool:
        """Whether the pair (or unmatched file) ``key`` belongs to this shard."""
        return shard_number(key, self.count) == self.index


def shard_number(key: str, count: int) -> int:
    """The shard (1..count) of a relative path: blake2b of its bytes (file names that are
    not valid UTF-8 keep their raw bytes), taken modulo ``count``."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count + 1


def relative_key(path: str | Path, root: str | Path) -> str:
    """The relative POSIX path of ``path`` under ``root`` (the name when ``root`` is the file itself)."""
    path, root = Path(path), Path(root)
    if path == root:
        return path.name
    return path.relative_to(root).as_posix()


def _unsupported_key(path: Path, reference: Path | None, candidate: Path) -> str:
    """The relative key of a file of unsupported type, under whichever folder holds it."""
    for root in (candidate, reference):
        if root is not None and Path(path).is_relative_to(root):
            return relative_key(path, root)
    return Path(path).name


def listing_digest(pairing: Pairing, reference: Path | None, candidate: Path) -> str:
    """A digest of every pair key and every unmatched file of the whole run (before sharding)."""
    digest = hashlib.blake2b(digest_size=16)
    for line in _listing(pairing, reference, candidate):
        digest.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


def _listing(pairing: Pairing, reference: Path | None, candidate: Path) -> Iterable[str]:
    yield from ("pair " + pair.key for pair in pairing.pairs)
    if reference is not None:
        yield from ("reference " + relative_key(p, reference) for p in pairing.unmatched_reference)
    yield from ("candidate " + relative_key(p, candidate) for p in pairing.unmatched_candidate)


def restrict(
    pairing: Pairing, shard: Shard | None, reference: Path | None, candidate: Path
) -> tuple[Pairing, dict[str, Any] | None]:
    """The part of ``pairing`` that ``shard`` scores, and its scope for the reports
    (``{"part": "1/3", "pairs_total": 30, "listing": digest}``; None without a shard)."""
    if shard is None:
        return pairing, None
    scope = {"part": str(shard), "pairs_total": len(pairing.pairs), "listing": listing_digest(pairing, reference, candidate)}
    part = Pairing(
        [pair for pair in pairing.pairs if shard.holds(pair.key)],
        [p for p in pairing.unmatched_reference if reference is not None and shard.holds(relative_key(p, reference))],
        [p for p in pairing.unmatched_candidate if shard.holds(relative_key(p, candidate))],
        [p for p in pairing.unsupported if shard.holds(_unsupported_key(p, reference, candidate))],
    )
    return part, scope
