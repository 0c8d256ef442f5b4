"""The terminal table of a run: one row per pair, a column per metric with its better
direction, the notes and the summary (rich)."""
from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Sequence

from rich.console import Console
from rich.table import Table

from imgloss.report.output import atomic_write_bytes
from imgloss.report.summary import RunInfo, Summary, format_value
from imgloss.results import PairResult


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
    infinite = any(m.infinite for m in summary.metrics.values())
    for name in ("metric", "mean", "median", "worst pair", "worst", *(("infinite",) if infinite else ())):
        table.add_column(name, justify="left" if name in ("metric", "worst pair") else "right")
    for column, m in summary.metrics.items():
        table.add_row(
            column_header(column, info.higher_is_better[column]),
            format_value(m.mean),
            format_value(m.median),
            m.worst_key,
            format_value(m.worst_value),
            *((str(m.infinite),) if infinite else ()),
        )
    if summary.scored > 1:  # for one pair the table above says it all
        console.print(table)
    console.print(
        f"{summary.scored} pair(s) scored, {summary.failed} with errors, {summary.unmatched} unmatched "
        f"on {summary.device} in {summary.seconds:.2f} s ({summary.pairs_per_second:.1f} pairs/s)",
        highlight=False,
    )
