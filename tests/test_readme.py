"""The README's runnable examples run as written and print what the README shows.

A fenced block right after the line ``<!-- readme-test -->`` is a terminal session:
lines starting with ``$ `` are commands, the lines after one are its output (stderr,
then stdout). Each command runs with bash in a scratch folder (one per block) holding
``sample_images`` (the repository's samples), with ``imgloss`` meaning this checkout;
files a command writes stay for the next commands of its block. Volatile parts are masked on both sides:
durations and speeds (``0.13 s``, ``37.3 pairs/s``), the device, and progress lines.

``python tests/test_readme.py`` prints each block's real output, to paste into the README.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARKER = "<!-- readme-test -->"
VOLATILE = [
    (re.compile(r"\d+(\.\d+)? s\b"), "N s"),
    (re.compile(r"[\d.]+ pairs/s"), "N pairs/s"),
    (re.compile(r"\bon (cpu|cuda(:\d+)?|mps)\b"), "on DEVICE"),
]


def blocks(text: str) -> list[tuple[int, list[str]]]:
    """``(line number, lines)`` of every runnable block."""
    lines, found = text.splitlines(), []
    for index, line in enumerate(lines):
        if line.strip() == MARKER:
            start = index + 1
            assert lines[start].startswith("```"), f"README.md:{start + 1}: {MARKER} must precede a fenced block"
            end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
            found.append((start + 2, lines[start + 1 : end]))
    return found


def session(lines: list[str]) -> list[tuple[str, list[str]]]:
    """The block as ``(command, expected output lines)``."""
    steps: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


def mask(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        if line.startswith("imgloss: progress:"):
            continue
        for pattern, replacement in VOLATILE:
            line = pattern.sub(replacement, line)
        out.append(line.rstrip())
    while out and not out[-1]:
        out.pop()
    return out


def scratch(folder: Path) -> dict[str, str]:
    """Prepare ``folder`` (samples, an ``imgloss`` on PATH); the environment to run in."""
    (folder / "sample_images").symlink_to(ROOT / "sample_images")
    bin_dir = folder / ".bin"
    bin_dir.mkdir()
    shim = bin_dir / "imgloss"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m imgloss "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "COLUMNS", "IMGLOSS_"))}
    return {**env, "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}", "PYTHONPATH": str(ROOT), "TERM": "dumb"}


def run(steps: list[tuple[str, list[str]]], folder: Path, env: dict[str, str]) -> list[tuple[str, list[str]]]:
    """Each command's real output (``echo $?`` answers the previous command's code)."""
    results, code = [], 0
    for command, _ in steps:
        if command == "echo $?":
            results.append((command, [str(code)]))
            continue
        done = subprocess.run(["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True, timeout=600)
        code = done.returncode
        results.append((command, (done.stderr + done.stdout).splitlines()))
    return results


FOUND = blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_runnable_blocks() -> None:
    assert len(FOUND) >= 4


@pytest.mark.slow  # runs README commands in bash, each a Python process
@pytest.mark.parametrize(("line", "lines"), FOUND, ids=[f"README.md:{n}" for n, _ in FOUND])
def test_readme_block_runs_as_shown(line: int, lines: list[str], tmp_path: Path) -> None:
    steps = session(lines)
    for (command, expected), (_, actual) in zip(steps, run(steps, tmp_path, scratch(tmp_path))):
        assert mask(actual) == mask(expected), f"README.md:{line}: $ {command}"


if __name__ == "__main__":  # print the real output of every block
    import tempfile

    for number, lines in FOUND:
        with tempfile.TemporaryDirectory() as folder:
            steps = session(lines)
            print(f"--- README.md:{number}")
            for command, output in run(steps, Path(folder), scratch(Path(folder))):
                print(f"$ {command}")
                print("\n".join(line.rstrip() for line in output if not line.startswith("imgloss: progress:")))
