"""The file formats of a run: CSV, JSON and JSONL (streamed), and the format registry.

CSV columns are ``reference,candidate,<metric>...,error``, a command's own columns, then
``notes`` (the pair's notes joined with ``"; "``); JSON is one document
``{"imgloss", "device", "higher_is_better", "options", "warnings", "results", "unmatched",
"unsupported", "summary"}``
with infinities written as ``--json-inf`` says (default ``"inf"`` as a string: JSON has
no infinity; see :func:`imgloss.report.summary.json_value`); JSONL is one result object
per line.
``unsupported`` lists the files of unsupported types found in the folders. Every format
goes through :class:`imgloss.report.output.Output` (a private temp file renamed when the
run ends; results kept elsewhere if that fails). File names are written as
:mod:`imgloss.report.names` says: CSV keeps their exact bytes (RFC 4180 quoting), JSON
adds ``reference_bytes`` / ``candidate_bytes`` for names that are not UTF-8. No torch here.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence, Tuple

from imgloss._version import __version__
from imgloss.report.names import json_fields, json_text
from imgloss.report.output import Output
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
    names = json_fields({"reference": result.reference, "candidate": result.candidate})
    return jsonable(
        {
            "reference": names.pop("reference"),
            "candidate": names.pop("candidate"),
            "metrics": dict(result.metrics),
            "error": result.error,
            "notes": list(result.notes),
            **result.extra,
            **names,
        },
        inf,
    )


def json_document(value: Any) -> Any:
    """``value`` with every string valid Unicode (undecodable bytes of names as U+FFFD)."""
    if isinstance(value, str):
        return json_text(value)
    if isinstance(value, dict):
        return {json_text(str(k)): json_document(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_document(v) for v in value]
    return value


def json_line(value: Any, indent: int | None = None) -> str:
    """One JSON document as text (no NaN: values were made JSON-safe before)."""
    return json.dumps(json_document(value), indent=indent, allow_nan=False) + "\n"


class _StreamingWriter:
    """Writes each result as it arrives into an :class:`Output`; commits on close."""

    def __init__(self, path: Path | None) -> None:
        self.output = Output(path)

    def write(self, result: PairResult) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self, summary: Summary) -> None:
        self.output.commit()

    def abort(self) -> None:
        self.output.abort()


#: A command's own CSV column: its header and the cell of a result.
ExtraColumn = Tuple[str, Callable[[PairResult], str]]


class CSVWriter(_StreamingWriter):
    """Streams ``reference,candidate,<metric>...,error`` rows as results arrive, then
    a command's own columns (``check``: ``status,failed_thresholds``), then ``notes``:
    every conversion made to compare the pair (:data:`NOTES_SEPARATOR` between two)."""

    def __init__(self, info: RunInfo, path: Path | None, extra: Sequence[ExtraColumn] = ()) -> None:
        super().__init__(path)
        self.columns, self.extra = info.columns, tuple(extra)
        self.output.write(csv_row(["reference", "candidate", *info.columns, "error", *(name for name, _ in self.extra),
                                   "notes"]))

    def write(self, result: PairResult) -> None:
        values = [format_value(result.metrics.get(c), exact=True) for c in self.columns]
        extra = [cell(result) for _, cell in self.extra]
        self.output.write(csv_row([result.reference or "", result.candidate, *values, result.error or "", *extra,
                                   NOTES_SEPARATOR.join(result.notes)]))


#: Between two notes in one CSV cell.
NOTES_SEPARATOR = "; "


def csv_row(fields: Sequence[str]) -> str:
    """One CSV line (RFC 4180 quoting): a field holding a comma, a quote, CR or LF is
    quoted, quotes doubled (Python's csv module leaves a lone CR unquoted)."""
    return ",".join(f'"{f.replace(chr(34), chr(34) * 2)}"' if _NEEDS_QUOTES.search(f) else f for f in fields) + "\n"


_NEEDS_QUOTES = re.compile('[,"\r\n]')


class JSONLWriter(_StreamingWriter):
    """Streams one result object per line."""

    def __init__(self, info: RunInfo, path: Path | None, inf: str = "string") -> None:
        super().__init__(path)
        self.inf = inf

    def write(self, result: PairResult) -> None:
        self.output.write(json_line(result_json(result, self.inf)))


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
            "unsupported": self.info.unsupported,
            "summary": jsonable(summary.as_json(), self.inf),
        }
        output = Output(self.path)
        output.write(json_line(document, indent=2))
        output.commit()

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
