"""The terminal table of a run: one row per pair, a column per metric with its better
direction, the notes and the summary (rich).

Tables fit the console (:func:`print_fitted`): numbers are never cut, folded or
dropped; a pair name too long for the room left is shortened from the left with an
ellipsis (``…/deep/folder/x.png``: the file name stays); when even a short name does
not fit (below :data:`MIN_NAME_WIDTH` columns for it), each pair becomes a block of
``header: value`` lines instead of a table row.
"""
from __future__ import annotations

import io
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Sequence, Union

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from imgloss.report.names import display
from imgloss.report.output import deliver
from imgloss.report.summary import RunInfo, Summary, format_value, process_seconds
from imgloss.results import PairResult


class TableWriter:
    """Collects the run and renders the rich table and summary at the end."""

    def __init__(self, info: RunInfo, path: Path | None) -> None:
        self.info, self.path = info, path
        self.results: list[PairResult] = []

    def write(self, result: PairResult) -> None:
        self.results.append(result)

    def close(self, summary: Summary) -> None:
        """Render into memory, then hand the text to the one output path (stdout or file)."""
        if self.path is None:
            console = stdout_console()
            with console.capture() as captured:
                self.render(console, summary)
            text = captured.get()
        else:
            buffer = io.StringIO()
            self.render(Console(file=buffer, width=160, no_color=True, force_terminal=False), summary)
            text = buffer.getvalue()
        deliver(self.path, text.encode("utf-8"))

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


#: The narrowest pair-name column a table keeps; below it, pairs become blocks.
MIN_NAME_WIDTH = 12
#: The narrowest folded text column (errors, reasons).
MIN_TEXT_WIDTH = 12
Cell = Union[str, Text]


@dataclass
class Column:
    """One column of a fitted table. ``kind``: ``name`` (shortened from the left to
    fit), ``number`` (never cut, right-aligned), ``fixed`` (never cut, a short word),
    ``text`` (folded onto more lines)."""

    header: str
    kind: Literal["name", "number", "fixed", "text"]
    cells: list[Cell] = field(default_factory=list)
    style: str = ""


def shorten_left(name: str, width: int) -> str:
    """``name`` cut from the left to ``width`` cells with a leading ellipsis."""
    if cell_len(name) <= width:
        return name
    while name and cell_len(name) > width - 1:
        name = name[1:]
    return "…" + name


def _width(column: Column) -> int:
    return max([cell_len(column.header)] + [cell_len(str(c)) for c in column.cells])


def print_fitted(console: Console, columns: Sequence[Column]) -> None:
    """Print ``columns`` as a table that fits ``console.width``, or as blocks (see the
    module docstring)."""
    fixed = sum(_width(c) + 3 for c in columns if c.kind in ("number", "fixed")) + 1
    text = [c for c in columns if c.kind == "text"]
    room = console.width - fixed - sum(min(_width(c), MIN_TEXT_WIDTH) + 3 for c in text) - 3
    names = [c for c in columns if c.kind == "name"]
    if names and room < min(MIN_NAME_WIDTH, _width(names[0])):
        _print_blocks(console, columns)
        return
    table = Table(header_style="bold")
    cells: list[list[Cell]] = []
    for column in columns:
        if column.kind == "name":
            width = min(_width(column), room)
            table.add_column(column.header, no_wrap=True, min_width=width, style=column.style)
            cells.append([Text(shorten_left(str(c), width)) for c in column.cells])
            continue
        if column.kind == "text":
            table.add_column(column.header, overflow="fold", min_width=min(_width(column), MIN_TEXT_WIDTH), style=column.style)
        else:
            justify = "right" if column.kind == "number" else "left"
            table.add_column(column.header, justify=justify, no_wrap=True, min_width=_width(column), style=column.style)
        cells.append(column.cells)
    for row in zip(*cells):
        table.add_row(*row)
    console.print(table)


def _print_blocks(console: Console, columns: Sequence[Column]) -> None:
    """One block per pair: the name on its own line, then ``header: value`` lines."""
    for index in range(len(columns[0].cells) if columns else 0):
        for column in columns:
            cell = column.cells[index]
            if column.kind == "name":
                console.print(Text(str(cell), style="bold"), overflow="fold")
            elif str(cell):
                console.print(Text.assemble(f"  {column.header}: ", cell if isinstance(cell, Text) else Text(cell)),
                              overflow="fold")


def render(console: Console, info: RunInfo, results: Sequence[PairResult], summary: Summary) -> None:
    """The table (one row per pair, a column per metric with its better direction)."""
    columns = [Column("pair", "name", [display(r.key) for r in results])]
    for column in info.columns:
        header = column_header(column, info.higher_is_better[column])
        columns.append(Column(header, "number", [format_value(r.metrics.get(column)) for r in results]))
    if any(r.error for r in results):
        columns.append(Column("error", "text", [display(r.error or "") for r in results], style="red"))
    print_fitted(console, columns)
    render_notes(console, results)
    render_summary(console, info, summary)


def render_notes(console: Console, results: Sequence[PairResult]) -> None:
    """What was done to the inputs (resized, alpha composited, ...), one line per pair."""
    for result in results:
        if result.notes:
            console.print(display(f"note: {result.key}: {'; '.join(result.notes)}"), highlight=False, markup=False)


def render_summary(console: Console, info: RunInfo, summary: Summary) -> None:
    """Counts, then mean/median/worst per metric, device and speed."""
    for warning in info.warnings:
        console.print(Text.assemble(("warning:", "bold yellow"), " ", display(warning)))
    table = Table(title=None, header_style="bold", box=None)
    infinite = any(m.infinite for m in summary.metrics.values())
    for name in ("metric", "mean", "median", "worst pair", "worst", *(("infinite",) if infinite else ())):
        table.add_column(name, justify="left" if name in ("metric", "worst pair") else "right")
    for column, m in summary.metrics.items():
        table.add_row(
            column_header(column, info.higher_is_better[column]),
            format_value(m.mean),
            format_value(m.median),
            Text(display(m.worst_key)),
            format_value(m.worst_value),
            *((str(m.infinite),) if infinite else ()),
        )
    if summary.scored > 1:  # for one pair the table above says it all
        if console.measure(table).maximum <= console.width:
            console.print(table)
        else:  # too narrow: one line per metric, folded, never a cut number
            for column, m in summary.metrics.items():
                console.print(f"{column_header(column, info.higher_is_better[column])}: mean {format_value(m.mean)}, "
                              f"median {format_value(m.median)}, worst {format_value(m.worst_value)} ({display(m.worst_key)})"
                              + (f", {m.infinite} infinite" if m.infinite else ""), highlight=False, markup=False,
                              overflow="fold")
    console.print(
        f"{summary.scored} pair(s) scored, {summary.failed} with errors, {summary.unmatched} unmatched "
        f"on {summary.device} in {summary.seconds:.2f} s ({summary.pairs_per_second:.1f} pairs/s); "
        f"{process_seconds():.2f} s wall including start-up",
        highlight=False,
    )
