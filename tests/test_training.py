"""The losses train: Adam drives an image or a small network towards its target; every
non-VGG function and module compiles with ``torch.compile(fullgraph=True)`` and gives
the eager value; function == module for every loss.

Images are tiny (16-24 px) so the whole file runs in seconds (compilation: ``slow``).
"""
from __future__ import annotations

from typing import Callable

import pytest
import torch
from torch import nn

from imgloss.functional import charbonnier, mae, mse, psnr, ssim, ssim_map, tv, wssim
from imgloss.losses import (
    CharbonnierLoss,
    CombinedLoss,
    MAELoss,
    MSELoss,
    PSNRLoss,
    SSIMLoss,
    TVLoss,
    WSSIMLoss,
)

pytestmark = pytest.mark.slow  # optimisation loops and torch.compile: the slow tier


def target(size: int = 16, seed: int = 0) -> torch.Tensor:
    """A smooth image with edges: what a restoration network would be asked to output."""
    g = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(0, 1, size)
    base = torch.stack([ramp.view(1, -1).expand(size, -1), ramp.view(-1, 1).expand(-1, size),
                        (ramp.view(1, -1) > 0.5).float().expand(size, -1)])
    return (0.8 * base + 0.2 * torch.rand(3, size, size, generator=g)).unsqueeze(0).clamp(0, 1)


#: name -> (loss module, steps, factor the loss must fall by)
LOSSES: dict[str, tuple[Callable[[], nn.Module], int, float]] = {
    "charbonnier": (CharbonnierLoss, 60, 5.0),
    "mse": (MSELoss, 60, 20.0),
    "mae": (MAELoss, 60, 5.0),
    "ssim": (SSIMLoss, 60, 5.0),
    "ssim-same": (lambda: SSIMLoss("same"), 60, 5.0),
    "wssim": (WSSIMLoss, 60, 5.0),
    "combined": (lambda: CombinedLoss({"charbonnier": 1.0, "wssim": 1.0}), 60, 5.0),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_adam_drives_an_image_to_its_target(name: str) -> None:
    make, steps, factor = LOSSES[name]
    loss_fn = make()
    y = target()
    x = torch.full_like(y, 0.5).requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=0.05)
    first = float(loss_fn(x, y).detach())
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(x, y)
        loss.backward()
        optimizer.step()
    last = float(loss_fn(x, y).detach())
    assert last < first / factor, f"{name}: {first:.4g} -> {last:.4g} in {steps} steps"


def test_psnr_loss_raises_psnr_by_10_db() -> None:
    y = target()
    x = torch.full_like(y, 0.5).requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=0.02)
    start = float(psnr(x.detach(), y))
    for _ in range(60):
        optimizer.zero_grad()
        PSNRLoss()(x, y).backward()
        optimizer.step()
    assert float(psnr(x.detach(), y)) > start + 10


def test_tv_loss_smooths_a_noisy_image() -> None:
    noisy = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    x = noisy.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=0.02)
    for _ in range(40):
        optimizer.zero_grad()
        TVLoss()(x).backward()
        optimizer.step()
    assert float(tv(x.detach())) < float(tv(noisy)) / 10


def test_a_small_network_learns_to_denoise_with_the_s3net_terms() -> None:
    torch.manual_seed(0)
    clean = torch.cat([target(seed=i) for i in range(2)])
    noisy = (clean + 0.1 * torch.randn_like(clean)).clamp(0, 1)
    net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 3, 3, padding=1))
    loss_fn = CombinedLoss({"charbonnier": 1.0, "wssim": 1.0})
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    with torch.no_grad():
        first = float(loss_fn(net(noisy).clamp(0, 1), clean))
    for _ in range(50):
        optimizer.zero_grad()
        loss = loss_fn(net(noisy), clean)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        assert float(loss_fn(net(noisy), clean)) < first / 3


# --------------------------------------------------------------------------- function == module

