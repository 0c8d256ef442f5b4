"""Atomic file writes: a temp file beside the target, renamed into place when complete;
and :func:`read_text` for reading back the result files imgloss wrote.

Every file imgloss writes whole (reports, JUnit, heatmaps, the weights cache and its
manifest, updated golden images) goes through :func:`atomic_write`, so a crash or an
error never leaves a half-written file under the real name. No torch here.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Callable

from imgloss.errors import InputError, UsageError


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(temp)`` on a new temp file beside ``path``, then rename it to ``path``.

    The temp file is created 0644 (not mkstemp's 0600, which would hide reports from
    CI artifact readers) and removed if ``write`` or the rename fails; ``path`` is then
    unchanged.
    """
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(handle, 0o644)
        os.close(handle)
        write(Path(temp))
        os.replace(temp, path)
    finally:
        Path(temp).unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda temp: temp.write_bytes(data))


def check_writable(path: Path) -> None:
    """Fail before any work when ``path``'s folder is missing or is not a folder."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"cannot write {path}: folder {parent} does not exist")
    if path.is_dir():
        raise UsageError(f"cannot write {path}: it is a directory")


class Sink:
    """A text stream that is stdout, or ``FILE.partial`` renamed to ``FILE`` on commit."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.partial = None if path is None else path.with_name(path.name + ".partial")
        self.stream: IO[str] = sys.stdout if self.partial is None else open(self.partial, "w", newline="", encoding="utf-8")

    def commit(self) -> None:
        if self.partial is not None:
            self.stream.close()
            os.replace(self.partial, self.path)  # type: ignore[arg-type]
        else:
            self.stream.flush()

    def abort(self) -> None:
        if self.partial is not None:
            self.stream.close()
            self.partial.unlink(missing_ok=True)


def read_text(path: Path) -> str:
    """The text of a result file; an :class:`InputError` naming it when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read file ({exc})") from None
