"""``imgloss merge``: join the parts of one run (shard outputs, --resume files) into the
result a single run would have given: the same rows in the same order (by relative
path), the same unmatched files, options and summary (only the time is the sum of
the parts' times).

Refused, naming what is wrong: a part that cannot be read or is corrupt (exit 3), parts
from other versions or options (exit 2), sharded and unsharded parts together, parts
of different splits or listings (exit 2), a pair in two parts, pairs no part has
(exit 3; named when the inputs can still be listed). No torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from imgloss.errors import ImglossError, InputError, UsageError
from imgloss.io import Pairing, list_images, pair_inputs
from imgloss.options import PAIRING
from imgloss.results import PairResult
from imgloss.run import Prepared
from imgloss.scale.compat import MERGE_FREE, differences
from imgloss.scale.parts import Part, read_part
from imgloss.scale.replay import replayed, split_unmatched
from imgloss.scale.shard import listing_digest

#: How many names an error message lists before "and N more".
SHOWN = 5


def shown(names: Sequence[str]) -> str:
    """``a, b, c`` or ``a, b, c, d, e and 7 more``."""
    head = ", ".join(names[:SHOWN])
    return head + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


@dataclass
class Merged:
    """The whole run: its replay, its number of pairs and the digest of its listing (None
    when no part recorded it: a JSON document of an unsharded run)."""

    prepared: Prepared
    pairs: int
    listing: str | None

    @property
    def results(self) -> list[PairResult]:
        """The whole run's results, in report order."""
        return list(self.prepared.evaluator.results.values())


def merge_parts(paths: Sequence[Path]) -> Merged:
    """Read, check and join ``paths`` into a prepared replay of the whole run."""
    parts = [read_part(Path(path)) for path in paths]
    for part in parts:
        if part.meta is None:
            raise InputError(part.path, "plain JSONL has no run metadata to check it against the other parts; "
                             "merge the outputs of --format json or the --resume files")
    first = parts[0]
    for part in parts[1:]:
        found = differences(first.meta, part.meta, MERGE_FREE)  # type: ignore[arg-type]
        if found:
            raise UsageError(f"cannot merge {part.path} with {first.path}: made with other options "
                             f"({first.path} vs {part.path}: {'; '.join(found)})")
    expected = _check_scopes(parts)
    results = _join(parts)
    if len(results) < expected:
        raise InputError("merge", _missing_message(parts, results, expected))
    prepared = replayed(results, _merged_meta(parts), _union(p.meta.get("unmatched") or [] for p in parts),  # type: ignore[union-attr]
                        seconds=sum(float((p.meta.get("summary") or {}).get("seconds", 0.0)) for p in parts))  # type: ignore[union-attr]
    scope = parts[0].options.get("shard")
    return Merged(prepared, len(results), scope["listing"] if scope else parts[0].meta.get("listing"))  # type: ignore[union-attr]


def _check_scopes(parts: list[Part]) -> int:
    """The number of pairs the whole run has; refuses parts that are not one split of one listing."""
    scopes = [part.options.get("shard") for part in parts]
    if all(scope is None for scope in scopes):
        return max(_expected_rows(part) for part in parts)
    unsharded = [str(part.path) for part, scope in zip(parts, scopes) if scope is None]
    if unsharded:
        raise UsageError(f"cannot merge unsharded {shown(unsharded)} with shards (--shard I/N) of a run")
    for field in ("pairs_total", "listing"):
        values = {scope[field] for scope in scopes}  # type: ignore[index]
        if len(values) > 1:
            what = "inputs listed differently (files added or removed between shards)" if field == "listing" else "different pair counts"
            raise UsageError(f"cannot merge: the parts come from {what}: "
                             + "; ".join(f"{p.path}: {s[field]}" for p, s in zip(parts, scopes)))  # type: ignore[index]
    counts = {scope["part"].split("/")[1] for scope in scopes}  # type: ignore[index]
    if len(counts) > 1:
        raise UsageError("cannot merge shards of different splits: "
                         + ", ".join(f"{p.path} is {s['part']}" for p, s in zip(parts, scopes)))  # type: ignore[index]
    return int(scopes[0]["pairs_total"])  # type: ignore[index]


