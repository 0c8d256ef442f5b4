"""Everything a run writes: the rich table and summary, CSV, JSON and JSONL, atomically.

Owns the output formats of design.md. CSV columns are
``reference,candidate,<metric>...,error``; JSON is one document
``{"imgloss", "device", "options", "warnings", "results", "unmatched", "summary"}``
with ``"inf"`` as a string (JSON has no infinity); JSONL is one result object per line.
Files stream to ``FILE.partial`` and are renamed when the run ends, so a crash never
leaves a half-written file under the real name. No torch here.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, Sequence

from rich.console import Console
from rich.table import Table

from imgloss._version import __version__
from imgloss.files import atomic_write_bytes
from imgloss.results import PairResult

# --------------------------------------------------------------------------- values


def format_value(value: float | None, exact: bool = False) -> str:
    """A metric value as text: 6 significant digits for humans, or with ``exact`` the
    shortest text that reads back to the same float64 (CSV); ``inf`` for infinity."""
    if value is None or math.isnan(value):
        return ""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value) if exact else f"{value:.6g}"


def json_value(value: float | None) -> float | str | None:
    """A metric value for JSON: a number, ``"inf"``/``"-inf"``, or null."""
    if value is None or math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


# --------------------------------------------------------------------------- summary


@dataclass
class MetricSummary:
    """Mean, median and worst pair of one column over the scored pairs."""

    mean: float
    median: float
    worst_key: str
    worst_value: float


@dataclass
class Summary:
    """What a finished run reports after its rows."""

    scored: int
    failed: int
    unmatched: int
    device: str
    seconds: float
    metrics: dict[str, MetricSummary] = field(default_factory=dict)

    @property
    def pairs_per_second(self) -> float:
        return (self.scored + self.failed) / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "pairs_scored": self.scored,
            "pairs_failed": self.failed,
            "unmatched": self.unmatched,
            "device": self.device,
            "seconds": round(self.seconds, 4),
            "pairs_per_second": round(self.pairs_per_second, 3),
            "metrics": {
                name: {
                    "mean": json_value(m.mean),
                    "median": json_value(m.median),
                    "worst": {"pair": m.worst_key, "value": json_value(m.worst_value)},
                }
                for name, m in self.metrics.items()
            },
        }


def summarize(
    results: Sequence[PairResult],
    columns: Sequence[str],
    higher_is_better: dict[str, bool],
    *,
    unmatched: int,
    device: str,
    seconds: float,
) -> Summary:
    """Aggregate the rows of a run; ``higher_is_better`` decides what "worst" means."""
    scored = [r for r in results if r.ok]
    summary = Summary(len(scored), len(results) - len(scored), unmatched, device, seconds)
    for column in columns:
        rows = [(r.key, r.metrics[column]) for r in scored if column in r.metrics]
        if not rows:
            continue
        values = [v for _, v in rows]
        pick = min if higher_is_better[column] else max
        worst_key, worst_value = pick(rows, key=lambda kv: kv[1])
        summary.metrics[column] = MetricSummary(
            statistics.fmean(values), statistics.median(values), worst_key, worst_value
        )
    return summary


# --------------------------------------------------------------------------- files


def check_writable(path: Path) -> None:
    """Fail before any work when ``path``'s folder is missing or is not a folder."""
    from imgloss.errors import UsageError

    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"cannot write {path}: folder {parent} does not exist")
    if path.is_dir():
        raise UsageError(f"cannot write {path}: it is a directory")


