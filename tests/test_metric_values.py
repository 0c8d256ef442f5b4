"""Every test value of metric-spec.md, asserted to 1e-6 in float64.

Hand-computed examples are spelled out next to each assertion so that a reader can
redo the arithmetic; nothing here is compared against the code under test itself.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from imgloss.functional import (
    charbonnier,
    dwt2,
    gram,
    gram_distance,
    mae,
    mse,
    psnr,
    ssim,
    tv,
    wssim,
    wssim_terms,
)

F64 = torch.float64
TOL = 1e-6


def img(values, dtype=F64) -> torch.Tensor:
    """A 1 x 1 x H x W tensor from a nested list (or a 2-D array)."""
    return torch.as_tensor(np.asarray(values, dtype=np.float64), dtype=dtype)[None, None]


def ramp() -> torch.Tensor:
    """The spec's ramp ``arange(64).reshape(8, 8) / 63`` as 1 x 1 x 8 x 8."""
    return (torch.arange(64, dtype=F64).reshape(8, 8) / 63)[None, None]


def close(actual: torch.Tensor | float, expected: float, tol: float = TOL) -> None:
    value = float(actual)
    assert abs(value - expected) <= tol, f"{value!r} != {expected!r} (tol {tol})"


# --------------------------------------------------------------------------- Charbonnier


def test_charbonnier_identical_is_exactly_eps() -> None:
    x = torch.rand(2, 3, 4, 5, dtype=F64, generator=torch.Generator().manual_seed(0))
    out = charbonnier(x, x.clone())
    assert out.shape == (2,)
    # sqrt(0 + 1e-6) is 1e-3 to the last bit; the mean of identical values too.
    assert out.tolist() == [1e-3, 1e-3]


def test_charbonnier_identical_large_image_is_eps() -> None:
    x = torch.rand(1, 3, 64, 64, dtype=F64, generator=torch.Generator().manual_seed(1))
    close(charbonnier(x, x), 1e-3, 1e-15)


def test_charbonnier_zero_vs_one() -> None:
    x = torch.zeros(1, 1, 3, 3, dtype=F64)
    y = torch.ones(1, 1, 3, 3, dtype=F64)
    expected = math.sqrt(1 + 1e-6)
    close(charbonnier(x, y), expected, 1e-12)
    close(charbonnier(x, y), 1.0000005, TOL)


def test_charbonnier_custom_eps_and_is_not_kornia_form() -> None:
    # d = 0.5 everywhere, eps = 0.1: sqrt(0.25 + 0.01) = 0.5099019...
    x = torch.zeros(1, 2, 2, 2, dtype=F64)
    y = torch.full((1, 2, 2, 2), 0.5, dtype=F64)
    close(charbonnier(x, y, eps=0.1), math.sqrt(0.26), 1e-12)
    # eps^2 added outside the root would give 0.5 + 0.01 = 0.51.
    assert abs(float(charbonnier(x, y, eps=0.1)) - 0.51) > 5e-5
    # kornia's sqrt(d^2 + 1) - 1 would give 0.1180...
    assert abs(float(charbonnier(x, y)) - (math.sqrt(0.25 + 1) - 1)) > 0.1


# --------------------------------------------------------------------------- SSIM (same)


def test_ssim_same_1x1() -> None:
    close(ssim(img([[1.0]]), img([[0.5]]), padding="same"), 0.6442559)


def test_ssim_same_constants_8x8() -> None:
    x = torch.full((1, 1, 8, 8), 0.2, dtype=F64)
    y = torch.full((1, 1, 8, 8), 0.8, dtype=F64)
    close(ssim(x, y, padding="same"), 0.2248631)


def test_ssim_same_ramp() -> None:
    x = ramp()
    close(ssim(x, 0.5 * x, padding="same"), 0.6430990)


def test_ssim_identity_is_one_both_paddings() -> None:
    x = torch.rand(1, 2, 12, 13, dtype=F64, generator=torch.Generator().manual_seed(2))
    close(ssim(x, x), 1.0, 1e-12)
    close(ssim(x, x, padding="same"), 1.0, 1e-12)


def test_ssim_same_matches_numpy_reference() -> None:
    """Zero-padded SSIM from the formula in numpy (explicit 11x11 window loop)."""
    rng = np.random.default_rng(3)
    a, b = rng.random((6, 7)), rng.random((6, 7))
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()

    def blur(z: np.ndarray) -> np.ndarray:
        p = np.pad(z, 5)
        return np.array([[(p[i : i + 11, j : j + 11] * w).sum() for j in range(z.shape[1])]
                         for i in range(z.shape[0])])

    mx, my = blur(a), blur(b)
    vx, vy, cxy = blur(a * a) - mx**2, blur(b * b) - my**2, blur(a * b) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    m = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    close(ssim(img(a), img(b), padding="same"), m.mean(), 1e-12)


# --------------------------------------------------------------------------- W-SSIM


