"""Honesty about what was compared: every conversion is a note (gray -> RGB, palette,
ICC profile not applied, first frame), ``--strict`` refuses them; files of unsupported
types in folders are listed and counted like unmatched files; any depth of folders is
walked; ``imgloss report`` names the malformed field of its input."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import cli_invoke as invoke
from PIL import Image, ImageCms

from faults import assert_one_line, tiny




def notes_of(*args: object) -> list[str]:
    result = invoke("compare", *args, "-m", "mae", "-f", "json", "-q", "--workers", "0")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["results"][0]["notes"]


def _palette(path: Path) -> Path:
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (12, 12, 3), dtype=np.uint8)).quantize(16).save(path)
    return path


def _with_profile(path: Path, kind: str) -> Path:
    array = np.random.default_rng(4).integers(0, 256, (12, 12, 3), dtype=np.uint8)
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile(kind)).tobytes()
    Image.fromarray(array).save(path, icc_profile=profile)
    return path


def test_gray_beside_rgb_is_a_note(tmp_path) -> None:
    gray, rgb = tiny(tmp_path / "g.png", 1, mode="L"), tiny(tmp_path / "c.png", 1)
    assert "reference: gray image repeated to 3 channels (the other image is RGB)" in notes_of(gray, rgb)


def test_palette_image_is_a_note(tmp_path) -> None:
    ref, cand = _palette(tmp_path / "p.png"), tiny(tmp_path / "c.png", 1)
    assert "reference: palette image expanded to RGB" in notes_of(ref, cand)


def test_icc_profile_not_applied_is_a_note_and_srgb_needs_none(tmp_path) -> None:
    cand = tiny(tmp_path / "c.png", 1)
    lab = _with_profile(tmp_path / "lab.png", "LAB")
    srgb = _with_profile(tmp_path / "srgb.png", "sRGB")
    assert any(n.startswith("reference: ICC profile 'Lab identity built-in' ignored") for n in notes_of(lab, cand))
    assert notes_of(srgb, cand) == []


@pytest.mark.slow
def test_the_icc_note_reaches_every_format(tmp_path) -> None:
    """An embedded (non-sRGB) profile is noted in the table, CSV (last column), JSON,
    JSONL, check's CSV and JUnit, and the HTML report."""
    import csv
    import html
    import io
    import xml.etree.ElementTree as ET

    golden, cand = tmp_path / "golden", tmp_path / "cand"
    golden.mkdir()
    ref = _with_profile(golden / "a.png", "LAB")
    tiny(cand / "a.png", 1)
    note = "reference: ICC profile 'Lab identity built-in' ignored (values compared as stored, not converted to sRGB)"

    def run(*args: object) -> str:
        result = invoke(*args, "-q", "--workers", "0")
        assert result.exit_code == 0, result.output
        return result.stdout

    table = run("compare", ref, cand / "a.png", "-m", "mae")
    assert f"note: a.png: {note}" in table.replace("\n", " ")
    [row] = csv.DictReader(io.StringIO(run("compare", ref, cand / "a.png", "-m", "mae", "-f", "csv")))
    assert list(row)[-1] == "notes" and row["notes"] == note
    assert json.loads(run("compare", ref, cand / "a.png", "-m", "mae", "-f", "json"))["results"][0]["notes"] == [note]
    assert json.loads(run("compare", ref, cand / "a.png", "-m", "mae", "-f", "jsonl"))["notes"] == [note]
    [row] = csv.DictReader(io.StringIO(run("check", golden, cand, "--max", "mae=1", "-f", "csv")))
    assert list(row)[-3:] == ["status", "failed_thresholds", "notes"] and row["notes"] == note
    junit, results = tmp_path / "j.xml", tmp_path / "r.json"
    run("check", golden, cand, "--max", "mae=1", "-f", "json", "-o", results, "--junit", junit)
    [case] = ET.parse(junit).getroot().iter("testcase")
    assert case.find("system-out").text == f"note: {note}"
    page = invoke("report", results)
    assert page.exit_code == 0 and html.escape(note) in page.stdout, page.output


def test_notes_reach_the_terminal_table(tmp_path) -> None:
    gray, rgb = tiny(tmp_path / "g.png", 1, mode="L"), tiny(tmp_path / "c.png", 1)
    result = invoke("compare", gray, rgb, "-m", "mae", "--workers", "0")
    assert "note: c.png: reference: gray image repeated to 3 channels" in result.stdout


@pytest.mark.parametrize("make", ["gray", "palette", "icc", "frames"])
def test_strict_turns_conversion_notes_into_errors(tmp_path, make) -> None:
    cand = tiny(tmp_path / "c.png", 1)
    if make == "gray":
        ref = tiny(tmp_path / "r.png", 1, mode="L")
    elif make == "palette":
        ref = _palette(tmp_path / "r.png")
    elif make == "icc":
        ref = _with_profile(tmp_path / "r.png", "LAB")
    else:
        frames = [Image.fromarray(np.full((12, 12, 3), v, np.uint8)) for v in (10, 200)]
        ref = tmp_path / "r.gif"
        frames[0].save(ref, save_all=True, append_images=frames[1:])
    plain = invoke("compare", ref, cand, "-m", "mae", "-q", "--workers", "0")
    assert plain.exit_code == 0 and plain.stderr == "", plain.output
    strict = invoke("compare", ref, cand, "-m", "mae", "-q", "--strict", "--workers", "0", "-f", "json")
    assert strict.exit_code == 3, strict.output
    assert_one_line(strict.stderr, str(cand), "--strict: reference: ")
    assert json.loads(strict.stdout)["results"][0]["metrics"] == {}


