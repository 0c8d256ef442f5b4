"""`imgloss check` with VGG metrics: stand-in weights (through --weights, the environment
or the config's relative path) and exit 4 when they are missing. No network."""
from __future__ import annotations

import json
from pathlib import Path

from check_helpers import error_lines, leftovers, make_folders
from vgg_fixtures import isolated, no_network, standin_dir, use_standin  # noqa: F401
from imgloss.weights import ENV_ALLOW_UNVERIFIED


def test_perceptual_threshold_with_standin_weights(use_standin: Path, tmp_path: Path, invoke) -> None:
    golden, cand = make_folders(tmp_path / "images")
    out = tmp_path / "r.json"
    result = invoke("check", golden, cand, "--max", "perceptual=1e-6", "-f", "json", "-o", out, "--workers", "0")
    assert result.exit_code == 1, result.output
    document = json.loads(out.read_text())
    status = {Path(r["candidate"]).name: r["check"]["status"] for r in document["results"]}
    assert status == {"same.png": "pass", "same2.png": "pass", "edited.png": "fail"}
    assert any("unverified" in w for w in document["warnings"])


def test_config_weights_path_is_relative_to_pyproject(standin_dir: Path, tmp_path: Path, monkeypatch, invoke) -> None:
    golden, cand = make_folders(tmp_path)
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    (project / "weights").symlink_to(standin_dir)
    (project / "pyproject.toml").write_text('[tool.imgloss]\nweights = "weights"\nworkers = 0\n')
    monkeypatch.setenv(ENV_ALLOW_UNVERIFIED, "1")
    monkeypatch.chdir(project / "sub")  # the search goes upward from here
    result = invoke("check", golden / "same.png", cand / "same.png", "--max", "perceptual=1e-6")
    assert result.exit_code == 0, result.output


def test_missing_weights_exit_4_before_any_output(isolated: Path, tmp_path: Path, invoke) -> None:
    golden, cand = make_folders(tmp_path / "images")
    out, junit = tmp_path / "r.json", tmp_path / "j.xml"
    result = invoke("check", golden, cand, "--min", "ssim=0.9", "--max", "perceptual=0.1", "-f", "json", "-o", out,
                    "--junit", junit)
    assert result.exit_code == 4
    assert "Traceback" not in result.output
    assert len(error_lines(result.stderr)) == 1 and "VGG19 weights not found" in result.stderr
    assert not out.exists() and not junit.exists() and leftovers(tmp_path) == []


def test_preset_column_is_thresholded(use_standin: Path, tmp_path: Path, invoke) -> None:
    golden, cand = make_folders(tmp_path / "images")
    result = invoke("check", golden / "edited.png", cand / "edited.png", "--max", "perceptual:johnson=1e-6", "-f", "jsonl", "-q")
    assert result.exit_code == 1, result.output
    record = json.loads(result.stdout)
    assert record["check"]["failed"][0]["metric"] == "perceptual:johnson" and "perceptual:johnson" in record["metrics"]
