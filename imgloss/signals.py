"""SIGINT and SIGTERM: stop the run cleanly, with one line and exit code 128 + signal.

The handlers (:func:`install`, :func:`stop_on_signals`) only RECORD the signal: a
Python exception raised from a signal handler that runs while torch's C++ code is on
the stack (a convolution, a DataLoader call) crosses pybind11 and aborts the process.
The run calls :func:`check` at safe points instead (each decoded pair, each batch,
each tile, each result written, before a file is published, each folder walked, each
block downloaded) and ``check`` raises :class:`Stopped` there. ``Stopped`` is a
``BaseException`` that is not a ``KeyboardInterrupt``, so no library's ``except
Exception`` and no Click handler swallows it: the stack unwinds through the engine (its
DataLoader shuts its decoding workers down) and the report writers (which drop their
temp files), and :func:`stopped_message` gives the line to print.

The same signal a second time before the process has ended forces the exit at once
(the user is not kept waiting for a safe point): the clean-up given to
:func:`stop_on_signals` runs (temp files removed), the one line is written and the
process ends with the same exit code. Decoding workers ignore both signals
(:func:`ignore_in_worker`): Ctrl-C reaches the whole process group, and only the main
process decides how to stop. Without the handlers installed (library use),
:func:`check` never raises. No torch here.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

#: What the one line says, per signal (the exit code is 128 + the signal).
_NAMES = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}


class Stopped(BaseException):
    """Raised by :func:`check` after SIGINT or SIGTERM; ``exit_code`` is 128 + the signal."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(_NAMES.get(signum, f"stopped by signal {signum}"))


class _State:
    """The first signal received (None: none yet) and the forced exit's clean-up."""

    signum: int | None = None
    cleanup: Callable[[], None] | None = None


def _record(signum: int, frame: object) -> None:
    """The handler: note the signal; the same one again forces the exit now."""
    if _State.signum == signum:
        _force_exit(signum)
    if _State.signum is None:
        _State.signum = signum


def _force_exit(signum: int) -> None:
    try:
        if _State.cleanup is not None:
            _State.cleanup()
    finally:
        os.write(2, f"imgloss: error: {Stopped(signum)}\n".encode())
        os._exit(128 + signum)


def check() -> None:
    """A safe point: raise :class:`Stopped` if SIGINT or SIGTERM has arrived (again at
    every later call, so a stop is never lost); otherwise return at once."""
    if _State.signum is not None:
        raise Stopped(_State.signum)


def install() -> None:
    """Record SIGINT and SIGTERM for :func:`check` (main thread only; else a no-op)."""
    if threading.current_thread() is threading.main_thread():
        for each in _NAMES:
            signal.signal(each, _record)


@contextmanager
def stop_on_signals(cleanup: Callable[[], None] | None = None) -> Iterator[None]:
    """:func:`install` for the duration of the block, with ``cleanup`` for a forced
    exit; a signal already recorded (while the CLI loaded) stops the block before it
    starts. The previous handlers come back after it, and the record is cleared unless
    they are this module's (a command run inside a test process leaves it as it was)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {each: signal.getsignal(each) for each in _NAMES}
    before = _State.cleanup
    _State.cleanup = cleanup
    install()
    try:
        check()
        yield
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)
        _State.cleanup = before
        if _record not in previous.values():
            _State.signum = None


def finished() -> None:
    """The command is over, its outputs final: ignore SIGINT and SIGTERM until the
    process ends (main thread only). The interpreter's shutdown puts the default action
    back for every handled signal, so one arriving then would kill the finished run
    (exit -2/-15, no line); an ignored one stays ignored."""
    if threading.current_thread() is threading.main_thread():
        for each in _NAMES:
            signal.signal(each, signal.SIG_IGN)


@contextmanager
def held_back() -> Iterator[None]:
    """Block SIGINT and SIGTERM in the block (main thread; they are delivered right after
    it). Processes forked in the block start with both blocked, until
    :func:`ignore_in_worker` ignores them: a signal to the whole process group in the
    first moments of a decoding worker (before it ignores it; torch's worker handler
    dies of a SIGTERM from anyone but its parent) never kills it."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, set(_NAMES))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def stopped_message(exc: BaseException) -> tuple[str, int]:
    """The one line and the exit code for a stop (``Stopped`` or a plain Ctrl-C)."""
    if isinstance(exc, Stopped):
        return str(exc), exc.exit_code
    return "interrupted", 128 + signal.SIGINT


def ignore_in_worker() -> None:
    """In a decoding worker: leave SIGINT/SIGTERM to the main process, and keep the
    broken-connection noise of a stopping main process off stderr."""
    for each in _NAMES:
        signal.signal(each, signal.SIG_IGN)  # drops one that arrived while held back
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, set(_NAMES))
    previous = sys.excepthook

    def quiet(kind: type[BaseException], value: BaseException, trace: object) -> None:
        if not issubclass(kind, (ConnectionError, EOFError)):
            previous(kind, value, trace)  # type: ignore[arg-type]

    sys.excepthook = quiet