def _expected_rows(part: Part) -> int:
    """The pairs a part should hold: a resume file's header says; a JSON document is whole."""
    return int(part.meta.get("pairs", len(part.rows))) if part.kind == "resume" else len(part.rows)  # type: ignore[union-attr]


def _join(parts: list[Part]) -> list[PairResult]:
    """Every part's results in report order (by relative path); a pair in two parts is an InputError."""
    owner: dict[str, Path] = {}
    results: list[PairResult] = []
    duplicates: list[str] = []
    for part in parts:
        for result in part.results():
            if result.key in owner:
                duplicates.append(f"{result.key} (in {owner[result.key]} and {part.path})")
                continue
            owner[result.key] = part.path
            results.append(result)
    if duplicates:
        raise InputError("merge", f"{len(duplicates)} pair(s) in more than one part: {shown(duplicates)}")
    return sorted(results, key=lambda result: result.key)


def _missing_message(parts: list[Part], results: list[PairResult], expected: int) -> str:
    """How many pairs no part has, which shards or parts lack them, and their names when
    the inputs can still be listed as the parts listed them."""
    reasons = []
    scopes = [part.options.get("shard") for part in parts]
    if scopes[0] is not None:
        count = int(scopes[0]["part"].split("/")[1])
        have = {int(scope["part"].split("/")[0]) for scope in scopes}
        absent = [f"{i}/{count}" for i in range(1, count + 1) if i not in have]
        if absent:
            reasons.append(f"no part for shard {shown(absent)}")
    for part in parts:
        if part.kind == "resume" and len(part.rows) < _expected_rows(part):
            reasons.append(f"{part.path} is unfinished ({len(part.rows)} of {_expected_rows(part)} pairs; "
                           "rerun its command with the same --resume)")
    names = _missing_names(parts[0], {r.key for r in results})
    if names:
        reasons.append(shown(names))
    return f"{expected - len(results)} of {expected} pair(s) missing: {'; '.join(reasons)}"


def _missing_names(part: Part, present: set[str]) -> list[str]:
    """The keys of the whole run that no part has, when its inputs still list as they did."""
    options = part.options
    try:
        reference, candidate = options.get("reference"), Path(options["candidate"])
        pairing_options = {name: options[name] for name in PAIRING if name in options}
        if reference is None:
            pairing_options.pop("ignore_extension", None)
            pairing = Pairing(list_images(candidate, **pairing_options), [], [])
        else:
            pairing = pair_inputs(Path(reference), candidate, **pairing_options)
    except (ImglossError, KeyError, OSError, TypeError):
        return []
    scope = options.get("shard")
    if scope is not None and listing_digest(pairing, None if reference is None else Path(reference), candidate) != scope["listing"]:
        return []
    return [pair.key for pair in pairing.pairs if pair.key not in present]


def _union(lists: Any) -> list[str]:
    return list(dict.fromkeys(item for items in lists for item in items))


def _merged_meta(parts: list[Part]) -> dict[str, Any]:
    """The metadata of the whole run: the first part's options without its shard, every
    part's devices, warnings and (for check) unpaired files."""
    metas = [part.meta for part in parts]
    options = {**metas[0]["options"], "shard": None}  # type: ignore[index]
    check = options.get("check")
    if isinstance(check, dict):
        missing = _union(m["options"]["check"].get("missing") or [] for m in metas)  # type: ignore[index]
        extra = _union(m["options"]["check"].get("extra") or [] for m in metas)  # type: ignore[index]
        ordered = split_unmatched(missing + extra, options)
        options["check"] = {**check, "missing": [str(p) for p in ordered[0]], "extra": [str(p) for p in ordered[1]]}
    return {
        "device": ", ".join(dict.fromkeys(str(m.get("device")) for m in metas)),  # type: ignore[union-attr]
        "options": options,
        "warnings": _union(m.get("warnings") or [] for m in metas),  # type: ignore[union-attr]
    }
