"""The terminal table of ``imgloss check``: failures first, a status column, the reasons."""
from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.text import Text

from imgloss.gate.verdicts import ERROR, FAIL, PASS, STATUS_ORDER, Unpaired, counts_line, status
from imgloss.report.names import display
from imgloss.report.summary import RunInfo, Summary, format_value
from imgloss.report.table import Cell, Column, TableWriter, column_header, print_fitted, render_notes, render_summary


class CheckTableWriter(TableWriter):
    """The terminal table of a check: failures first, a status column, the reasons."""

    def __init__(self, info: RunInfo, path: Path | None, unpaired: Unpaired) -> None:
        super().__init__(info, path)
        self.unpaired = unpaired

    def render(self, console: Console, summary: Summary) -> None:
        style = {PASS: "green", FAIL: "bold red", ERROR: "red"}
        ordered = sorted(self.results, key=lambda r: STATUS_ORDER[status(r)])
        columns = [
            Column("status", "fixed", [Text(status(r).upper(), style=style[status(r)]) for r in ordered]),
            Column("pair", "name", [display(r.key) for r in ordered]),
        ]
        for column in self.info.columns:
            cells: list[Cell] = [
                Text(format_value(r.metrics.get(column)),
                     style="red" if column in {f["metric"] for f in r.extra["check"]["failed"]} else "")
                for r in ordered
            ]
            columns.append(Column(column_header(column, self.info.higher_is_better[column]), "number", cells))
        columns.append(Column("failed thresholds / error", "text", [display(r.extra["check"]["message"]) for r in ordered]))
        print_fitted(console, columns)
        render_notes(console, self.results)
        render_summary(console, self.info, summary)
        console.print(counts_line(self.results, self.unpaired), highlight=False)
