"""Perceptual and style values against an independent, straightforward computation.

The reference is the seed-style code the spec describes: a plain torchvision VGG loaded
from the same stand-in state dict, one sub-network ``features[:k+1]`` per tap, separate
forwards for x and y, hand-written L1/MSE and Gram matrices.
"""
from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from imgloss import functional, losses
from imgloss.features.vgg import IMAGENET_MEAN, IMAGENET_STD, TAPS
from imgloss.functional import perceptual, style
from imgloss.losses import CombinedLoss, PerceptualLoss, StyleLoss
from imgloss.metrics.registry import PRESETS, VGGPreset
from vgg_fixtures import images, isolated, no_network, reference_vgg, standin_dir, use_standin  # noqa: F401

pytestmark = pytest.mark.usefixtures("use_standin")

FUNCTIONS = {"perceptual": perceptual, "style": style}
# LPIPS presets are checked against the lpips package itself (test_lpips.py).
ALL_PRESETS = [(metric, name) for metric, presets in PRESETS.items() if metric in FUNCTIONS for name in presets]


def reference_value(features: nn.Sequential, preset: VGGPreset, x: Tensor, y: Tensor, normalize: str) -> Tensor:
    """``sum_l w_l D_l`` computed naively, image by image and tap by tap."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    values = []
    for xi, yi in zip(x, y):
        total = torch.zeros(())
        for tap, weight in zip(preset.taps, preset.layer_weights):
            sub = features[: TAPS[preset.backbone][tap] + 1]
            inputs = [img.unsqueeze(0) for img in (xi, yi)]
            if normalize == "imagenet":
                inputs = [(img - mean) / std for img in inputs]
            a, b = (sub(img.clone())[0] for img in inputs)
            if preset.metric == "style":
                c, h, w = a.shape
                ga = (a.reshape(c, h * w) @ a.reshape(c, h * w).T) / (c * h * w)
                gb = (b.reshape(c, h * w) @ b.reshape(c, h * w).T) / (c * h * w)
                term = ((ga - gb) ** 2).mean() if preset.distance == "mse" else (ga - gb).abs().mean()
            else:
                term = (a - b).abs().mean() if preset.distance == "l1" else ((a - b) ** 2).mean()
            total = total + weight * term
        values.append(total)
    return torch.stack(values)


@pytest.mark.parametrize(("metric", "name"), ALL_PRESETS)
def test_every_preset_equals_the_independent_computation(reference_vgg, metric: str, name: str) -> None:
    preset = PRESETS[metric][name]
    x, y = images(2, 40, seed=1)
    got = FUNCTIONS[metric](x, y, name)
    expected = reference_value(reference_vgg[preset.backbone], preset, x, y, preset.normalize)
    assert got.shape == (2,)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("metric", FUNCTIONS)
def test_normalize_none_feeds_raw_images(reference_vgg, metric: str) -> None:
    preset = PRESETS[metric]["default"]
    x, y = images(2, 32, seed=2)
    got = FUNCTIONS[metric](x, y, normalize="none")
    expected = reference_value(reference_vgg["vgg19"], preset, x, y, "none")
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-9)


def test_spec_presets() -> None:
    default = PRESETS["perceptual"]["default"]
    assert default.taps == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert default.layer_weights == (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0) and default.distance == "l1"
    assert PerceptualLoss("johnson").backbone == "vgg16" and PerceptualLoss("johnson").distance == "mse"
    assert StyleLoss().layer_weights == (1.0,) * 5 and StyleLoss().distance == "mse"


@pytest.mark.parametrize("metric", FUNCTIONS)
def test_a_batch_of_two_equals_each_image_alone(metric: str) -> None:
    x, y = images(2, 32, seed=3)
    together = FUNCTIONS[metric](x, y)
    alone = torch.cat([FUNCTIONS[metric](x[i : i + 1], y[i : i + 1]) for i in range(2)])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-9)


def test_style_gram_is_per_image_not_over_the_batch() -> None:
    x, y = images(2, 32, seed=4)
    # Swapping the second pair must not change the first image's value.
    other = style(torch.stack([x[0], y[1]]), torch.stack([y[0], x[1]]))
    torch.testing.assert_close(other[0], style(x, y)[0], rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize("metric", FUNCTIONS)
def test_identical_images_score_zero(metric: str) -> None:
    x, _ = images(2, 32)
    assert torch.equal(FUNCTIONS[metric](x, x.clone()), torch.zeros(2))


@pytest.mark.parametrize("metric", FUNCTIONS)
def test_breakdown_gives_weighted_terms_that_sum_to_the_total(metric: str) -> None:
    x, y = images(2, 32)
    parts = FUNCTIONS[metric](x, y, breakdown=True)
    preset = PRESETS[metric]["default"]
    assert list(parts) == [*preset.taps, "total"]
    torch.testing.assert_close(sum(parts[t] for t in preset.taps), parts["total"])
    torch.testing.assert_close(parts["total"], FUNCTIONS[metric](x, y))


def test_options_override_the_preset(reference_vgg) -> None:
    x, y = images(2, 32, seed=5)
    got = perceptual(x, y, backbone="vgg16", taps=("relu2_2", "relu4_3"), layer_weights=(0.5, 2.0), distance="mse")
    custom = VGGPreset("custom", "perceptual", "vgg16", ("relu2_2", "relu4_3"), (0.5, 2.0), "mse", "imagenet", "", "")
    torch.testing.assert_close(got, reference_value(reference_vgg["vgg16"], custom, x, y, "imagenet"),
                               rtol=1e-5, atol=1e-9)
    only_taps = style(x, y, taps=("relu2_1",), distance="l1")
    single = VGGPreset("single", "style", "vgg19", ("relu2_1",), (1.0,), "l1", "imagenet", "", "")
    torch.testing.assert_close(only_taps, reference_value(reference_vgg["vgg19"], single, x, y, "imagenet"),
                               rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"taps": ("relu1_1", "relu2_1"), "layer_weights": (1.0,)}, ValueError, "1 values for 2 taps"),
        ({"distance": "l2"}, ValueError, "distance must be one of"),
        ({"taps": ("relu9_9",)}, ValueError, "unknown vgg19 taps"),
        ({"taps": ("relu1_1", "relu1_1")}, ValueError, "must not repeat"),
        ({"normalize": "caffe"}, ValueError, "normalize must be one of"),
    ],
)
def test_bad_options_are_clear_errors(options: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        PerceptualLoss(**options)


def test_unknown_preset_suggests_the_close_name() -> None:
    with pytest.raises(ValueError, match="Did you mean 'johnson'"):
        perceptual(*images(1, 32), "jonson")


@pytest.mark.parametrize("metric", FUNCTIONS)
def test_inputs_outside_unit_range_are_refused(metric: str) -> None:
    x, y = images(1, 32)
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        FUNCTIONS[metric](x * 255, y, check_values=True)
    with pytest.raises(ValueError, match="outside"):
        CombinedLoss({metric: 1.0}, check_values=True)(x, y * 2)
    assert torch.isfinite(FUNCTIONS[metric](x * 255, y)).all()  # not read unless asked


@pytest.mark.parametrize("metric", FUNCTIONS)
def test_data_range_scales_inputs(metric: str) -> None:
    x, y = images(2, 32)
    torch.testing.assert_close(FUNCTIONS[metric](255 * x, 255 * y, data_range=255), FUNCTIONS[metric](x, y))


def test_loss_modules_reduce_the_functional_values() -> None:
    x, y = images(3, 32)
    torch.testing.assert_close(PerceptualLoss("drn")(x, y), perceptual(x, y, "drn").mean())
    torch.testing.assert_close(StyleLoss(reduction="sum")(x, y), style(x, y).sum())
    torch.testing.assert_close(StyleLoss(reduction="none")(x, y), style(x, y))


def test_gradients_reach_x_through_the_loss_modules() -> None:
    x, y = images(2, 32)
    x.requires_grad_(True)
    CombinedLoss({"charbonnier": 1.0, "perceptual": 1.0, "style": 1.0})(x, y).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_public_api_exports() -> None:
    assert {"perceptual", "style"} <= set(functional.__all__)
    assert {"PerceptualLoss", "StyleLoss"} <= set(losses.__all__)
