"""LPIPS (VGG and AlexNet) against the ``lpips`` package on the same stand-in backbones.

The reference is ``lpips.LPIPS(pretrained=True, net=..., pnet_rand=True)``: its linear
layers are the files it ships (the official ones imgloss verifies by hash), its backbone
is built randomly and then given our seeded stand-in tensors, so nothing is downloaded
(the network is blocked and asserted untouched). Also: the spatial map, one VGG16
forward shared with ``perceptual:johnson``, missing weights (exit 4), too-small images,
importing the linear layers, and the CLI.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

import imgloss.weights as weights
from imgloss.errors import WeightsError
from imgloss.features import vgg
from imgloss.functional import lpips, perceptual
from imgloss.losses import LPIPSLoss, PerceptualLoss
from imgloss.metrics.feature_loss import run_feature_losses
from pair_files import pixels, write_pair
from vgg_fixtures import images, isolated, no_network, standin_dir, standin_file, use_standin  # noqa: F401

lpips_package = pytest.importorskip("lpips")

NETS = {"vgg": "vgg16", "alex": "alexnet"}
TOL = 1e-6


def reference(net: str, standin_dir: Path, spatial: bool = False):
    """The lpips package's model with our stand-in backbone tensors (its slices keep
    torchvision's ``features`` indices as module names)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's `pretrained=` deprecation
        model = lpips_package.LPIPS(pretrained=True, net=net, pnet_rand=True, spatial=spatial, verbose=False)
    state = torch.load(standin_file(standin_dir, NETS[net]), weights_only=True)
    mapped = {}
    for key in model.net.state_dict():
        _, index, param = key.split(".")
        mapped[key] = state[f"features.{index}.{param}"]
    model.net.load_state_dict(mapped)
    return model.eval()


@pytest.mark.parametrize("net", list(NETS))
def test_equals_lpips_package(use_standin: Path, net: str) -> None:
    x, y = images(2, 64)
    y = y[..., :48]
    x = x[..., :48]
    with torch.no_grad():
        theirs = reference(net, use_standin)(x, y, normalize=True).flatten()
    ours = lpips(x, y, net)
    assert ours.shape == (2,)
    assert torch.allclose(ours, theirs, atol=TOL, rtol=0), (ours, theirs)
    assert float(ours.min()) > 1e-3  # a real distance
    assert torch.allclose(lpips(x, x.clone(), net), torch.zeros(2), atol=1e-7)


@pytest.mark.parametrize("net", list(NETS))
def test_spatial_map_equals_lpips_package(use_standin: Path, net: str) -> None:
    x, y = images(1, 40)
    with torch.no_grad():
        theirs = reference(net, use_standin, spatial=True)(x, y, normalize=True)
    ours = lpips(x, y, net, spatial=True)
    assert ours.shape == (1, 1, 40, 40)
    assert torch.allclose(ours, theirs, atol=TOL, rtol=0)


def test_batch_equals_singles_and_gradient(use_standin: Path) -> None:
    x, y = images(3, 32, seed=3)
    batched = lpips(x, y)
    singles = torch.cat([lpips(x[i : i + 1], y[i : i + 1]) for i in range(3)])
    assert torch.allclose(batched, singles, atol=1e-7)
    xg = x.clone().requires_grad_(True)
    LPIPSLoss()(xg, y).backward()
    assert xg.grad is not None and xg.grad.abs().sum() > 0


def test_one_vgg16_forward_serves_lpips_and_johnson(use_standin: Path) -> None:
    x, y = images(2, 32)
    losses = [PerceptualLoss("johnson", reduction="none"), LPIPSLoss("vgg", reduction="none")]
    run_feature_losses(losses, x, y)  # builds the network
    before = vgg.cache_info().forwards
    johnson, value = run_feature_losses(losses, x, y)
    assert vgg.cache_info().forwards == before + 1
    assert torch.allclose(value, lpips(x, y), atol=1e-7)
    assert torch.allclose(johnson, perceptual(x, y, "johnson"), atol=1e-7)
    # AlexNet is another network: one more forward.
    before = vgg.cache_info().forwards
    run_feature_losses([*losses, LPIPSLoss("alex", reduction="none")], x, y)
    assert vgg.cache_info().forwards == before + 2


def test_alexnet_too_small_names_31_px(use_standin: Path) -> None:
    x, y = images(1, 24)
    with pytest.raises(ValueError, match="24x24 px are too small for alexnet up to relu5: it needs at least 31 px"):
        lpips(x, y, "alex")


def test_missing_backbone_weights_name_alexnet_file(isolated: Path) -> None:
    x, y = images(1, 32)
    with pytest.raises(WeightsError) as caught:
        lpips(x, y, "alex")
    message = str(caught.value)
    for part in ("alexnet-owt-7be5be79.pth", weights.OFFICIAL["alexnet"].sha256, "AlexNet_Weights.IMAGENET1K_V1",
                 "imgloss weights download alexnet", "never uses a randomly initialised network"):
        assert part in message
    assert caught.value.exit_code == 4


def test_missing_linear_layers_are_a_weights_error(use_standin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weights.store, "_package_file", lambda package_path: ())
    with pytest.raises(WeightsError) as caught:
        LPIPSLoss("vgg")
    message = str(caught.value)
    assert "LPIPS-VGG weights not found: vgg.pth (LPIPS v0.1 VGG linear layers, 7 KiB" in message
    assert "pip install lpips" in message and "imgloss weights download lpips-vgg" in message


def test_linear_layers_verify_import_and_tampering(isolated: Path, tmp_path: Path) -> None:
    found, source = weights.find("lpips-alex")
    assert source == "installed package" and found.name == "alex.pth"
    assert weights.load("lpips-alex").verified
    imported = weights.import_file(found)  # auto: identified by its hash
    assert imported.backbone == "lpips-alex" and imported.verified
    state = torch.load(found, weights_only=True, map_location="cpu")
    state["lin0.model.1.weight"] = state["lin0.model.1.weight"] * 2
    tampered = tmp_path / "alex.pth"
    torch.save(state, tampered)
    with pytest.raises(WeightsError, match="SHA-256 mismatch"):
        weights.verify(tampered, "lpips-alex")


# --------------------------------------------------------------------------- CLI


def test_cli_lpips_columns_equal_functional(use_standin: Path, tmp_path: Path, invoke) -> None:
    ref, cand = write_pair(tmp_path, 40, 48, seed=1, spread=50)
    result = invoke("compare", ref, cand, "-m", "lpips,lpips:alex,perceptual:johnson", "-f", "csv")
    assert result.exit_code == 0, result.output
    header, row = result.stdout.strip().splitlines()[:2]
    values = dict(zip(header.split(","), row.split(",")))
    x, y = pixels(ref, torch.float32), pixels(cand, torch.float32)
    assert float(values["lpips"]) == pytest.approx(float(lpips(x, y)), abs=1e-6)
    assert float(values["lpips:alex"]) == pytest.approx(float(lpips(x, y, "alex")), abs=1e-6)
    assert "unverified" in result.stderr.lower()


def test_cli_missing_alexnet_exits_4(isolated: Path, tmp_path: Path, invoke) -> None:
    ref, cand = write_pair(tmp_path, 40, 48, seed=1, spread=50)
    result = invoke("compare", ref, cand, "-m", "lpips:alex")
    assert result.exit_code == 4
    assert "ALEXNET weights not found: alexnet-owt-7be5be79.pth" in result.stderr
    assert "Traceback" not in result.output
