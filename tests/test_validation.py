"""Bad arguments raise ``ValueError`` (``TypeError`` for non-tensors) naming the argument.

Shape, dtype and device are always checked; values (NaN/inf, range) only with
``check_values=True`` (issue 11: no host sync in a training step by default).

Also: validation never relies on ``assert`` (stripped by ``python -O``), checked on the
syntax tree of every module in ``imgloss/``.
"""
from __future__ import annotations

import ast
import math
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

import imgloss
from imgloss.functional import charbonnier, dwt2, gram, gram_distance, mae, mse, psnr, ssim, ssim_map, tv, wssim
from imgloss.losses import CharbonnierLoss, SSIMLoss, TVLoss, WSSIMLoss

PAIR_METRICS: dict[str, Callable] = {
    "charbonnier": charbonnier,
    "ssim": ssim,
    "wssim": wssim,
    "psnr": psnr,
    "mse": mse,
    "mae": mae,
}
UNIT_RANGE = ["ssim", "wssim", "psnr"]
ANY_RANGE = ["charbonnier", "mse", "mae"]
PAIR = list(PAIR_METRICS)
#: (function, argument) pairs: both arguments of the pair metrics, TV's image, Gram's features
SLOTS = [(n, a) for n in PAIR for a in ("x", "y")] + [("tv", "x"), ("gram", "features")]
SLOT_IDS = [f"{n}-{a}" for n, a in SLOTS]


def good(n: int = 1, c: int = 1, h: int = 16, w: int = 16) -> torch.Tensor:
    return torch.full((n, c, h, w), 0.5)


def call(name: str, x, y, **options):
    """Call a metric; TV and Gram take the first argument only."""
    if name == "tv":
        return tv(x, **options)
    if name == "gram":
        return gram(x, **options)
    return PAIR_METRICS[name](x, y, **options)


def bad_in(which: str, bad) -> tuple:
    """Arguments with ``bad`` in the slot named ``which`` (``features`` is the first)."""
    return (good(), bad) if which == "y" else (bad, good())


def poisoned(value: float) -> torch.Tensor:
    t = good()
    t[0, 0, 3, 4] = value
    return t


# --------------------------------------------------------------------------- type, rank


@pytest.mark.parametrize("name, which", SLOTS, ids=SLOT_IDS)
@pytest.mark.parametrize("bad", [np.full((1, 1, 16, 16), 0.5), [[0.5]], 0.5, None], ids=["ndarray", "list", "float", "None"])
def test_non_tensor_is_type_error(name: str, which: str, bad) -> None:
    with pytest.raises(TypeError, match=rf"^{which} must be a torch\.Tensor"):
        call(name, *bad_in(which, bad))


@pytest.mark.parametrize("name, which", SLOTS, ids=SLOT_IDS)
@pytest.mark.parametrize("shape", [(1, 16, 16), (16, 16), (1, 1, 1, 16, 16)], ids=["3d", "2d", "5d"])
def test_wrong_rank(name: str, which: str, shape: tuple) -> None:
    with pytest.raises(ValueError, match=rf"^{which} must be 4-D \(N x C x H x W\), got shape"):
        call(name, *bad_in(which, torch.full(shape, 0.5)))


def test_dwt_wrong_rank() -> None:
    with pytest.raises(ValueError, match="^x must be 4-D"):
        dwt2(torch.zeros(3, 4, 4))


@pytest.mark.parametrize("name", PAIR)
@pytest.mark.parametrize("other", [(1, 1, 16, 17), (2, 1, 16, 16), (1, 3, 16, 16)])
def test_mismatched_shapes(name: str, other: tuple) -> None:
    with pytest.raises(ValueError, match=r"x and y must have the same shape.*\(1, 1, 16, 16\)"):
        PAIR_METRICS[name](good(), torch.full(other, 0.5))


