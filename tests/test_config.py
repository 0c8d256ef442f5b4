"""``[tool.imgloss]``: discovery, the schema, precise errors, and command line over config."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from check_helpers import error_lines, make_folders
from imgloss.config import find_pyproject, load_config
from imgloss.errors import UsageError
from imgloss.gate.thresholds import Override, Threshold, ThresholdSet, merge, parse_threshold

FULL = """
[project]
name = "demo"

[tool.imgloss]
metrics = ["psnr", "perceptual:johnson"]
device = "cpu"
batch-size = 4
workers = 0
precision = "fp32"
resize = "candidate"
background = "black"
glob = "**/*.png"
recursive = false
ignore-extension = true
weights = "w/vgg19.pth"
max-pixels = 1000000
fail-on-missing = true

[tool.imgloss.max]
charbonnier = 0.01

[tool.imgloss.min]
SSIM = 0.98

[[tool.imgloss.overrides]]
glob = "faces/**"
max = { charbonnier = 0.02 }
min = { ssim = 0.9 }
"""


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pyproject.toml"
    path.write_text(text)
    return path


def test_full_schema_is_read(tmp_path) -> None:
    path = write(tmp_path, FULL)
    config = load_config(start=tmp_path / "deeper" / "still")
    assert config.path == path
    assert config.metrics == ["psnr", "perceptual:johnson"]
    assert config.options == {
        "device": "cpu", "batch_size": 4, "workers": 0, "precision": "fp32", "resize": "candidate",
        "background": "black", "glob": "**/*.png", "recursive": False, "ignore_extension": True,
        "weights": tmp_path / "w" / "vgg19.pth", "max_pixels": 1000000, "fail_on_missing": True,
    }
    limits = config.thresholds
    assert limits.base == (Threshold("charbonnier", "max", 0.01), Threshold("ssim", "min", 0.98))
    assert limits.for_key("faces/a/b.png") == (Threshold("charbonnier", "max", 0.02), Threshold("ssim", "min", 0.9))
    assert limits.for_key("cars/b.png") == limits.base


def test_nearest_pyproject_wins_and_none_is_empty(tmp_path) -> None:
    write(tmp_path, FULL)
    inner = write(tmp_path / "pkg", "[project]\nname = 'inner'\n")
    assert find_pyproject(tmp_path / "pkg" / "src") == inner
    assert load_config(start=tmp_path / "pkg").thresholds.base == ()  # nearest file has no [tool.imgloss]
    assert load_config(explicit=tmp_path / "pyproject.toml").metrics == ["psnr", "perceptual:johnson"]


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("[tool.imgloss]\nbatch_size = 4\n", ["unknown key(s) 'batch_size'", "did you mean 'batch-size'?"]),
        ("[tool.imgloss]\nthreshold = 1\ncolour = 2\n", ["'threshold'", "'colour'"]),
        ("[tool.imgloss]\nworkers = \"two\"\n", ["workers must be an integer", "'two'"]),
        ("[tool.imgloss]\nworkers = true\n", ["workers must be an integer", "True"]),
        ("[tool.imgloss]\nworkers = -1\n", ["workers must be at least 0"]),
        ("[tool.imgloss]\nrecursive = 1\n", ["recursive must be true or false"]),
        ("[tool.imgloss]\nmetrics = \"ssim\"\n", ["metrics must be a list"]),
        ("[tool.imgloss]\nmetrics = [\"ssmi\"]\n", ["metrics: unknown metric 'ssmi'", "Did you mean 'ssim'"]),
        ("[tool.imgloss.max]\nsharpness = 1\n", ["max.sharpness", "unknown metric 'sharpness'"]),
        ("[tool.imgloss.min]\nssim = \"high\"\n", ["min.ssim", "must be a number", "'high'"]),
        ("[tool.imgloss]\nmax = 3\n", ["max must be a table"]),
        ("[[tool.imgloss.overrides]]\nmax = { mse = 1 }\n", ["overrides[0]", "needs glob"]),
        ("[[tool.imgloss.overrides]]\nglob = \"a/**\"\nmaximum = 1\n", ["overrides[0]", "'maximum'"]),
        ("[tool.imgloss\n", ["invalid TOML"]),
    ],
)
def test_bad_config_is_a_usage_error_naming_file_and_key(tmp_path, text, needles) -> None:
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as caught:
        load_config(start=tmp_path)
    message = str(caught.value)
    assert str(path) in message
    for needle in needles:
        assert needle in message


def test_explicit_config_must_exist(tmp_path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_config(explicit=tmp_path / "nope.toml")


def test_command_line_limit_replaces_the_same_bound_everywhere() -> None:
    config = ThresholdSet(
        (Threshold("ssim", "min", 0.98), Threshold("charbonnier", "max", 0.01)),
        (Override("faces/**", (Threshold("ssim", "min", 0.9), Threshold("psnr", "min", 30.0))),),
    )
    merged = merge([parse_threshold("ssim=0.5", "min")], config)
    assert merged.for_key("faces/x.png") == (
        Threshold("charbonnier", "max", 0.01), Threshold("ssim", "min", 0.5), Threshold("psnr", "min", 30.0)
    )
    assert merged.columns == ["charbonnier", "ssim", "psnr"]


# ----------------------------------------------------------------- through the CLI


def test_cli_beats_pyproject(tmp_path, monkeypatch, invoke) -> None:
    golden, cand = make_folders(tmp_path)
    write(tmp_path, '[tool.imgloss]\nglob = "*.jpg"\nworkers = 0\n[tool.imgloss.min]\nssim = 0.98\n')
    monkeypatch.chdir(tmp_path)
    from_config = invoke("check", "golden", "cand", "-f", "json")
    assert from_config.exit_code == 3  # the config's glob matches nothing
    assert "no image pairs found" in from_config.stderr
    document = json.loads(invoke("check", "golden", "cand", "--glob", "*.png", "-f", "json").stdout)
    assert document["options"]["glob"] == "*.png" and document["options"]["workers"] == 0
    assert document["options"]["check"]["config"] == str(tmp_path / "pyproject.toml")
    assert {Path(r["candidate"]).name: r["check"]["status"] for r in document["results"]}["edited.png"] == "fail"
    relaxed = invoke("check", "golden", "cand", "--glob", "*.png", "--min", "ssim=0.1")
    assert relaxed.exit_code == 0, relaxed.output


def test_cli_flag_beats_config_bool_and_overrides_apply(tmp_path, monkeypatch, invoke) -> None:
    golden, cand = make_folders(tmp_path)
    (cand / "sub" / "same2.png").unlink()
    write(tmp_path, "\n".join([
        "[tool.imgloss]", "workers = 0", "recursive = false", "fail-on-missing = true",
        "[tool.imgloss.max]", "charbonnier = 0.01",
        "[[tool.imgloss.overrides]]", 'glob = "edited.*"', "max = { charbonnier = 0.5 }",
    ]))
    monkeypatch.chdir(tmp_path)
    shallow = invoke("check", "golden", "cand")
    assert shallow.exit_code == 0, shallow.output  # sub/ not scanned; edited.png passes its override
    deep = invoke("check", "golden", "cand", "--recursive")
    assert deep.exit_code == 3, deep.output  # sub/same2.png has no candidate, fail-on-missing from the config
    assert error_lines(deep.stderr, "check failed") == []


def test_bad_config_exits_2_with_one_line(tmp_path, monkeypatch, invoke) -> None:
    golden, cand = make_folders(tmp_path)
    path = write(tmp_path, "[tool.imgloss]\ndevices = 'cpu'\n")
    monkeypatch.chdir(tmp_path)
    result = invoke("check", "golden", "cand", "--max", "mse=1")
    assert result.exit_code == 2
    [line] = error_lines(result.stderr)
    assert str(path) in line and "'devices'" in line and "did you mean 'device'?" in line
