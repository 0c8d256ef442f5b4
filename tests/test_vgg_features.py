"""The VGG feature extractor: tap indices, one forward for x and y, one build per
process, frozen eval network, gray input, gradients, and never a random network."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from imgloss.errors import WeightsError
from imgloss.features import vgg
from imgloss.features.vgg import IMAGENET_MEAN, IMAGENET_STD, TAPS, extract_pair
from imgloss.functional import perceptual, style
from imgloss.losses import CombinedLoss
from vgg_fixtures import BACKBONES, images, isolated, no_network, reference_vgg, standin_dir, use_standin  # noqa: F401

pytestmark = pytest.mark.usefixtures("use_standin")

SPEC_TAPS = {  # metric-spec.md, section "VGG features"
    "vgg19": {"relu1_1": 1, "relu1_2": 3, "relu2_1": 6, "relu2_2": 8, "relu3_1": 11,
              "relu3_4": 17, "relu4_1": 20, "relu4_4": 26, "relu5_1": 29},
    "vgg16": {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22, "relu5_3": 29},
    # LPIPS-Alex: the ends of lpips.pretrained_networks.alexnet's slices 0-1, 2-4, 5-7, 8-9, 10-11
    "alexnet": {"relu1": 1, "relu2": 4, "relu3": 7, "relu4": 9, "relu5": 11},
}


def imagenet(x: torch.Tensor) -> torch.Tensor:
    return (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def test_tap_table_is_the_spec() -> None:
    assert TAPS == SPEC_TAPS
    for backbone, taps in TAPS.items():
        for index in taps.values():
            assert isinstance(reference_layer(backbone, index), nn.ReLU)


def reference_layer(backbone: str, index: int) -> nn.Module:
    import torchvision

    with torch.device("meta"):
        return getattr(torchvision.models, backbone)().features[index]


@pytest.mark.parametrize("normalize", ["imagenet", "none"])
@pytest.mark.parametrize("backbone", BACKBONES)
def test_taps_equal_torchvision_subnetworks(reference_vgg, backbone: str, normalize: str) -> None:
    x, y = images(2, 32)
    taps = tuple(TAPS[backbone])
    fx, fy = extract_pair(x, y, backbone=backbone, taps=taps, normalize=normalize)
    for tap in taps:
        sub = reference_vgg[backbone][: TAPS[backbone][tap] + 1]
        for image, features in ((x, fx), (y, fy)):
            expected = sub(imagenet(image) if normalize == "imagenet" else image.clone())
            torch.testing.assert_close(features[tap], expected, rtol=1e-5, atol=1e-6)


def test_x_and_y_go_through_one_forward(monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = images(3, 32)
    batches: list[int] = []
    original = nn.Conv2d.forward

    def counting(self: nn.Conv2d, inputs: torch.Tensor) -> torch.Tensor:
        if self.in_channels == 3:
            batches.append(inputs.shape[0])
        return original(self, inputs)

    monkeypatch.setattr(nn.Conv2d, "forward", counting)
    before = vgg.cache_info().forwards
    perceptual(x, y)
    assert vgg.cache_info().forwards - before == 1
    assert batches == [6]  # x and y concatenated, the first conv ran once


def test_perceptual_and_style_share_one_forward_in_combined_loss() -> None:
    x, y = images(2, 32)
    loss = CombinedLoss({"perceptual": 1.0, "style": 2.0})
    before = vgg.cache_info().forwards
    total = loss(x, y)
    assert vgg.cache_info().forwards - before == 1
    torch.testing.assert_close(total, (perceptual(x, y) + 2 * style(x, y)).mean())


def test_network_built_once_across_calls() -> None:
    x, y = images(2, 32)
    for _ in range(4):
        perceptual(x, y)
        style(x, y)
        perceptual(x, y, "drn")  # shallower taps reuse the deeper network
    info = vgg.cache_info()
    assert (info.builds, info.loads, info.networks, info.forwards) == (1, 1, 1, 12)


def test_shallow_and_deep_taps_share_one_network() -> None:
    x, y = images(1, 32)
    perceptual(x, y, "drn")  # up to relu3_1: the forward stops there
    perceptual(x, y)  # up to relu5_1: the same network, built once to the deepest named tap
    assert (vgg.cache_info().builds, vgg.cache_info().loads) == (1, 1)


def test_one_network_per_backbone_and_dtype() -> None:
    x, y = images(1, 32)
    perceptual(x, y)
    perceptual(x, y, "johnson")
    perceptual(x.double(), y.double())
    assert (vgg.cache_info().builds, vgg.cache_info().loads) == (3, 2)


def test_network_is_frozen_and_in_eval_mode() -> None:
    x, y = images(1, 32)
    perceptual(x, y)
    ((network,),) = vgg._networks.values()
    network.train()  # an owner's .train() leaves it in eval mode
    assert not network.training
    assert all(not p.requires_grad for p in network.parameters())
    assert len(network.layers) == TAPS["vgg19"]["relu5_1"] + 1  # built only up to the deepest named tap


def test_gray_input_is_repeated_to_three_channels() -> None:
    x, y = images(2, 32, channels=1)
    fx, fy = extract_pair(x, y, backbone="vgg19", taps=("relu2_1",))
    gx, gy = extract_pair(x.expand(-1, 3, -1, -1), y.expand(-1, 3, -1, -1), backbone="vgg19", taps=("relu2_1",))
    torch.testing.assert_close(fx["relu2_1"], gx["relu2_1"])
    torch.testing.assert_close(fy["relu2_1"], gy["relu2_1"])


def test_gradients_flow_to_x_and_not_to_the_network() -> None:
    x, y = images(2, 32)
    x.requires_grad_(True)
    (perceptual(x, y).sum() + style(x, y).sum()).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    ((network,),) = vgg._networks.values()
    assert all(p.grad is None for p in network.parameters())


def test_network_first_built_under_inference_mode_still_trains() -> None:
    x, y = images(1, 32)
    with torch.inference_mode():
        perceptual(x, y)
    x.requires_grad_(True)
    perceptual(x, y).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"backbone": "vgg11", "taps": ("relu1_1",)}, "backbone must be one of"),
        ({"backbone": "vgg16", "taps": ("relu1_1",)}, "unknown vgg16 taps 'relu1_1'; valid: relu1_2"),
        ({"backbone": "vgg19", "taps": ("relu1_1",), "normalize": "caffe"}, "normalize must be one of"),
    ],
)
def test_bad_options_are_clear_errors(options: dict, message: str) -> None:
    x, y = images(1, 32)
    with pytest.raises(ValueError, match=message):
        extract_pair(x, y, **options)


def test_two_channel_input_is_refused() -> None:
    x, y = images(1, 32, channels=2)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        extract_pair(x, y, backbone="vgg19", taps=("relu1_1",))


def test_missing_weights_raise_before_any_network_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IMGLOSS_WEIGHTS")
    x, y = images(1, 32)
    with pytest.raises(WeightsError, match="vgg19-dcbb9e9d.pth"):
        extract_pair(x, y, backbone="vgg19", taps=("relu1_1",))
    assert vgg.cache_info().builds == 0


def test_unverified_state_is_refused_once_the_switch_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = images(1, 32)
    perceptual(x, y)
    monkeypatch.delenv("IMGLOSS_ALLOW_UNVERIFIED_WEIGHTS")
    with pytest.raises(WeightsError, match="SHA-256 mismatch"):
        perceptual(x, y)
