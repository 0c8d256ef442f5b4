"""Weights resolution, verification and the cache: every refusal has its own reason,
missing weights say where they were looked for and how to provide them, and nothing
ever reaches the network."""
from __future__ import annotations

import dataclasses
import json
import os
import pickle
import sys
from pathlib import Path

import pytest
import torch

import imgloss.weights as weights
from imgloss.weights.checkpoint import CheckpointError, feature_shapes, full_shapes, sha256_file
from imgloss.errors import WeightsError
from vgg_fixtures import isolated, no_network, standin_dir, standin_file, use_standin  # noqa: F401

OFFICIAL19 = weights.OFFICIAL["vgg19"]


@pytest.fixture
def official_standin(monkeypatch: pytest.MonkeyPatch, standin_dir: Path) -> Path:
    """Pretend the vgg19 stand-in is torchvision's official file (its hash is recorded)."""
    path = standin_file(standin_dir)
    digest = sha256_file(path)
    monkeypatch.setitem(weights.OFFICIAL, "vgg19", dataclasses.replace(OFFICIAL19, sha256=digest))
    return path


def test_official_hashes_carry_torchvisions_file_name_prefix() -> None:
    for official in weights.OFFICIAL.values():
        if official.package_path:  # LPIPS linear layers: not torchvision files
            assert official.url.startswith("https://github.com/richzhang/PerceptualSimilarity/")
            assert official.url.endswith("/v0.1/" + official.filename) and len(official.sha256) == 64
            continue
        prefix = official.filename.rsplit("-", 1)[1].split(".")[0]
        assert official.sha256.startswith(prefix) and len(official.sha256) == 64
        assert official.url == f"https://download.pytorch.org/models/{official.filename}"


@pytest.mark.parametrize("backbone", ["vgg19", "vgg16", "alexnet"])
def test_expected_keys_and_shapes_are_torchvisions(backbone: str) -> None:
    import torchvision

    with torch.device("meta"):
        model = getattr(torchvision.models, backbone)()
    shapes = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    assert full_shapes(backbone) == shapes
    assert feature_shapes(backbone) == {k: v for k, v in shapes.items() if k.startswith("features.")}


def test_missing_weights_name_the_file_every_location_and_the_fixes(isolated: Path) -> None:
    with pytest.raises(WeightsError) as caught:
        weights.load("vgg19")
    message = str(caught.value)
    for text in (
        "vgg19-dcbb9e9d.pth",
        OFFICIAL19.sha256,
        "--weights: not given",
        "IMGLOSS_WEIGHTS: not set",
        str(isolated / "torch-home" / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"),
        str(isolated / "imgloss-cache" / "vgg19-features.pt"),
        "imgloss weights download vgg19",
        "imgloss weights import FILE",
        "--weights PATH or IMGLOSS_WEIGHTS=PATH",
        "never uses a randomly initialised network",
    ):
        assert text in message
    assert caught.value.exit_code == 4


def test_an_explicit_path_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"--weights asks for .*nowhere\.pth, which does not exist"):
        weights.load("vgg19", tmp_path / "nowhere.pth")
    with pytest.raises(WeightsError, match=r"--weights asks for .*vgg16-features\.pt nor .*vgg16-397923af\.pth"):
        weights.load("vgg16", tmp_path)  # an explicit folder without the file is not skipped either


def test_an_env_folder_without_the_file_passes_on_to_the_caches(
    monkeypatch: pytest.MonkeyPatch, isolated: Path, standin_dir: Path
) -> None:
    monkeypatch.setenv("IMGLOSS_WEIGHTS", str(isolated))
    hub = isolated / "torch-home" / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    hub.parent.mkdir(parents=True)
    os.link(standin_file(standin_dir), hub)  # a hard link: find() only looks, 77 MB less on disk
    assert weights.find("vgg19") == (hub, "torch hub cache")


def test_resolution_order(monkeypatch: pytest.MonkeyPatch, isolated: Path, standin_dir: Path) -> None:
    source = standin_file(standin_dir)
    hub = isolated / "torch-home" / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    cache = isolated / "imgloss-cache" / "vgg19-features.pt"
    env = isolated / "env" / "vgg19-dcbb9e9d.pth"
    explicit = isolated / "mine.pth"
    for target in (hub, cache, env, explicit):
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)  # find() only looks: hard links, not four 77 MB copies
    assert weights.find("vgg19") == (hub, "torch hub cache")
    hub.unlink()
    assert weights.find("vgg19") == (cache, "imgloss cache")
    monkeypatch.setenv("IMGLOSS_WEIGHTS", str(env.parent))
    assert weights.find("vgg19") == (env, "IMGLOSS_WEIGHTS")
    assert weights.find("vgg19", explicit) == (explicit, "--weights")


