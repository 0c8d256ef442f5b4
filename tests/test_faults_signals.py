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

from faults import ENV, assert_complete_csv, assert_one_line, csv_rows, pair_folders, temp_files


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


@pytest.mark.slow
def test_a_dying_decoding_worker_costs_only_its_pair(tmp_path, monkeypatch, invoke) -> None:
    ref, cand, names = pair_folders(tmp_path, 10)
    import imgloss.engine.loader as loader

    real = loader.read_image_raw

    def read_or_die(path, **kwargs):  # runs in the forked workers
        if Path(path).name == "p004.png":
            os.kill(os.getpid(), signal.SIGKILL)
        return real(path, **kwargs)

    monkeypatch.setattr(loader, "read_image_raw", read_or_die)
    out = tmp_path / "r.csv"
    result = invoke("compare", ref, cand, "-m", "mae", "-q", "-f", "csv", "-o", out, "--workers", "2")
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


@pytest.mark.parametrize("error", [EOFError(), ConnectionResetError("reset by peer")])
def test_a_connection_broken_while_a_batch_is_received_is_a_worker_death(error: Exception) -> None:
    """A worker killed as it hands a batch over breaks the connection (EOFError in
    multiprocessing's fd sharing) before torch reports the death: the loader restarts
    and every pair is still decoded, nothing is raised."""
    from types import SimpleNamespace

    from imgloss.engine.workers import WorkerSlots, decoded_pairs

    calls = []

    def make_loader(indices, workers):
        calls.append(list(indices))

        def items():
            for n, index in enumerate(indices):
                if len(calls) == 1 and n == 2:
                    raise error
                yield SimpleNamespace(index=index)

        return items()

    got = [item.index for item in decoded_pairs(range(6), 2, make_loader, WorkerSlots(2), lambda i, r: None)]
    assert got == [0, 1, 2, 3, 4, 5] and calls == [[0, 1, 2, 3, 4, 5], [2, 3, 4, 5]]


def test_any_other_error_of_the_loader_still_propagates() -> None:
    from imgloss.engine.workers import WorkerSlots, decoded_pairs

    def make_loader(indices, workers):
        raise ValueError("not a worker death")
        yield  # pragma: no cover

    with pytest.raises(ValueError, match="not a worker death"):
        list(decoded_pairs(range(3), 2, make_loader, WorkerSlots(2), lambda i, r: None))


#: A run that leaks its DataLoader (never shut down) and exits: the workers ignore
#: SIGTERM, so multiprocessing's exit clean-up alone would wait for them forever.
LEAK = """
import sys
from pathlib import Path
from imgloss.engine.evaluator import Evaluator
from imgloss.engine.options import EngineOptions
from imgloss.engine.workers import WorkerSlots
from imgloss.io import pair_inputs
from imgloss.metrics.registry import parse_metric_specs
root = Path(sys.argv[1])
pairs = list(pair_inputs(root / "ref", root / "cand").pairs)
evaluator = Evaluator(EngineOptions(metrics=tuple(parse_metric_specs(["mae"])), device="cpu"))
LEAKED = evaluator._loader(pairs, 2, WorkerSlots(2))
next(LEAKED)
"""


@pytest.mark.slow
def test_workers_of_a_loader_never_shut_down_do_not_hold_the_exit(tmp_path) -> None:
    pair_folders(tmp_path, 20)
    proc = subprocess.run([sys.executable, "-c", LEAK, str(tmp_path)], capture_output=True, text=True, env=ENV,
                          timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_a_signal_is_recorded_and_raised_at_the_next_safe_point() -> None:
    """The handler never raises (a signal inside torch's C++ code must not cross
    pybind11): ``check`` raises ``Stopped`` at the next safe point, at every later one
    too, and the record is gone after the block."""
    from imgloss.signals import Stopped, check, stop_on_signals

    with pytest.raises(Stopped) as stopped, stop_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the Python handler has run by now: it only noted the signal
        try:
            check()
        except Stopped:
            check()  # a stop is never lost
    assert stopped.value.exit_code == 143 and str(stopped.value) == "terminated"
    check()  # outside the block nothing is pending


#: The same signal twice before any safe point: the clean-up runs, one line, exit 128 + signal.
TWICE = """
import os, signal, sys, time
from pathlib import Path
from imgloss.report.output import Output, remove_temps
from imgloss.signals import stop_on_signals
with stop_on_signals(cleanup=remove_temps):
    Output(Path(sys.argv[1]) / "r.csv").write("partial\\n")
    os.kill(os.getpid(), signal.SIGINT)
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(30)
"""


@pytest.mark.slow
def test_the_same_signal_twice_forces_the_exit_with_the_clean_up(tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-c", TWICE, str(tmp_path)], capture_output=True, text=True, env=ENV,
                          timeout=60)
    assert proc.returncode == 130, proc.stderr
    assert_one_line(proc.stderr, "interrupted")
    assert list(tmp_path.iterdir()) == []
