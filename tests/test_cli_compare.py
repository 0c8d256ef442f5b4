"""`imgloss compare` and `imgloss score` through Typer's CliRunner and as real subprocesses.

Folders are built in tmp_path with Pillow; expected values come from the functional API
on pixels decoded independently with Pillow + NumPy.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from imgloss import functional as F

RNG = np.random.default_rng(0)
CHEAP = ["charbonnier", "ssim", "wssim", "psnr", "tv"]


def save_rgb(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array.astype(np.uint8)).save(path)
    return path


def pixels(path: Path) -> torch.Tensor:
    """1 x 3 x H x W float64 in [0, 1], decoded without imgloss."""
    array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1)[None]


def expected(ref: Path, cand: Path) -> dict[str, float]:
    x, y = pixels(ref), pixels(cand)
    return {
        "charbonnier": F.charbonnier(x, y).item(),
        "ssim": F.ssim(x, y).item(),
        "wssim": F.wssim(x, y).item(),
        "psnr": F.psnr(x, y).item(),
        "tv": F.tv(y).item(),
        "tv_ref": F.tv(x).item(),
    }


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """ref/ and cand/ with subfolders, two sizes, one unmatched file on each side."""
    ref, cand = tmp_path / "ref", tmp_path / "cand"
    keys = ["a.png", "b.png", "sub/c.png", "sub/deeper/d.png", "e.png"]
    sizes = [(48, 64), (32, 40), (48, 64), (32, 40), (48, 64)]
    for key, (h, w) in zip(keys, sizes):
        base = RNG.integers(0, 256, (h, w, 3))
        noisy = np.clip(base + RNG.normal(0, 20, base.shape), 0, 255)
        save_rgb(ref / key, base)
        save_rgb(cand / key, noisy)
    save_rgb(ref / "only_in_ref.png", RNG.integers(0, 256, (20, 20, 3)))
    save_rgb(cand / "sub/only_in_cand.png", RNG.integers(0, 256, (20, 20, 3)))
    return ref, cand, keys


def assert_close(row: dict[str, float], want: dict[str, float], columns: list[str], tol: float = 1e-5) -> None:
    for column in columns:
        assert math.isclose(row[column], want[column], rel_tol=tol, abs_tol=tol), (column, row[column], want[column])


# --------------------------------------------------------------------------- formats


def test_two_files_json_matches_functional_api(folders, invoke) -> None:
    ref, cand, _ = folders
    result = invoke("compare", ref / "a.png", cand / "a.png", "--format", "json", "-q")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["imgloss"] and doc["device"] == "cpu"
    assert len(doc["results"]) == 1 and doc["results"][0]["error"] is None
    assert doc["options"]["metrics"] == CHEAP
    assert_close(doc["results"][0]["metrics"], expected(ref / "a.png", cand / "a.png"), CHEAP + ["tv_ref"])
    assert doc["summary"]["pairs_scored"] == 1


def test_folders_csv_pairs_by_relative_path_and_lists_unmatched(folders, tmp_path, invoke) -> None:
    ref, cand, keys = folders
    out = tmp_path / "scores.csv"
    result = invoke("compare", ref, cand, "-m", "ssim", "-m", "wssim,psnr", "--format", "csv", "-o", out, "--workers", "0")
    assert result.exit_code == 3, result.output  # unmatched files make the run incomplete
    assert "only_in_ref.png" in result.stderr and "only_in_cand.png" in result.stderr
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["reference", "candidate", "ssim", "wssim", "psnr", "error", "notes"]
    assert sorted(Path(r["candidate"]).relative_to(cand).as_posix() for r in rows) == sorted(keys)
    for row in rows:
        assert row["error"] == ""
        assert Path(row["reference"]).relative_to(ref) == Path(row["candidate"]).relative_to(cand)
        want = expected(Path(row["reference"]), Path(row["candidate"]))
        assert_close({k: float(row[k]) for k in ("ssim", "wssim", "psnr")}, want, ["ssim", "wssim", "psnr"])
    assert not out.with_name("scores.csv.partial").exists()


def test_jsonl_one_object_per_line_and_inf_for_identical(tmp_path, invoke) -> None:
    a = save_rgb(tmp_path / "r" / "x.png", RNG.integers(0, 256, (24, 24, 3)))
    save_rgb(tmp_path / "c" / "x.png", np.asarray(Image.open(a)))
    result = invoke("compare", tmp_path / "r", tmp_path / "c", "-m", "psnr", "-m", "ssim", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["metrics"] == {"psnr": "inf", "ssim": 1.0}


def test_table_format_shows_arrows_and_summary(folders, invoke) -> None:
    ref, cand, _ = folders
    result = invoke("compare", ref / "a.png", cand / "a.png", "-m", "ssim", "-m", "charbonnier")
    assert result.exit_code == 0, result.output
    assert "ssim ↑" in result.stdout and "charbonnier ↓" in result.stdout
    assert "1 pair(s) scored, 0 with errors, 0 unmatched on cpu" in result.stdout
    want = expected(ref / "a.png", cand / "a.png")
    assert f"{want['ssim']:.6g}" in result.stdout


def test_mixed_sizes_batched_equal_one_by_one(folders, invoke) -> None:
    ref, cand, _ = folders
    args = ["compare", ref, cand, "--format", "json", "-m", "ssim,wssim,charbonnier,tv", "-q", "--workers", "0"]
    batched = json.loads(invoke(*args, "--batch-size", "8").stdout)
    single = json.loads(invoke(*args, "--batch-size", "1").stdout)
    assert [r["candidate"] for r in batched["results"]] == [r["candidate"] for r in single["results"]]
    for a, b in zip(batched["results"], single["results"]):
        for name, value in a["metrics"].items():
            assert math.isclose(value, b["metrics"][name], rel_tol=1e-6, abs_tol=1e-6)


def test_output_into_missing_folder_is_a_clear_error_and_writes_nothing(folders, tmp_path, invoke) -> None:
    ref, cand, _ = folders
    target = tmp_path / "missing" / "scores.csv"
    result = invoke("compare", ref, cand, "--format", "csv", "-o", target)
    assert result.exit_code == 2
    assert "does not exist" in result.stderr and str(target.parent) in result.stderr
    assert not target.parent.exists()


def test_unknown_metric_suggests_closest(folders, invoke) -> None:
    ref, cand, _ = folders
    result = invoke("compare", ref, cand, "-m", "ssmi")
    assert result.exit_code == 2
    assert "Did you mean 'ssim'" in result.stderr
    assert "Traceback" not in result.output


def test_bad_choice_is_usage_error(folders, invoke) -> None:
    ref, cand, _ = folders
    result = invoke("compare", ref, cand, "--format", "xml")
    assert result.exit_code == 2


def test_score_no_reference_tv(folders, invoke) -> None:
    _, cand, _ = folders
    result = invoke("score", cand / "a.png", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert math.isclose(doc["results"][0]["metrics"]["tv"], F.tv(pixels(cand / "a.png")).item(), rel_tol=1e-5)
    assert "tv_ref" not in doc["results"][0]["metrics"]
    refusal = invoke("score", cand, "-m", "ssim")
    assert refusal.exit_code == 2 and "ssim needs a reference image" in refusal.stderr


def test_metrics_lists_registry(invoke) -> None:
    result = invoke("metrics")
    assert result.exit_code == 0
    for name in ("charbonnier", "ssim", "wssim", "psnr", "mse", "mae", "tv", "perceptual", "style", "perceptual:johnson"):
        assert name in result.stdout


# --------------------------------------------------------------------------- bad inputs


def _bad_inputs(ref: Path, cand: Path) -> dict[str, str]:
    """Write one bad candidate per case of design.md; returns file name -> expected reason."""
    good = RNG.integers(0, 256, (32, 32, 3))
    cases: dict[str, str] = {}

    def pair(name: str, reason: str, write_candidate) -> None:
        save_rgb(ref / name, good)
        write_candidate(cand / name)
        cases[name] = reason

    def truncated(path: Path) -> None:
        data = io.BytesIO()
        Image.fromarray(good.astype(np.uint8)).save(data, "PNG")
        path.write_bytes(data.getvalue()[: len(data.getvalue()) // 2])

    pair("truncated.png", "truncated", truncated)
    pair("empty.png", "empty", lambda p: p.write_bytes(b""))
    pair("text.png", "not an image", lambda p: p.write_text("hello, I am not a PNG"))
    pair("folder.png", "directory", lambda p: p.mkdir())
    pair("small.png", "size mismatch", lambda p: save_rgb(p, good[:20, :24]))
    return cases


def test_bad_inputs_are_error_rows_others_scored_exit_3(tmp_path, invoke) -> None:
    ref, cand = tmp_path / "ref", tmp_path / "cand"
    save_rgb(ref / "good.png", RNG.integers(0, 256, (32, 32, 3)))
    save_rgb(cand / "good.png", RNG.integers(0, 256, (32, 32, 3)))
    cases = _bad_inputs(ref, cand)
    result = invoke("compare", ref, cand, "--format", "json", "-m", "ssim,charbonnier", "--workers", "0")
    assert result.exit_code == 3, result.output
    doc = json.loads(result.stdout)
    by_name = {Path(r["candidate"]).name: r for r in doc["results"]}
    assert by_name["good.png"]["error"] is None and by_name["good.png"]["metrics"]["ssim"] < 1
    for name, reason in cases.items():
        assert reason in by_name[name]["error"], (name, by_name[name]["error"])
        assert name in by_name[name]["error"]
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("imgloss: error:")]
    assert len(error_lines) == len(cases)
    assert "Traceback" not in result.output


def test_resize_candidate_scores_the_size_mismatch(tmp_path, invoke) -> None:
    ref = save_rgb(tmp_path / "r.png", RNG.integers(0, 256, (32, 32, 3)))
    cand = save_rgb(tmp_path / "c.png", RNG.integers(0, 256, (20, 24, 3)))
    refused = invoke("compare", ref, cand, "-m", "charbonnier")
    assert refused.exit_code == 3 and "size mismatch: reference 32x32, candidate 24x20" in refused.stderr
    result = invoke("compare", ref, cand, "-m", "charbonnier", "--resize", "candidate", "--format", "json")
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["results"][0]
    assert row["error"] is None and any("resized 24x20 -> 32x32" in n for n in row["notes"])


def test_special_formats_are_scored(tmp_path, invoke) -> None:
    """RGBA, 16-bit PNG, EXIF-rotated JPEG and palette GIF decode and score (exit 0)."""
    ref, cand = tmp_path / "ref", tmp_path / "cand"
    base = RNG.integers(0, 256, (24, 32, 3)).astype(np.uint8)
    for folder in (ref, cand):
        folder.mkdir()
        rgba = np.dstack([base, np.full(base.shape[:2], 128, np.uint8)])
        Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
        Image.fromarray(base[..., 0].astype(np.uint16) * 257).save(folder / "deep.png")
        Image.fromarray(base).convert("P").save(folder / "palette.gif")
        exif = Image.Exif()
        exif[0x0112] = 6
        Image.fromarray(base).save(folder / "rotated.jpg", exif=exif.tobytes())
    result = invoke("compare", ref, cand, "--format", "json", "-m", "ssim,psnr")
    assert result.exit_code == 0, result.output
    rows = {Path(r["candidate"]).name: r for r in json.loads(result.stdout)["results"]}
    assert set(rows) == {"rgba.png", "deep.png", "palette.gif", "rotated.jpg"}
    assert all(r["metrics"]["psnr"] == "inf" for r in rows.values())
    assert any("alpha" in n for n in rows["rgba.png"]["notes"])


# --------------------------------------------------------------------------- subprocess


def test_subprocess_folders_json(folders, run_module) -> None:
    ref, cand, keys = folders
    proc = run_module("compare", ref, cand, "--format", "json", "-m", "ssim,charbonnier")
    assert proc.returncode == 3, proc.stderr
    doc = json.loads(proc.stdout)
    assert len(doc["results"]) == len(keys) and len(doc["unmatched"]) == 2
    for row in doc["results"]:
        want = expected(Path(row["reference"]), Path(row["candidate"]))
        assert_close(row["metrics"], want, ["ssim", "charbonnier"])
    assert "pair(s) scored" in proc.stderr and "Traceback" not in proc.stderr


def test_subprocess_bad_input_one_line_no_traceback(tmp_path, run_module) -> None:
    ref, cand = tmp_path / "ref", tmp_path / "cand"
    save_rgb(ref / "good.png", RNG.integers(0, 256, (16, 16, 3)))
    save_rgb(cand / "good.png", RNG.integers(0, 256, (16, 16, 3)))
    save_rgb(ref / "bad.png", RNG.integers(0, 256, (16, 16, 3)))
    (cand / "bad.png").write_bytes(b"")
    proc = run_module("compare", ref, cand, "-m", "charbonnier", "--format", "csv")
    assert proc.returncode == 3
    errors = [line for line in proc.stderr.splitlines() if line.startswith("imgloss: error:")]
    assert len(errors) == 1 and "bad.png" in errors[0] and "empty" in errors[0]
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert {Path(r["candidate"]).name: bool(r["error"]) for r in rows} == {"bad.png": True, "good.png": False}
    assert "Traceback" not in proc.stderr


def test_json_output_file_is_world_readable(folders, tmp_path, invoke) -> None:
    ref, cand, _ = folders
    out = tmp_path / "scores.json"
    assert invoke("compare", ref / "a.png", cand / "a.png", "-m", "mae", "-f", "json", "-o", out).exit_code == 0
    assert out.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_compare_two_files_to_an_output_file(folders, tmp_path, invoke) -> None:
    """``compare a.png b.png -o out.csv`` writes the file. Regression: with typer 0.27.2 /
    click 8.5.0 it died with ``AttributeError: 'str' object has no attribute 'parent'``
    (``ctx.params`` held a str); ``make test-deps`` runs this under those versions."""
    ref, cand, _ = folders
    out = tmp_path / "out.csv"
    result = invoke("compare", ref / "a.png", cand / "a.png", "-m", "psnr", "-o", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and "a.png" in out.read_text() and "psnr" in out.read_text()


def test_subprocess_compare_relative_files_to_an_output_file(folders, run_module) -> None:
    """The issue's command line as typed, in a real process (see the test above)."""
    ref, cand, _ = folders
    (ref.parent / "b.png").write_bytes((cand / "a.png").read_bytes())
    (ref.parent / "a.png").write_bytes((ref / "a.png").read_bytes())
    done = run_module("compare", "a.png", "b.png", "-m", "psnr", "-o", "out.csv", cwd=ref.parent)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "b.png" in (ref.parent / "out.csv").read_text()


