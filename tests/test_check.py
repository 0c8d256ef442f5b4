"""`imgloss check` end to end: pass, fail and missing with exact exit codes, JUnit,
heatmaps, JSON/JSONL fields, the failures-first table, --update-golden, the real
sample_images local edit, and one real subprocess."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from check_helpers import (
    EDIT, LIMITS, SAMPLES, SIZE, error_lines, leftovers, make_folders, save, texture,
)
from imgloss.gate.heatmap import panel_box, picture_size


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path]:
    return make_folders(tmp_path)


@pytest.mark.slow
def test_identical_pairs_pass_exit_0(folders, invoke) -> None:
    golden, cand = folders
    result = invoke("check", golden / "same.png", cand / "same.png", *LIMITS)
    assert result.exit_code == 0, result.output
    assert "PASS" in result.stdout and "check: 1 passed, 0 failed, 0 errors" in result.stdout
    assert error_lines(result.stderr) == [] and error_lines(result.stderr, "check failed") == []


def test_a_broken_threshold_fails_exit_1_and_names_values(folders, invoke) -> None:
    golden, cand = folders
    result = invoke("check", golden, cand, *LIMITS, "--workers", "0")
    assert result.exit_code == 1, result.output
    [line] = error_lines(result.stderr, "check failed")
    assert line.startswith("imgloss: check failed: edited.png: charbonnier = ")
    assert "> max 0.01" in line and "< min 0.98" in line
    # failures first in the table
    rows = [r for r in result.stdout.splitlines() if "PASS" in r or "FAIL" in r]
    assert "FAIL" in rows[0] and "edited.png" in rows[0] and all("PASS" in r for r in rows[1:])
    assert len(rows) == 3


def test_missing_candidate_warns_and_fails_only_with_fail_on_missing(folders, invoke) -> None:
    golden, cand = folders
    (cand / "sub" / "same2.png").unlink()
    args = ("check", golden, cand, "--max", "charbonnier=1", "--workers", "0")
    lenient = invoke(*args)
    assert lenient.exit_code == 0, lenient.output
    assert any("same2.png: golden file has no candidate" in w for w in error_lines(lenient.stderr, "warning"))
    strict = invoke(*args, "--fail-on-missing")
    assert strict.exit_code == 3, strict.output
    [line] = error_lines(strict.stderr)
    assert str(golden / "sub" / "same2.png") in line and "no candidate" in line


@pytest.mark.slow
def test_unreadable_pair_wins_over_a_failure_exit_3(folders, invoke) -> None:
    golden, cand = folders
    (cand / "same.png").write_bytes(b"not an image at all")
    result = invoke("check", golden, cand, *LIMITS, "--workers", "0")
    assert result.exit_code == 3, result.output
    assert len(error_lines(result.stderr, "check failed")) == 1  # the failure is still reported
    [line] = error_lines(result.stderr)
    assert str(cand / "same.png") in line and "not an image" in line


def test_junit_counts_and_failure_messages(folders, tmp_path, invoke) -> None:
    golden, cand = folders
    (golden / "gone.png").write_bytes((golden / "same.png").read_bytes())
    (cand / "broken.png").write_bytes(b"")
    (golden / "broken.png").write_bytes((golden / "same.png").read_bytes())
    report = tmp_path / "junit.xml"
    result = invoke("check", golden, cand, *LIMITS, "--junit", report, "--fail-on-missing", "--workers", "0")
    assert result.exit_code == 3, result.output
    root = ET.parse(report).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("5", "1", "2", "0")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {"broken.png", "edited.png", "same.png", "sub/same2.png", "gone.png"}  # relative names
    failure = cases["edited.png"].find("failure")
    assert failure is not None
    message = failure.get("message", "")
    assert "charbonnier = " in message and "> max 0.01" in message and "ssim = " in message and "< min 0.98" in message
    assert "thresholds: charbonnier max 0.01, ssim min 0.98" in (failure.text or "")
    assert "empty file" in cases["broken.png"].find("error").get("message", "")  # type: ignore[union-attr]
    assert "no candidate" in cases["gone.png"].find("error").get("message", "")  # type: ignore[union-attr]
    assert list(cases["same.png"]) == []
    assert leftovers(tmp_path) == []


def test_heatmaps_only_for_failures_and_json_carries_verdicts(folders, tmp_path, invoke) -> None:
    golden, cand = folders
    diffs, out = tmp_path / "diffs" / "nested", tmp_path / "results.json"
    result = invoke("check", golden, cand, *LIMITS, "--diff-dir", diffs, "-f", "json", "-o", out, "--workers", "0")
    assert result.exit_code == 1, result.output
    assert sorted(p.relative_to(diffs).as_posix() for p in diffs.rglob("*.png")) == [
        "edited.png.charbonnier.png", "edited.png.diff.png", "edited.png.ssim.png"]  # heatmap + failed metrics' maps
    document = json.loads(out.read_text())
    by_name = {Path(r["candidate"]).name: r["check"] for r in document["results"]}
    assert by_name["same.png"] == {"status": "pass", "failed": [], "message": "", "heatmap": None,
                                   "thresholds": [{"metric": "charbonnier", "bound": "max", "limit": 0.01},
                                                  {"metric": "ssim", "bound": "min", "limit": 0.98}]}
    edited = by_name["edited.png"]
    assert edited["status"] == "fail" and Path(edited["heatmap"]) == diffs / "edited.png.diff.png"
    assert {(f["metric"], f["bound"]) for f in edited["failed"]} == {("charbonnier", "max"), ("ssim", "min")}
    assert document["options"]["check"]["thresholds"] == {"max": {"charbonnier": 0.01}, "min": {"ssim": 0.98}, "overrides": []}
    heatmap = Image.open(diffs / "edited.png.diff.png")
    assert heatmap.format == "PNG" and heatmap.size == picture_size(SIZE[1], SIZE[0])
    error_panel = np.asarray(heatmap.convert("L").crop(panel_box(2, SIZE[1], SIZE[0])), dtype=float)
    x0, y0, x1, y1 = EDIT
    inside = np.zeros(error_panel.shape, bool)
    inside[y0:y1, x0:x1] = True
    assert error_panel[inside].mean() > error_panel[~inside].mean() + 100


def test_jsonl_and_csv_formats(folders, tmp_path, invoke) -> None:
    golden, cand = folders
    lines = invoke("check", golden, cand, *LIMITS, "-f", "jsonl", "-q", "--workers", "0")
    assert lines.exit_code == 1
    records = [json.loads(line) for line in lines.stdout.splitlines()]
    assert sorted(r["check"]["status"] for r in records) == ["fail", "pass", "pass"]
    csv = invoke("check", golden, cand, *LIMITS, "-f", "csv", "-o", tmp_path / "s.csv", "-q", "--workers", "0")
    assert csv.exit_code == 1
    header, *rows = (tmp_path / "s.csv").read_text().splitlines()
    assert header == "reference,candidate,charbonnier,ssim,error,status,failed_thresholds,notes"
    by_name = {Path(row.split(",")[1]).name: row.split(",")[-3:] for row in rows}
    assert by_name["edited.png"] == ["fail", "charbonnier max 0.01; ssim min 0.98", ""]
    assert by_name["same.png"] == ["pass", "", ""]


def test_max_on_a_higher_is_better_metric_is_warned_not_refused(folders, invoke) -> None:
    golden, cand = folders
    result = invoke("check", golden / "same.png", cand / "same.png", "--max", "ssim=1.5", "-f", "json")
    assert result.exit_code == 0, result.output
    [warning] = error_lines(result.stderr, "warning")
    assert "--max ssim=1.5" in warning and "higher ssim is better" in warning and "--min" in warning
    assert json.loads(result.stdout)["warnings"] == [warning.removeprefix("imgloss: warning: ")]


def test_update_golden_accepts_candidates_then_the_check_passes(folders, invoke) -> None:
    golden, cand = folders
    save(cand / "new" / "fresh.png", texture(9))
    (golden / "only_golden.png").write_bytes((golden / "same.png").read_bytes())
    result = invoke("check", golden, cand, *LIMITS, "--update-golden", "--all", "--workers", "0")
    assert result.exit_code == 0, result.output
    assert "updated 4 golden file(s)" in result.stderr
    for path in cand.rglob("*.png"):
        assert (golden / path.relative_to(cand)).read_bytes() == path.read_bytes()
    assert (golden / "only_golden.png").exists()  # golden files with no candidate are kept
    again = invoke("check", golden, cand, *LIMITS, "--workers", "0")
    assert again.exit_code == 0, again.output
    assert leftovers(golden.parent) == []


def test_update_golden_touches_only_failing_and_new_pairs(folders, invoke) -> None:
    golden, cand = folders
    save(cand / "new" / "fresh.png", texture(9))
    (cand / "same.png").write_bytes((cand / "same.png").read_bytes() + b"")  # same pixels
    save(cand / "same.png", np.asarray(Image.open(cand / "same.png")))  # re-encoded: other bytes, same pixels
    untouched = {p: (p.stat().st_mtime_ns, p.stat().st_ino, p.read_bytes()) for p in (golden / "same.png", golden / "sub" / "same2.png")}
    result = invoke("check", golden, cand, *LIMITS, "--update-golden", "--workers", "0")
    assert result.exit_code == 0, result.output
    assert "updated 2 golden file(s)" in result.stderr and "--all" in result.stderr
    assert (golden / "edited.png").read_bytes() == (cand / "edited.png").read_bytes()
    assert (golden / "new" / "fresh.png").read_bytes() == (cand / "new" / "fresh.png").read_bytes()
    for path, (_, _, data) in untouched.items():
        assert path.read_bytes() == data  # passing golden files keep their bytes
    single = invoke("check", golden / "same.png", cand / "same.png", *LIMITS, "--update-golden")
    assert single.exit_code == 0 and "updated 0 golden file(s)" in single.stderr
    assert (golden / "same.png").read_bytes() == untouched[golden / "same.png"][2]


def test_update_golden_refuses_when_a_pair_is_unreadable(folders, invoke) -> None:
    golden, cand = folders
    (cand / "same.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    before = {p: p.read_bytes() for p in golden.rglob("*") if p.is_file()}
    result = invoke("check", golden, cand, *LIMITS, "--update-golden", "--workers", "0")
    assert result.exit_code == 3
    assert any("not updated" in line for line in error_lines(result.stderr))
    assert {p: p.read_bytes() for p in golden.rglob("*") if p.is_file()} == before


def test_sample_images_local_edit_heatmap_is_bright_in_the_edit(tmp_path, invoke) -> None:
    manifest = json.loads((SAMPLES / "manifest.json").read_text())
    x0, y0, x1, y1 = manifest["pairs"]["astronaut.png"]["region"]
    diffs = tmp_path / "diffs"
    result = invoke(
        "check", SAMPLES / "reference", SAMPLES / "distorted", "--min", "ssim=0.999", "--glob", "astronaut.png",
        "--diff-dir", diffs, "--workers", "0",
    )
    assert result.exit_code == 1, result.output
    picture = Image.open(diffs / "astronaut.png.diff.png").convert("L")
    width, height = manifest["pairs"]["astronaut.png"]["width"], manifest["pairs"]["astronaut.png"]["height"]
    assert picture.size == picture_size(width, height)
    for panel in (2, 3):  # |error| and 1 - SSIM
        values = np.asarray(picture.crop(panel_box(panel, width, height)), dtype=float)
        inside = np.zeros(values.shape, bool)
        inside[y0:y1, x0:x1] = True
        assert values[inside].mean() > values[~inside].mean() + 50
    error = np.asarray(picture.crop(panel_box(2, width, height)), dtype=float)
    assert error[~inside].max() == error.min()  # untouched pixels all have the zero colour


def test_subprocess_fail_writes_junit_and_json(folders, tmp_path, run_module) -> None:
    golden, cand = folders
    junit, out = tmp_path / "j.xml", tmp_path / "r.json"
    done = run_module("check", golden, cand, *LIMITS, "--junit", junit, "-f", "json", "-o", out, "--workers", "0")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert ET.parse(junit).getroot().find("testsuite").get("failures") == "1"  # type: ignore[union-attr]
    assert len(json.loads(out.read_text())["results"]) == 3

