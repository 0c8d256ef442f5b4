"""Signals and workers under fault: SIGINT/SIGTERM at seeded random moments end with one
line, exit 130/143, no traceback, no temp file and no half report; a decoding worker
that dies costs only the pair it was reading (an error row), the run goes on."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from faults import ENV, assert_complete_csv, assert_one_line, csv_rows, pair_folders, temp_files
from imgloss.cli import app


def _workers(pid: int) -> list[int]:
    """The forked decoding workers of ``pid`` (same command line; not the resource tracker)."""
    try:
        children = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        own = Path(f"/proc/{pid}/cmdline").read_bytes()
        return [child for child in children if Path(f"/proc/{child}/cmdline").read_bytes() == own]
    except OSError:
        return []


@pytest.fixture(scope="module")
def many(tmp_path_factory) -> tuple[Path, Path, list[str]]:
    return pair_folders(tmp_path_factory.mktemp("many"), 160)


def _handlers_installed(pid: int, timeout: float = 120.0) -> None:
    """Wait until the process catches SIGTERM (imgloss installs its SIGINT and SIGTERM
    handlers together, first thing in ``main``): before that the interpreter itself is
    still starting, and no program can answer a signal there."""
    bit = 1 << (signal.SIGTERM - 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return
        caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
        if int(caught.split()[1], 16) & bit:
            return
        time.sleep(0.005)


@pytest.mark.slow
@pytest.mark.xfail(reason="known bug: a signal that lands while torch's C++ code runs (pybind11) raises the "
                   "handler's exception through C++ and aborts (exit -6); seen on a clean clone", strict=False)
def test_signals_at_seeded_random_moments(many, tmp_path) -> None:
    ref, cand, names = many
    rng = random.Random(2026)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGINT):
        out = tmp_path / f"run-{signum}.csv"
        proc = subprocess.Popen(
            [sys.executable, "-m", "imgloss", "compare", ref, cand, "-m", "ssim", "-q", "-f", "csv", "-o", out,
             "--workers", "2"],
            stderr=subprocess.PIPE, text=True, env=ENV, start_new_session=True,
        )
        _handlers_installed(proc.pid)
        time.sleep(rng.uniform(0.5, 6.0))
        os.killpg(proc.pid, signum)  # the whole group, as Ctrl-C in a terminal does
        _, stderr = proc.communicate(timeout=300)
        assert "Traceback" not in stderr, stderr
        if proc.returncode == 0:  # finished before the signal
            assert_complete_csv(out, len(names))
        else:
            assert proc.returncode == 128 + signum, (proc.returncode, stderr)
            assert_one_line(stderr, "interrupted" if signum == signal.SIGINT else "terminated")
            assert not out.exists()
        assert temp_files(tmp_path) == []


def test_a_dying_decoding_worker_costs_only_its_pair(tmp_path, monkeypatch) -> None:
    ref, cand, names = pair_folders(tmp_path, 10)
    import imgloss.engine.loader as loader

    real = loader.read_image_raw

    def read_or_die(path, **kwargs):  # runs in the forked workers
        if Path(path).name == "p004.png":
            os.kill(os.getpid(), signal.SIGKILL)
        return real(path, **kwargs)

    monkeypatch.setattr(loader, "read_image_raw", read_or_die)
    out = tmp_path / "r.csv"
    result = CliRunner().invoke(app, ["compare", str(ref), str(cand), "-m", "mae", "-q", "-f", "csv", "-o", str(out),
                                      "--workers", "2"], catch_exceptions=False)
    assert result.exit_code == 3, result.output
    assert_one_line(result.stderr, "p004.png", "decoding worker died")
    rows = csv_rows(out.read_bytes())
    assert len(rows) == len(names)
    assert [Path(r["candidate"]).name for r in rows if r["error"]] == ["p004.png"]
    assert all(r["mae"] for r in rows if not r["error"])


@pytest.mark.slow
def test_worker_killed_from_outside_the_run_goes_on(many, tmp_path) -> None:
    ref, cand, names = many
    out = tmp_path / "r.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "imgloss", "compare", ref, cand, "-m", "ssim", "-q", "-f", "csv", "-o", out,
         "--workers", "2"],
        stderr=subprocess.PIPE, text=True, env=ENV,
    )
    deadline = time.monotonic() + 120
    while len(_workers(proc.pid)) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    workers = _workers(proc.pid)
    assert workers, "the run ended before its workers could be seen"
    os.kill(workers[0], signal.SIGKILL)
    _, stderr = proc.communicate(timeout=300)
    assert "Traceback" not in stderr, stderr
    assert proc.returncode in (0, 3), stderr
    assert all("decoding worker died" in line for line in stderr.splitlines()), stderr
    assert_complete_csv(out, len(names))
    assert temp_files(tmp_path) == []
