"""Fault injection on the output side: every file imgloss writes is checked before the
work where it can be (exit 2), written through a private temp file renamed over the
target, and kept elsewhere when it fails after the work (exit 5, one line naming where).

Each test asserts the exit code, one stderr line, no traceback, no temp file left, and
outputs complete or absent.
"""
from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_invoke as invoke

from faults import ENV, assert_complete_csv, assert_one_line, csv_rows, pair_folders, run_cli, temp_files
from imgloss.report.summary import RunInfo, Summary
from imgloss.report.writers import CSVWriter
from imgloss.results import PairResult

LIMIT = ("--max", "mae=1")




@pytest.fixture()
def pairs(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    return pair_folders(tmp_path / "in", 4)


def _nothing_written(folder: Path) -> None:
    assert temp_files(folder) == []


# ------------------------------------------------------------------ before the work: exit 2


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("flag", ["-o", "--junit"])
def test_folder_that_takes_no_file_fails_before_any_work(pairs, flag) -> None:
    ref, cand, _ = pairs
    target = Path("/proc/imgloss-fault-test.out")
    result = invoke("check", ref, cand, *LIMIT, "-q", "--workers", "0", flag, target)
    assert result.exit_code == 2, result.output
    assert_one_line(result.stderr, str(target), "does not take new files")
    assert result.stdout == ""


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_fails_before_any_work(pairs, tmp_path) -> None:
    ref, cand, _ = pairs
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    result = invoke("compare", ref, cand, "-m", "mae", "-q", "-f", "csv", "-o", locked / "out.csv")
    assert result.exit_code == 2, result.output
    assert_one_line(result.stderr, "does not take new files")
    assert list(locked.iterdir()) == []


def test_name_too_long_fails_before_any_work(pairs, tmp_path) -> None:
    ref, cand, _ = pairs
    out = tmp_path / ("x" * 300 + ".csv")
    result = invoke("compare", ref, cand, "-m", "mae", "-q", "-f", "csv", "-o", out)
    assert result.exit_code == 2, result.output
    assert_one_line(result.stderr, "file name too long (304 bytes")
    _nothing_written(tmp_path)


def test_fifo_is_not_an_output_file(pairs, tmp_path) -> None:
    ref, cand, _ = pairs
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    result = invoke("compare", ref, cand, "-m", "mae", "-q", "-f", "csv", "-o", fifo)
    assert result.exit_code == 2, result.output
    assert_one_line(result.stderr, "not a regular file")
    assert fifo.is_fifo()


def test_dev_null_discards_the_report(pairs) -> None:
    ref, cand, _ = pairs
    result = invoke("compare", ref, cand, "-m", "mae", "-q", "-f", "csv", "-o", os.devnull, "--workers", "0")
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == "", result.output
    assert Path(os.devnull).is_char_device()


@pytest.mark.slow
def test_closed_stdout_fails_before_any_work(pairs) -> None:
    ref, cand, _ = pairs
    proc = subprocess.run(
        f'exec "{sys.executable}" -m imgloss compare "{ref}" "{cand}" -m mae -q -f csv >&-',
        shell=True, capture_output=False, stderr=subprocess.PIPE, text=True, env=ENV, timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert_one_line(proc.stderr, "standard output is closed")


# ------------------------------------------------------------- the temp file is private


def test_planted_partial_files_are_never_written_through(pairs, tmp_path) -> None:
    ref, cand, names = pairs
    out, victim = tmp_path / "scores.csv", tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "scores.csv.partial").symlink_to(victim)
    (tmp_path / "scores.json.partial").mkdir()
    for target in (out, tmp_path / "scores.json"):
        fmt = target.suffix[1:]
        result = invoke("compare", ref, cand, "-m", "mae", "-q", "-f", fmt, "-o", target, "--workers", "0")
        assert result.exit_code == 0, result.output
        assert result.stderr == ""
    assert victim.read_text() == "precious"
    assert_complete_csv(out, len(names))
    assert len(json.loads((tmp_path / "scores.json").read_text())["results"]) == len(names)


# ---------------------------------------------------- after the work: results kept, exit 5


def _fail_rename_onto(monkeypatch, target: Path, code: int = errno.EACCES) -> None:
    """``os.replace`` onto ``target`` fails as if the folder had become read-only."""
    real = os.replace

    def replace(source, destination, *args, **kwargs):
        if Path(destination) == target:
            raise OSError(code, os.strerror(code), str(destination))
        return real(source, destination, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


def _fallback(line: str) -> Path:
    found = re.search(r"written to (\S+) instead", line)
    assert found, line
    return Path(found.group(1))


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json", "table"])
def test_report_that_fails_after_the_work_is_kept_in_a_fallback_file(pairs, tmp_path, monkeypatch, fmt) -> None:
    ref, cand, names = pairs
    out = tmp_path / f"scores.{fmt}"
    _fail_rename_onto(monkeypatch, out)
    result = invoke("compare", ref, cand, "-m", "mae", "-q", "-f", fmt, "-o", out, "--workers", "0")
    assert result.exit_code == 5, result.output  # imgloss.errors.OutputError
    line = assert_one_line(result.stderr, f"cannot write --output {out} (permission denied)")
    kept = _fallback(line)
    try:
        data = kept.read_bytes()
        if fmt == "csv":
            assert len(csv_rows(data)) == len(names)
        elif fmt == "jsonl":
            assert len(data.decode().splitlines()) == len(names)
        elif fmt == "json":
            assert len(json.loads(data)["results"]) == len(names)
        else:
            assert all(name in data.decode() for name in names)
    finally:
        kept.unlink()
    assert not out.exists() and temp_files(tmp_path) == []


def test_junit_that_fails_after_the_work_is_kept_and_the_report_still_written(pairs, tmp_path, monkeypatch) -> None:
    ref, cand, names = pairs
    out, junit = tmp_path / "r.csv", tmp_path / "j.xml"
    _fail_rename_onto(monkeypatch, junit, errno.ENOSPC)
    result = invoke("check", ref, cand, *LIMIT, "-q", "-f", "csv", "-o", out, "--junit", junit, "--workers", "0")
    assert result.exit_code == 5, result.output
    line = assert_one_line(result.stderr, f"--junit {junit} (no space left on device)")
    kept = _fallback(line)
    try:
        assert kept.read_bytes().count(b"<testcase ") == len(names)
    finally:
        kept.unlink()
    assert_complete_csv(out, len(names))
    assert not junit.exists() and temp_files(tmp_path) == []


@pytest.mark.slow
def test_stdout_closed_by_the_reader_keeps_the_results(tmp_path) -> None:
    ref, cand, names = pair_folders(tmp_path / "in", 30)
    proc = subprocess.Popen(
        [sys.executable, "-m", "imgloss", "compare", ref, cand, "-m", "mae", "-q", "-f", "csv", "--workers", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV,
    )
    proc.stdout.close()  # type: ignore[union-attr]  # like `imgloss ... | head -0`
    stderr = proc.stderr.read().decode()  # type: ignore[union-attr]
    assert proc.wait(timeout=300) == 5, stderr
    kept = _fallback(assert_one_line(stderr, "cannot write standard output"))
    try:
        assert len(csv_rows(kept.read_bytes())) == len(names)
    finally:
        kept.unlink()


# ------------------------------------------------------------------- concurrent writers


def _result(i: int, tag: str) -> PairResult:
    return PairResult(key=f"{tag}{i}.png", reference=f"r/{tag}{i}.png", candidate=f"c/{tag}{i}.png", metrics={"mae": i / 7})


def test_two_writers_of_one_file_never_interleave(tmp_path) -> None:
    out = tmp_path / "same.csv"
    info = RunInfo(columns=["mae"], higher_is_better={"mae": False}, device="cpu", options={})
    first, second = CSVWriter(info, out), CSVWriter(info, out)
    for i in range(50):
        first.write(_result(i, "a"))
        second.write(_result(i, "b"))
    summary = Summary(50, 0, 0, "cpu", 1.0)
    first.close(summary)
    assert [r["candidate"][2] for r in csv_rows(out.read_bytes())] == ["a"] * 50
    second.close(summary)
    assert [r["candidate"][2] for r in csv_rows(out.read_bytes())] == ["b"] * 50
    assert temp_files(tmp_path) == []


@pytest.mark.slow
def test_two_processes_writing_one_report(tmp_path) -> None:
    ref, cand, names = pair_folders(tmp_path / "in", 40)
    out = tmp_path / "same.csv"
    command = [sys.executable, "-m", "imgloss", "compare", ref, cand, "-m", "mae", "-q", "-f", "csv", "-o", out, "--workers", "0"]
    runs = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=ENV) for _ in range(2)]
    for run in runs:
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0 and stderr == "", stderr
    assert_complete_csv(out, len(names))
    assert temp_files(tmp_path) == []


@pytest.mark.slow
def test_kill_while_writing_leaves_the_old_report_or_the_new_one_whole(tmp_path) -> None:
    """SIGKILL at seeded random file-system events of a run: the previous report stays
    whole (or the new one is whole), never a part; SIGTERM cleans its temp files."""
    import random

    from faults import run_killed_at

    ref, cand, names = pair_folders(tmp_path / "in", 6)
    out = tmp_path / "out" / "r.csv"
    out.parent.mkdir()
    out.write_text("old report\n")
    rng = random.Random(12)
    for k in rng.sample(range(1, 7), 3):
        for signum in (rng.choice((signal.SIGKILL, signal.SIGTERM)),):
            before = temp_files(out.parent)  # what an earlier SIGKILL left (the next full run deletes it)
            proc = run_killed_at(out.parent, k, signum, "compare", ref, cand, "-m", "mae", "-q", "-f", "csv", "-o", out,
                                 "--workers", "0")
            assert "Traceback" not in proc.stderr, proc.stderr
            if out.read_bytes() != b"old report\n":
                assert_complete_csv(out, len(names))
                out.write_text("old report\n")
            if signum == signal.SIGTERM and proc.returncode != 0:
                assert proc.returncode == 143, proc.stderr
                assert_one_line(proc.stderr, "terminated")
                assert set(temp_files(out.parent)) <= set(before)
    # A temp file that SIGKILL left is deleted by the next run that writes the report.
    assert run_cli("compare", ref, cand, "-m", "mae", "-q", "-f", "csv", "-o", out, "--workers", "0").returncode == 0
    assert temp_files(out.parent) == []
