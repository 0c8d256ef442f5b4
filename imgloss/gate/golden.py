"""``check --update-golden``: make the candidates the new golden files, all or nothing.

Two files: the candidate's bytes are staged in a temp file beside the golden file and
renamed over it. Two folders: the golden folder is rebuilt in a hidden temp folder
beside it (unchanged files hard-linked, or copied where links are impossible), each
paired golden file is replaced by its candidate (at the candidate's relative path, so
with ``--ignore-extension`` ``x.png`` may become ``x.jpg``), candidates with no golden
file are added, and golden files with no candidate are kept. Only then are the folders
swapped by two renames (the old one is restored if the second fails) and the old tree
deleted. An exception while staging deletes the stage and leaves the golden folder
exactly as it was. No torch here.
"""
from __future__ import annotations

import ctypes
import errno
import ctypes.util
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from imgloss.errors import InputError
from imgloss.report.output import atomic_write, atomic_write_bytes, glob_escape, pid_alive, remove_stale_temps
from imgloss.signals import check as check_stop

if TYPE_CHECKING:
    from imgloss.io import Pairing


@dataclass(frozen=True)
class Update:
    """Put ``source`` at ``target`` (relative POSIX path in the golden folder), removing the
    golden file ``replaces`` (relative path) first when it has another name."""

    source: Path
    target: str
    replaces: str | None = None


def plan(golden: Path, candidate: Path, pairing: Pairing) -> list[Update]:
    """The updates that make the folder ``golden`` hold every candidate of ``pairing``."""
    updates = [
        Update(p.candidate, p.key, p.reference.relative_to(golden).as_posix())  # type: ignore[union-attr]
        for p in pairing.pairs
    ]
    updates += [Update(path, path.relative_to(candidate).as_posix()) for path in pairing.unmatched_candidate]
    return updates


def copy_file(source: Path, target: Path) -> None:
    """Copy one candidate into the stage (contents and modification time)."""
    shutil.copy2(source, target)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def replace_file(golden: Path, candidate: Path) -> None:
    """Replace the file ``golden`` by a copy of ``candidate`` (temp file, then rename)."""
    golden = golden.resolve()
    try:
        atomic_write(golden, lambda temp: copy_file(candidate, temp))
    except OSError as exc:
        raise InputError(golden, f"cannot update the golden file ({exc}); it was not changed") from None


def replace_tree(golden: Path, updates: Sequence[Update]) -> None:
    """Apply ``updates`` to the folder ``golden`` all at once (see the module docstring).

    ``golden`` is resolved first, so ``.`` or a symbolic link stages beside the real folder."""
    golden = golden.resolve()
    recover(golden)
    stage = golden.parent / f".{golden.name}.{os.getpid()}.imgloss-update"
    stage.mkdir(mode=0o700)
    try:
        fresh = stage / "new"
        try:
            shutil.copytree(golden, fresh, symlinks=True, copy_function=_link_or_copy)
            for update in updates:
                if update.replaces is not None:
                    (fresh / update.replaces).unlink(missing_ok=True)
                target = fresh / update.target
                target.parent.mkdir(parents=True, exist_ok=True)
                target.unlink(missing_ok=True)  # never write through a hard link into the golden file
                copy_file(update.source, target)
            check_stop()  # a stop (SIGINT/SIGTERM) before the swap leaves the golden folder as it was
            _swap(golden, fresh, stage / "old")
        except (OSError, shutil.Error) as exc:
            raise InputError(golden, f"cannot update the golden folder ({exc}); it was not changed") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _swap(golden: Path, fresh: Path, old: Path) -> None:
    """Make ``fresh`` the folder ``golden`` (the old one ends at ``fresh`` or ``old``)."""
    if _exchange(fresh, golden):
        return
    journal = _journal(golden)
    atomic_write_bytes(journal, json.dumps({"fresh": str(fresh), "old": str(old)}).encode())
    os.rename(golden, old)
    try:
        os.rename(fresh, golden)
    except BaseException:
        os.rename(old, golden)
        journal.unlink()
        raise
    journal.unlink()


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2``); False where impossible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # the file system cannot: the journal does it
    raise OSError(code, os.strerror(code), str(b))


def _journal(golden: Path) -> Path:
    return golden.parent / f".{golden.name}.imgloss-journal"


def recover(golden: Path) -> None:
    """Finish what a killed ``--update-golden`` left beside ``golden``: a swap recorded in
    the journal is completed (the new folder was whole before it started) or, if the
    golden folder was never moved, rolled back; stages of dead runs are deleted."""
    golden = golden.resolve()
    journal = _journal(golden)
    remove_stale_temps(journal)
    if journal.exists():
        try:
            record = json.loads(journal.read_text())
            fresh, old = Path(record["fresh"]), Path(record["old"])
        except (OSError, ValueError, KeyError, TypeError):
            raise InputError(journal, "unreadable update journal: check the golden folder by hand, then delete it") from None
        try:
            if not golden.exists() and fresh.is_dir():
                os.rename(fresh, golden)  # the old folder was moved away: finish the swap
            elif not golden.exists() and old.is_dir():
                os.rename(old, golden)
            journal.unlink()
        except OSError as exc:
            raise InputError(golden, f"cannot finish the interrupted golden update ({exc}); see {journal}") from None
    for stage in golden.parent.glob(f".{glob_escape(golden.name)}.*.imgloss-update"):
        pid = stage.name[len(golden.name) + 2 : -len(".imgloss-update")]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(stage, ignore_errors=True)
