"""``imgloss weights`` through Typer's CliRunner and as a real subprocess: the status
table, verify/import/download, and weights errors as one message with exit code 4."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import imgloss.weights as weights
from imgloss.weights.checkpoint import sha256_file
from vgg_fixtures import isolated, no_network, standin_dir, standin_file, use_standin  # noqa: F401

WIDE = {"COLUMNS": "250"}


@pytest.fixture
def weights_cli(invoke):
    """``imgloss weights ARGS`` through CliRunner on a wide terminal (the status table unwrapped)."""
    return lambda *args: invoke("weights", *args, env=WIDE)


def assert_missing_message(text: str) -> None:
    for part in ("imgloss: error: VGG19 weights not found: vgg19-dcbb9e9d.pth", "imgloss weights download vgg19",
                 "imgloss weights import FILE", "--weights PATH or IMGLOSS_WEIGHTS=PATH", "torch hub cache",
                 "never uses a randomly initialised network"):
        assert part in text
    assert "Traceback" not in text


def test_status_lists_every_location(use_standin: Path, weights_cli) -> None:
    result = weights_cli("status")
    assert result.exit_code == 0, result.output
    for part in ("IMGLOSS_WEIGHTS", "torch hub cache", "imgloss cache", "vgg19-dcbb9e9d.pth", "vgg16-397923af.pth",
                 "not found", "accepted UNVERIFIED", "(used)", "MiB"):
        assert part in result.output
    assert "IMGLOSS_ALLOW_UNVERIFIED_WEIGHTS=1" in result.stderr  # the loud warning


def test_status_shows_why_a_file_is_refused(isolated: Path, weights_cli) -> None:
    hub = isolated / "torch-home" / "hub" / "checkpoints" / "vgg16-397923af.pth"
    hub.parent.mkdir(parents=True)
    hub.write_bytes(b"PK\x03\x04 cut short")
    result = weights_cli("status", "--backbone", "vgg16")
    assert result.exit_code == 0, result.output
    assert "refused: truncated" in result.output and "runs stop here" in result.output
    assert "vgg19" not in result.output


def test_verify_missing_weights_exits_4_with_the_one_message(weights_cli) -> None:
    result = weights_cli("verify", "vgg19")
    assert result.exit_code == 4
    assert_missing_message(result.stderr)
    assert result.stdout == ""


def test_verify_uses_the_weights_option(use_standin: Path, weights_cli) -> None:
    result = weights_cli("verify", "vgg16", "--weights", str(standin_file(use_standin, "vgg16")))
    assert result.exit_code == 0, result.output
    assert "UNVERIFIED" in result.stdout


def test_import_verifies_and_copies_into_the_cache(monkeypatch: pytest.MonkeyPatch, standin_dir: Path,
                                                   isolated: Path, weights_cli) -> None:
    source = standin_file(standin_dir)
    official = dataclasses.replace(weights.OFFICIAL["vgg19"], sha256=sha256_file(source))
    monkeypatch.setitem(weights.OFFICIAL, "vgg19", official)
    result = weights_cli("import", str(source))
    assert result.exit_code == 0, result.output
    assert "as vgg19 (verified)" in result.stdout
    assert (isolated / "imgloss-cache" / "vgg19-features.pt").is_file()


def test_import_of_random_bytes_is_one_error_line(tmp_path: Path, weights_cli) -> None:
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00not a checkpoint at all")
    result = weights_cli("import", str(junk), "--backbone", "vgg19")
    assert result.exit_code == 4
    assert result.stderr.startswith("imgloss: error: ") and "not a PyTorch checkpoint" in result.stderr
    assert result.stderr.count("\n") == 1


def test_download_from_a_mirror(monkeypatch: pytest.MonkeyPatch, standin_dir: Path, isolated: Path, weights_cli) -> None:
    source = standin_file(standin_dir, "vgg16")
    official = dataclasses.replace(weights.OFFICIAL["vgg16"], sha256=sha256_file(source))
    monkeypatch.setitem(weights.OFFICIAL, "vgg16", official)
    result = weights_cli("download", "vgg16", "--url", source.as_uri())
    assert result.exit_code == 0, result.output
    assert "saved vgg16 features" in result.stdout
    assert (isolated / "imgloss-cache" / "vgg16-features.pt").is_file()


def test_bad_backbone_is_a_usage_error(weights_cli) -> None:
    result = weights_cli("download", "resnet50")
    assert result.exit_code == 2


def test_status_as_a_subprocess(use_standin: Path, run_module) -> None:
    done = run_module("weights", "status", env=WIDE)
    assert done.returncode == 0, done.stderr
    assert "IMGLOSS_WEIGHTS" in done.stdout and "accepted UNVERIFIED" in done.stdout
    assert "Traceback" not in done.stderr


def test_missing_weights_as_a_subprocess_exit_4(run_module) -> None:
    done = run_module("weights", "verify", "vgg19", env=WIDE)
    assert done.returncode == 4
    assert_missing_message(done.stderr)