def test_torch_hub_dir_is_computed_without_torch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delitem(sys.modules, "torch")  # as in a CLI process that has not imported it
    assert weights.torch_hub_dir() == tmp_path / "torch-home" / "hub"
    monkeypatch.delenv("TORCH_HOME")
    assert weights.torch_hub_dir() == tmp_path / "xdg-cache" / "torch" / "hub"
    monkeypatch.setitem(sys.modules, "torch", torch)
    assert weights.torch_hub_dir() == Path(torch.hub.get_dir())


def test_the_standin_is_refused_without_the_test_switch(monkeypatch: pytest.MonkeyPatch, standin_dir: Path) -> None:
    monkeypatch.setenv("IMGLOSS_WEIGHTS", str(standin_dir))
    with pytest.raises(WeightsError) as caught:
        weights.load("vgg19")
    message = str(caught.value)
    assert "SHA-256 mismatch" in message and "not the official VGG19" in message
    assert str(standin_file(standin_dir)) in message and "from IMGLOSS_WEIGHTS" in message
    assert "never uses a randomly initialised network" in message


def test_the_test_switch_accepts_the_standin_and_says_so(use_standin: Path) -> None:
    result = weights.load("vgg16")
    assert not result.verified and set(result.state) == set(feature_shapes("vgg16"))
    assert str(standin_file(use_standin, "vgg16")) in weights.unverified_in_use()


