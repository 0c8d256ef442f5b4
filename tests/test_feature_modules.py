"""Feature losses as PyTorch modules (issue 11, item 4): the network is a registered,
non-persistent submodule shared per weights file; ``.to()``/``.double()``, ``state_dict``,
DDP and a user's own extractor behave as PyTorch users expect; no weights lookup per call."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from imgloss import weights as weights_store
from imgloss.features import vgg
from imgloss.functional import lpips, perceptual, style
from imgloss.losses import CombinedLoss, LPIPSLoss, PerceptualLoss, StyleLoss
from vgg_fixtures import images, isolated, no_network, standin_dir, use_standin  # noqa: F401

pytestmark = pytest.mark.usefixtures("use_standin")


def test_network_is_a_registered_submodule_shared_per_weights_file() -> None:
    a, b = PerceptualLoss(), StyleLoss()
    assert dict(a.named_children())["network"] is a.network
    assert a.network is b.network  # one VGG19 for both
    assert PerceptualLoss("johnson").network is not a.network  # VGG16: another file
    assert vgg.cache_info().builds == 2
    assert all(not p.requires_grad for p in a.parameters())


def test_state_dict_leaves_the_network_out_and_loads_strictly() -> None:
    model = nn.Sequential(nn.Conv2d(3, 3, 1), PerceptualLoss())
    state = model.state_dict()
    assert set(state) == {"0.weight", "0.bias"}
    fresh = nn.Sequential(nn.Conv2d(3, 3, 1), PerceptualLoss())
    result = fresh.load_state_dict(state, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []


def test_loading_never_overwrites_the_shared_network() -> None:
    loss = PerceptualLoss()
    before = loss.network.layers[0].weight.clone()
    hostile = {f"network.{k}": torch.zeros_like(v) for k, v in loss.network.state_dict().items()}
    result = loss.load_state_dict(hostile, strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == []
    torch.testing.assert_close(loss.network.layers[0].weight, before)


def test_to_moves_the_network_and_values_follow() -> None:
    x, y = images(2, 32)
    loss = PerceptualLoss(reduction="none")
    expected = perceptual(x.double(), y.double())
    loss = loss.double()
    assert next(loss.network.parameters()).dtype == torch.float64
    torch.testing.assert_close(loss(x.double(), y.double()), expected)
    # The float32 network is handed out again to a new loss (the moved one is found as float64).
    assert next(StyleLoss().network.parameters()).dtype == torch.float32
    assert StyleLoss(dtype=torch.float64).network is loss.network


def test_factory_keywords_build_where_asked() -> None:
    loss = StyleLoss(dtype=torch.float64)
    assert next(loss.network.parameters()).dtype == torch.float64


def test_module_and_functional_calls_do_no_weights_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = images(2, 32)
    loss, combined = PerceptualLoss(), CombinedLoss({"perceptual": 1.0, "style": 1.0})
    perceptual(x, y)
    style(x, y, breakdown=True)
    calls: list[object] = []
    original = weights_store.find
    monkeypatch.setattr(weights_store, "find", lambda *a, **k: calls.append(a) or original(*a, **k))
    for _ in range(3):
        loss(x, y)
        combined(x, y)
        perceptual(x, y)
        style(x, y, breakdown=True)
    assert calls == []


def test_functional_calls_never_move_a_module_network() -> None:
    x, y = images(1, 32)
    loss = PerceptualLoss().double()
    perceptual(x, y)  # float32 inputs: a float32 network, not the module's
    assert next(loss.network.parameters()).dtype == torch.float64


class TinyExtractor(nn.Module):
    """A user's own feature network: forward(x) -> dict of taps."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        a = self.conv(x)
        return {"a": a, "b": torch.relu(a)}


def test_a_users_own_extractor_is_used_registered_and_left_out_of_state_dict() -> None:
    torch.manual_seed(0)
    extractor = TinyExtractor()
    loss = PerceptualLoss(extractor=extractor, taps=("a", "b"), layer_weights=(1.0, 0.5),
                          normalize="none", reduction="none")
    assert loss.network is extractor and loss.state_dict() == {}
    x, y = images(2, 16)
    fx, fy = extractor(x), extractor(y)
    expected = (fx["a"] - fy["a"]).abs().mean(dim=(1, 2, 3)) + 0.5 * (fx["b"] - fy["b"]).abs().mean(dim=(1, 2, 3))
    torch.testing.assert_close(loss(x, y), expected)
    with pytest.raises(ValueError, match="no taps 'c'"):
        PerceptualLoss(extractor=extractor, taps=("c",))(x, y)
    with pytest.raises(TypeError, match="extractor must be an nn.Module"):
        PerceptualLoss(extractor=lambda t: {"a": t}, taps=("a",))  # type: ignore[arg-type]


def test_ddp_wraps_a_model_holding_the_loss(tmp_path: Path) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'ddp'}", rank=0, world_size=1)
    try:
        model = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Sigmoid())
        wrapper = nn.ModuleDict({"model": model, "loss": PerceptualLoss()})
        ddp = nn.parallel.DistributedDataParallel(wrapper)
        x, y = images(2, 32)
        loss = ddp.module["loss"](ddp.module["model"](x), y)
        loss.backward()
        assert model[0].weight.grad is not None and model[0].weight.grad.abs().sum() > 0
        assert all(p.grad is None for p in wrapper["loss"].parameters())
    finally:
        dist.destroy_process_group()


def test_lpips_module_holds_its_backbone_and_layers() -> None:
    loss = LPIPSLoss("vgg", reduction="none")
    assert isinstance(loss.network, vgg.FeatureNetwork) and loss.network.backbone == "vgg16"
    assert loss.state_dict() == {}
    x, y = images(2, 32)
    torch.testing.assert_close(loss(x, y), lpips(x, y))
    loss = loss.double()
    torch.testing.assert_close(loss(x.double(), y.double()), lpips(x.double(), y.double()))
