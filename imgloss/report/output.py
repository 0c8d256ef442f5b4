"""The one output path: every file imgloss writes (reports, JUnit, heatmaps, HTML, golden
updates, the weights cache) goes through here; :func:`read_text` reads back the result
files imgloss wrote.

- :func:`check_destination` runs before any work: the folder exists, is a folder and
  takes a new file (probed with a real temp file), the name fits the file system, the
  target is not a folder and not a device (stdout, ``-`` or ``/dev/stdout``, and
  ``/dev/null``, which discards the report, excepted).
- Every file is written to a private temp file (``.NAME.XXXXXXXX.tmp``, created with
  ``O_EXCL``, mode 0600 until complete, then 0644) in the target's folder and renamed
  over the target, so a reader sees the old file or the whole new one, never a part,
  and two runs writing one file never interleave (the last rename wins).
- :class:`Output` streams a report; if the file (or stdout) fails after the work, the
  whole output is kept: written to a fallback file in the temp folder, or to stdout,
  and an :class:`~imgloss.errors.OutputError` (exit code 5) names where it went.
- Temp files still open are listed in :data:`LIVE` and removed by :func:`remove_temps`
  (the signal handlers call it), so no temp file outlives an interrupted run.

No torch here.
"""
from __future__ import annotations

import errno
import os
import secrets
import stat
import sys
import tempfile
from pathlib import Path
from typing import Callable

from imgloss.errors import InputError, OutputError, UsageError
from imgloss.signals import check as check_stop

#: Temp files being written now (absolute paths); removed on SIGINT/SIGTERM.
LIVE: set[str] = set()
_MODE = 0o644


def is_stdout(path: Path | None) -> bool:
    """Whether ``path`` means standard output: None, ``-``, or the file that fd 1 is."""
    if path is None or str(path) == "-":
        return True
    try:
        return os.path.samestat(os.stat(path), os.fstat(1))
    except (OSError, ValueError):
        return False


def is_devnull(path: Path | None) -> bool:
    """Whether ``path`` is the null device (``-o /dev/null``: the report is discarded)."""
    try:
        return path is not None and os.path.samefile(path, os.devnull)
    except OSError:
        return False


def describe(exc: OSError) -> str:
    """A short reason for an OSError: ``permission denied``, ``no space left on device``."""
    if exc.errno is not None and exc.errno in errno.errorcode:
        return os.strerror(exc.errno).lower()
    return str(exc) or type(exc).__name__


def check_destination(path: Path | None, flag: str = "--output") -> None:
    """Fail before any work (:class:`UsageError`, exit 2) when ``path`` cannot be written.

    ``None`` (or ``-``) is stdout: it must be open. A file must not be a folder or a
    special file, its name must fit the file system, and its folder must exist and take
    a new file (a temp file is created and removed to find out).
    """
    if is_devnull(path):
        return
    if path is None or is_stdout(path):
        if not _stdout_open():
            raise UsageError(f"{'standard output' if path is None else path} is closed: give {flag} FILE")
        return
    where = f"cannot write {flag} {path}"
    parent = _parent(path)
    size, most = len(os.fsencode(path.name)), _name_max(parent)
    if size > most:
        raise UsageError(f"{where}: file name too long ({size} bytes; this file system allows {most})")
    try:
        st = path.stat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise UsageError(f"{where}: {describe(exc)}") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{where}: it is a directory")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{where}: not a regular file (a device, pipe or socket; only stdout may be one)")
    if not parent.is_dir():
        what = "does not exist" if not parent.exists() else "is not a folder"
        raise UsageError(f"{where}: folder {parent} {what}")
    try:
        fd, temp = _create_temp(path)
    except OSError as exc:
        raise UsageError(f"{where}: folder {parent} does not take new files ({describe(exc)})") from None
    os.close(fd)
    _remove(temp)
    remove_stale_temps(path)


