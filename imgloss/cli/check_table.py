"""The terminal table of ``imgloss check``: failures first, a status column, the reasons."""
from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from imgloss.gate.verdicts import ERROR, FAIL, PASS, STATUS_ORDER, Unpaired, counts_line, status
from imgloss.report.summary import RunInfo, Summary, format_value
from imgloss.report.table import TableWriter, column_header, render_notes, render_summary


class CheckTableWriter(TableWriter):
    """The terminal table of a check: failures first, a status column, the reasons."""

    def __init__(self, info: RunInfo, path: Path | None, unpaired: Unpaired) -> None:
        super().__init__(info, path)
        self.unpaired = unpaired

    def render(self, console: Console, summary: Summary) -> None:
        table = Table(header_style="bold")
        table.add_column("status")
        table.add_column("pair", overflow="fold")
        for column in self.info.columns:
            table.add_column(column_header(column, self.info.higher_is_better[column]), justify="right")
        table.add_column("failed thresholds / error", overflow="fold")
        style = {PASS: "green", FAIL: "bold red", ERROR: "red"}
        for result in sorted(self.results, key=lambda r: STATUS_ORDER[status(r)]):
            record = result.extra["check"]
            broken = {f["metric"] for f in record["failed"]}
            values = [
                Text(format_value(result.metrics.get(c)), style="red" if c in broken else "") for c in self.info.columns
            ]
            mark = Text(record["status"].upper(), style=style[record["status"]])
            table.add_row(mark, Text(result.key), *values, Text(record["message"]))
        console.print(table)
        render_notes(console, self.results)
        render_summary(console, self.info, summary)
        console.print(counts_line(self.results, self.unpaired), highlight=False)
