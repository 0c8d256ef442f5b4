"""``--resume FILE.jsonl``: a run that survives being killed.

The file is a header line (``{"imgloss_resume": 1, "imgloss": version, "options",
"device", "warnings", "unmatched", "pairs", "listing"}``) and then one result object per
scored pair (the lines ``--format jsonl`` writes), appended as pairs are scored and
flushed and fsynced every :data:`SYNC_LINES` lines or :data:`SYNC_SECONDS` seconds, so a
``kill -9`` loses at most those. Run the same command again and the pairs already in the
file are not scored again: their stored results take their place in the output, which
is then the output of an uninterrupted run (stored values are the exact floats).

Refused before any work (usage error, file untouched): a file that is not a resume
file, or one written by another version, with other options (named), for another
shard or for inputs listed differently (another folder, files added or removed). A torn
last line (the crash cut it) is dropped; any other corrupt line is an input error. No torch.
"""
from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from imgloss._version import __version__
from imgloss.errors import UsageError
from imgloss.io import Pair, Pairing
from imgloss.report.output import check_destination
from imgloss.report.summary import RunInfo
from imgloss.report.writers import result_json
from imgloss.results import PairResult
from imgloss.scale.compat import RESUME_FREE, differences
from imgloss.scale.parts import RESUME_MARK, header, read_part
from imgloss.scale.shard import listing_digest

#: Sync the file to disk after this many new lines ...
SYNC_LINES = 256
#: ... or this many seconds, whichever comes first (and at the end of the run).
SYNC_SECONDS = 2.0
#: Bytes read from the end of the file to find a torn last line.
_TAIL = 1 << 20


class Resumed:
    """An evaluator that yields the stored result of each pair already in the file and
    scores the others with ``inner`` (appending each to the file), in input order."""

    def __init__(self, path: Path, inner: Any, info: RunInfo, pairs: int, listing: str,
                 stored: dict[str, PairResult], fresh: bool, torn: int) -> None:
        self.path, self.inner, self.info = path, inner, info
        self.pairs, self.listing = pairs, listing
        self.stored, self.fresh, self.torn = stored, fresh, torn
        self.stats, self.device = inner.stats, inner.device

    @classmethod
    def open(cls, path: Path, inner: Any, info: RunInfo, pairing: Pairing, reference: Path | None, candidate: Path) -> "Resumed":
        """Check ``path`` against this run (see the module docstring) and read its results."""
        check_destination(path, "--resume")
        listing = listing_digest(pairing, reference, candidate)
        if not path.exists() or path.stat().st_size == 0 or _only_torn(path):
            return cls(path, inner, info, len(pairing.pairs), listing, {}, True, 0)
        part = read_part(path)
        if part.kind != "resume":
            raise UsageError(f"--resume {path}: not a file that --resume wrote (no header line); "
                             "give a new file name to start a resumable run")
        meta = part.meta or {}
        found = differences(meta, {"imgloss": __version__, "options": info.options}, RESUME_FREE)
        if found:
            raise UsageError(f"--resume {path} was written with other options (file vs this run: {'; '.join(found)}); "
                             "rerun with its options, or give a new file name")
        if meta.get("listing") != listing:
            raise UsageError(f"--resume {path}: the inputs changed since it was written ({meta.get('pairs')} pair(s) "
                             f"then, {len(pairing.pairs)} now: files added, removed or renamed); give a new file name")
        stored = {result.key: result for result in part.results()}
        return cls(path, inner, info, len(pairing.pairs), listing, stored, False, part.torn)

    def run(self, pairs: Sequence[Pair]) -> Iterator[PairResult]:
        """One result per pair, in input order: stored, or scored now and appended."""
        with self._appender() as append:
            live = iter(self.inner.run([pair for pair in pairs if pair.key not in self.stored]))
            for pair in pairs:
                result = self.stored.get(pair.key)
                if result is None:
                    result = next(live)
                    append(result)
                yield result

    @contextmanager
    def _appender(self) -> Iterator[Callable[[PairResult], None]]:
        """Open the file for appending (dropping a torn last line, writing the header of a
        new file) and give a function that appends one result; sync on the way out."""
        if not self.fresh:
            _mend(self.path)
        with open(self.path, "wb" if self.fresh else "ab") as stream:
            last_sync, unsynced = time.monotonic(), 0

            def sync() -> None:
                nonlocal last_sync, unsynced
                stream.flush()
                os.fsync(stream.fileno())
                last_sync, unsynced = time.monotonic(), 0

            def append(result: PairResult) -> None:
                nonlocal unsynced
                stream.write(_line(result_json(result)))
                unsynced += 1
                if unsynced >= SYNC_LINES or time.monotonic() - last_sync >= SYNC_SECONDS:
                    sync()

            if self.fresh:
                stream.write(_line(header(self.info, self.pairs, self.listing)))
                sync()
                _sync_folder(self.path)
            try:
                yield append
            finally:
                sync()


def _line(value: dict[str, Any]) -> bytes:
    return (json.dumps(value, allow_nan=False) + "\n").encode("utf-8")


def _mend(path: Path) -> None:
    """End the file on a newline: cut a torn last line, or end a whole one."""
    with open(path, "r+b") as stream:
        size = stream.seek(0, os.SEEK_END)
        start = stream.seek(max(0, size - _TAIL))
        tail = stream.read()
        if not tail or tail.endswith(b"\n"):
            return
        cut = tail.rfind(b"\n") + 1
        try:
            json.loads(tail[cut:])
        except ValueError:
            stream.truncate(start + cut)
        else:
            stream.write(b"\n")


def _only_torn(path: Path) -> bool:
    """Whether the file holds nothing but a header cut short (killed while starting)."""
    with open(path, "rb") as stream:
        head = stream.read(_TAIL)
    if b"\n" in head or not head.startswith(b'{"' + RESUME_MARK.encode()):
        return False
    try:
        json.loads(head)
    except ValueError:
        return True
    return False


def _sync_folder(path: Path) -> None:
    """Make a new file's name durable too (POSIX; a no-op where folders cannot be opened)."""
    try:
        handle = os.open(path.parent if str(path.parent) else ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