def test_wssim_identity_is_one_and_reference_minus_two() -> None:
    x = torch.rand(1, 3, 9, 10, dtype=F64, generator=torch.Generator().manual_seed(4))
    value = wssim(x, x.clone())
    close(value, 1.0, 1e-12)
    close(-2 * value, -2.0, 1e-12)


def test_wssim_ramp() -> None:
    x = ramp()
    value = wssim(x, 0.5 * x)
    close(value, 0.7025496)
    close(-2 * value, -1.4050992)


def test_wssim_ramp_is_weighted_sum_of_terms() -> None:
    x = ramp()
    terms = wssim_terms(x, 0.5 * x)
    total = sum(w * float(v) for _, w, v in terms)
    close(total, 1.4050992)
    # The first term is the plain zero-padded SSIM of the images.
    close(terms[0][2], 0.6430990)


def test_wssim_term_weights() -> None:
    x = ramp()
    terms = wssim_terms(x, 0.5 * x)
    weights = [w for _, w, _ in terms]
    assert len(weights) == 6
    for got, expected in zip(weights, [1.0, 0.42, 0.09, 0.2058, 0.0441, 0.2401]):
        close(got, expected, 1e-12)
    close(sum(weights), 2.0, 1e-12)
    for _, _, value in terms:
        assert value.shape == (1,)


@pytest.mark.parametrize("levels, r", [(1, 0.7), (3, 0.7), (2, 0.5), (4, 0.2)])
def test_wssim_weights_sum_to_two(levels: int, r: float) -> None:
    x = torch.rand(1, 1, 16, 16, dtype=F64, generator=torch.Generator().manual_seed(5))
    weights = [w for _, w, _ in wssim_terms(x, x, levels=levels, r=r)]
    assert len(weights) == 1 + 2 * levels + 1
    close(sum(weights), 2.0, 1e-12)
    # per level: 2r(1-r) and (1-r)^2 scaled by carry = r^(2(level-1))
    close(weights[1], 2 * r * (1 - r), 1e-12)
    close(weights[2], (1 - r) ** 2, 1e-12)
    close(weights[-1], r ** (2 * levels), 1e-12)


def test_wssim_zero_levels_is_same_padded_ssim() -> None:
    x = ramp()
    close(wssim(x, 0.5 * x, levels=0), 0.6430990)


# --------------------------------------------------------------------------- Haar DWT


def test_haar_dwt2_of_2x2_block() -> None:
    ll, lh, hl, hh = dwt2(img([[1.0, 2.0], [3.0, 4.0]]), "haar")
    for band in (ll, lh, hl, hh):
        assert band.shape == (1, 1, 1, 1)
    close(ll, 5.0, 1e-12)
    close(lh, -2.0, 1e-12)
    close(hl, -1.0, 1e-12)
    close(hh, 0.0, 1e-12)


def test_haar_dwt2_formula_on_general_block() -> None:
    a, b, c, d = 0.3, 0.9, 0.1, 0.6
    ll, lh, hl, hh = dwt2(img([[a, b], [c, d]]))
    close(ll, (a + b + c + d) / 2, 1e-12)
    close(lh, (a + b - c - d) / 2, 1e-12)
    close(hl, (a - b + c - d) / 2, 1e-12)
    close(hh, (a - b - c + d) / 2, 1e-12)


def test_haar_dwt2_odd_size_repeats_last_row_and_column() -> None:
    # 3x3 -> 2x2; the last block is the corner pixel repeated: LL = 4 * 9 / 2 = 18.
    x = img(np.arange(1, 10, dtype=float).reshape(3, 3))
    ll, lh, hl, hh = dwt2(x)
    assert ll.shape == (1, 1, 2, 2)
    close(ll[0, 0, 1, 1], 18.0, 1e-12)
    close(lh[0, 0, 1, 1], 0.0, 1e-12)
    close(hl[0, 0, 1, 1], 0.0, 1e-12)
    # block [[3, 3], [6, 6]] (last column repeated): LL 9, LH -3, HL 0.
    close(ll[0, 0, 0, 1], 9.0, 1e-12)
    close(lh[0, 0, 0, 1], -3.0, 1e-12)
    close(hl[0, 0, 0, 1], 0.0, 1e-12)


# --------------------------------------------------------------------------- TV


def test_tv_arange_18() -> None:
    x = torch.arange(18, dtype=F64).reshape(1, 2, 3, 3)
    # dh = 3 everywhere (12 of them), dw = 1 everywhere (12): 2 * (108/12 + 12/12) = 20.
    close(tv(x), 20.0, 1e-12)
    close(tv(x / 17), 0.0692042)
    close(tv(x / 17), 20.0 / 289, 1e-12)


@pytest.mark.parametrize("n", [1, 3, 5])
def test_tv_batch_of_copies_gives_equal_values(n: int) -> None:
    x = (torch.arange(18, dtype=F64).reshape(1, 2, 3, 3) / 17).repeat(n, 1, 1, 1)
    out = tv(x)
    assert out.shape == (n,)
    for value in out:
        close(value, 20.0 / 289)