def _stdout_open() -> bool:
    if sys.stdout is None:
        return False
    try:
        os.fstat(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        return hasattr(sys.stdout, "write")  # a captured stream (tests, notebooks) has no fd
    return True


def _parent(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def _create_temp(path: Path) -> tuple[int, str]:
    """A new private file beside ``path`` (``O_EXCL``: never an existing file or link),
    named ``.NAME.PID-RANDOM.tmp`` so that a later run can tell a dead run's leftover."""
    parent = _parent(path)
    name = f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    if len(os.fsencode(name)) > _name_max(parent):
        name = f".imgloss.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    temp = os.path.abspath(os.path.join(parent, name))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    LIVE.add(temp)  # before it exists: a signal right after the open still finds it
    try:
        return os.open(temp, flags, 0o600), temp
    except OSError:
        LIVE.discard(temp)
        raise


def _remove(temp: str) -> None:
    try:
        os.unlink(temp)
    except OSError:
        pass
    LIVE.discard(temp)


def remove_stale_temps(path: Path) -> None:
    """Delete the temp files that killed runs (SIGKILL, power loss) left beside ``path``."""
    parent = _parent(path)
    for prefix in (f".{path.name}.", ".imgloss."):
        for temp in parent.glob(glob_escape(prefix) + "*-*.tmp"):
            pid = temp.name[len(prefix):].split("-")[0]
            if pid.isdigit() and not pid_alive(int(pid)):
                temp.unlink(missing_ok=True)


def glob_escape(name: str) -> str:
    """``name`` with glob characters taken literally."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def pid_alive(pid: int) -> bool:
    """Whether another process ``pid`` runs (this process's own leftovers are never
    live: it removes its temp files as it goes)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_temps() -> None:
    """Remove every temp file still being written (called on SIGINT/SIGTERM and at exit)."""
    for temp in list(LIVE):
        _remove(temp)


def _publish(temp: str, path: Path) -> None:
    """Make the complete temp file readable and rename it over ``path``."""
    os.chmod(temp, _MODE)
    os.replace(temp, path)
    LIVE.discard(temp)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(temp)`` on a new private temp file beside ``path``, then rename it to
    ``path`` (0644). Raises ``OSError``; the temp file is removed and ``path`` unchanged."""
    fd, temp = _create_temp(path)
    os.close(fd)
    try:
        write(Path(temp))
        check_stop()  # a stop (SIGINT/SIGTERM) before the rename leaves the target as it was
        _publish(temp, path)
    finally:
        if temp in LIVE:
            _remove(temp)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`); raises ``OSError``."""
    atomic_write(path, lambda temp: temp.write_bytes(data))


class Output:
    """One report: a file (temp file renamed on :meth:`commit`) or stdout, streamed.

    Text is encoded as UTF-8, with the raw bytes of non-UTF-8 file names kept
    (``surrogateescape``). Everything written is also kept in memory, so that a failure
    of the file or of stdout loses nothing: :meth:`commit` then writes it all to a
    fallback file (or to stdout) and raises :class:`OutputError` saying where.
    """

    def __init__(self, path: Path | None, flag: str = "--output") -> None:
        self.path = None if is_stdout(path) else path
        self.flag = flag
        self.discard = is_devnull(path)
        self.kept: list[bytes] = []
        self.failure: OSError | None = None
        self.fd, self.temp = -1, ""
        if self.path is not None and not self.discard:
            try:
                self.fd, self.temp = _create_temp(self.path)
            except OSError as exc:
                self.failure = exc

    def write(self, text: str) -> None:
        """Append ``text`` (kept whatever happens to the file)."""
        self.write_bytes(text.encode("utf-8", "surrogateescape"))

    def write_bytes(self, data: bytes) -> None:
        if self.discard:
            return
        self.kept.append(data)
        if self.failure is not None:
            return
        try:
            if self.path is None:
                _to_stdout(data)
            else:
                _write_all(self.fd, data)
        except (OSError, ValueError, AttributeError) as exc:
            self.failure = exc if isinstance(exc, OSError) else OSError(errno.EBADF, "standard output is closed")

    def commit(self) -> None:
        """Publish the output; on any failure keep it elsewhere and raise OutputError."""
        if self.discard:
            return
        try:
            check_stop()  # a stop (SIGINT/SIGTERM) before the rename leaves the target as it was
        except BaseException:
            self.abort()
            raise
        if self.failure is None:
            try:
                if self.path is None:
                    sys.stdout.flush()
                else:
                    fd, self.fd = self.fd, -1
                    os.close(fd)
                    _publish(self.temp, self.path)
                    self.temp = ""
                return
            except (OSError, ValueError, AttributeError) as exc:
                self.failure = exc if isinstance(exc, OSError) else OSError(errno.EBADF, "standard output is closed")
        self.abort()
        raise self._kept_elsewhere(self.failure)

    def abort(self) -> None:
        """Drop the temp file (the target is untouched)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.temp:
            _remove(self.temp)

    def _kept_elsewhere(self, failure: OSError) -> OutputError:
        target = "standard output" if self.path is None else f"{self.flag} {self.path}"
        problem = f"cannot write {target} ({describe(failure)})"
        data = b"".join(self.kept)
        name = "stdout" if self.path is None else self.path.name
        try:
            fd, fallback = tempfile.mkstemp(prefix=f"imgloss-{os.getpid()}-", suffix=f"-{name}"[-64:])
            with os.fdopen(fd, "wb") as stream:
                os.fchmod(stream.fileno(), _MODE)
                stream.write(data)
            return OutputError(f"{problem}; the results were written to {fallback} instead")
        except OSError as exc:
            kept_problem = describe(exc)
        if self.path is not None:
            try:
                _to_stdout(data)
                sys.stdout.flush()
                return OutputError(f"{problem}; the results were written to standard output instead")
            except (OSError, ValueError, AttributeError):
                pass
        return OutputError(f"{problem}; the results could not be kept anywhere ({kept_problem})")


def deliver(path: Path | None, data: bytes, flag: str = "--output") -> None:
    """Write a whole document to ``path`` (or stdout) through :class:`Output`."""
    output = Output(path, flag)
    output.write_bytes(data)
    output.commit()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _to_stdout(data: bytes) -> None:
    stream = sys.stdout
    stream.flush()
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:
        stream.write(data.decode("utf-8", "replace"))


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
