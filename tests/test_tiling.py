"""Tiled scoring equals untiled scoring: every metric, tiny tiles, odd sizes, VGG taps."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from vgg_fixtures import isolated, standin_dir, use_standin  # noqa: F401

from imgloss.engine.evaluator import Evaluator
from imgloss.engine.options import EngineOptions
from imgloss.engine.tiling import TiledScorer, pair_bytes, vgg_geometry
from imgloss.io import Pair, to_unit_float
from imgloss.metrics.perceptual import PerceptualLoss
from imgloss.metrics.registry import MetricSpec
from imgloss.metrics.style import StyleLoss

pytestmark = pytest.mark.slow  # hundreds of tiny tiles per pair: the slow tier

CPU = torch.device("cpu")


def samples(shape: tuple[int, ...], seed: int, dtype: torch.dtype = torch.uint8) -> torch.Tensor:
    """A smooth image plus noise, as integer samples ``C x H x W``."""
    gen = torch.Generator().manual_seed(seed)
    top = 255 if dtype == torch.uint8 else 65535
    c, h, w = shape
    ramp = torch.linspace(0, 1, h)[:, None] * torch.linspace(0, 1, w)[None, :]
    values = (ramp[None] * 0.6 + torch.rand(shape, generator=gen) * 0.4) * top
    return values.round().to(torch.int32).to(dtype)


def untiled(specs: list, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    xf, yf = to_unit_float(x)[None], to_unit_float(y)[None]
    out = {}
    for spec, function in specs:
        if spec.info.name == "tv":
            out[spec.column], out[spec.reference_column] = function(yf).item(), function(xf).item()
        else:
            out[spec.column] = function(xf, yf).item()
    return out


PLAIN = ("charbonnier", "ssim", "wssim", "psnr", "mse", "mae", "tv")


def budget_for(scorer: TiledScorer, tile: int, channels: int) -> int:
    """The memory budget under which ``scorer`` picks tiles of ``tile`` px."""
    side = tile + 2 * scorer.halo
    return pair_bytes((channels, side, side + 1), bool(scorer.losses))


@pytest.mark.parametrize(("shape", "tile"), [((3, 61, 75), 24), ((1, 64, 64), 4), ((3, 90, 57), 28)])
def test_plain_metrics_tiled_equal_untiled(shape: tuple[int, int, int], tile: int) -> None:
    specs = [(s, s.info.load_function()) for s in map(MetricSpec.parse, PLAIN)]
    scorer = TiledScorer(specs, [], [], torch.float32)
    x, y = samples(shape, 1), samples(shape, 2)
    assert scorer.can_tile(shape)
    values, failures, used = scorer.score(x, y, CPU, budget_for(scorer, tile, shape[0]))
    assert not failures and used == tile
    expected = untiled(specs, x, y)
    assert set(values) == set(expected)
    for name, value in expected.items():
        assert values[name].item() == pytest.approx(value, rel=1e-6), name


def _masks(shape: tuple[int, int]) -> dict[str, torch.Tensor]:
    """Masks (True = compared) that exercise every branch of the masked means (a mask that
    ignores every pixel is refused when it is read)."""
    h, w = shape
    gen = torch.Generator().manual_seed(7)
    blobs = torch.nn.functional.interpolate(torch.rand(1, 1, 6, 7, generator=gen), size=shape, mode="bilinear")[0, 0] > 0.45
    rect = torch.ones(shape, dtype=torch.bool)
    rect[h // 4 : h // 2, w // 3 : w - 3] = False
    border = torch.zeros(shape, dtype=torch.bool)  # compared pixels only where no SSIM window is centred
    border[:, :3] = True
    return {"blobs": blobs, "rect": rect, "all": torch.ones(shape, dtype=torch.bool), "border": border}


@pytest.mark.parametrize(("shape", "tile"), [((3, 61, 75), 24), ((1, 64, 64), 8), ((3, 90, 57), 28)])
def test_masked_plain_metrics_tiled_equal_untiled(shape: tuple[int, int, int], tile: int) -> None:
    """Masked pairs tile exactly: the tiled sums reproduce :mod:`imgloss.metrics.masks`
    (fill, masked means, W-SSIM's pooled weights on odd sizes, the all-ignored fallbacks)."""
    from imgloss.metrics.masks import masked_value

    specs = [(s, s.info.load_function()) for s in map(MetricSpec.parse, PLAIN)]
    scorer = TiledScorer(specs, [], [], torch.float32)
    x, y = samples(shape, 1), samples(shape, 2)
    xf, yf = to_unit_float(x)[None], to_unit_float(y)[None]
    assert scorer.can_tile(shape, masked=True)
    for name, mask in _masks(shape[1:]).items():
        values, failures, used = scorer.score(x, y, CPU, budget_for(scorer, tile, shape[0]), mask)
        assert not failures and used == tile
        m = mask[None, None]
        expected = {}
        for spec, function in specs:
            if spec.info.name == "tv":
                expected[spec.column] = masked_value(spec, function, yf, None, m).item()
                expected[spec.reference_column] = masked_value(spec, function, xf, None, m).item()
            else:
                expected[spec.column] = masked_value(spec, function, yf, xf, m).item()
        assert set(values) == set(expected)
        for column, value in expected.items():
            assert values[column].item() == pytest.approx(value, rel=1e-6, abs=1e-12, nan_ok=True), (name, column)


def test_sixteen_bit_and_identical_images_tiled() -> None:
    specs = [(s, s.info.load_function()) for s in map(MetricSpec.parse, PLAIN)]
    scorer = TiledScorer(specs, [], [], torch.float32)
    x = samples((3, 70, 66), 3, torch.uint16)
    budget = budget_for(scorer, 24, 3)
    values, _, _ = scorer.score(x, x, CPU, budget)
    assert values["psnr"].item() == float("inf") and values["ssim"].item() == pytest.approx(1.0, abs=1e-6)
    assert values["wssim"].item() == pytest.approx(1.0, abs=1e-6)
    y = samples((3, 70, 66), 4, torch.uint16)
    expected = untiled(specs, x, y)
    values, _, _ = scorer.score(x, y, CPU, budget)
    assert {k: v.item() for k, v in values.items()} == pytest.approx(expected, rel=1e-6)


def test_vgg_geometry() -> None:
    # VGG19 to relu5_1: receptive field 156 px, stride 16; the halo passes the radius.
    halo, stride = vgg_geometry("vgg19", 30)
    assert stride == 16 and halo % 16 == 0 and halo >= 78
    assert vgg_geometry("vgg19", 2) == (3, 1)  # relu1_1: one 3x3 conv (radius 1), one px to spare


def feature_specs(*losses: torch.nn.Module) -> list[SimpleNamespace]:
    return [SimpleNamespace(column=f"f{i}") for i, _ in enumerate(losses)]


@pytest.mark.parametrize("taps", [("relu1_1", "relu2_1", "relu3_1"), ("relu1_2", "relu4_1")])
def test_vgg_taps_tiled_equal_untiled(use_standin: Path, taps: tuple[str, ...]) -> None:
    losses = [PerceptualLoss(taps=taps, reduction="none"), StyleLoss(taps=taps, reduction="none"),
              PerceptualLoss(taps=taps, distance="mse", reduction="none")]
    scorer = TiledScorer([], feature_specs(*losses), losses, torch.float32)
    shape = (3, 2 * scorer.halo + 3 * scorer.align + 5, 2 * scorer.halo + 2 * scorer.align + 3)
    tile = -(-shape[1] // 3 // scorer.align) * scorer.align  # about three tiles per side
    x, y = samples(shape, 5), samples(shape, 6)
    with torch.inference_mode():
        values, _, used = scorer.score(x, y, CPU, budget_for(scorer, tile, 3))
        assert used == tile
        xf, yf = to_unit_float(x)[None], to_unit_float(y)[None]
        for i, loss in enumerate(losses):
            assert values[f"f{i}"].item() == pytest.approx(loss(xf, yf).item(), rel=2e-5), (i, taps)
        # Masked: VGG metrics see the candidate filled from the reference where ignored.
        mask = torch.ones(shape[1:], dtype=torch.bool)
        mask[5 : shape[1] // 2, 7:-9] = False
        assert scorer.can_tile(shape, masked=True)
        values, _, _ = scorer.score(x, y, CPU, budget_for(scorer, tile, 3), mask)
        filled = torch.where(mask, yf, xf)
        for i, loss in enumerate(losses):
            assert values[f"f{i}"].item() == pytest.approx(loss(xf, filled).item(), rel=2e-5), (i, taps)
            assert values[f"f{i}"].item() != pytest.approx(loss(xf, yf).item(), rel=1e-3), (i, taps)


def write_pair(folder: Path, size: tuple[int, int]) -> Pair:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (*size, 3)).astype(np.uint8)
    noisy = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
    Image.fromarray(base).save(folder / "r.png")
    Image.fromarray(noisy).save(folder / "c.png")
    return Pair(folder / "r.png", folder / "c.png", "c.png")


def test_engine_tiles_a_pair_over_the_budget_and_says_so(tmp_path: Path) -> None:
    pair = write_pair(tmp_path, (97, 130))
    metrics = tuple(map(MetricSpec.parse, PLAIN))
    whole = next(Evaluator(EngineOptions(metrics=metrics, device="cpu", workers=0)).run([pair]))
    tiled = next(Evaluator(EngineOptions(metrics=metrics, device="cpu", workers=0, max_memory="5M")).run([pair]))
    assert whole.ok and tiled.ok and not whole.notes
    assert any("tiles of" in note for note in tiled.notes)
    assert tiled.metrics == pytest.approx(whole.metrics, rel=1e-6)


def test_engine_tiles_a_masked_pair_too(tmp_path: Path) -> None:
    """A masked pair over the budget is tiled (it used to be scored whole whatever its
    size) and equals the whole-image masked run."""
    from dataclasses import replace

    from imgloss.io.masks import MaskSpec, Rect

    pair = replace(write_pair(tmp_path, (97, 130)), mask=MaskSpec(rects=(Rect(20, 10, 50, 40), Rect(0, 90, 130, 7))))
    metrics = tuple(map(MetricSpec.parse, PLAIN))
    whole = next(Evaluator(EngineOptions(metrics=metrics, device="cpu", workers=0)).run([pair]))
    tiled = next(Evaluator(EngineOptions(metrics=metrics, device="cpu", workers=0, max_memory="5M")).run([pair]))
    unmasked = next(Evaluator(EngineOptions(metrics=metrics, device="cpu", workers=0)).run([replace(pair, mask=None)]))
    assert whole.ok and tiled.ok
    assert any("tiles of" in note for note in tiled.notes) and not any("tiles of" in note for note in whole.notes)
    assert tiled.metrics == pytest.approx(whole.metrics, rel=1e-6)
    assert abs(whole.metrics["ssim"] - unmasked.metrics["ssim"]) > 1e-4  # the mask matters here


def test_ssim_conventions_with_another_map_are_never_tiled(tmp_path: Path) -> None:
    """Only conventions whose map is imgloss's have a tiled form; under a tiny budget the
    others are scored whole, so every column equals the whole-image run's."""
    pair = write_pair(tmp_path, (97, 130))
    same_map = ("ssim:skimage", "ssim:pytorch-msssim", "ssim:imgloss")
    other_map = ("ssim:skimage-default", "ssim:piq", "ssim:torchmetrics", "ssim:matlab")
    for names, tiles in ((same_map, True), *(((name, "ssim"), False) for name in other_map)):
        metrics = tuple(map(MetricSpec.parse, names))
        whole = next(Evaluator(EngineOptions(metrics=metrics, device="cpu", workers=0)).run([pair]))
        small = next(Evaluator(EngineOptions(metrics=metrics, device="cpu", workers=0, max_memory="5M")).run([pair]))
        assert whole.ok and small.ok, names
        assert any("tiles of" in note for note in small.notes) == tiles, names
        assert small.metrics == pytest.approx(whole.metrics, rel=1e-6), names


def test_bad_max_memory_is_a_usage_error() -> None:
    from imgloss.errors import UsageError

    with pytest.raises(UsageError, match="--max-memory"):
        EngineOptions(metrics=(MetricSpec.parse("ssim"),), max_memory="lots")
    assert EngineOptions(metrics=(MetricSpec.parse("ssim"),), max_memory="1.5G").memory_bytes == 1536 * 2**20
