"""Decoding workers that die: the pair a dead worker was reading becomes an error row,
and decoding goes on in fresh workers for the pairs not yet received.

:class:`WorkerSlots` is shared memory the workers write (their pid, and the pair each
is decoding now), so that when torch reports "DataLoader worker (pid N) exited
unexpectedly / is killed by signal", the pair that worker held is known. While the
main process is busy scoring, a worker's death is only noted (torch's own SIGCHLD
handler would raise in the middle of any computation); it is raised where the engine
waits for the next decoded pair. :func:`decoded_pairs` is the restart loop.

Workers ignore SIGINT/SIGTERM (:mod:`imgloss.signals`), so multiprocessing's own
clean-up at interpreter exit (SIGTERM each daemonic child, then wait for it) cannot end
one whose DataLoader was never shut down: :func:`_end_leftover_workers` (at exit, before
it) kills this module's workers that are still alive, so a finished run never waits.
"""
from __future__ import annotations

import atexit
import gc
import os
import re
import weakref
import signal
import threading
from contextlib import contextmanager
from multiprocessing.sharedctypes import RawArray
from typing import Any, Callable, Iterator, Sequence

from imgloss.signals import check as check_stop, held_back, ignore_in_worker

_PIDS = re.compile(r"pid(?:\(s\))? ([\d, ]+)")
#: A worker death with nothing received since the last one: after this many in a row,
#: decoding moves into the main process.
_MAX_BARREN_RESTARTS = 3


class WorkerDied(Exception):
    """A decoding worker process ended while the run needed it."""


class WorkerSlots:
    """Per worker slot: its process id and the index of the pair it is decoding (-1: none)."""

    def __init__(self, workers: int) -> None:
        self.pids = RawArray("q", max(workers, 1))
        self.current = RawArray("q", [-1] * max(workers, 1))
        _LIVE_SLOTS.add(self)

    @contextmanager
    def decoding(self, index: int) -> Iterator[None]:
        """Mark pair ``index`` as being decoded by this worker (a no-op in the main process)."""
        from torch.utils.data import get_worker_info

        info = get_worker_info()
        if info is None:
            yield
            return
        self.pids[info.id], self.current[info.id] = os.getpid(), index
        try:
            yield
        finally:
            self.current[info.id] = -1

    def held_by(self, message: str) -> list[int]:
        """The pairs that the workers named in torch's ``message`` were decoding."""
        found = _PIDS.search(message)
        pids = {int(p) for p in re.findall(r"\d+", found.group(1))} if found else set()
        return [self.current[slot] for slot, pid in enumerate(self.pids) if pid in pids and self.current[slot] >= 0]


#: Every WorkerSlots still referenced (a DataLoader that outlives its run keeps its own).
_LIVE_SLOTS: "weakref.WeakSet[WorkerSlots]" = weakref.WeakSet()


def _end_leftover_workers() -> None:
    """At exit: SIGKILL the decoding workers (children of this process whose pid a live
    :class:`WorkerSlots` holds) that are still running."""
    import multiprocessing

    ours = {pid for slots in list(_LIVE_SLOTS) for pid in slots.pids if pid > 0}
    leftover = [child for child in multiprocessing.active_children() if child.pid in ours]
    if leftover and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # torch's handler would raise at exit
    for child in leftover:
        child.kill()


atexit.register(_end_leftover_workers)  # after multiprocessing's: runs before it


def worker_init(_: int) -> None:
    """Decoding workers use one thread each and leave SIGINT/SIGTERM to the main process."""
    import torch

    torch.set_num_threads(1)
    ignore_in_worker()


#: A broken connection while a batch is received: its worker died as it handed it over.
_BROKEN_CONNECTION = (EOFError, ConnectionError)


def _is_worker_death(exc: BaseException) -> bool:
    """torch's worker-death error, or a connection a dying worker broke."""
    text = str(exc)
    return isinstance(exc, _BROKEN_CONNECTION) or isinstance(exc, (RuntimeError, WorkerDied)) and (
        "DataLoader worker" in text and ("exited unexpectedly" in text or "killed by signal" in text)
    )


