"""Pair a reference and a candidate path: two files, or two folders matched by relative
path (recursive, optional glob, optionally ignoring the extension); files on one side
only are listed as unmatched, never paired by position."""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Literal

from imgloss.errors import InputError, UsageError
from imgloss.io.limits import describe_error
from imgloss.io.masks import MaskSpec, is_mask_file
from imgloss.signals import check as check_stop

#: Lowercase file suffixes listed as images when scanning folders (case-insensitive).
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
)

@dataclass(frozen=True)
class Pair:
    """One comparison: ``reference`` (None when scoring without reference) vs ``candidate``.

    ``key`` is what reports show: the path relative to the candidate folder in POSIX form
    (``"nature/cat.png"``), or the candidate's file name when two files were given.
    """

    reference: Path | None
    candidate: Path
    key: str
    #: The pair's ignore regions (:mod:`imgloss.io.masks`), None: every pixel compared.
    mask: MaskSpec | None = None


@dataclass
class Pairing:
    """The result of :func:`pair_inputs`: matched pairs, the files found on one side only,
    and the files inside the folders that are not of a supported image type (listed and
    counted like unmatched files: they were not compared).

    All lists are sorted by relative path (deterministic on every platform).
    """

    pairs: list[Pair]
    unmatched_reference: list[Path]
    unmatched_candidate: list[Path]
    unsupported: list[Path] = field(default_factory=list)


# ----------------------------------------------------------------------------- pairing


def pair_inputs(
    reference: str | os.PathLike[str],
    candidate: str | os.PathLike[str],
    *,
    recursive: bool = True,
    glob: str | None = None,
    ignore_extension: bool = False,
) -> Pairing:
    """Pair a reference with a candidate: two files, or two folders by relative path.

    Two files: one pair, keyed by the candidate's file name (``glob`` and
    ``ignore_extension`` do not apply; the files are read whatever their suffix).

    Two folders: every image (suffix in :data:`IMAGE_EXTENSIONS`, case-insensitive)
    under each folder, recursively unless ``recursive=False``, is keyed by its path
    relative to its folder; equal keys pair, the rest are listed as unmatched (never
    paired by position). Hidden files and folders (name starting with ".") and mask
    images (``*.mask.png``, ``_mask.png``: :mod:`imgloss.io.masks`) are skipped.
    ``glob`` keeps only relative POSIX paths matching the pattern on both sides
    (:func:`fnmatch.fnmatchcase`: ``*`` also crosses "/", so ``"*.png"`` matches
    ``"a/b.png"``; a ``"**/"`` may also match nothing, so ``"**/*.png"`` matches
    ``"b.png"``). ``ignore_extension`` keys by the relative path without its suffix
    (``a/x.png`` pairs with ``b/x.jpg``); the key shown is the candidate's relative path.
    A folder entry whose *name* has an image suffix is listed even when it is a
    directory, a broken link or a special file, so that reading it fails visibly
    ("is a directory") instead of it vanishing; such a directory is not descended into.

    Raises :class:`UsageError` for a missing path, a file paired with a folder, or (with
    ``ignore_extension``) two files of one folder that differ only by suffix;
    :class:`InputError` for a folder that cannot be listed.
    """
    ref, cand = Path(reference), Path(candidate)
    ref_kind = _path_kind(ref, "reference")
    cand_kind = _path_kind(cand, "candidate")
    if ref_kind == "file" and cand_kind == "file":
        return Pairing(pairs=[Pair(ref, cand, cand.name)], unmatched_reference=[], unmatched_candidate=[])
    if ref_kind != cand_kind:
        file_side, folder_side = (ref, cand) if ref_kind == "file" else (cand, ref)
        raise UsageError(
            f"cannot compare a file with a folder: {file_side} is a file and {folder_side} "
            "is a folder; give two files or two folders"
        )
    ref_files, ref_other = _scan(ref, recursive=recursive, glob=glob)
    cand_files, cand_other = _scan(cand, recursive=recursive, glob=glob)
    if ignore_extension:
        ref_by = _by_stem(ref, ref_files)
        cand_by = _by_stem(cand, cand_files)
    else:
        ref_by = {rel: (rel, p) for rel, p in ref_files.items()}
        cand_by = {rel: (rel, p) for rel, p in cand_files.items()}
    pairs = [
        Pair(ref_by[k][1], cand_by[k][1], cand_by[k][0])
        for k in cand_by
        if k in ref_by
    ]
    pairs.sort(key=lambda p: p.key)
    only_ref = sorted((v for k, v in ref_by.items() if k not in cand_by), key=lambda v: v[0])
    only_cand = sorted((v for k, v in cand_by.items() if k not in ref_by), key=lambda v: v[0])
    return Pairing(
        pairs=pairs,
        unmatched_reference=[p for _, p in only_ref],
        unmatched_candidate=[p for _, p in only_cand],
        unsupported=ref_other + cand_other,
    )


