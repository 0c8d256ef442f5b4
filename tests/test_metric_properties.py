"""Properties every metric must have: batching, precision, gradients, shapes, modules.

Parametrised kornia-style over conftest's ``dtype`` (float32, float64) and ``device``
fixtures (cpu; cuda carries the ``gpu`` marker and is skipped without CUDA).
"""
from __future__ import annotations

from typing import Callable

import pytest
import torch

from imgloss.functional import charbonnier, gram, gram_distance, mae, mse, psnr, ssim, tv, wssim
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


Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _gram(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return gram_distance(gram(x), gram(y))


#: name -> (per-image function of (x, y), uses y, side for gradcheck)
METRICS: dict[str, tuple[Metric, bool, int]] = {
    "charbonnier": (charbonnier, True, 6),
    "ssim": (ssim, True, 12),
    "wssim": (wssim, True, 8),
    "psnr": (psnr, True, 6),
    "mse": (mse, True, 6),
    "mae": (mae, True, 6),
    "tv": (lambda x, y: tv(x), False, 6),
    "gram": (_gram, True, 5),
}
NAMES = list(METRICS)


def images(n: int, c: int, h: int, w: int, *, dtype=torch.float32, device="cpu", seed: int = 0):
    """Two different batches with values in [0.1, 0.9] (gradcheck steps stay in [0, 1])."""
    g = torch.Generator().manual_seed(seed)
    x = 0.1 + 0.8 * torch.rand(n, c, h, w, generator=g, dtype=torch.float64)
    y = 0.1 + 0.8 * torch.rand(n, c, h, w, generator=g, dtype=torch.float64)
    return x.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)


# --------------------------------------------------------------------------- batching


