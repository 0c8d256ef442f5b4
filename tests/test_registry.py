"""The metric registry: complete metadata, helpful unknown-name errors.

The VGG metrics (perceptual, style) are checked for metadata only; their modules are
built elsewhere and loading them needs weights.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from imgloss.errors import UnknownMetricError, UsageError
from imgloss.metrics import registry
from imgloss.metrics.registry import DEFAULT_METRICS, METRICS, PRESETS, get_metric, get_preset

ALL = ["charbonnier", "ssim", "ms_ssim", "wssim", "psnr", "mse", "mae", "tv", "perceptual", "style", "lpips"]
VGG = {"perceptual", "style", "lpips"}  # need network weights
NON_VGG = [n for n in ALL if n not in VGG]
HIGHER_IS_BETTER = {"ssim", "ms_ssim", "wssim", "psnr"}
TEXT_FIELDS = ("name", "title", "description", "source", "function", "loss")
#: Metrics that need larger test images than the 11-12 px the loading tests use.
MIN_SIDE = {"ms_ssim": 161}


def test_registry_lists_every_metric() -> None:
    assert sorted(METRICS) == sorted(ALL)


@pytest.mark.parametrize("name", ALL)
def test_metadata_complete(name: str) -> None:
    info = get_metric(name)
    assert info is METRICS[name]
    assert info.name == name
    for field in TEXT_FIELDS:
        value = getattr(info, field)
        assert isinstance(value, str) and value.strip(), field
    assert isinstance(info.unit, str)  # "" for unitless metrics, "dB" for PSNR
    for flag in ("higher_is_better", "needs_reference", "needs_weights", "differentiable"):
        assert isinstance(getattr(info, flag), bool), flag
    assert info.differentiable is True
    low, high = info.range
    assert low < high
    assert low <= info.best <= high
    # function/loss are "module:attribute" import paths inside imgloss
    for path in (info.function, info.loss):
        module, sep, attr = path.partition(":")
        assert sep == ":" and module.startswith("imgloss.metrics.") and attr.isidentifier(), path


@pytest.mark.parametrize("name", ALL)
def test_direction_flags(name: str) -> None:
    info = get_metric(name)
    assert info.higher_is_better is (name in HIGHER_IS_BETTER)
    assert info.arrow == ("↑" if name in HIGHER_IS_BETTER else "↓")
    assert info.needs_reference is (name != "tv")
    assert info.needs_weights is (name in VGG)


def test_best_values() -> None:
    assert get_metric("ssim").best == 1.0
    assert get_metric("ms_ssim").best == 1.0
    assert get_metric("wssim").best == 1.0
    assert get_metric("psnr").best == math.inf
    assert get_metric("psnr").unit == "dB"
    assert get_metric("charbonnier").best == 1e-3
    for name in ("mse", "mae", "tv", "perceptual", "style", "lpips"):
        assert get_metric(name).best == 0.0, name


def test_default_metrics_need_no_weights() -> None:
    assert DEFAULT_METRICS == ("charbonnier", "ssim", "wssim", "psnr", "tv")
    for name in DEFAULT_METRICS:
        assert not get_metric(name).needs_weights


# --------------------------------------------------------------------------- unknown names


def test_unknown_metric_suggests_closest_and_lists_valid() -> None:
    with pytest.raises(UnknownMetricError) as info:
        get_metric("ssmi")
    message = str(info.value)
    assert "'ssmi'" in message
    assert "Did you mean 'ssim'?" in message
    for name in ALL:
        assert name in message
    # it is both a usage error (CLI exit code 2) and a ValueError (tensor API)
    assert isinstance(info.value, ValueError) and isinstance(info.value, UsageError)
    assert info.value.exit_code == 2


@pytest.mark.parametrize("typo, closest", [("charbonier", "charbonnier"), ("wsim", "wssim"),
                                           ("perceptal", "perceptual"), ("tvv", "tv")])
def test_unknown_metric_suggestions(typo: str, closest: str) -> None:
    with pytest.raises(UnknownMetricError) as info:
        get_metric(typo)
    message = str(info.value)
    assert "Valid: " + ", ".join(METRICS) in message
    assert f"Did you mean {closest!r}?" in message


def test_unrelated_name_has_no_suggestion() -> None:
    with pytest.raises(UnknownMetricError, match="^unknown metric 'xyzzy'. Valid: "):
        get_metric("xyzzy")


# --------------------------------------------------------------------------- presets


def test_presets_are_consistent() -> None:
    assert set(PRESETS) == VGG
    for metric, presets in PRESETS.items():
        assert ("vgg" if metric == "lpips" else "default") in presets  # LPIPS: "vgg" is the default
        for key, preset in presets.items():
            assert preset.name == key and preset.metric == metric
            assert preset.backbone in (("vgg16", "alexnet") if metric == "lpips" else ("vgg16", "vgg19"))
            assert len(preset.taps) == len(preset.layer_weights) > 0
            assert preset.normalize == "imagenet"
            assert preset.description and preset.source


def test_perceptual_presets_match_spec() -> None:
    default = get_preset("perceptual")
    assert default.backbone == "vgg19" and default.distance == "l1"
    assert default.taps == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert default.layer_weights == (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
    drn = get_preset("perceptual", "drn")
    assert drn.taps == ("relu1_1", "relu2_1", "relu3_1") and drn.layer_weights == (1 / 32, 1 / 16, 1 / 8)
    johnson = get_preset("perceptual", "johnson")
    assert johnson.backbone == "vgg16" and johnson.distance == "mse"
    assert johnson.taps == ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
    content = get_preset("perceptual", "johnson-content")
    assert content.taps == ("relu3_3",) and content.distance == "mse"
    style = get_preset("style")
    assert style.backbone == "vgg19" and style.distance == "mse" and style.layer_weights == (1.0,) * 5


def test_lpips_presets_match_lpips_package() -> None:
    vgg, alex = get_preset("lpips", "vgg"), get_preset("lpips", "alex")
    assert vgg.backbone == "vgg16" and vgg.taps == ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
    assert alex.backbone == "alexnet" and alex.taps == ("relu1", "relu2", "relu3", "relu4", "relu5")
    assert vgg.distance == alex.distance == "lpips"


def test_unknown_preset_suggests_closest() -> None:
    with pytest.raises(UnknownMetricError, match=r"Did you mean 'johnson'\?.*Valid: default, drn, johnson"):
        get_preset("perceptual", "jonson")
    with pytest.raises(UnknownMetricError, match="has no presets"):
        get_preset("ssim")
    with pytest.raises(UnknownMetricError, match="Did you mean 'style'"):
        get_preset("stlye")


# --------------------------------------------------------------------------- lazy torch


def test_registry_module_has_no_top_level_torch_import() -> None:
    source = Path(registry.__file__).read_text(encoding="utf-8")
    assert "import torch" not in source


# --------------------------------------------------------------------------- loading


@pytest.mark.parametrize("name", NON_VGG)
def test_function_path_loads_and_computes(name: str) -> None:
    import torch

    import imgloss.functional as functional

    info = get_metric(name)
    fn = info.load_function()
    assert callable(fn)
    assert fn is getattr(functional, name)
    g = torch.Generator().manual_seed(0)
    side = MIN_SIDE.get(name, 11)
    x = torch.rand(2, 1, side, side, generator=g, dtype=torch.float64)
    y = torch.rand(2, 1, side, side, generator=g, dtype=torch.float64)
    out = fn(x) if not info.needs_reference else fn(x, y)
    assert out.shape == (2,) and out.dtype == torch.float64
    assert torch.isfinite(out).all()
    low, high = info.range
    assert ((out >= low) & (out <= high)).all()
    if info.needs_reference:
        same = fn(x, x.clone())
        assert torch.allclose(same, torch.full_like(same, info.best), atol=1e-12)


@pytest.mark.parametrize("name", NON_VGG)
def test_loss_path_loads_and_computes(name: str) -> None:
    import torch
    from torch import nn

    import imgloss.losses as losses

    cls = get_metric(name).load_loss()
    assert isinstance(cls, type) and issubclass(cls, nn.Module)
    assert cls is getattr(losses, cls.__name__)
    module = cls(reduction="none")
    g = torch.Generator().manual_seed(1)
    side = MIN_SIDE.get(name, 12)
    x = torch.rand(3, 2, side, side, generator=g)
    y = torch.rand(3, 2, side, side, generator=g)
    out = module(x, y)
    assert out.shape == (3,) and torch.isfinite(out).all()
    scalar = cls()(x, y)
    assert scalar.shape == () and torch.allclose(scalar, out.mean())