def list_images(
    path: str | os.PathLike[str],
    *,
    recursive: bool = True,
    glob: str | None = None,
) -> list[Pair]:
    """Images to score without a reference: pairs with ``reference=None``.

    A file gives one pair keyed by its name; a folder is listed as in
    :func:`pair_inputs` (same suffix, hidden, ``recursive`` and ``glob`` rules), sorted
    by relative path. Raises :class:`UsageError` when ``path`` does not exist.
    """
    return list_inputs(path, recursive=recursive, glob=glob).pairs


def list_inputs(path: str | os.PathLike[str], *, recursive: bool = True, glob: str | None = None) -> Pairing:
    """:func:`list_images` with the folder's files of unsupported types (``unsupported``)."""
    root = Path(path)
    if _path_kind(root, "input") == "file":
        return Pairing([Pair(None, root, root.name)], [], [])
    found, other = _scan(root, recursive=recursive, glob=glob)
    return Pairing([Pair(None, p, rel) for rel, p in sorted(found.items())], [], [], other)


def _path_kind(path: Path, role: str) -> Literal["file", "dir"]:
    try:
        is_dir = path.is_dir()
        exists = is_dir or path.exists()
    except PermissionError:
        raise InputError(path, "permission denied") from None
    except OSError as exc:
        raise InputError(path, f"cannot access path ({describe_error(exc)})") from None
    if not exists:
        what = "is a broken symbolic link" if path.is_symlink() else "does not exist"
        raise UsageError(f"{role} path {what}: {path}")
    return "dir" if is_dir else "file"


def _scan(root: Path, *, recursive: bool, glob: str | None) -> tuple[dict[str, Path], list[Path]]:
    """``{relative POSIX path: path}`` of the image entries under ``root``, and the other
    files (not hidden, matching ``glob``) sorted by relative path. The walk is iterative
    (a stack, depth-first in name order): no depth of nesting reaches Python's recursion
    limit; folder links are followed once (loops cut by device and inode)."""
    found: dict[str, Path] = {}
    other: list[tuple[str, Path]] = []
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Path, str]] = [(root, "")]
    while stack:
        check_stop()
        folder, prefix = stack.pop()
        try:
            st = folder.stat()
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except PermissionError:
            raise InputError(folder, "permission denied (cannot list folder)") from None
        except OSError as exc:
            raise InputError(folder, f"cannot list folder ({describe_error(exc)})") from None
        subfolders = []
        for entry in entries:
            if entry.name.startswith(".") or is_mask_file(entry.name):
                continue
            rel = prefix + entry.name
            wanted = glob is None or glob_matches(rel, glob)
            if os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS:
                if wanted:
                    found[rel] = Path(entry.path)
            elif _is_dir(entry):
                if recursive:
                    subfolders.append((Path(entry.path), rel + "/"))
            elif wanted:
                other.append((rel, Path(entry.path)))
        stack.extend(reversed(subfolders))
    return found, [path for _, path in sorted(other, key=lambda item: item[0])]


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows symbolic links; loops are cut by inode
    except OSError:
        return False


def _by_stem(root: Path, files: dict[str, Path]) -> dict[str, tuple[str, Path]]:
    """Key files by relative path without suffix; two files sharing one is a UsageError."""
    by_stem: dict[str, tuple[str, Path]] = {}
    clashes: list[str] = []
    for rel in sorted(files):
        stem = str(PurePosixPath(rel).with_suffix(""))
        if stem in by_stem:
            clashes.append(f"{by_stem[stem][0]} and {rel}")
            continue
        by_stem[stem] = (rel, files[rel])
    if clashes:
        shown = "; ".join(clashes[:5]) + (f"; and {len(clashes) - 5} more" if len(clashes) > 5 else "")
        raise UsageError(
            f"ignore_extension is ambiguous in {root}: files differ only by extension: {shown}"
        )
    return by_stem


def glob_matches(key: str, pattern: str) -> bool:
    """Whether a relative POSIX path matches a ``--glob`` pattern, by the rules of pairing.

    :func:`fnmatch.fnmatchcase` (case-sensitive, ``*`` also crosses "/"), except that
    each ``**/`` may also match no folder at all: ``"**/*.png"`` matches ``"x.png"``.
    """
    return any(fnmatch.fnmatchcase(key, variant) for variant in _glob_variants(pattern))




@lru_cache(maxsize=64)
def _glob_variants(pattern: str) -> tuple[str, ...]:
    """The pattern with each ``**/`` kept or dropped, so ``**/`` can match zero folders."""
    head, sep, tail = pattern.partition("**/")
    if not sep:
        return (pattern,)
    rest = _glob_variants(tail)
    return tuple(dict.fromkeys([head + sep + r for r in rest] + [head + r for r in rest]))