#: module, its function form on (x, y)
PAIRS = {
    "CharbonnierLoss": (CharbonnierLoss(0.01, data_range=2.0), lambda x, y: charbonnier(x, y, 0.01, data_range=2.0)),
    "MSELoss": (MSELoss(data_range=2.0), lambda x, y: mse(x, y, data_range=2.0)),
    "MAELoss": (MAELoss(data_range=2.0), lambda x, y: mae(x, y, data_range=2.0)),
    "PSNRLoss": (PSNRLoss(data_range=2.0), lambda x, y: -psnr(x, y, data_range=2.0, eps=1e-10)),
    "SSIMLoss": (SSIMLoss("same", data_range=2.0), lambda x, y: 1 - ssim(x, y, "same", data_range=2.0)),
    "WSSIMLoss": (WSSIMLoss("db2", 1, 0.5, data_range=2.0), lambda x, y: 1 - wssim(x, y, "db2", 1, 0.5, data_range=2.0)),
    "TVLoss": (TVLoss("l1", data_range=2.0), lambda x, y: tv(x, "l1", data_range=2.0)),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", list(PAIRS))
def test_function_equals_module(name: str, reduction: str) -> None:
    module, function = PAIRS[name]
    module.reduction = reduction
    g = torch.Generator().manual_seed(2)
    x, y = 2 * torch.rand(3, 2, 16, 16, generator=g, dtype=torch.float64), 2 * torch.rand(3, 2, 16, 16, generator=g, dtype=torch.float64)
    per_image = function(x, y)
    expected = {"mean": per_image.mean(), "sum": per_image.sum(), "none": per_image}[reduction]
    torch.testing.assert_close(module(x, y), expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("name, function", [
    ("charbonnier", charbonnier), ("mse", mse), ("mae", mae), ("psnr", psnr), ("ssim", ssim), ("wssim", wssim),
])
def test_data_range_equals_rescaling(name: str, function: Callable) -> None:
    g = torch.Generator().manual_seed(3)
    x, y = torch.rand(2, 3, 16, 16, generator=g, dtype=torch.float64), torch.rand(2, 3, 16, 16, generator=g, dtype=torch.float64)
    torch.testing.assert_close(function(255 * x, 255 * y, data_range=255), function(x, y), rtol=1e-9, atol=1e-12)


def test_psnr_loss_of_identical_images_is_finite_with_zero_gradient() -> None:
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    loss = PSNRLoss()(x, x.detach().clone())
    loss.backward()
    assert float(loss.detach()) == -100.0
    assert torch.equal(x.grad, torch.zeros_like(x))
    assert torch.isinf(psnr(x.detach(), x.detach())).all()  # the metric stays inf (CLI)


# --------------------------------------------------------------------------- torch.compile

COMPILED = {
    "charbonnier": charbonnier, "mse": mse, "mae": mae, "psnr": psnr, "ssim": ssim,
    "ssim_map_same": lambda x, y: ssim_map(x, y, "same"), "wssim": wssim, "tv": lambda x, y: tv(x),
    "CharbonnierLoss": CharbonnierLoss(), "MSELoss": MSELoss(), "MAELoss": MAELoss(), "PSNRLoss": PSNRLoss(),
    "SSIMLoss": SSIMLoss(), "WSSIMLoss": WSSIMLoss(), "TVLoss": TVLoss(),
    "CombinedLoss": CombinedLoss({"charbonnier": 1.0, "wssim": 1.0, "tv": 0.1, "psnr": 0.01}),
}


@pytest.mark.parametrize("name", list(COMPILED))
def test_compiles_with_fullgraph_and_matches_eager(name: str) -> None:
    """No graph break (no host sync, no untraceable call) in any non-VGG loss; the
    'eager' backend checks the tracing without paying for code generation."""
    torch._dynamo.reset()
    fn = COMPILED[name]
    g = torch.Generator().manual_seed(4)
    x = torch.rand(2, 3, 16, 16, generator=g).requires_grad_(True)
    y = torch.rand(2, 3, 16, 16, generator=g)
    compiled = torch.compile(fn, fullgraph=True, backend="eager")
    out = compiled(x, y)
    out.sum().backward()
    grad = x.grad.clone()
    x.grad = None
    fn(x, y).sum().backward()
    torch.testing.assert_close(out, fn(x, y))
    torch.testing.assert_close(grad, x.grad)
