"""What every command prints on stderr: the one-line error, the mapping of expected
failures to exit codes, and progress: a bar on a terminal, plain lines every
:data:`PROGRESS_EVERY` seconds otherwise (CI logs), so a long run never looks hung.

No torch here: the CLI's help must stay instant.
"""
from __future__ import annotations

import gc
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from typing import Callable, Iterator

import typer
from rich.console import Console

from imgloss.errors import ImglossError, WeightsError
from imgloss.report.output import remove_temps
from imgloss.signals import Stopped, stop_on_signals, stopped_message
from imgloss.report.names import display

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def error_line(message: str, kind: str = "error", lines: bool = False) -> None:
    """One line on stderr: ``imgloss: error: ...``, with control characters and
    undecodable bytes escaped (a file name never reaches the terminal raw, nor breaks the
    line). ``lines``: a message written on several lines by design keeps its line breaks."""
    shown = "\n".join(map(display, message.split("\n"))) if lines else display(message)
    stderr.print(f"imgloss: {kind}: {shown}", markup=False)


@contextmanager
def expected_failures() -> Iterator[None]:
    """Turn ImglossError into its one-line message and exit code (no traceback); SIGINT
    and SIGTERM (:mod:`imgloss.signals`) into ``interrupted`` / ``terminated`` and exit
    130 / 143, with every temp file removed."""
    try:
        with stop_on_signals(cleanup=remove_temps):
            yield
    except ImglossError as exc:
        error_line(str(exc), lines=isinstance(exc, WeightsError))
        raise typer.Exit(exc.exit_code) from None
    except (Stopped, KeyboardInterrupt) as exc:
        raise typer.Exit(stop(exc)) from None


def stop(exc: BaseException) -> int:
    """Clean up after SIGINT/SIGTERM: the frames the stop unwound are cleared (the
    engine's DataLoader shuts its workers down now, not at interpreter exit), temp files
    removed, one line; the exit code."""
    traceback.clear_frames(exc.__traceback__)
    gc.collect()  # and what only a reference cycle still held
    remove_temps()
    message, code = stopped_message(exc)
    error_line(message)
    return code


#: Seconds between progress lines when stderr is not a terminal.
PROGRESS_EVERY = 5.0


@contextmanager
def progress_bar(total: int, quiet: bool, every: float = PROGRESS_EVERY) -> Iterator[Callable[[], None]]:
    """Progress while ``total`` pairs are scored: a transient rich bar on a terminal
    (runs of more than 8 pairs); otherwise ``imgloss: progress: 120/1000 pairs, 24.0
    pairs/s, 5 s`` every ``every`` seconds from a background thread, also while a long
    batch runs and no pair has finished yet. Nothing with ``quiet``."""
    if quiet or total <= 0:
        yield lambda: None
        return
    if not sys.stderr.isatty():
        with _progress_lines(total, every) as advance:
            yield advance
        return
    if total <= 8:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("scoring", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=stderr, transient=True) as bar:
        task = bar.add_task("scoring", total=total)
        yield lambda: bar.advance(task)


@contextmanager
def _progress_lines(total: int, every: float) -> Iterator[Callable[[], None]]:
    done = [0]
    start = time.monotonic()
    stop = threading.Event()

    def report() -> None:
        while not stop.wait(every):
            elapsed = time.monotonic() - start
            error_line(f"{done[0]}/{total} pairs, {done[0] / elapsed:.1f} pairs/s, {elapsed:.0f} s", "progress")

    thread = threading.Thread(target=report, name="imgloss-progress", daemon=True)
    thread.start()
    try:
        yield lambda: done.__setitem__(0, done[0] + 1)
    finally:
        stop.set()
        thread.join()
