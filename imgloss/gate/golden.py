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

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from imgloss.errors import InputError
from imgloss.report.output import atomic_write

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
    stage = Path(tempfile.mkdtemp(prefix=f".{golden.name}.", suffix=".imgloss-update", dir=golden.parent))
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
            _swap(golden, fresh, stage / "old")
        except (OSError, shutil.Error) as exc:
            raise InputError(golden, f"cannot update the golden folder ({exc}); it was not changed") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _swap(golden: Path, fresh: Path, old: Path) -> None:
    """Move ``golden`` to ``old`` and ``fresh`` to ``golden``; undo the first on failure."""
    os.rename(golden, old)
    try:
        os.rename(fresh, golden)
    except BaseException:
        os.rename(old, golden)
        raise
