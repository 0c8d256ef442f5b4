"""imgloss's own cache of VGG weights: ``imgloss weights import`` (verify, then store the
compact ``features``-only file with a manifest entry) and ``imgloss weights download``,
the only network access imgloss makes. Importing it does not import torch.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from imgloss.errors import WeightsError
from imgloss.report.output import atomic_write
from imgloss.signals import check as check_stop
from imgloss.weights.checkpoint import CheckpointError, StateDict, detect_backbone, read_state_dict, sha256_file
from imgloss.weights.store import MANIFEST, OFFICIAL, cache_dir, judge, official_for, read_manifest


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """:func:`imgloss.report.output.atomic_write`, creating the cache folder first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, write)


def _record(name: str, entry: dict[str, object]) -> None:
    files = read_manifest()
    files[name] = entry
    text = json.dumps({"format": 1, "files": files}, indent=2, sort_keys=True) + "\n"
    _atomic_write(cache_dir() / MANIFEST, lambda temp: temp.write_text(text))


@dataclass(frozen=True)
class Imported:
    """A compact ``features.*`` copy written to imgloss's cache and recorded in its manifest."""

    backbone: str
    path: Path
    sha256: str
    verified: bool
    source: str


def _identify(path: Path, backbone: str, state: StateDict, digest: str) -> str:
    if backbone != "auto":
        official_for(backbone)
        return backbone
    for official in OFFICIAL.values():
        if digest == official.sha256:
            return official.backbone
    return detect_backbone(path, state)


def import_file(path: str | Path, backbone: str = "auto", *, source: str | None = None) -> Imported:
    """Verify ``path`` and store its ``features.*`` tensors compactly in imgloss's cache.

    ``backbone`` is ``vgg19``, ``vgg16`` or ``auto`` (from the hash, else the key set).
    The copy is written atomically (temp file + rename) and its SHA-256 recorded in the
    manifest, which vouches for it from then on. ``source`` labels the origin in the
    manifest (default: the path). Raises :class:`WeightsError` on any failure.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: {'is a directory, not a weights file' if path.is_dir() else 'no such file'}")
    state, digest = read_state_dict(path), sha256_file(path)
    backbone = _identify(path, backbone, state, digest)
    result = judge(path, backbone, state, digest)
    del state  # frees the classifier tensors (~490 MB) before the copy is written
    target = cache_dir() / official_for(backbone).compact_name
    try:
        _atomic_write(target, lambda temp: torch.save(result.state, temp))
        digest = sha256_file(target)
        _record(target.name, {
            "backbone": backbone,
            "sha256": digest,
            "verified": result.verified,
            "source": source or str(path.resolve()),
            "source_sha256": result.sha256,
        })
    except OSError as exc:
        raise WeightsError(f"cannot write to imgloss's cache {target.parent}: {exc}") from None
    return Imported(backbone, target, digest, result.verified, source or str(path))


Progress = Callable[[int, "int | None"], None]


def download(backbone: str, *, url: str | None = None, progress: Progress | None = None,
             timeout: float = 60.0) -> Imported:
    """Fetch torchvision's official file (or ``url``, e.g. a mirror), verify, cache it.

    The only network access imgloss makes, and only when called. The download goes to
    a temporary file in the cache folder, is verified like any import, stored as the
    compact ``features.*`` copy and then deleted. ``progress(done_bytes, total_bytes)``
    is called as data arrives (``total`` None when the server does not say).
    """
    import urllib.error
    import urllib.request

    official = official_for(backbone)
    url = url or official.url
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{official.filename}.", suffix=".partial")
    except OSError as exc:
        raise WeightsError(f"cannot write to imgloss's cache {folder}: {exc}") from None
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            done = 0
            while block := response.read(1 << 20):
                check_stop()
                out.write(block)
                done += len(block)
                if progress is not None:
                    progress(done, total)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        os.unlink(temp)
        raise WeightsError(f"download of {url} failed: {exc}") from None
    except BaseException:  # SIGINT/SIGTERM (imgloss.signals.Stopped): no partial file stays
        os.unlink(temp)
        raise
    try:
        return import_file(temp, backbone, source=url)
    except CheckpointError as exc:
        raise WeightsError(f"downloaded {url} refused: {exc.reason}") from None
    finally:
        os.unlink(temp)