class _Sink:
    """A text stream that is stdout, or ``FILE.partial`` renamed to ``FILE`` on commit."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.partial = None if path is None else path.with_name(path.name + ".partial")
        self.stream: IO[str] = sys.stdout if self.partial is None else open(self.partial, "w", newline="", encoding="utf-8")

    def commit(self) -> None:
        if self.partial is not None:
            self.stream.close()
            os.replace(self.partial, self.path)  # type: ignore[arg-type]
        else:
            self.stream.flush()

    def abort(self) -> None:
        if self.partial is not None:
            self.stream.close()
            self.partial.unlink(missing_ok=True)


# --------------------------------------------------------------------------- writers


@dataclass
class RunInfo:
    """Run-level metadata every format carries."""

    columns: list[str]
    higher_is_better: dict[str, bool]
    device: str
    options: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)


class Writer(Protocol):
    def write(self, result: PairResult) -> None: ...
    def close(self, summary: Summary) -> None: ...
    def abort(self) -> None: ...


def result_json(result: PairResult) -> dict[str, Any]:
    """One result as a JSON object (the JSON ``results`` entries and JSONL lines)."""
    return {
        "reference": result.reference,
        "candidate": result.candidate,
        "metrics": {name: json_value(value) for name, value in result.metrics.items()},
        "error": result.error,
        "notes": list(result.notes),
        **result.extra,
    }


class _StreamingWriter:
    """Writes each result as it arrives into a :class:`_Sink`; commits on close."""

    def __init__(self, path: Path | None) -> None:
        self.sink = _Sink(path)

    def emit(self, result: PairResult) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def write(self, result: PairResult) -> None:
        self.emit(result)
        self.sink.stream.flush()

    def close(self, summary: Summary) -> None:
        self.sink.commit()

    def abort(self) -> None:
        self.sink.abort()


class CSVWriter(_StreamingWriter):
    """Streams ``reference,candidate,<metric>...,error`` rows as results arrive."""

    def __init__(self, info: RunInfo, path: Path | None) -> None:
        super().__init__(path)
        self.columns = info.columns
        self.csv = csv.writer(self.sink.stream, lineterminator="\n")
        self.csv.writerow(["reference", "candidate", *info.columns, "error"])

    def emit(self, result: PairResult) -> None:
        values = [format_value(result.metrics.get(c), exact=True) for c in self.columns]
        self.csv.writerow([result.reference or "", result.candidate, *values, result.error or ""])


class JSONLWriter(_StreamingWriter):
    """Streams one result object per line."""

    def __init__(self, info: RunInfo, path: Path | None) -> None:
        super().__init__(path)

    def emit(self, result: PairResult) -> None:
        self.sink.stream.write(json.dumps(result_json(result), allow_nan=False) + "\n")


class JSONWriter:
    """Collects the run and writes one JSON document at the end (atomically to a file)."""

    def __init__(self, info: RunInfo, path: Path | None) -> None:
        self.info, self.path = info, path
        self.results: list[dict[str, Any]] = []

    def write(self, result: PairResult) -> None:
        self.results.append(result_json(result))

    def close(self, summary: Summary) -> None:
        document = {
            "imgloss": __version__,
            "device": self.info.device,
            "options": self.info.options,
            "warnings": self.info.warnings,
            "results": self.results,
            "unmatched": self.info.unmatched,
            "summary": summary.as_json(),
        }
        text = json.dumps(document, indent=2, allow_nan=False) + "\n"
        if self.path is None:
            sys.stdout.write(text)
        else:
            atomic_write_bytes(self.path, text.encode("utf-8"))

    def abort(self) -> None:
        """Nothing was written yet."""


class TableWriter:
    """Collects the run and renders the rich table and summary at the end."""

    def __init__(self, info: RunInfo, path: Path | None) -> None:
        self.info, self.path = info, path
        self.results: list[PairResult] = []

    def write(self, result: PairResult) -> None:
        self.results.append(result)

    def close(self, summary: Summary) -> None:
        if self.path is None:
            self.render(stdout_console(), summary)
            return
        buffer = io.StringIO()
        self.render(Console(file=buffer, width=160, no_color=True, force_terminal=False), summary)
        atomic_write_bytes(self.path, buffer.getvalue().encode("utf-8"))

    def render(self, console: Console, summary: Summary) -> None:
        """Print the rows and the summary on ``console`` (a subclass may lay them out otherwise)."""
        render(console, self.info, self.results, summary)

    def abort(self) -> None:
        """Nothing was written yet."""


WRITERS = {"table": TableWriter, "csv": CSVWriter, "json": JSONWriter, "jsonl": JSONLWriter}
FORMATS = tuple(WRITERS)


def make_writer(fmt: str, info: RunInfo, path: Path | None) -> Writer:
    """The writer for ``fmt`` (one of :data:`FORMATS`)."""
    return WRITERS[fmt](info, path)


# --------------------------------------------------------------------------- terminal


def stdout_console() -> Console:
    """The terminal, or for a pipe a wide console: a table is never cropped at 80 columns."""
    return Console(width=None if sys.stdout.isatty() else 240)


def column_header(column: str, higher: bool) -> str:
    """``ssim ↑``: the column name and the better direction."""
    return f"{column} {'↑' if higher else '↓'}"


def render(console: Console, info: RunInfo, results: Sequence[PairResult], summary: Summary) -> None:
    """The table (one row per pair, a column per metric with its better direction)."""
    rows = [[format_value(r.metrics.get(c)) for c in info.columns] for r in results]
    table = Table(header_style="bold")
    table.add_column("pair", overflow="fold", min_width=8)
    for index, column in enumerate(info.columns):
        header = column_header(column, info.higher_is_better[column])
        width = max([len(header)] + [len(row[index]) for row in rows])
        table.add_column(header, justify="right", no_wrap=True, min_width=width)
    errors = any(r.error for r in results)
    if errors:
        table.add_column("error", overflow="fold", style="red", min_width=12)
    for result, values in zip(results, rows):
        table.add_row(result.key, *values, *([result.error or ""] if errors else []))
    console.print(table)
    render_notes(console, results)
    render_summary(console, info, summary)


def render_notes(console: Console, results: Sequence[PairResult]) -> None:
    """What was done to the inputs (resized, alpha composited, ...), one line per pair."""
    for result in results:
        if result.notes:
            console.print(f"note: {result.key}: {'; '.join(result.notes)}", highlight=False, markup=False)


def render_summary(console: Console, info: RunInfo, summary: Summary) -> None:
    """Counts, then mean/median/worst per metric, device and speed."""
    for warning in info.warnings:
        console.print(f"[bold yellow]warning:[/] {warning}")
    table = Table(title=None, header_style="bold", box=None)
    for name in ("metric", "mean", "median", "worst pair", "worst"):
        table.add_column(name, justify="left" if name in ("metric", "worst pair") else "right")
    for column, m in summary.metrics.items():
        table.add_row(
            column_header(column, info.higher_is_better[column]),
            format_value(m.mean),
            format_value(m.median),
            m.worst_key,
            format_value(m.worst_value),
        )
    if summary.scored > 1:  # for one pair the table above says it all
        console.print(table)
    console.print(
        f"{summary.scored} pair(s) scored, {summary.failed} with errors, {summary.unmatched} unmatched "
        f"on {summary.device} in {summary.seconds:.2f} s ({summary.pairs_per_second:.1f} pairs/s)",
        highlight=False,
    )
