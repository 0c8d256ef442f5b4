"""Progress when stderr is not a terminal: plain lines every few seconds, none when quiet."""
from __future__ import annotations

import time

import pytest

from imgloss.cli import console


@pytest.mark.slow
def test_plain_progress_lines_when_not_a_terminal(capsys) -> None:
    with console.progress_bar(10, quiet=False, every=0.05) as advance:
        for _ in range(4):
            advance()
        time.sleep(0.3)
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert lines and all(line.startswith("imgloss: progress: 4/10 pairs, ") and line.endswith(" s") for line in lines)


def test_no_progress_when_quiet_or_fast(capsys) -> None:
    with console.progress_bar(10, quiet=True, every=0.01) as advance:
        advance()
        time.sleep(0.1)
    with console.progress_bar(10, quiet=False, every=5) as advance:
        advance()  # done before the first line is due
    assert capsys.readouterr().err == ""
