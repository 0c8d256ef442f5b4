"""``--shard I/N``, ``imgloss merge`` and ``imgloss check --from``: N shards cover a folder
exactly once, and their merge is the single run's result (rows, order, summary, exit code)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgloss.errors import UsageError
from imgloss.scale.shard import Shard, shard_number
from scale_helpers import METRICS, load_json, make_folders, without_timing


@pytest.fixture(scope="module")
def run(tmp_path_factory, invoke) -> dict:
    """The full run and its three shards, as JSON, CSV and JSONL."""
    root = tmp_path_factory.mktemp("shards")
    ref, cand = make_folders(root)
    out: dict = {"root": root, "ref": ref, "cand": cand, "codes": {}}
    for name, extra in [("full", []), *((f"p{i}", ["--shard", f"{i}/3"]) for i in (1, 2, 3))]:
        for fmt in ("json", "csv"):
            result = invoke("compare", ref, cand, "-m", METRICS, "--workers", "0", "-q", *extra,
                            "--format", fmt, "-o", root / f"{name}.{fmt}")
            out["codes"][name, fmt] = result.exit_code
    return out


def test_shard_numbers_are_pinned_hashes_of_the_relative_path() -> None:
    # blake2b(key bytes, 8-byte digest) mod N + 1: the same on every machine and Python.
    assert [shard_number(k, 3) for k in ("a.png", "nature/cat.png", "d0/img0000.png")] == [3, 3, 1]
    assert [shard_number(k, 8) for k in ("a.png", "nature/cat.png", "d0/img0000.png")] == [7, 1, 5]
    assert shard_number("caf\udce9.png", 4) in range(1, 5)  # a name that is not valid UTF-8
    assert Shard.parse(" 2 / 8 ") == Shard(2, 8) and str(Shard(2, 8)) == "2/8"


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["0/3", "4/3", "a/b", "3", "1/0", "-1/3"])
def test_bad_shard_spec_is_a_usage_error(spec: str, run, invoke) -> None:
    with pytest.raises(UsageError, match="I/N"):
        Shard.parse(spec)
    result = invoke("compare", run["ref"], run["cand"], "--shard", spec, "-q")
    assert result.exit_code == 2 and "--shard must be I/N" in result.stderr


def test_three_shards_cover_every_pair_and_unmatched_file_exactly_once(run) -> None:
    full = load_json(run["root"] / "full.json")
    parts = [load_json(run["root"] / f"p{i}.json") for i in (1, 2, 3)]
    keys = [r["candidate"] for part in parts for r in part["results"]]
    assert sorted(keys) == [r["candidate"] for r in full["results"]] and len(keys) == len(set(keys))
    assert all(part["results"] for part in parts)  # 24 pairs: no shard is empty
    unmatched = [u for part in parts for u in part["unmatched"]]
    assert sorted(unmatched) == sorted(full["unmatched"]) and len(full["unmatched"]) == 2
    assert [p["options"]["shard"]["part"] for p in parts] == ["1/3", "2/3", "3/3"]
    assert full["options"]["shard"] is None


def test_shard_membership_does_not_depend_on_listing_order_or_root(tmp_path, run, invoke) -> None:
    # The same files created in reverse order under another root path: the same shard.
    ref, cand = tmp_path / "other ref", tmp_path / "other cand"
    for src, dst in ((run["ref"], ref), (run["cand"], cand)):
        for path in sorted(src.rglob("*.png"), reverse=True):
            (dst / path.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, dst / path.relative_to(src))
    result = invoke("compare", ref, cand, "-m", "psnr", "--shard", "2/3", "--format", "json", "-q")
    here = [Path(r["candidate"]).relative_to(cand) for r in json.loads(result.stdout)["results"]]
    there = [Path(r["candidate"]).relative_to(run["cand"]) for r in load_json(run["root"] / "p2.json")["results"]]
    assert here == there


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_merge_equals_the_full_run(run, fmt, invoke) -> None:
    root = run["root"]
    merged = root / f"merged.{fmt}"
    result = invoke("merge", root / "p3.json", root / "p1.json", root / "p2.json", "--format", fmt, "-o", merged, "-q")
    assert result.exit_code == run["codes"]["full", fmt] == 3  # an unreadable pair and unmatched files
    if fmt == "csv":
        assert merged.read_bytes() == (root / "full.csv").read_bytes()
    else:
        assert without_timing(load_json(merged)) == without_timing(load_json(root / "full.json"))


def test_merge_jsonl_is_a_header_then_the_single_runs_lines(run, invoke) -> None:
    root = run["root"]
    single = invoke("compare", run["ref"], run["cand"], "-m", METRICS, "--workers", "0", "-q", "--format", "jsonl")
    result = invoke("merge", *(root / f"p{i}.json" for i in (1, 2, 3)), "--format", "jsonl", "-q")
    header, *rows = result.stdout.splitlines()
    assert json.loads(header)["imgloss_resume"] == 1 and json.loads(header)["pairs"] == 24
    assert rows == single.stdout.splitlines()


@pytest.mark.slow
def test_check_shards_merge_to_the_full_check_and_check_from_judges_them(run, tmp_path, invoke) -> None:
    ref, cand, root = run["ref"], run["cand"], run["root"]
    common = ("--min", "ssim=0.965", "--workers", "0", "-q", "--format", "json")
    full = invoke("check", ref, cand, *common, "-o", tmp_path / "full.json")
    for i in (1, 2, 3):
        invoke("check", ref, cand, *common, "--shard", f"{i}/3", "-o", tmp_path / f"c{i}.json")
    merged = invoke("merge", *(tmp_path / f"c{i}.json" for i in (1, 2, 3)), "--format", "json", "-o",
                    tmp_path / "merged.json", "-q")
    assert merged.exit_code == full.exit_code == 3  # the unreadable pair wins over failures
    assert without_timing(load_json(tmp_path / "merged.json")) == without_timing(load_json(tmp_path / "full.json"))
    full_csv = invoke("check", ref, cand, *common[:-1], "csv")
    merged_csv = invoke("merge", *(tmp_path / f"c{i}.json" for i in (1, 2, 3)), "--format", "csv", "-q")
    assert merged_csv.stdout == full_csv.stdout and "status,failed_thresholds" in merged_csv.stdout
    again = invoke("check", "--from", tmp_path / "merged.json", *common, "-o", tmp_path / "again.json")
    assert again.exit_code == 3
    assert without_timing(load_json(tmp_path / "again.json")) == without_timing(load_json(tmp_path / "full.json"))
    # From the compare shards' merged JSONL: the same verdicts and exit code.
    invoke("merge", *(root / f"p{i}.json" for i in (1, 2, 3)), "--format", "jsonl", "-o", tmp_path / "m.jsonl", "-q")
    judged = invoke("check", "--from", tmp_path / "m.jsonl", *common)
    statuses = {r["candidate"]: r["check"]["status"] for r in json.loads(judged.stdout)["results"]}
    assert statuses == {r["candidate"]: r["check"]["status"] for r in load_json(tmp_path / "full.json")["results"]}
    assert judged.exit_code == 3 and set(statuses.values()) == {"pass", "fail", "error"}


@pytest.mark.slow
def test_check_from_needs_metadata_and_the_thresholded_column(run, tmp_path, invoke) -> None:
    plain = tmp_path / "plain.jsonl"
    invoke("compare", run["ref"], run["cand"], "-m", "psnr", "--format", "jsonl", "-o", plain, "-q")
    result = invoke("check", "--from", plain, "--min", "psnr=10")
    assert result.exit_code == 3 and "plain JSONL has no run metadata" in result.stderr
    result = invoke("check", "--from", run["root"] / "p1.json", "--max", "charbonnier=0.1")
    assert result.exit_code == 2 and "has no charbonnier values (its columns: ssim, psnr, tv, tv_ref)" in result.stderr
    result = invoke("check", run["ref"], "--min", "psnr=10")
    assert result.exit_code == 2 and "GOLDEN and CANDIDATE" in result.stderr
    result = invoke("check", run["ref"], run["cand"], "--from", plain, "--min", "psnr=10")
    assert result.exit_code == 2 and "--from FILE judges stored results" in result.stderr


# --------------------------------------------------------------------------- refused parts


def _refused(invoke, args, code: int, *needles: str, out: Path | None = None) -> None:
    if out is not None:
        out.write_text("keep me")
    result = invoke("merge", *args, *(["-o", out] if out is not None else []), "-q")
    assert result.exit_code == code, result.output
    line = result.stderr.strip()
    assert line.count("\n") == 0 and line.startswith("imgloss: error: "), line
    for needle in needles:
        assert needle in line, line
    if out is not None:
        assert out.read_text() == "keep me"  # nothing overwritten


def test_merge_names_a_missing_shard_and_its_pairs(run, tmp_path, invoke) -> None:
    root = run["root"]
    p2 = load_json(root / "p2.json")
    first = Path(p2["results"][0]["candidate"]).relative_to(run["cand"]).as_posix()
    _refused(invoke, [root / "p1.json", root / "p3.json"], 3, f"{len(p2['results'])} of 24 pair(s) missing",
             "no part for shard 2/3", first, out=tmp_path / "out.json")


def test_merge_names_duplicate_pairs(run, tmp_path, invoke) -> None:
    root = run["root"]
    _refused(invoke, [root / "p1.json", root / "p2.json", root / "p3.json", root / "p2.json"], 3,
             "in more than one part", "p2.json and", out=tmp_path / "out.json")


@pytest.mark.slow
def test_merge_refuses_other_options_versions_and_splits(run, tmp_path, invoke) -> None:
    root = run["root"]
    other = tmp_path / "psnr.json"
    invoke("compare", run["ref"], run["cand"], "-m", "psnr", "--shard", "2/3", "--format", "json", "-o", other, "-q")
    _refused(invoke, [root / "p1.json", other], 2, "made with other options", "metrics: ['ssim', 'psnr', 'tv'] vs ['psnr']")
    version = load_json(root / "p2.json")
    version["imgloss"] = "9.9.9"
    (tmp_path / "v.json").write_text(json.dumps(version))
    _refused(invoke, [root / "p1.json", tmp_path / "v.json"], 2, "imgloss version: 0.1.0 vs 9.9.9")
    four = tmp_path / "four.json"
    invoke("compare", run["ref"], run["cand"], "-m", METRICS, "--shard", "2/4", "--format", "json", "-o", four, "-q")
    _refused(invoke, [root / "p1.json", four], 2, "different splits", "is 2/4")
    _refused(invoke, [root / "p1.json", root / "full.json"], 2, "unsharded")


def test_merge_refuses_corrupt_and_truncated_parts(run, tmp_path, invoke) -> None:
    root = run["root"]
    text = (root / "p2.json").read_text()
    (tmp_path / "cut.json").write_text(text[: len(text) // 2])
    _refused(invoke, [root / "p1.json", tmp_path / "cut.json", root / "p3.json"], 3, "cut.json: line 1", out=tmp_path / "o.csv")
    (tmp_path / "empty.json").write_text("")
    _refused(invoke, [tmp_path / "empty.json"], 3, "empty.json: no results in file")
    _refused(invoke, [tmp_path / "nope.json"], 3, "nope.json: no such file")
    _refused(invoke, [tmp_path], 3, "is a directory")
    bad = load_json(root / "p1.json")
    bad["results"][0] = {"oops": 1}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    _refused(invoke, [tmp_path / "bad.json"], 3, "not an imgloss result file")


def test_merge_never_overwrites_a_part(run, tmp_path, invoke) -> None:
    part = tmp_path / "p1.json"
    shutil.copy(run["root"] / "p1.json", part)
    before = part.read_bytes()
    result = invoke("merge", part, run["root"] / "p2.json", run["root"] / "p3.json", "-o", part, "--format", "json")
    assert result.exit_code == 2 and "is one of the parts" in result.stderr and part.read_bytes() == before


def test_a_shard_with_no_pairs_is_not_a_failure(tmp_path, invoke) -> None:
    ref, cand = tmp_path / "r", tmp_path / "c"
    for folder in (ref, cand):
        folder.mkdir()
        Image.fromarray(np.full((16, 16, 3), 100, np.uint8)).save(folder / "a.png")
    codes = {i: invoke("compare", ref, cand, "-m", "psnr", "--shard", f"{i}/3", "-q").exit_code for i in (1, 2, 3)}
    assert sorted(codes.values()) == [0, 0, 0]
    empty = next(i for i in (1, 2, 3) if i != 3)  # a.png is in shard 3 (pinned above)
    result = invoke("compare", ref, cand, "-m", "psnr", "--shard", f"{empty}/3", "-q")
    assert f"shard {empty}/3 holds none of the 1 pairs" in result.stderr
