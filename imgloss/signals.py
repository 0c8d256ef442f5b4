"""SIGINT and SIGTERM: stop the run cleanly, with one line and exit code 128 + signal.

:func:`install` (called by the console entry point and by every command) makes both
signals raise :class:`Stopped` in the main thread. ``Stopped`` is a ``BaseException``
that is not a ``KeyboardInterrupt``, so no library's ``except Exception`` and no
Click handler swallows it: the stack unwinds through the engine (its DataLoader shuts
its decoding workers down) and the report writers (which drop their temp files), and
:func:`stopped_message` gives the line to print. A second signal while stopping is
ignored, so the clean-up finishes. Decoding workers ignore both signals
(:func:`ignore_in_worker`): Ctrl-C reaches the whole process group, and only the main
process decides how to stop. No torch here.
"""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

#: Exit code and what the one line says, per signal.
_NAMES = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}


class Stopped(BaseException):
    """Raised in the main thread on SIGINT or SIGTERM; ``exit_code`` is 128 + the signal."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(_NAMES.get(signum, f"stopped by signal {signum}"))


def _raise(signum: int, frame: object) -> None:
    for each in _NAMES:
        signal.signal(each, signal.SIG_IGN)  # a second signal must not cut the clean-up short
    raise Stopped(signum)


def install() -> None:
    """Make SIGINT and SIGTERM raise :class:`Stopped` (main thread only; else a no-op)."""
    if threading.current_thread() is threading.main_thread():
        for each in _NAMES:
            signal.signal(each, _raise)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """:func:`install` for the duration of the block; the previous handlers come back
    after it (a command run inside a test process leaves the process as it was)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {each: signal.getsignal(each) for each in _NAMES}
    install()
    try:
        yield
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)


def stopped_message(exc: BaseException) -> tuple[str, int]:
    """The one line and the exit code for a stop (``Stopped`` or a plain Ctrl-C)."""
    if isinstance(exc, Stopped):
        return str(exc), exc.exit_code
    return "interrupted", 128 + signal.SIGINT


def ignore_in_worker() -> None:
    """In a decoding worker: leave SIGINT/SIGTERM to the main process, and keep the
    broken-connection noise of a stopping main process off stderr."""
    for each in _NAMES:
        signal.signal(each, signal.SIG_IGN)
    previous = sys.excepthook

    def quiet(kind: type[BaseException], value: BaseException, trace: object) -> None:
        if not issubclass(kind, (ConnectionError, EOFError)):
            previous(kind, value, trace)  # type: ignore[arg-type]

    sys.excepthook = quiet
