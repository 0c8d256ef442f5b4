"""Stored results as a finished run: what ``imgloss merge`` and ``imgloss check --from``
hand to :func:`imgloss.run.execute` instead of a scoring engine, so that the rows,
summary, writers and exit code rules are those of a single run. No torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from imgloss.errors import InputError, UsageError
from imgloss.io import Pair, Pairing
from imgloss.metrics.registry import parse_metric_specs, report_columns
from imgloss.report.output import check_destination
from imgloss.report.summary import RunInfo
from imgloss.results import PairResult
from imgloss.run import Prepared
from imgloss.scale.parts import read_part
from imgloss.scale.shard import relative_key


@dataclass
class ReplayStats:
    """The time the stored runs took (seconds), as :func:`imgloss.run.execute` reads it."""

    seconds: float = 0.0


class Replay:
    """An evaluator whose ``run`` yields stored results instead of scoring."""

    def __init__(self, results: Sequence[PairResult], seconds: float = 0.0) -> None:
        self.results = {result.key: result for result in results}
        self.stats = ReplayStats(seconds)

    def run(self, pairs: Sequence[Pair]) -> Iterator[PairResult]:
        """The stored result of each pair, in the order of ``pairs``."""
        for pair in pairs:
            yield self.results[pair.key]


def columns_of(options: dict[str, Any]) -> dict[str, bool]:
    """The report columns of a stored run, from its options: the same columns, in the
    same order, as the run that wrote it."""
    specs = parse_metric_specs(options.get("metrics") or (), options.get("preset"))
    return report_columns(specs, options.get("reference") is not None)


def split_unmatched(paths: Sequence[str], options: dict[str, Any]) -> tuple[list[Path], list[Path]]:
    """Unmatched files as a single run lists them: reference side, then candidate side,
    each sorted by relative path."""
    reference, candidate = options.get("reference"), options.get("candidate")

    def under(path: str, root: str | None) -> bool:
        if root is None:
            return False
        try:
            relative_key(path, root)
            return True
        except ValueError:
            return False

    on_reference = {p for p in paths if under(p, reference)}
    ref = sorted(on_reference, key=lambda p: relative_key(p, reference))  # type: ignore[arg-type]
    cand = sorted(set(paths) - on_reference, key=lambda p: relative_key(p, candidate) if under(p, candidate) else p)
    return [Path(p) for p in ref], [Path(p) for p in cand]


def replayed(
    results: Sequence[PairResult], meta: dict[str, Any], unmatched: Sequence[str], seconds: float = 0.0
) -> Prepared:
    """A prepared run that replays stored ``results`` (in report order) with the run
    metadata ``meta`` (``device``, ``options``, ``warnings``)."""
    options = dict(meta.get("options") or {})
    pairs = [Pair(None if r.reference is None else Path(r.reference), Path(r.candidate), r.key) for r in results]
    only_ref, only_cand = split_unmatched(unmatched, options)
    higher = columns_of(options)
    info = RunInfo(
        columns=list(higher),
        higher_is_better=higher,
        device=str(meta.get("device") or "stored results"),
        options=options,
        warnings=list(meta.get("warnings") or []),
        unmatched=[str(p) for p in only_ref + only_cand],
    )
    return Prepared(Replay(results, seconds), pairs, Pairing(pairs, only_ref, only_cand), info)


def stored_run(path: Path, needed: Sequence[str], output: Path | None) -> Prepared:
    """A prepared replay of one stored result file (``check --from``): a JSON document,
    a finished --resume file or ``merge`` output. ``needed``: the columns
    the caller judges (each must be in the file). Nothing is written before it returns."""
    if output is not None:
        check_destination(output)
        if output.resolve() == path.resolve():
            raise UsageError(f"-o {output} is the file read by --from: give another file name")
    part = read_part(path)
    if part.meta is None:
        raise InputError(path, "plain JSONL has no run metadata (options, unpaired files); give the output of "
                         "--format json, a --resume file or the output of 'imgloss merge'")
    meta = part.meta
    if part.kind == "resume" and len(part.rows) < int(meta.get("pairs", 0)):
        raise InputError(path, f"unfinished: {len(part.rows)} of {meta['pairs']} pairs scored "
                         "(rerun its command with the same --resume, or merge its shards)")
    seconds = float((meta.get("summary") or {}).get("seconds", 0.0))
    prepared = replayed(part.results(), meta, meta.get("unmatched") or [], seconds)
    absent = [column for column in needed if column not in prepared.info.columns]
    if absent:
        raise UsageError(f"{path} has no {', '.join(absent)} values (its columns: {', '.join(prepared.info.columns) or 'none'})")
    return prepared