@pytest.mark.parametrize("name", PAIR)
def test_mismatched_dtypes(name: str) -> None:
    with pytest.raises(ValueError, match="x and y must share dtype"):
        PAIR_METRICS[name](good(), good().double())


@pytest.mark.parametrize("name", PAIR + ["tv"])
def test_empty_tensor(name: str) -> None:
    empty = torch.zeros(0, 1, 16, 16)
    with pytest.raises(ValueError, match="^x is empty"):
        call(name, empty, empty)


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize("size", [(10, 16), (16, 10), (1, 1), (10, 10)])
def test_ssim_valid_smaller_than_window(size: tuple[int, int]) -> None:
    h, w = size
    x = torch.rand(1, 1, h, w)
    with pytest.raises(ValueError, match=rf"images of {w}x{h} px are smaller than the 11x11"):
        ssim(x, x)
    with pytest.raises(ValueError, match=rf"{w}x{h}"):
        ssim_map(x, x)
    with pytest.raises(ValueError, match=rf"{w}x{h}"):
        SSIMLoss()(x, x)


def test_ssim_valid_at_window_size_works() -> None:
    x = torch.rand(1, 1, 11, 11, generator=torch.Generator().manual_seed(0))
    assert ssim_map(x, x).shape == (1, 1, 1, 1)
    assert abs(float(ssim(x, x)) - 1) < 1e-6


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (10, 10)])
def test_small_images_work_for_wssim_and_same_ssim(size: tuple[int, int]) -> None:
    x = torch.full((1, 1, *size), 0.8, dtype=torch.float64)
    y = torch.full((1, 1, *size), 0.4, dtype=torch.float64)
    for fn in (wssim, lambda a, b: ssim(a, b, padding="same")):
        value = fn(x, y)
        assert value.shape == (1,) and torch.isfinite(value).all()
        assert 0 < float(value) < 1
        assert abs(float(fn(x, x)) - 1) < 1e-12


def test_ssim_bad_padding() -> None:
    with pytest.raises(ValueError, match="^padding must be 'valid' or 'same'"):
        ssim(good(), good(), padding="reflect")


# --------------------------------------------------------------------------- NaN, inf, dtype


@pytest.mark.parametrize("name, which", SLOTS, ids=SLOT_IDS)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_input(name: str, which: str, value: float) -> None:
    with pytest.raises(ValueError, match=rf"^{which} contains NaN or infinite values"):
        call(name, *bad_in(which, poisoned(value)), check_values=True)


@pytest.mark.parametrize("name, which", SLOTS, ids=SLOT_IDS)
def test_values_are_not_read_unless_asked(name: str, which: str) -> None:
    """No value check by default: a NaN input gives NaN, never a host-syncing check."""
    out = call(name, *bad_in(which, poisoned(math.nan)))
    assert torch.isnan(out).any()


@pytest.mark.parametrize("name, which", SLOTS, ids=SLOT_IDS)
@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64, torch.bool])
def test_integer_tensor(name: str, which: str, dtype: torch.dtype) -> None:
    bad = torch.ones(1, 1, 16, 16, dtype=dtype)
    with pytest.raises(ValueError, match=rf"^{which} must be a floating tensor.*{dtype}"):
        call(name, *bad_in(which, bad))


def test_uint8_message_suggests_dividing_by_255() -> None:
    with pytest.raises(ValueError, match="255"):
        ssim(torch.full((1, 1, 16, 16), 128, dtype=torch.uint8), good())


@pytest.mark.parametrize("name", UNIT_RANGE)
@pytest.mark.parametrize("which", ["x", "y"])
@pytest.mark.parametrize("value", [1.5, -0.01, 255.0])
def test_outside_unit_range(name: str, which: str, value: float) -> None:
    with pytest.raises(ValueError, match=rf"^{which} has values outside \[0, 1\]"):
        call(name, *bad_in(which, poisoned(value)), check_values=True)
    assert torch.isfinite(call(name, *bad_in(which, poisoned(value)))).all()


