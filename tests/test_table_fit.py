"""Terminal tables fit the console: numbers never cut or dropped, long names shortened
from the left, one block per pair when too narrow; the summary line gives wall time."""
from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from rich.text import Text

from imgloss.report.summary import RunInfo, summarize
from imgloss.report.table import Column, print_fitted, render, shorten_left
from imgloss.results import PairResult

NAME = "renders/very/deep/folder/with/a/long/name/scene_0042.png"
VALUES = {"ssim": 0.123456, "psnr": 31.2345, "charbonnier": 0.0123457, "wssim": 0.987654, "mse": 0.00012345}


def rendered(width: int, results: list[PairResult]) -> str:
    info = RunInfo(list(VALUES), {"ssim": True, "psnr": True, "charbonnier": False, "wssim": True, "mse": False}, "cpu", {})
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, no_color=True, force_terminal=False)
    summary = summarize(results, info.columns, info.higher_is_better, unmatched=0, device="cpu", seconds=1.0)
    render(console, info, results, summary)
    return buffer.getvalue()


def pairs() -> list[PairResult]:
    return [PairResult(NAME, "r", "c", dict(VALUES)), PairResult("b.png", "r", "c", {k: v / 2 for k, v in VALUES.items()})]


@pytest.mark.parametrize("width", [200, 100, 80, 60, 40, 30])
def test_every_number_is_shown_whole_and_nothing_is_wider_than_the_console(width: int) -> None:
    text = rendered(width, pairs())
    assert max(map(len, text.splitlines())) <= width
    for value in list(VALUES.values()) + [v / 2 for v in VALUES.values()]:
        assert re.search(rf"(?<![\d.]){re.escape(f'{value:.6g}')}(?![\d])", text), (width, value)


def test_long_names_are_shortened_from_the_left_at_80_columns() -> None:
    text = rendered(80, pairs())
    assert "┃ pair" in text  # still a table
    [line] = [line for line in text.splitlines() if "scene_0042.png" in line]
    assert "…" in line and NAME not in line  # the file name stays, the folders go
    assert "b.png" in text


def test_narrow_consoles_get_one_block_per_pair() -> None:
    text = rendered(40, pairs())
    assert "┃" not in text.split("metric")[0] and "┃ pair" not in text
    assert NAME in text.replace("\n", "")  # the whole name, folded
    assert "  ssim ↑: 0.123456" in text and "  mse ↓: 0.00012345" in text


def test_shorten_left() -> None:
    assert shorten_left("a/b/c.png", 20) == "a/b/c.png"
    assert shorten_left("a/b/c.png", 6) == "…c.png"


def test_fixed_and_text_columns() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=50, no_color=True)
    print_fitted(console, [Column("status", "fixed", [Text("FAIL")]), Column("pair", "name", ["x" * 60]),
                           Column("v", "number", ["0.123456"]), Column("why", "text", ["a reason " * 6])])
    text = buffer.getvalue()
    assert "FAIL" in text and "0.123456" in text and max(map(len, text.splitlines())) <= 50


def test_summary_line_gives_wall_time_including_start_up() -> None:
    text = rendered(120, pairs())
    assert re.search(r"in 1\.00 s \([\d.]+ pairs/s\); [\d.]+ s wall including start-up", text)
