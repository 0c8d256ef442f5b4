"""What every command prints on stderr: the one-line error, the mapping of expected
failures to exit codes, and the progress bar.

No torch here: the CLI's help must stay instant.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator

import typer
from rich.console import Console

from imgloss.errors import ImglossError

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def error_line(message: str, kind: str = "error") -> None:
    """One line on stderr: ``imgloss: error: ...``."""
    stderr.print(f"imgloss: {kind}: {message}", markup=False)


@contextmanager
def expected_failures() -> Iterator[None]:
    """Turn ImglossError into its one-line message and exit code (no traceback)."""
    try:
        yield
    except ImglossError as exc:
        error_line(str(exc))
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        error_line("interrupted")
        raise typer.Exit(130) from None


@contextmanager
def progress_bar(total: int, quiet: bool) -> Iterator[Callable[[], None]]:
    """A transient rich progress bar on stderr for runs of more than a few pairs."""
    if quiet or total <= 8 or not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("scoring", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=stderr, transient=True) as bar:
        task = bar.add_task("scoring", total=total)
        yield lambda: bar.advance(task)