def test_subprocess_missing_weights_exit_4_before_any_output(folders, tmp_path, run_module) -> None:
    ref, cand, _ = folders
    env = {"TORCH_HOME": str(tmp_path / "th"), "IMGLOSS_CACHE": str(tmp_path / "ic"), "XDG_CACHE_HOME": str(tmp_path / "x")}
    env = {**env, "IMGLOSS_WEIGHTS": "", "IMGLOSS_ALLOW_UNVERIFIED_WEIGHTS": ""}
    out = tmp_path / "scores.csv"
    proc = run_module("compare", ref, cand, "-m", "ssim,perceptual", "-f", "csv", "-o", out, env=env)
    assert proc.returncode == 4, proc.stderr
    assert proc.stdout == "" and not out.exists() and not out.with_name("scores.csv.partial").exists()
    assert "vgg19-dcbb9e9d.pth" in proc.stderr and "imgloss weights download vgg19" in proc.stderr
    assert "imgloss weights import" in proc.stderr and "--weights" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_compare_reads_tool_imgloss_and_the_command_line_wins(folders, tmp_path, monkeypatch, invoke) -> None:
    ref, cand, _ = folders
    (tmp_path / "pyproject.toml").write_text(
        '[tool.imgloss]\nmetrics = ["psnr", "mae"]\nresize = "candidate"\nfail-on-missing = true\n'
    )
    monkeypatch.chdir(tmp_path)
    doc = json.loads(invoke("compare", ref / "a.png", cand / "a.png", "-f", "json", "-q").stdout)
    assert list(doc["results"][0]["metrics"]) == ["psnr", "mae"] and doc["options"]["resize"] == "candidate"
    doc = json.loads(invoke("compare", ref / "a.png", cand / "a.png", "-f", "json", "-q", "-m", "ssim").stdout)
    assert list(doc["results"][0]["metrics"]) == ["ssim"]
    (tmp_path / "pyproject.toml").write_text('[tool.imgloss]\nmetrcs = ["psnr"]\n')
    result = invoke("compare", ref / "a.png", cand / "a.png")
    assert result.exit_code == 2 and "metrcs" in result.stderr and "Traceback" not in result.output


def test_notes_reach_the_table_and_csv_keeps_full_precision(tmp_path, invoke) -> None:
    rgba = np.dstack([RNG.integers(0, 256, (32, 32, 3)), np.full((32, 32), 100)]).astype(np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "r.png")
    save_rgb(tmp_path / "c.png", RNG.integers(0, 256, (20, 24, 3)))
    table = invoke("compare", tmp_path / "r.png", tmp_path / "c.png", "-m", "mae", "--resize", "candidate")
    assert table.exit_code == 0
    assert "note: c.png: reference: alpha composited on white; candidate resized 24x20 -> 32x32" in table.stdout
    rows = list(csv.DictReader(io.StringIO(invoke("compare", tmp_path / "r.png", tmp_path / "c.png", "-m", "mae",
                                                   "--resize", "candidate", "-f", "csv", "-q").stdout)))
    as_json = json.loads(invoke("compare", tmp_path / "r.png", tmp_path / "c.png", "-m", "mae",
                                "--resize", "candidate", "-f", "json", "-q").stdout)
    assert float(rows[0]["mae"]) == as_json["results"][0]["metrics"]["mae"]  # bit-exact float64