@pytest.mark.parametrize("name", NAMES)
def test_batch_equals_one_at_a_time(name: str, device: str) -> None:
    fn = METRICS[name][0]
    x, y = images(4, 3, 16, 16, device=device, seed=1)
    # make the images clearly different from one another
    x = x * torch.linspace(0.4, 1.0, 4, device=device).view(4, 1, 1, 1)
    batch = fn(x, y)
    singles = torch.cat([fn(x[i : i + 1], y[i : i + 1]) for i in range(4)])
    assert batch.shape == (4,)
    assert len(set(batch.tolist())) == 4  # four different values
    torch.testing.assert_close(batch, singles, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", NAMES)
def test_float32_matches_float64(name: str, device: str) -> None:
    fn = METRICS[name][0]
    x, y = images(2, 3, 16, 16, dtype=torch.float64, device=device, seed=2)
    hi = fn(x, y)
    lo = fn(x.float(), y.float())
    assert lo.dtype == torch.float32 and hi.dtype == torch.float64
    torch.testing.assert_close(lo.double(), hi, atol=1e-5, rtol=1e-6)


# --------------------------------------------------------------------------- gradients


@pytest.mark.slow  # float64 numerical Jacobians: minutes for ssim/wssim on 2 cores
@pytest.mark.parametrize("name", NAMES)
def test_gradcheck(name: str, device: str) -> None:
    fn, uses_y, side = METRICS[name]
    x, y = images(1, 1, side, side, dtype=torch.float64, device=device, seed=3)
    x.requires_grad_(True)
    y.requires_grad_(uses_y)
    assert torch.autograd.gradcheck(fn, (x, y), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_both_inputs(name: str, dtype: torch.dtype, device: str) -> None:
    fn, uses_y, _ = METRICS[name]
    x, y = images(2, 3, 16, 16, dtype=dtype, device=device, seed=4)
    x.requires_grad_(True)
    y.requires_grad_(True)
    fn(x, y).sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    if uses_y:
        assert y.grad is not None and torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0
    else:  # TV looks at one image only
        assert y.grad is None


@pytest.mark.parametrize("name", ["charbonnier", "ssim", "wssim", "mse"])
def test_gradient_at_identity_is_finite(name: str) -> None:
    fn = METRICS[name][0]
    x, _ = images(1, 2, 16, 16, dtype=torch.float64, seed=5)
    x.requires_grad_(True)
    fn(x, x.detach().clone()).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_tv_isotropic_gradient_at_flat_image_is_zero() -> None:
    x = torch.full((1, 1, 4, 4), 0.5, dtype=torch.float64, requires_grad=True)
    tv(x, "isotropic").sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


@pytest.mark.parametrize("kind", ["l1", "isotropic"])
def test_tv_other_kinds_gradcheck(kind: str) -> None:
    x, _ = images(1, 2, 5, 4, dtype=torch.float64, seed=6)
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: tv(t, kind), (x,))


# --------------------------------------------------------------------------- shape, dtype


@pytest.mark.parametrize("name", NAMES)
def test_output_shape_and_dtype(name: str, dtype: torch.dtype, device: str) -> None:
    fn = METRICS[name][0]
    for n in (1, 3):
        x, y = images(n, 2, 12, 13, dtype=dtype, device=device, seed=7)
        out = fn(x, y)
        assert out.shape == (n,)
        assert out.dtype == dtype
        assert out.device.type == torch.device(device).type
        assert torch.isfinite(out).all()


def test_gram_shape(dtype: torch.dtype) -> None:
    x, _ = images(3, 4, 5, 6, dtype=dtype)
    g = gram(x)
    assert g.shape == (3, 4, 4) and g.dtype == dtype
    torch.testing.assert_close(g, g.transpose(1, 2))


# --------------------------------------------------------------------------- loss modules

#: module class, kwargs, per-image reference loss of (x, y)
MODULES = {
    "CharbonnierLoss": (CharbonnierLoss, {}, lambda x, y: charbonnier(x, y)),
    "CharbonnierLoss-eps": (CharbonnierLoss, {"eps": 0.1}, lambda x, y: charbonnier(x, y, 0.1)),
    "SSIMLoss": (SSIMLoss, {}, lambda x, y: 1 - ssim(x, y)),
    "SSIMLoss-same": (SSIMLoss, {"padding": "same"}, lambda x, y: 1 - ssim(x, y, padding="same")),
    "WSSIMLoss": (WSSIMLoss, {}, lambda x, y: 1 - wssim(x, y)),
    "WSSIMLoss-db2": (WSSIMLoss, {"wavelet": "db2", "levels": 1, "r": 0.5},
                      lambda x, y: 1 - wssim(x, y, "db2", 1, 0.5)),
    "TVLoss": (TVLoss, {}, lambda x, y: tv(x)),
    "TVLoss-l1": (TVLoss, {"kind": "l1"}, lambda x, y: tv(x, "l1")),
    "MSELoss": (MSELoss, {}, mse),
    "MAELoss": (MAELoss, {}, mae),
    "PSNRLoss": (PSNRLoss, {}, lambda x, y: -psnr(x, y)),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("key", list(MODULES))
def test_loss_module_reductions(key: str, reduction: str) -> None:
    cls, kwargs, reference = MODULES[key]
    x, y = images(3, 2, 16, 16, dtype=torch.float64, seed=8)
    per_image = reference(x, y)
    assert per_image.shape == (3,)
    out = cls(reduction=reduction, **kwargs)(x, y)
    expected = {"mean": per_image.mean(), "sum": per_image.sum(), "none": per_image}[reduction]
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, atol=1e-12, rtol=0)


def test_loss_modules_default_reduction_is_mean() -> None:
    x, y = images(3, 1, 16, 16, dtype=torch.float64, seed=9)
    for cls, kwargs, reference in MODULES.values():
        torch.testing.assert_close(cls(**kwargs)(x, y), reference(x, y).mean(), atol=1e-12, rtol=0)


def test_similarity_losses_are_zero_at_identity() -> None:
    x, _ = images(2, 3, 16, 16, dtype=torch.float64, seed=10)
    for cls in (SSIMLoss, WSSIMLoss):
        assert abs(float(cls()(x, x.clone()))) < 1e-12
    assert abs(float(CharbonnierLoss()(x, x.clone())) - 1e-3) < 1e-12


def test_tv_loss_takes_one_image() -> None:
    x, _ = images(2, 1, 6, 6, dtype=torch.float64, seed=11)
    torch.testing.assert_close(TVLoss(reduction="none")(x), tv(x))


@pytest.mark.parametrize("cls", [CharbonnierLoss, SSIMLoss, WSSIMLoss, TVLoss, MSELoss, MAELoss, PSNRLoss])
@pytest.mark.parametrize("bad", ["avg", "MEAN", "", None])
def test_bad_reduction_is_value_error(cls, bad) -> None:
    with pytest.raises(ValueError, match="reduction"):
        cls(reduction=bad)


@pytest.mark.parametrize("cls", [CharbonnierLoss, SSIMLoss, WSSIMLoss, MSELoss])
def test_loss_module_gradients_flow(cls) -> None:
    x, y = images(2, 1, 16, 16, dtype=torch.float64, seed=12)
    x.requires_grad_(True)
    y.requires_grad_(True)
    cls()(x, y).backward()
    assert x.grad.abs().sum() > 0 and y.grad.abs().sum() > 0


# --------------------------------------------------------------------------- CombinedLoss


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_combined_loss_equals_weighted_sum(reduction: str) -> None:
    x, y = images(3, 3, 16, 16, dtype=torch.float64, seed=13)
    loss = CombinedLoss({"charbonnier": 1, "wssim": 1}, reduction=reduction)
    per_image = charbonnier(x, y) + (1 - wssim(x, y))
    expected = {"mean": per_image.mean(), "sum": per_image.sum(), "none": per_image}[reduction]
    torch.testing.assert_close(loss(x, y), expected, atol=1e-12, rtol=0)


def test_combined_loss_weights_and_terms() -> None:
    x, y = images(2, 1, 16, 16, dtype=torch.float64, seed=14)
    loss = CombinedLoss({"charbonnier": 0.5, "wssim": 2.0, "tv": 0.25})
    terms = loss.terms(x, y)
    assert list(terms) == ["charbonnier", "wssim", "tv"]
    torch.testing.assert_close(terms["charbonnier"], charbonnier(x, y))
    torch.testing.assert_close(terms["wssim"], 1 - wssim(x, y))
    torch.testing.assert_close(terms["tv"], tv(x))
    expected = (0.5 * charbonnier(x, y) + 2.0 * (1 - wssim(x, y)) + 0.25 * tv(x)).mean()
    torch.testing.assert_close(loss(x, y), expected, atol=1e-12, rtol=0)


def test_combined_loss_options_reach_the_term() -> None:
    x, y = images(2, 1, 16, 16, dtype=torch.float64, seed=15)
    loss = CombinedLoss({"charbonnier": 1.0}, options={"charbonnier": {"eps": 0.1}})
    torch.testing.assert_close(loss(x, y), charbonnier(x, y, 0.1).mean(), atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="wssim"):
        CombinedLoss({"charbonnier": 1.0}, options={"wssim": {"r": 0.5}})


def test_combined_loss_gradients_flow() -> None:
    x, y = images(2, 3, 16, 16, dtype=torch.float32, seed=16)
    x.requires_grad_(True)
    y.requires_grad_(True)
    CombinedLoss({"charbonnier": 1, "wssim": 1})(x, y).backward()
    for t in (x, y):
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0


@pytest.mark.slow  # numerical Jacobian through W-SSIM
def test_combined_loss_gradcheck() -> None:
    x, y = images(1, 1, 8, 8, dtype=torch.float64, seed=17)
    x.requires_grad_(True)
    loss = CombinedLoss({"charbonnier": 1, "wssim": 1})
    assert torch.autograd.gradcheck(lambda t: loss(t, y), (x,), eps=1e-6, atol=1e-5)


def test_combined_loss_unknown_name_suggests_closest() -> None:
    with pytest.raises(ValueError, match=r"Did you mean 'charbonnier'") as info:
        CombinedLoss({"charbonier": 1.0, "wssim": 1.0})
    assert "'charbonier'" in str(info.value)
    with pytest.raises(ValueError, match=r"Did you mean 'wssim'"):
        CombinedLoss({"charbonnier": 1.0, "wsim": 1.0})


def test_combined_loss_bad_reduction_and_empty() -> None:
    with pytest.raises(ValueError, match="reduction"):
        CombinedLoss({"charbonnier": 1.0}, reduction="avg")
    with pytest.raises(ValueError, match="at least one"):
        CombinedLoss({})


def test_psnr_gradient_is_zero_not_nan_at_identity() -> None:
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    value = psnr(x, x.detach())
    assert torch.isinf(value).all()
    (-value.clamp(max=100)).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_gram_distance_refuses_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="same shape"):
        gram_distance(torch.zeros(2, 3, 3), torch.zeros(1, 3, 3))