def test_tv_single_row_has_zero_vertical_term() -> None:
    x = img([[0.0, 1.0, 3.0, 6.0]])  # 1 x 1 x 1 x 4
    out = tv(x)
    assert torch.isfinite(out).all()
    # vertical contributes 0; horizontal 2 * (1 + 4 + 9) / (1 * 1 * 3) = 28 / 3.
    close(out, 28.0 / 3, 1e-12)
    # the transposed image: only the vertical term.
    close(tv(x.transpose(2, 3)), 28.0 / 3, 1e-12)


def test_tv_single_pixel_is_zero_without_nan() -> None:
    for kind in ("squared", "l1", "isotropic"):
        out = tv(torch.full((2, 3, 1, 1), 0.5, dtype=F64), kind)
        assert out.tolist() == [0.0, 0.0], kind


def test_tv_constant_image_is_zero() -> None:
    for kind in ("squared", "l1", "isotropic"):
        assert tv(torch.full((1, 2, 4, 5), 0.3, dtype=F64), kind).tolist() == [0.0], kind


def test_tv_kinds_on_hand_example() -> None:
    x = img([[0.0, 1.0], [3.0, 5.0]])
    # dh = [3, 4], dw = [1, 2]
    close(tv(x, "squared"), 2 * ((9 + 16) / 2 + (1 + 4) / 2), 1e-12)  # 30
    close(tv(x, "l1"), 3 + 4 + 1 + 2, 1e-12)  # 10
    # forward differences, 0 past the border: sqrt(3^2+1^2) + sqrt(4^2+0) + sqrt(0+2^2) + 0
    close(tv(x, "isotropic"), math.sqrt(10) + 4 + 2, 1e-12)


def test_tv_kinds_multichannel_hand_example() -> None:
    x = torch.tensor([[[[0.0, 0.5, 0.5]], [[1.0, 0.0, 0.0]]]], dtype=F64)  # 1 x 2 x 1 x 3
    # only horizontal: channel 0 dw = [0.5, 0], channel 1 dw = [-1, 0]
    close(tv(x, "l1"), 1.5, 1e-12)
    close(tv(x, "isotropic"), 1.5, 1e-12)
    close(tv(x, "squared"), 2 * (0.25 + 1.0) / (2 * 1 * 2), 1e-12)


# --------------------------------------------------------------------------- Gram


def test_gram_of_two_channel_example() -> None:
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]], dtype=F64)  # 1 x 2 x 1 x 2
    g = gram(f)
    assert g.shape == (1, 2, 2)
    expected = torch.tensor([[1.25, 2.75], [2.75, 6.25]], dtype=F64)
    torch.testing.assert_close(g[0], expected, atol=1e-12, rtol=0)
    zero = torch.zeros_like(g)
    close(gram_distance(g, zero), 13.9375, 1e-12)
    # L1 option: (1.25 + 2.75 + 2.75 + 6.25) / 4
    close(gram_distance(g, zero, "l1"), 3.25, 1e-12)


def test_gram_is_per_image_not_over_batch() -> None:
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]], dtype=F64)
    batch = torch.cat([f, 2 * f])
    g = gram(batch)
    assert g.shape == (2, 2, 2)
    torch.testing.assert_close(g[1], 4 * g[0], atol=1e-12, rtol=0)


# --------------------------------------------------------------------------- PSNR, MSE, MAE


def test_psnr_identical_is_inf() -> None:
    x = torch.rand(2, 3, 4, 4, dtype=F64, generator=torch.Generator().manual_seed(6))
    out = psnr(x, x.clone())
    assert out.shape == (2,)
    assert out.tolist() == [math.inf, math.inf]


def test_psnr_closed_form() -> None:
    x = torch.zeros(1, 1, 4, 4, dtype=F64)
    y = torch.full((1, 1, 4, 4), 0.1, dtype=F64)
    close(psnr(x, y), 20.0, 1e-9)  # mse 0.01
    a = img([[0.0, 1.0], [0.5, 0.25]])
    b = torch.zeros_like(a)
    m = (0 + 1 + 0.25 + 0.0625) / 4
    close(psnr(a, b), 10 * math.log10(1 / m), 1e-9)


def test_mse_mae_closed_forms() -> None:
    a = img([[0.0, 1.0], [0.5, 0.25]])
    b = torch.zeros_like(a)
    close(mse(a, b), 0.328125, 1e-12)
    close(mae(a, b), 0.4375, 1e-12)
    # per image, mean over C, H, W
    x = torch.zeros(2, 2, 3, 3, dtype=F64)
    y = torch.stack([torch.full((2, 3, 3), 0.2), torch.full((2, 3, 3), 0.6)]).to(F64)
    torch.testing.assert_close(mse(x, y), torch.tensor([0.04, 0.36], dtype=F64))
    torch.testing.assert_close(mae(x, y), torch.tensor([0.2, 0.6], dtype=F64))
    assert mse(y, y).tolist() == [0.0, 0.0]
    assert mae(y, y).tolist() == [0.0, 0.0]
