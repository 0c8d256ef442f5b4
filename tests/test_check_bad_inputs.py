"""The bad-input corpus of `imgloss check`: every case exits with its exact code and
prints one line on stderr naming the file (or option) and the reason; never a
traceback; never a half-written or temporary output file. Mostly through CliRunner,
two cases as real subprocesses."""
from __future__ import annotations

import builtins
import io as stdio
import json
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from PIL import Image

import imgloss.io.decode
from check_helpers import error_lines, leftovers, save, texture


@dataclass
class Case:
    """``check ARGS`` must exit ``code``; ``line`` lists what the one ``kind`` line names."""

    args: list[Any]
    code: int
    line: list[str]
    kind: str = "error"
    outputs: bool = True  # also ask for -f json -o and --junit, and check they are whole
    setup: Callable[[pytest.MonkeyPatch], None] | None = field(default=None, repr=False)


def png_bytes(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = stdio.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def two_files(tmp: Path, candidate: bytes | None, *, golden: np.ndarray | None = None, name: str = "x.png") -> tuple[Path, Path]:
    """``golden/x.png`` (a texture) and ``cand/x.png`` holding ``candidate`` bytes."""
    g = save(tmp / "golden" / name, texture(1) if golden is None else golden)
    c = tmp / "cand" / name
    c.parent.mkdir(parents=True, exist_ok=True)
    if candidate is not None:
        c.write_bytes(candidate)
    return g, c


def folders(tmp: Path) -> tuple[Path, Path]:
    """``golden/`` and ``cand/`` with one good identical pair ``ok.png``."""
    save(tmp / "golden" / "ok.png", texture(2))
    save(tmp / "cand" / "ok.png", texture(2))
    return tmp / "golden", tmp / "cand"


def config_file(tmp: Path, text: str) -> Path:
    path = tmp / "ci.toml"
    path.write_text(text)
    return path


LIMIT = ["--max", "charbonnier=0.5"]


def case_truncated_png(tmp: Path) -> Case:
    g, c = two_files(tmp, png_bytes(texture(1))[:70])
    return Case([g, c, *LIMIT], 3, [str(c), "truncated or corrupt"])


def case_truncated_jpeg(tmp: Path) -> Case:
    data = png_bytes(texture(1), "JPEG")
    g, c = two_files(tmp, data[: len(data) // 2], name="x.jpg")
    return Case([g, c, *LIMIT], 3, [str(c), "truncated or corrupt"])


def case_zero_bytes(tmp: Path) -> Case:
    g, c = two_files(tmp, b"")
    return Case([g, c, *LIMIT], 3, [str(c), "empty file"])


def case_text_named_png(tmp: Path) -> Case:
    g, c = two_files(tmp, b"just some text\n")
    return Case([g, c, *LIMIT], 3, [str(c), "not an image"])


def case_html_named_jpg(tmp: Path) -> Case:
    g, c = two_files(tmp, b"<!DOCTYPE html><html><body>404</body></html>", name="x.jpg")
    return Case([g, c, *LIMIT], 3, [str(c), "not an image"])


def case_directory_named_like_an_image(tmp: Path) -> Case:
    golden, cand = folders(tmp)
    save(golden / "dir.png", texture(3))
    (cand / "dir.png").mkdir()
    return Case([golden, cand, *LIMIT], 3, [str(cand / "dir.png"), "is a directory"])


def case_unreadable_file(tmp: Path) -> Case:
    g, c = two_files(tmp, png_bytes(texture(1)))
    if os.geteuid() != 0:
        c.chmod(0)
        return Case([g, c, *LIMIT], 3, [str(c), "permission denied"])

    def deny(monkeypatch: pytest.MonkeyPatch) -> None:  # root reads anything: simulate
        def guarded_open(path: Any, *args: Any, **kwargs: Any) -> Any:
            if Path(path) == c:
                raise PermissionError(13, "Permission denied", str(path))
            return builtins.open(path, *args, **kwargs)

        monkeypatch.setattr(imgloss.io.decode, "open", guarded_open, raising=False)

    return Case([g, c, *LIMIT], 3, [str(c), "permission denied"], setup=deny)


def case_size_mismatch(tmp: Path) -> Case:
    g, c = two_files(tmp, png_bytes(texture(1, (20, 20))))
    return Case([g, c, *LIMIT], 3, [str(c), "size mismatch", "--resize"])


def case_one_pixel_vs_ssim_window(tmp: Path) -> Case:
    g, c = two_files(tmp, png_bytes(texture(1, (1, 1))), golden=texture(2, (1, 1)))
    return Case([g, c, "--min", "ssim=0.9"], 3, [str(c), "smaller than the 11x11 SSIM window"])


def case_decompression_bomb(tmp: Path) -> Case:
    g, c = two_files(tmp, png_bytes(texture(1)))
    return Case([g, c, *LIMIT, "--max-pixels", "100"], 3, [str(c), "image too large", "--max-pixels"])


def case_corrupt_gif(tmp: Path) -> Case:
    data = png_bytes(texture(1), "GIF")
    g, c = two_files(tmp, data[: len(data) // 2] + b"\x13\x37" * 40, name="x.gif")
    return Case([g, c, *LIMIT], 3, [str(c), "truncated or corrupt"])


def case_wrong_extension_valid_image(tmp: Path) -> Case:  # positive control: decodes fine
    g, c = two_files(tmp, png_bytes(texture(1)))
    renamed = c.rename(c.with_suffix(".jpg"))
    return Case([g, renamed, *LIMIT], 0, [])


def case_missing_candidate_fail_on_missing(tmp: Path) -> Case:
    golden, cand = folders(tmp)
    save(golden / "gone.png", texture(4))
    return Case([golden, cand, *LIMIT, "--fail-on-missing"], 3, [str(golden / "gone.png"), "no candidate"])


def case_extra_candidate(tmp: Path) -> Case:  # not a failure: one warning naming it
    golden, cand = folders(tmp)
    save(cand / "new.png", texture(4))
    return Case([golden, cand, *LIMIT], 0, [str(cand / "new.png"), "no golden file"], kind="warning")


def case_broken_symlink_candidate(tmp: Path) -> Case:
    golden, cand = folders(tmp)
    save(golden / "link.png", texture(4))
    (cand / "link.png").symlink_to(tmp / "nowhere.png")
    return Case([golden, cand, *LIMIT], 3, [str(cand / "link.png"), "broken symbolic link"])


def case_unknown_metric_in_config(tmp: Path) -> Case:
    g, c = two_files(tmp, png_bytes(texture(1)))
    path = config_file(tmp, '[tool.imgloss]\nmetrics = ["sharpness"]\n')
    return Case([g, c, *LIMIT, "--config", path], 2, [str(path), "unknown metric 'sharpness'"])


def case_threshold_on_unknown_metric(tmp: Path) -> Case:
    g, c = two_files(tmp, png_bytes(texture(1)))
    return Case([g, c, "--max", "ssmi=0.5"], 2, ["--max ssmi=0.5", "unknown metric 'ssmi'", "Did you mean 'ssim'"])


def case_threshold_without_value(tmp: Path) -> Case:
    g, c = two_files(tmp, png_bytes(texture(1)))
    return Case([g, c, "--max", "ssim"], 2, ["--max ssim", "expected METRIC=VALUE"])


def case_threshold_not_a_number(tmp: Path) -> Case:
    g, c = two_files(tmp, png_bytes(texture(1)))
    return Case([g, c, "--max", "ssim=abc"], 2, ["--max ssim=abc", "'abc' is not a number"])


def case_threshold_nan(tmp: Path) -> Case:
    g, c = two_files(tmp, png_bytes(texture(1)))
    return Case([g, c, "--min", "ssim=nan"], 2, ["--min ssim=nan", "must be finite"])


def case_no_threshold_at_all(tmp: Path) -> Case:
    g, c = two_files(tmp, png_bytes(texture(1)))
    return Case([g, c], 2, ["at least one threshold"])


def case_junit_into_missing_folder(tmp: Path) -> Case:
    g, c = two_files(tmp, png_bytes(texture(1)))
    target = tmp / "nope" / "j.xml"
    return Case([g, c, *LIMIT, "--junit", target], 2, [str(target.parent), "does not exist"], outputs=False)


def case_output_into_missing_folder(tmp: Path) -> Case:
    g, c = two_files(tmp, png_bytes(texture(1)))
    target = tmp / "nope" / "r.json"
    return Case([g, c, *LIMIT, "-f", "json", "-o", target], 2, [str(target.parent), "does not exist"], outputs=False)


def case_output_is_a_directory(tmp: Path) -> Case:
    g, c = two_files(tmp, png_bytes(texture(1)))
    (tmp / "taken").mkdir()
    return Case([g, c, *LIMIT, "-f", "csv", "-o", tmp / "taken"], 2, [str(tmp / "taken"), "is a directory"], outputs=False)


def case_diff_dir_is_a_file(tmp: Path) -> Case:
    g, c = two_files(tmp, png_bytes(texture(1)))
    (tmp / "diffs").write_text("a file")
    return Case([g, c, *LIMIT, "--diff-dir", tmp / "diffs" / "sub"], 2, [str(tmp / "diffs"), "is not a folder"])


def case_golden_path_nonexistent(tmp: Path) -> Case:
    _, c = two_files(tmp, png_bytes(texture(1)))
    return Case([tmp / "missing", c, *LIMIT], 2, [str(tmp / "missing"), "does not exist"])


def case_golden_file_vs_candidate_folder(tmp: Path) -> Case:
    g, c = two_files(tmp, png_bytes(texture(1)))
    return Case([g, c.parent, *LIMIT], 2, [str(g), "is a file", str(c.parent), "is a folder"])


def case_ignore_extension_ambiguous(tmp: Path) -> Case:
    golden, cand = folders(tmp)
    save(cand / "ok.jpg", texture(2))
    return Case([golden, cand, *LIMIT, "--ignore-extension"], 2, [str(cand), "ok.jpg", "ok.png", "ambiguous"])


def case_config_unknown_key(tmp: Path) -> Case:
    g, c = two_files(tmp, png_bytes(texture(1)))
    path = config_file(tmp, "[tool.imgloss]\nthreshold = 0.5\n")
    return Case([g, c, *LIMIT, "--config", path], 2, [str(path), "unknown key(s) 'threshold'"])


def case_config_bad_value_type(tmp: Path) -> Case:
    g, c = two_files(tmp, png_bytes(texture(1)))
    path = config_file(tmp, "[tool.imgloss]\nbatch-size = \"big\"\n")
    return Case([g, c, *LIMIT, "--config", path], 2, [str(path), "batch-size must be an integer", "'big'"])


def case_config_missing(tmp: Path) -> Case:
    g, c = two_files(tmp, png_bytes(texture(1)))
    return Case([g, c, *LIMIT, "--config", tmp / "none.toml"], 2, [str(tmp / "none.toml"), "does not exist"])


CASES = {name.removeprefix("case_"): fn for name, fn in dict(globals()).items() if name.startswith("case_")}


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 20


def assert_whole_outputs(out: Path, code: int) -> None:
    """Usage errors write nothing; otherwise every output is complete."""
    written = sorted(p.name for p in out.iterdir())
    if code == 2:
        assert written == []
        return
    assert written == ["j.xml", "r.json"]
    json.loads((out / "r.json").read_text())
    ET.parse(out / "j.xml")


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, invoke) -> None:
    case = CASES[name](tmp_path)
    if case.setup is not None:
        case.setup(monkeypatch)
    out = tmp_path / "out"
    extra: list[Any] = ["--workers", "0", "-q"]
    if case.outputs:
        out.mkdir()
        extra += ["-f", "json", "-o", out / "r.json", "--junit", out / "j.xml"]
    result = invoke("check", *case.args, *extra)
    assert result.exit_code == case.code, result.output
    assert "Traceback" not in result.output
    lines = error_lines(result.stderr, case.kind)
    if case.line:
        assert len(lines) == 1, result.stderr
        for needle in case.line:
            assert needle in lines[0], (needle, lines[0])
    else:
        assert error_lines(result.stderr) == [], result.stderr
    if case.kind == "warning":
        assert error_lines(result.stderr) == []
    if case.outputs:
        assert_whole_outputs(out, case.code)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(("name", "code"), [("truncated_png", 3), ("threshold_not_a_number", 2)])
def test_bad_input_in_a_real_process(name: str, code: int, tmp_path: Path, run_module) -> None:
    case = CASES[name](tmp_path)
    done = run_module("check", *case.args, "--workers", "0", "-q")
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    [line] = error_lines(done.stderr)
    assert all(needle in line for needle in case.line), line
