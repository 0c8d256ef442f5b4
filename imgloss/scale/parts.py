"""Stored results read back: the files ``imgloss merge`` and ``imgloss check --from`` take.

Three kinds of file are read:

- a JSON document (``--format json``): run metadata (version, options, device,
  warnings, unmatched) and every result;
- a resume file (``--resume FILE.jsonl``): a header line ``{"imgloss_resume": 1, ...}``
  with the same metadata, then one result object per line;
- plain JSONL (``--format jsonl``): result objects only, no metadata.

``imgloss merge --format jsonl`` writes the second kind (:class:`PartWriter`): a finished
resume file, which ``check --from`` and a later ``--resume`` of the whole run accept.

A line cut short by a crash (the last line, with no newline) is dropped and counted in
:attr:`Part.torn`; any other line that is not a JSON object is an :class:`InputError`
naming the file and line. Rows become :class:`PairResult` exactly as they were written
(floats round-trip through JSON; ``"inf"`` and ``null`` come back as inf and NaN). No torch.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imgloss._version import __version__
from imgloss.errors import InputError
from imgloss.report.output import read_text
from imgloss.report.summary import RunInfo
from imgloss.report.writers import JSONLWriter, json_line
from imgloss.results import PairResult
from imgloss.scale.shard import relative_key

#: The first key of a resume file's header line (its value is the format version).
RESUME_MARK = "imgloss_resume"
RESUME_FORMAT = 1
_RESULT_FIELDS = ("reference", "candidate", "metrics", "error", "notes")


@dataclass
class Part:
    """One stored result file: its metadata (None for plain JSONL) and its rows in file order."""

    path: Path
    meta: dict[str, Any] | None
    rows: list[dict[str, Any]] = field(default_factory=list)
    kind: str = "jsonl"
    torn: int = 0

    @property
    def options(self) -> dict[str, Any]:
        return (self.meta or {}).get("options") or {}

    def results(self) -> list[PairResult]:
        """The rows as results keyed by their relative path (see :func:`result_from_json`)."""
        root = self.options.get("candidate")
        return [result_from_json(row, root) for row in self.rows]


def header(info: RunInfo, pairs: int, listing: str | None) -> dict[str, Any]:
    """The first line of a resume file: the run's metadata, its number of pairs and the
    digest of its listing (:func:`imgloss.scale.shard.listing_digest`)."""
    return {
        RESUME_MARK: RESUME_FORMAT,
        "imgloss": __version__,
        "device": info.device,
        "options": info.options,
        "warnings": info.warnings,
        "unmatched": info.unmatched,
        "pairs": pairs,
        "listing": listing,
    }


class PartWriter(JSONLWriter):
    """JSONL preceded by the :func:`header` line: a finished resume file."""

    def __init__(self, info: RunInfo, path: Path | None, pairs: int, listing: str | None) -> None:
        super().__init__(info, path)
        self.output.write(json_line(header(info, pairs, listing)))


def read_part(path: Path) -> Part:
    """Read a JSON document, a resume file or plain JSONL (see the module docstring)."""
    text = read_text(path)
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        document = None
    if isinstance(document, dict) and "results" in document:
        rows = document["results"]
        if not isinstance(rows, list) or not all(_is_row(r) for r in rows):
            raise InputError(path, "not an imgloss result file (its \"results\" are not result objects)")
        return Part(path, {k: v for k, v in document.items() if k != "results"}, rows, "json")
    return _read_lines(path, text)


def _read_lines(path: Path, text: str) -> Part:
    part = Part(path, None)
    lines = text.split("\n")
    complete = lines[:-1]  # the text after the last newline is a torn line (or empty)
    if lines[-1].strip():
        try:
            json.loads(lines[-1])
            complete = lines  # a last line without its newline, but whole
        except json.JSONDecodeError:
            part.torn = 1
    for number, line in enumerate(complete, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            value = None
        if number == 1 and isinstance(value, dict) and RESUME_MARK in value:
            if value[RESUME_MARK] != RESUME_FORMAT:
                raise InputError(path, f"resume file format {value[RESUME_MARK]!r} is not {RESUME_FORMAT} (another imgloss version)")
            part.meta, part.kind = value, "resume"
            continue
        if not _is_row(value):
            raise InputError(path, f"line {number}: not an imgloss result (corrupt or truncated file)")
        part.rows.append(value)
    if part.meta is None and not part.rows:
        raise InputError(path, "no results in file (not an imgloss JSON, JSONL or --resume file)")
    return part


def _is_row(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("candidate"), str) and isinstance(value.get("metrics"), dict)


def number(value: Any) -> float:
    """A JSON metric value (number, ``"inf"``, ``"-inf"`` or null) as the float it was."""
    return math.nan if value is None else float(value)


def result_from_json(row: dict[str, Any], candidate_root: str | None) -> PairResult:
    """A stored row as the :class:`PairResult` it was written from; its key is the
    candidate's path relative to ``candidate_root`` (the path itself without a root)."""
    candidate = row["candidate"]
    try:
        key = candidate if candidate_root is None else relative_key(candidate, candidate_root)
    except ValueError:
        key = candidate
    return PairResult(
        key=key,
        reference=row.get("reference"),
        candidate=candidate,
        metrics={name: number(value) for name, value in row["metrics"].items()},
        error=row.get("error"),
        notes=tuple(row.get("notes") or ()),
        extra={k: v for k, v in row.items() if k not in _RESULT_FIELDS},
    )