def test_strict_keeps_plain_and_descriptive_pairs(tmp_path) -> None:
    ref, cand = tiny(tmp_path / "r.png", 1), tiny(tmp_path / "c.png", 2)
    deep = tmp_path / "r16.png"
    Image.fromarray(np.full((12, 12), 40000, np.uint16)).save(deep)  # "16-bit" only describes
    for pair in ((ref, cand), (deep, deep)):
        result = invoke("compare", *pair, "-m", "mae", "-q", "--strict", "--workers", "0")
        assert result.exit_code == 0 and result.stderr == "", result.output


def test_strict_from_the_config(tmp_path, monkeypatch) -> None:
    ref, cand = tiny(tmp_path / "r.png", 1, mode="L"), tiny(tmp_path / "c.png", 1)
    (tmp_path / "pyproject.toml").write_text("[tool.imgloss]\nstrict = true\n")
    monkeypatch.chdir(tmp_path)
    assert invoke("compare", ref, cand, "-m", "mae", "-q", "--workers", "0").exit_code == 3


def test_unsupported_files_in_folders_are_listed_and_counted(tmp_path) -> None:
    for side in ("r", "c"):
        tiny(tmp_path / side / "a.png", 1)
    (tmp_path / "c" / "notes.txt").write_text("hello")
    (tmp_path / "c" / "sub").mkdir()
    (tmp_path / "c" / "sub" / "scan.psd").write_bytes(b"8BPS")
    (tmp_path / "c" / ".hidden").write_text("skipped as ever")
    result = invoke("compare", tmp_path / "r", tmp_path / "c", "-m", "mae", "-f", "json", "--workers", "0")
    assert result.exit_code == 3, result.output  # not everything was compared
    doc = json.loads(result.stdout)
    listed = [str(tmp_path / "c" / "notes.txt"), str(tmp_path / "c" / "sub" / "scan.psd")]
    assert doc["unsupported"] == listed and doc["summary"]["unmatched"] == 2
    for path in listed:
        assert f"imgloss: warning: {path}: not a supported image type" in result.stderr
    scored = invoke("score", tmp_path / "c", "-q", "--workers", "0")
    assert scored.exit_code == 3, scored.output


@pytest.mark.slow
def test_folders_nested_deeper_than_the_recursion_limit() -> None:
    # Outside pytest's tmp_path: its clean-up (shutil.rmtree) recurses and would fail on
    # this tree in every later session; it is deleted here without recursion.
    root = Path(tempfile.mkdtemp(prefix="imgloss-deep-"))
    here = os.getcwd()
    try:
        for side in ("r", "c"):
            os.mkdir(root / side)
            os.chdir(root / side)  # relative mkdirs keep each call short
            for _ in range(1200):
                os.mkdir("d")
                os.chdir("d")
            tiny(Path.cwd() / "x.png", 1)
            os.chdir(here)
        result = invoke("compare", root / "r", root / "c", "-m", "mae", "-q", "-f", "csv", "--workers", "0")
    finally:
        os.chdir(here)
        _remove_tree(root)
    assert result.exit_code == 0, result.output[-500:]
    assert result.stdout.count("x.png") == 2


def _remove_tree(top: Path) -> None:
    """Delete a folder tree of any depth (a stack of open folders, no recursion)."""
    stack = [(os.open(top, os.O_RDONLY), "")]
    while stack:
        fd, name = stack[-1]
        child = None
        for entry in os.scandir(fd):
            if entry.is_dir(follow_symlinks=False):
                child = entry.name
                break
            os.unlink(entry.name, dir_fd=fd)
        if child is not None:
            stack.append((os.open(child, os.O_RDONLY, dir_fd=fd), child))
            continue
        stack.pop()
        os.close(fd)
        if stack:
            os.rmdir(name, dir_fd=stack[-1][0])
    os.rmdir(top)


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"results": [{"candidate": "a.png", "metrics": {"ssim": [1]}}]}, "results[0].metrics.ssim"),
        ({"results": [{"candidate": 3}]}, "results[0].candidate: a string, got a number"),
        ({"results": [{"reference": "a.png"}]}, "results[0].candidate: missing"),
        ({"results": [], "summary": {"metrics": {"ssim": {"worst": "x"}}}}, "summary.metrics.ssim.worst: an object"),
        ({"results": [{"candidate": "a", "check": {"failed": [{"metric": 1}]}}]}, "results[0].check.failed[0].metric"),
        ({"results": [], "options": {"check": {"missing": "a.png"}}}, "options.check.missing: a list, got a string"),
    ],
)
def test_report_names_the_malformed_field(tmp_path, document, field) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document))
    result = invoke("report", path, "-o", tmp_path / "r.html")
    assert result.exit_code == 3, result.output
    assert_one_line(result.stderr, str(path), field)
    assert not (tmp_path / "r.html").exists()