@pytest.mark.parametrize("name", UNIT_RANGE)
def test_range_follows_data_range(name: str) -> None:
    x, y = 255 * good(), 255 * poisoned(0.9)
    assert torch.isfinite(call(name, x, y, data_range=255, check_values=True)).all()
    with pytest.raises(ValueError, match=r"^x has values outside \[0, 255\]"):
        call(name, poisoned(256.0), y, data_range=255, check_values=True)


@pytest.mark.parametrize("name", PAIR)
@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, "1"])
def test_data_range_must_be_positive(name: str, bad) -> None:
    with pytest.raises(ValueError, match=r"^data_range must be a finite number > 0"):
        PAIR_METRICS[name](good(), good(), data_range=bad)


@pytest.mark.parametrize("name", ANY_RANGE)
def test_distance_metrics_accept_any_finite_range(name: str) -> None:
    x, y = poisoned(255.0), poisoned(-3.0)
    out = PAIR_METRICS[name](x, y)
    assert out.shape == (1,) and float(out) > 0
    assert float(tv(x)) > 0


def test_unit_range_boundaries_are_accepted() -> None:
    x = torch.zeros(1, 1, 16, 16)
    y = torch.ones(1, 1, 16, 16)
    assert float(psnr(x, y)) == 0.0
    assert torch.isfinite(ssim(x, y)).all()
    assert torch.isfinite(wssim(x, y)).all()


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize("eps", [0.0, -1e-3, math.nan, math.inf])
def test_charbonnier_eps_must_be_positive(eps: float) -> None:
    with pytest.raises(ValueError, match=r"^eps must be a finite number > 0"):
        charbonnier(good(), good(), eps=eps)
    with pytest.raises(ValueError, match=r"^eps must be a finite number > 0"):
        CharbonnierLoss(eps=eps)


@pytest.mark.parametrize("r", [0.0, 1.0, -0.1, 1.5, math.nan])
def test_wssim_r_outside_open_unit_interval(r: float) -> None:
    with pytest.raises(ValueError, match=r"^r must be in \(0, 1\)"):
        wssim(good(), good(), r=r)
    with pytest.raises(ValueError, match=r"^r must be in \(0, 1\)"):
        WSSIMLoss(r=r)


@pytest.mark.parametrize("levels", [-1, -5, 1.5, True, "2"])
def test_wssim_levels_must_be_non_negative_int(levels) -> None:
    with pytest.raises(ValueError, match=r"^levels must be a non-negative integer"):
        wssim(good(), good(), levels=levels)
    with pytest.raises(ValueError, match=r"^levels must be a non-negative integer"):
        WSSIMLoss(levels=levels)


def test_wssim_unknown_wavelet() -> None:
    with pytest.raises(ValueError, match="wavelet 'nope'"):
        wssim(good(), good(), wavelet="nope")


@pytest.mark.parametrize("kind", ["L1", "anisotropic", "", None])
def test_tv_unknown_kind(kind) -> None:
    with pytest.raises(ValueError, match=r"^kind must be one of"):
        tv(good(), kind)
    with pytest.raises(ValueError, match=r"^kind must be one of"):
        TVLoss(kind=kind)


def test_gram_distance_unknown_distance() -> None:
    g = gram(good(c=2))
    with pytest.raises(ValueError, match=r"^distance must be 'mse' or 'l1'"):
        gram_distance(g, g, "l2")


# --------------------------------------------------------------------------- no asserts


@pytest.mark.slow
def test_no_assert_statements_in_package() -> None:
    root = Path(imgloss.__file__).resolve().parent
    files = sorted(root.rglob("*.py"))
    assert len(files) >= 10  # the package was found
    offenders = [
        f"{path.relative_to(root)}:{node.lineno}"
        for path in files
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        if isinstance(node, ast.Assert)
    ]
    assert offenders == [], f"validation must not use assert: {offenders}"