def test_loss_modules_validate_options_at_construction() -> None:
    from imgloss.losses import SSIMLoss, WSSIMLoss

    with pytest.raises(ValueError, match="padding"):
        SSIMLoss(padding="bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="wavelet"):
        WSSIMLoss(wavelet="nope")
    with pytest.raises(ValueError, match="wavelet"):
        wssim(torch.rand(1, 1, 4, 4), torch.rand(1, 1, 4, 4), wavelet="nope", levels=0)


def test_cached_constants_first_built_under_inference_mode_still_support_autograd() -> None:
    from imgloss.metrics import ssim_kernel
    from imgloss.metrics import wavelet as wavelet_module

    ssim_kernel.gaussian_1d.cache_clear()
    wavelet_module._symmetric_index.cache_clear()
    x, y = torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16)
    with torch.inference_mode():
        ssim(x, y), wssim(x, y)
    x.requires_grad_(True)
    (ssim(x, y) + wssim(x, y)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_gram_under_fp16_autocast_is_computed_in_float32_without_overflow() -> None:
    features = torch.rand(1, 64, 128, 128) * 4
    with torch.autocast("cpu", dtype=torch.float16):
        g = gram(features.half())
    assert g.dtype == torch.float32 and torch.isfinite(g).all()
    torch.testing.assert_close(g, gram(features.half().float()))


@pytest.mark.parametrize("name", ["ssim", "wssim"])
def test_one_sided_gradients_equal_the_two_sided_ones(name: str) -> None:
    """The SSIM kernel saves only the partials the wanted gradients need (3 fields for one
    input, 4 for both): each one-sided gradient equals its two-sided counterpart."""
    fn = METRICS[name][0]
    x, y = images(2, 3, 20, 20, dtype=torch.float64, seed=5)
    both = torch.autograd.grad(fn(x.requires_grad_(), y.requires_grad_()).sum(), [x, y])
    only_x = torch.autograd.grad(fn(x, y.detach()).sum(), [x])[0]
    only_y = torch.autograd.grad(fn(x.detach(), y).sum(), [y])[0]
    torch.testing.assert_close(only_x, both[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(only_y, both[1], rtol=0, atol=1e-12)
    assert both[0].abs().sum() > 0 and both[1].abs().sum() > 0


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cpu_tiled_map_equals_the_convolution_map(monkeypatch: pytest.MonkeyPatch, padding: str, dtype: torch.dtype) -> None:
    """Without gradients the CPU map goes in tiles (groups of planes, or bands of rows of
    one plane) filtered by shifted slices; every tiling gives the float64 convolution map
    (to fp32 rounding: per-pixel errors are about 1e-6 for both kernels)."""
    from imgloss.functional import ssim_map
    from imgloss.metrics import ssim_kernel

    generator = torch.Generator().manual_seed(3)
    x = torch.rand(3, 3, 23, 31, generator=generator, dtype=dtype)
    y = (x + 0.2 * torch.rand(x.shape, generator=generator, dtype=dtype)).clamp(0, 1)
    same = padding == "same"
    c1, c2 = 0.01**2, 0.03**2
    convolved = ssim_kernel._SSIMMap.apply(x.double(), y.double(), same, c1, c2, 0)[0].to(dtype)
    values = wssim(x, y)  # default budget: one tile for this small batch
    border = 10 if same else 0
    row_bytes = 4 * (31 + border) * x.element_size()
    plane_bytes = row_bytes * (23 + border)
    atol = 1e-12 if dtype == torch.float64 else 4e-6
    out_rows = 23 + border - 10
    # (budget, tiles expected, planes and rows of moment stack per tile)
    tilings = [
        (3 * plane_bytes, 3, 3, 23 + border),  # one tile per image: tiles never mix images
        (2 * plane_bytes, 6, 2, 23 + border),
        (plane_bytes, 9, 1, 23 + border),
        (row_bytes * 15, 9 * -(-out_rows // 5), 1, 15),  # bands of 5 output rows
        (1, 9 * out_rows, 1, 11),  # one output row per tile
    ]
    with torch.no_grad():
        for budget, count, planes, rows in tilings:
            monkeypatch.setattr(ssim_kernel, "CPU_TILE_BYTES", budget)
            shapes = []
            original = ssim_kernel._blur_by_slices
            monkeypatch.setattr(ssim_kernel, "_blur_by_slices", lambda s, t: shapes.append(s.shape) or original(s, t))
            tiled = ssim_map(x, y, padding)
            assert len(shapes) == count, budget
            assert max(s[0] for s in shapes) == planes and max(s[-2] for s in shapes) == rows, budget
            torch.testing.assert_close(tiled, convolved, rtol=0, atol=atol)
            torch.testing.assert_close(wssim(x, y), values, rtol=0, atol=atol)
            monkeypatch.setattr(ssim_kernel, "_blur_by_slices", original)


@pytest.mark.parametrize("name", ["ssim", "wssim"])
def test_cpu_tiled_values_do_not_depend_on_the_batch(name: str) -> None:
    """Tiles never mix images: each image's value in a batch equals its value alone, bit
    for bit (sharded, resumed and regrouped runs write the same numbers)."""
    fn = METRICS[name][0]
    x, y = images(5, 3, 48, 40, seed=8)
    with torch.no_grad():
        batch = fn(x, y)
        for i in range(5):
            assert torch.equal(fn(x[i : i + 1], y[i : i + 1]), batch[i : i + 1])


def test_cpu_tiled_map_keeps_a_nan_local() -> None:
    """A NaN pixel spoils only the windows that contain it, as with the convolutions."""
    from imgloss.functional import ssim_map

    x, y = images(1, 1, 40, 40, seed=4)
    x[0, 0, 20, 20] = float("nan")
    y[0, 0, 3, 3] = float("nan")
    with torch.no_grad():
        values = ssim_map(x, y)
    expected = torch.zeros(30, 30, dtype=torch.bool)
    expected[10:21, 10:21] = True
    expected[0:4, 0:4] = True
    assert torch.equal(values[0, 0].isnan(), expected)


def test_maps_with_gradients_are_never_tiled(monkeypatch: pytest.MonkeyPatch) -> None:
    from imgloss.metrics import ssim_kernel

    monkeypatch.setattr(ssim_kernel, "CPU_TILE_BYTES", 1)
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    calls = []
    original = ssim_kernel.conv_forward
    monkeypatch.setattr(ssim_kernel, "conv_forward", lambda *a: calls.append(a[0].shape) or original(*a))
    ssim(x, torch.rand(2, 3, 16, 16)).sum().backward()
    assert calls == [torch.Size([2, 3, 16, 16])] and x.grad is not None