def test_a_file_with_the_official_hash_verifies(official_standin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGLOSS_WEIGHTS", str(official_standin))
    result = weights.load("vgg19")
    assert result.verified and result.sha256 == weights.OFFICIAL["vgg19"].sha256
    assert str(official_standin) not in weights.unverified_in_use()


class RunsCode:
    """A pickle payload that would create a marker file if it were ever unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        return (os.system, (f"touch {self.marker}",))


def _write_corrupt(kind: str, path: Path, good: Path) -> None:
    data = good.read_bytes()
    state = torch.load(good, weights_only=True)
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "random bytes":
        path.write_bytes(b"\x17" + torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0),
                                                 dtype=torch.uint8).numpy().tobytes())
    elif kind == "wrong keys":
        state["features.99.weight"] = state.pop("features.34.weight")
        torch.save(state, path)
    elif kind == "wrong shapes":
        state["features.0.weight"] = torch.zeros(32, 3, 3, 3)
        torch.save(state, path)
    elif kind == "integer tensor":
        state["features.0.bias"] = torch.zeros(64, dtype=torch.int64)
        torch.save(state, path)
    elif kind == "not a state dict":
        torch.save([torch.zeros(1)], path)
    elif kind == "pickle with code":
        torch.save({"features.0.weight": RunsCode(path.with_suffix(".marker"))}, path)
    elif kind == "raw pickle with code":
        path.write_bytes(pickle.dumps(RunsCode(path.with_suffix(".marker"))))


CORRUPT = {
    "empty": "empty file (0 bytes)",
    "truncated": "truncated: the zip archive ends early",
    "random bytes": "not a PyTorch checkpoint: neither a zip archive nor a pickle",
    "wrong keys": "wrong keys for torchvision VGG19: missing features.34.weight; unexpected features.99.weight",
    "wrong shapes": "wrong tensor shapes: features.0.weight is (32, 3, 3, 3), torchvision VGG19 has (64, 3, 3, 3)",
    "integer tensor": "wrong tensor dtype: features.0.bias is torch.int64",
    "not a state dict": "not a state dict of tensors (got list)",
    "pickle with code": "refused: the pickle asks to call posix.system (code in a weights file; it was not run)",
    "raw pickle with code": "refused: the pickle asks to call posix.system",
}


@pytest.mark.parametrize("allow", [False, True], ids=["strict", "allow-unverified"])
@pytest.mark.parametrize("kind", CORRUPT)
def test_each_corrupt_file_is_refused_with_its_own_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, standin_dir: Path, kind: str, allow: bool
) -> None:
    if allow:
        monkeypatch.setenv("IMGLOSS_ALLOW_UNVERIFIED_WEIGHTS", "1")  # never rescues a broken file
    bad = tmp_path / "bad.pth"
    _write_corrupt(kind, bad, standin_file(standin_dir))
    with pytest.raises(WeightsError) as caught:
        weights.load("vgg19", bad)
    assert CORRUPT[kind] in str(caught.value)
    assert str(bad) in str(caught.value)
    assert not bad.with_suffix(".marker").exists()  # the pickled os.system never ran


def test_a_verified_import_is_recorded_and_a_tampered_copy_refused(official_standin: Path, isolated: Path) -> None:
    imported = weights.import_file(official_standin)
    cache = isolated / "imgloss-cache"
    assert imported.backbone == "vgg19" and imported.verified and imported.path == cache / "vgg19-features.pt"
    manifest = json.loads((cache / "manifest.json").read_text())["files"]["vgg19-features.pt"]
    assert manifest["sha256"] == sha256_file(imported.path) and manifest["verified"] is True
    assert manifest["source_sha256"] == weights.OFFICIAL["vgg19"].sha256
    assert not list(cache.glob("*.partial"))  # the atomic write left no temp file

    loaded = weights.load("vgg19")  # found in the cache, vouched for by the manifest
    assert loaded.path == imported.path and loaded.verified
    assert loaded.state.keys() == feature_shapes("vgg19").keys()  # features only, no classifier

    state = torch.load(imported.path, weights_only=True)
    state["features.0.bias"] = state["features.0.bias"] + 1  # valid layout, different bytes
    torch.save(state, imported.path)
    with pytest.raises(WeightsError, match="the file changed since imgloss verified it"):
        weights.load("vgg19")


def test_an_unverified_import_stays_unverified(monkeypatch: pytest.MonkeyPatch, standin_dir: Path) -> None:
    monkeypatch.setenv("IMGLOSS_ALLOW_UNVERIFIED_WEIGHTS", "1")
    imported = weights.import_file(standin_file(standin_dir, "vgg16"))
    assert imported.backbone == "vgg16" and not imported.verified  # backbone detected from the keys
    monkeypatch.delenv("IMGLOSS_ALLOW_UNVERIFIED_WEIGHTS")
    with pytest.raises(WeightsError, match="imported without verification"):
        weights.load("vgg16")


def test_import_refuses_unverified_files(standin_dir: Path, isolated: Path) -> None:
    with pytest.raises(WeightsError, match="SHA-256 mismatch"):
        weights.import_file(standin_file(standin_dir))
    assert not (isolated / "imgloss-cache" / "vgg19-features.pt").exists()


def test_download_from_a_mirror_url_verifies_and_keeps_features_only(
    official_standin: Path, isolated: Path, no_network: list
) -> None:
    seen: list[tuple[int, int | None]] = []
    result = weights.download("vgg19", url=official_standin.as_uri(), progress=lambda d, t: seen.append((d, t)))
    cache = isolated / "imgloss-cache"
    assert result.verified and result.path == cache / "vgg19-features.pt"
    assert sorted(p.name for p in cache.iterdir()) == ["manifest.json", "vgg19-features.pt"]
    assert seen[-1][0] == official_standin.stat().st_size
    assert no_network == []  # a file:// URL, nothing reached the network


def test_a_refused_download_leaves_nothing_behind(tmp_path: Path, isolated: Path, standin_dir: Path) -> None:
    bad = tmp_path / "bad.pth"
    _write_corrupt("truncated", bad, standin_file(standin_dir))
    with pytest.raises(WeightsError, match="refused: truncated"):
        weights.download("vgg19", url=bad.as_uri())
    assert list((isolated / "imgloss-cache").iterdir()) == []


def test_a_failed_download_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="download of .* failed"):
        weights.download("vgg19", url=(tmp_path / "absent.pth").as_uri())


def test_status_reports_each_location(use_standin: Path, isolated: Path, tmp_path: Path) -> None:
    hub = isolated / "torch-home" / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    hub.parent.mkdir(parents=True)
    hub.write_bytes(b"junk")
    findings = weights.status("vgg19")
    by_path = {f.path: f for f in findings}
    env = by_path[standin_file(use_standin)]
    assert env.ok and env.used and not env.verified and "UNVERIFIED" in env.detail
    assert by_path[hub].ok is False and not by_path[hub].used and "not a PyTorch checkpoint" in by_path[hub].detail
    assert by_path[isolated / "imgloss-cache" / "vgg19-features.pt"].ok is None
    assert [f.source for f in findings][0] == "IMGLOSS_WEIGHTS"


def test_checkpoint_error_is_a_weights_error() -> None:
    assert issubclass(CheckpointError, WeightsError)
