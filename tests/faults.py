"""Shared helpers of the fault-injection tests (``test_faults_*.py``): tiny folders of
pairs, the CLI as a real process (optionally killed at the k-th file-system event of a
seeded schedule), and the checks every fault must pass: exit code, one stderr line, no
traceback, no temp file left, outputs complete or absent.

Import explicitly (``from faults import ...``).
"""
from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

import imgloss

#: The checkout under test (so a subprocess imports the same code as this process).
CODE = Path(imgloss.__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(CODE), "PYTHONDONTWRITEBYTECODE": "1"}


def tiny(path: Path, seed: int, size: int = 12, mode: str = "RGB") -> Path:
    """A small random image (``mode`` RGB or L), folders created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (size, size, 3) if mode == "RGB" else (size, size)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(path)
    return path


def pair_folders(root: Path, count: int, names: Sequence[str] | None = None) -> tuple[Path, Path, list[str]]:
    """``root/ref`` and ``root/cand`` holding identical pairs; the candidate of every third
    pair differs a little. Returns the folders and the names."""
    names = list(names) if names is not None else [f"p{i:03d}.png" for i in range(count)]
    ref, cand = root / "ref", root / "cand"
    for i, name in enumerate(names):
        tiny(ref / name, i)
        tiny(cand / name, i + 1000 * (i % 3 == 2))
    return ref, cand, names


def run_cli(*args: Any, timeout: float = 300, stdin: Any = None, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``python -m imgloss ARGS`` in a real process (stdout and stderr captured as text)."""
    return subprocess.run(
        [sys.executable, "-m", "imgloss", *map(str, args)],
        capture_output=True, text=True, env=ENV, timeout=timeout, stdin=stdin, **kwargs,
    )


#: Runs imgloss with an audit hook that kills the process (SIGKILL, or the given signal)
#: at the K-th event that touches a path under ROOT (open for writing, rename, replace,
#: remove, mkdir, rmdir, link, rmtree) or looks up renameat2 (the exchange follows);
#: EVENTS (comma-separated) narrows the events counted; PRELUDE is run first.
KILL_AT_EVENT = r"""
import os, signal, sys
root, k, signum, events, prelude = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
del sys.argv[1:6]
exec(prelude)
state = {"count": 0}
WATCHED = {"open", "os.rename", "os.replace", "os.remove", "os.unlink", "os.mkdir", "os.rmdir", "os.link",
           "shutil.rmtree", "os.chmod", "ctypes.dlsym"}
if events:
    WATCHED = set(events.split(","))
def hook(event, args):
    if event == "open" and len(args) > 1 and isinstance(args[1], str) and "r" == args[1].strip("bt"):
        return
    if event not in WATCHED:
        return
    flat = [b for a in args for b in (a if isinstance(a, tuple) else (a,))]  # ctypes: (function, arguments)
    touches = any(isinstance(a, (str, bytes, os.PathLike)) and os.fsdecode(a).startswith(root) for a in flat)
    if event == "ctypes.dlsym":  # looking up renameat2: the atomic exchange comes next
        touches = len(args) > 1 and args[1] == "renameat2"
    if not touches:
        return
    state["count"] += 1
    if state["count"] == k:
        os.kill(os.getpid(), signum)
sys.addaudithook(hook)
from imgloss.cli import main
main()
"""


def run_killed_at(
    root: Path, k: int, signum: int, *args: Any, events: str = "", prelude: str = "", timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``imgloss ARGS`` killed by ``signum`` at the ``k``-th file-system event under ``root``
    (only ``events`` counted when given, comma-separated audit event names)."""
    return subprocess.run(
        [sys.executable, "-c", KILL_AT_EVENT, str(root), str(k), str(signum), events, prelude, *map(str, args)],
        capture_output=True, text=True, env=ENV, timeout=timeout,
    )


def temp_files(root: Path) -> list[Path]:
    """What a run must never leave: temp files, ``.partial`` files, update stages, journals."""
    return [
        p for p in root.rglob("*")
        if p.name.endswith((".partial", ".tmp", ".imgloss-update", ".imgloss-journal"))
    ]


def assert_one_line(stderr: str, *needles: str) -> str:
    """stderr is exactly one ``imgloss: ...`` line holding each needle, and no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("imgloss: "), stderr
    for needle in needles:
        assert needle in lines[0], (needle, stderr)
    return lines[0]


def csv_rows(data: bytes) -> list[dict[str, str]]:
    """The rows of an imgloss CSV (names with their exact bytes, as surrogate escapes)."""
    return list(csv.DictReader(io.StringIO(data.decode("utf-8", "surrogateescape"), newline="")))


def assert_complete_csv(path: Path, count: int) -> None:
    """``path`` is a whole imgloss CSV of ``count`` rows."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), data[-200:]
    rows = csv_rows(data)
    assert len(rows) == count, (len(rows), count)
    assert all(set(r) >= {"reference", "candidate", "error"} for r in rows)