def _named_death(exc: Exception) -> Exception:
    """A worker death (:func:`_is_worker_death`) as torch's error naming the dead worker:
    ``exc`` itself, or for a broken connection torch's error when torch knows of the
    death already (``exc`` otherwise)."""
    if not isinstance(exc, _BROKEN_CONNECTION):
        return exc
    try:
        _raise_if_worker_failed()
    except RuntimeError as named:
        return named
    return exc


class _Deaths:
    """SIGCHLD while the engine waits for a decoded pair: raise torch's worker-death error
    there (as torch's own handler would); while it scores: only note it, and raise at
    the next wait (torch's handler would raise in the middle of any computation)."""

    def __init__(self) -> None:
        self.waiting = False
        self.noted = False

    def on_child(self, *_: object) -> None:
        if self.waiting:
            _raise_if_worker_failed()
        else:
            self.noted = True

    def next(self, iterator: Iterator[Any]) -> Any:
        """``next(iterator, None)``, raising a worker death noted meanwhile first."""
        if self.noted:
            self.noted = False
            _raise_if_worker_failed()
        self.waiting = True
        try:
            return next(iterator, None)
        finally:
            self.waiting = False

    @contextmanager
    def watching(self) -> Iterator[None]:
        """Install :meth:`on_child` for SIGCHLD in the block (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.getsignal(signal.SIGCHLD)
        signal.signal(signal.SIGCHLD, self.on_child)
        try:
            yield
        finally:
            signal.signal(signal.SIGCHLD, previous)


@contextmanager
def _children_ignored() -> Iterator[None]:
    """SIGCHLD does nothing in the block (torch's handler would raise from a worker
    shutdown, e.g. while the run stops on SIGINT/SIGTERM, as an ignored exception)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGCHLD, previous)


def _raise_if_worker_failed() -> None:
    from torch._C import _error_if_any_worker_fails

    _error_if_any_worker_fails()


def decoded_pairs(
    indices: Sequence[int],
    workers: int,
    make_loader: Callable[[Sequence[int], int], Iterator[Any]],
    slots: WorkerSlots,
    died: Callable[[int, str], Any],
) -> Iterator[Any]:
    """Every decoded item of ``indices`` (in the loader's order; ``make_loader(indices,
    workers)`` returns the DataLoader's iterator), restarting the workers when one dies:
    ``died(index, reason)`` makes the item of each pair a dead worker held (an error
    row), and the pairs not yet received are decoded again. A worker that dies as it
    hands a batch over breaks the connection (``EOFError``) before torch reports it:
    that is a death too (the batch's pairs are decoded again)."""
    remaining = list(indices)
    barren = 0
    deaths = _Deaths()
    while remaining:
        received: set[int] = set()
        reason: str | None = None
        with held_back():  # the workers start with SIGINT/SIGTERM blocked (imgloss.signals)
            iterator = make_loader(remaining, workers)
        with deaths.watching():  # also while a death is handled: a late SIGCHLD is only noted
            try:
                while True:
                    check_stop()  # SIGINT/SIGTERM take effect here, never inside torch's C++
                    item = deaths.next(iterator)
                    if item is None:
                        return
                    received.add(item.index)
                    yield item
            except Exception as exc:
                if not _is_worker_death(exc):
                    raise
                death = _named_death(exc)
                detail = re.search(r"killed by signal: ?([^.]*)|exit code -?\d+", str(death))
                reason = f"decoding worker died ({detail.group(0) if detail else 'exited unexpectedly'})"
                held = [i for i in slots.held_by(str(death)) if i not in received]
                del death  # its traceback holds the old loader: the workers must be shut down below
            finally:
                with _children_ignored():  # shutting the workers down: a death now is no news
                    del iterator
                    if reason is not None:  # the error's traceback may hold the old loader in a cycle
                        gc.collect()
        for index in held:  # only after a worker death: the other ways out return or raise
            received.add(index)
            yield died(index, reason)  # type: ignore[arg-type]
        barren = 0 if received else barren + 1
        if barren >= _MAX_BARREN_RESTARTS:
            workers = 0
        remaining = [i for i in remaining if i not in received]
