"""``--resume FILE.jsonl``: killed runs continue where they stopped and end with the
output of an uninterrupted run; files of other runs are refused and left untouched."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scale_helpers import METRICS, ROOT, make_folders, without_timing


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("resume")
    ref, cand = make_folders(root, count=12)
    return root, ref, cand


@pytest.fixture(scope="session")
def compare(invoke):
    """``imgloss compare REF CAND`` with the cheap metrics, in process, quiet; then ``extra``."""
    return lambda ref, cand, *extra: invoke("compare", ref, cand, "-m", METRICS, "--workers", "0", "-q", *extra)


@pytest.mark.slow  # real processes, killed and resumed
def test_kill_9_at_seeded_random_points_then_resume_gives_the_uninterrupted_output(tmp_path, invoke) -> None:
    ref, cand = make_folders(tmp_path, count=80)
    args = ("compare", ref, cand, "-m", METRICS, "--workers", "0", "--batch-size", "2", "--format", "csv", "-q")
    assert invoke(*args, "-o", tmp_path / "full.csv").exit_code == 3
    log, out = tmp_path / "run.jsonl", tmp_path / "out.csv"
    command = [sys.executable, "-m", "imgloss", *map(str, args), "--resume", str(log), "-o", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(14)
    killed_at = []
    for _ in range(2):
        threshold = rng.randint(2_000, 25_000)  # bytes of the resume file: past the header, mid-run
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while process.poll() is None:
            if log.exists() and log.stat().st_size >= threshold:
                process.send_signal(signal.SIGKILL)
                killed_at.append(log.stat().st_size)
                break
            time.sleep(0.002)
        process.wait(timeout=300)
    assert killed_at, "no run was killed mid-way: the test proved nothing"
    final = invoke(*args, "--resume", log, "-o", out)
    assert final.exit_code == 3, final.stderr
    assert out.read_bytes() == (tmp_path / "full.csv").read_bytes()
    lines = log.read_text().splitlines()
    assert len(lines) == 1 + 80 and len({json.loads(line)["candidate"] for line in lines[1:]}) == 80


def test_stored_pairs_are_not_scored_again(folders, tmp_path, compare) -> None:
    root, ref, cand = folders
    log = tmp_path / "run.jsonl"
    first = compare(ref, cand, "--resume", log, "--format", "json")
    lines = log.read_text().splitlines()
    row = json.loads(lines[3])
    row["metrics"]["psnr"] = 123.25  # a value no scoring gives: it must come from the file
    lines[3] = json.dumps(row)
    log.write_text("\n".join(lines[:5]) + "\n")  # and the rows after it are gone
    second = compare(ref, cand, "--resume", log, "--format", "json")
    again = {r["candidate"]: r["metrics"].get("psnr") for r in json.loads(second.stdout)["results"]}
    assert again[row["candidate"]] == 123.25
    want = {r["candidate"]: r["metrics"].get("psnr") for r in json.loads(first.stdout)["results"]}
    assert {k: v for k, v in again.items() if k != row["candidate"]} == {k: v for k, v in want.items() if k != row["candidate"]}
    assert len(log.read_text().splitlines()) == len(lines)


def test_a_torn_last_line_is_dropped_and_scored_again(folders, tmp_path, compare) -> None:
    root, ref, cand = folders
    whole, log = tmp_path / "whole.jsonl", tmp_path / "torn.jsonl"
    full = compare(ref, cand, "--resume", whole, "--format", "json")
    data = whole.read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 30  # 30 bytes into a line
    log.write_bytes(data[:cut])
    resumed = compare(ref, cand, "--resume", log, "--format", "json")
    assert resumed.exit_code == full.exit_code == 3
    assert without_timing(json.loads(resumed.stdout)) == without_timing(json.loads(full.stdout))
    assert log.read_bytes() == data


def test_a_file_killed_while_writing_its_header_starts_over(folders, tmp_path, compare) -> None:
    root, ref, cand = folders
    log = tmp_path / "r.jsonl"
    log.write_text('{"imgloss_resume": 1, "imgloss": "0.1.0", "dev')
    assert compare(ref, cand, "--resume", log).exit_code == 3
    assert len(log.read_text().splitlines()) == 1 + 12


@pytest.mark.slow
def test_resumed_shards_merge_to_the_full_run(folders, tmp_path, invoke, compare) -> None:
    root, ref, cand = folders
    full = compare(ref, cand, "--format", "json")
    for i in (1, 2):
        compare(ref, cand, "--shard", f"{i}/2", "--resume", tmp_path / f"s{i}.jsonl")
    merged = invoke("merge", tmp_path / "s1.jsonl", tmp_path / "s2.jsonl", "--format", "json", "-q")
    assert merged.exit_code == full.exit_code
    expected = without_timing(json.loads(full.stdout))
    got = without_timing(json.loads(merged.stdout))
    assert got["results"] == expected["results"] and got["summary"] == expected["summary"]
    assert got["unmatched"] == expected["unmatched"] and got["options"] == expected["options"]


def test_merge_names_an_unfinished_resume_part(folders, tmp_path, invoke, compare) -> None:
    root, ref, cand = folders
    for i in (1, 2):
        compare(ref, cand, "--shard", f"{i}/2", "--resume", tmp_path / f"s{i}.jsonl")
    lines = (tmp_path / "s2.jsonl").read_text().splitlines()
    (tmp_path / "s2.jsonl").write_text("\n".join(lines[:-2]) + "\n")
    result = invoke("merge", tmp_path / "s1.jsonl", tmp_path / "s2.jsonl", "-q")
    assert result.exit_code == 3
    assert "2 of 12 pair(s) missing" in result.stderr and "s2.jsonl is unfinished" in result.stderr
    missing = Path(json.loads(lines[-1])["candidate"]).relative_to(cand).as_posix()
    assert missing in result.stderr


def test_check_resumes_too(folders, tmp_path, invoke) -> None:
    root, ref, cand = folders
    common = ("--min", "ssim=0.965", "--workers", "0", "-q", "--format", "json")
    full = invoke("check", ref, cand, *common)
    log = tmp_path / "c.jsonl"
    invoke("check", ref, cand, *common, "--resume", log)
    log.write_text("\n".join(log.read_text().splitlines()[:6]) + "\n")
    # Other limits may judge the same stored values: only the values are stored.
    resumed = invoke("check", ref, cand, *common, "--resume", log)
    assert resumed.exit_code == full.exit_code == 3
    assert without_timing(json.loads(resumed.stdout)) == without_timing(json.loads(full.stdout))


# --------------------------------------------------------------------------- refused files


def _refused(invoke, args, code: int, log: Path, *needles: str) -> None:
    before = log.read_bytes()
    result = invoke(*args)
    assert result.exit_code == code, result.output
    line = result.stderr.strip()
    assert line.count("\n") == 0 and line.startswith("imgloss: error: "), line
    for needle in needles:
        assert needle in line, line
    assert log.read_bytes() == before  # nothing overwritten


@pytest.mark.slow
def test_a_resume_file_of_another_run_is_refused_naming_the_difference(folders, tmp_path, compare, invoke) -> None:
    root, ref, cand = folders
    log = tmp_path / "r.jsonl"
    compare(ref, cand, "--resume", log)
    base = ("compare", ref, cand, "--workers", "0", "-q", "--resume", log)
    _refused(invoke, (*base, "-m", "ssim"), 2, log, "other options", "metrics: ['ssim', 'psnr', 'tv'] vs ['ssim']")
    _refused(invoke, (*base, "-m", METRICS, "--shard", "1/2"), 2, log, "shard: None vs '1/2'")
    _refused(invoke, ("compare", cand, ref, "-m", METRICS, "-q", "--resume", log), 2, log, f"reference: '{ref}' vs '{cand}'")
    _refused(invoke, ("score", cand, "-m", "tv", "-q", "--resume", log), 2, log, "metrics", "reference")
    header, *rows = log.read_text().splitlines()
    version = tmp_path / "v.jsonl"
    version.write_text("\n".join([json.dumps({**json.loads(header), "imgloss": "9.9.9"}), *rows]) + "\n")
    _refused(invoke, ("compare", ref, cand, "-m", METRICS, "-q", "--resume", version), 2, version, "imgloss version: 9.9.9 vs 0.1.0")


def test_changed_inputs_are_refused(invoke, folders, tmp_path, compare) -> None:
    root, ref, cand = folders
    log = tmp_path / "r.jsonl"
    compare(ref, cand, "--resume", log)
    extra = cand / "d0" / "late.png"
    extra.write_bytes((ref / "only_ref.png").read_bytes())
    (ref / "d0" / "late.png").write_bytes(extra.read_bytes())
    try:
        _refused(invoke, ("compare", ref, cand, "-m", METRICS, "-q", "--resume", log), 2, log, "the inputs changed", "12 pair(s) then, 13 now")
    finally:
        extra.unlink()
        (ref / "d0" / "late.png").unlink()


@pytest.mark.slow
def test_files_that_are_not_resume_files_are_refused(invoke, folders, tmp_path, compare) -> None:
    root, ref, cand = folders
    base = ("compare", ref, cand, "-m", METRICS, "-q", "--resume")
    plain = tmp_path / "plain.jsonl"
    compare(ref, cand, "--format", "jsonl", "-o", plain)
    _refused(invoke, (*base, plain), 2, plain, "not a file that --resume wrote")
    image = tmp_path / "x.png"
    image.write_bytes((ref / "only_ref.png").read_bytes())
    _refused(invoke, (*base, image), 3, image, "x.png")
    log = tmp_path / "r.jsonl"
    compare(ref, cand, "--resume", log)
    lines = log.read_text().splitlines()
    lines[4] = lines[4][:20]
    log.write_text("\n".join(lines) + "\n")
    _refused(invoke, (*base, log), 3, log, "r.jsonl: line 5: not an imgloss result")
    _refused(invoke, (*base, tmp_path), 2, log, "is a directory")
