"""The file formats of a run: CSV, JSON and JSONL (streamed), and the format registry.

CSV columns are ``reference,candidate,<metric>...,error``; JSON is one document
``{"imgloss", "device", "higher_is_better", "options", "warnings", "results", "unmatched",
"summary"}``
with infinities written as ``--json-inf`` says (default ``"inf"`` as a string: JSON has
no infinity; see :func:`imgloss.report.summary.json_value`); JSONL is one result object
per line.
Files stream to ``FILE.partial`` and are renamed when the run ends, so a crash never
leaves a half-written file under the real name. No torch here.
"""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence, Tuple

from imgloss._version import __version__
from imgloss.report.output import Sink, atomic_write_bytes
from imgloss.report.summary import RunInfo, Summary, format_value, jsonable
from imgloss.report.table import TableWriter
from imgloss.results import PairResult


class Writer(Protocol):
    def write(self, result: PairResult) -> None: ...
    def close(self, summary: Summary) -> None: ...
    def abort(self) -> None: ...


def result_json(result: PairResult, inf: str = "string") -> dict[str, Any]:
    """One result as a JSON object (the JSON ``results`` entries and JSONL lines);
    infinities as ``inf`` says (:func:`imgloss.report.summary.json_value`)."""
    return jsonable(
        {
            "reference": result.reference,
            "candidate": result.candidate,
            "metrics": dict(result.metrics),
            "error": result.error,
            "notes": list(result.notes),
            **result.extra,
        },
        inf,
    )


class _StreamingWriter:
    """Writes each result as it arrives into a :class:`Sink`; commits on close."""

    def __init__(self, path: Path | None) -> None:
        self.sink = Sink(path)

    def emit(self, result: PairResult) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def write(self, result: PairResult) -> None:
        self.emit(result)
        self.sink.stream.flush()

    def close(self, summary: Summary) -> None:
        self.sink.commit()

    def abort(self) -> None:
        self.sink.abort()


#: A command's own CSV column: its header and the cell of a result.
ExtraColumn = Tuple[str, Callable[[PairResult], str]]


class CSVWriter(_StreamingWriter):
    """Streams ``reference,candidate,<metric>...,error`` rows as results arrive, then
    a command's own columns (``check``: ``status,failed_thresholds``)."""

    def __init__(self, info: RunInfo, path: Path | None, extra: Sequence[ExtraColumn] = ()) -> None:
        super().__init__(path)
        self.columns, self.extra = info.columns, tuple(extra)
        self.csv = csv.writer(self.sink.stream, lineterminator="\n")
        self.csv.writerow(["reference", "candidate", *info.columns, "error", *(name for name, _ in self.extra)])

    def emit(self, result: PairResult) -> None:
        values = [format_value(result.metrics.get(c), exact=True) for c in self.columns]
        extra = [cell(result) for _, cell in self.extra]
        self.csv.writerow([result.reference or "", result.candidate, *values, result.error or "", *extra])


class JSONLWriter(_StreamingWriter):
    """Streams one result object per line."""

    def __init__(self, info: RunInfo, path: Path | None, inf: str = "string") -> None:
        super().__init__(path)
        self.inf = inf

    def emit(self, result: PairResult) -> None:
        self.sink.stream.write(json.dumps(result_json(result, self.inf), allow_nan=False) + "\n")


class JSONWriter:
    """Collects the run and writes one JSON document at the end (atomically to a file)."""

    def __init__(self, info: RunInfo, path: Path | None, inf: str = "string") -> None:
        self.info, self.path, self.inf = info, path, inf
        self.results: list[dict[str, Any]] = []

    def write(self, result: PairResult) -> None:
        self.results.append(result_json(result, self.inf))

    def close(self, summary: Summary) -> None:
        document = {
            "imgloss": __version__,
            "device": self.info.device,
            "higher_is_better": self.info.higher_is_better,
            "options": self.info.options,
            "warnings": self.info.warnings,
            "results": self.results,
            "unmatched": self.info.unmatched,
            "summary": jsonable(summary.as_json(), self.inf),
        }
        text = json.dumps(document, indent=2, allow_nan=False) + "\n"
        if self.path is None:
            sys.stdout.write(text)
        else:
            atomic_write_bytes(self.path, text.encode("utf-8"))

    def abort(self) -> None:
        """Nothing was written yet."""


WRITERS = {"table": TableWriter, "csv": CSVWriter, "json": JSONWriter, "jsonl": JSONLWriter}
FORMATS = tuple(WRITERS)


def make_writer(
    fmt: str, info: RunInfo, path: Path | None, json_inf: str = "string", csv_extra: Sequence[ExtraColumn] = ()
) -> Writer:
    """The writer for ``fmt`` (one of :data:`FORMATS`); ``json_inf``: how JSON and
    JSONL write infinities (``string``, ``null`` or ``large``); ``csv_extra``: a
    command's own CSV columns."""
    if fmt in ("json", "jsonl"):
        return WRITERS[fmt](info, path, json_inf)  # type: ignore[call-arg]
    if fmt == "csv":
        return CSVWriter(info, path, csv_extra)
    return WRITERS[fmt](info, path)
