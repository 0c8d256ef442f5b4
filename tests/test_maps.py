"""``compare --maps DIR``: one PNG per pair and mapped metric, on the fixed scales, and
the maps' values (:func:`imgloss.metrics.maps.metric_map`) against their definitions."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from imgloss.functional import lpips, mae, mse, perceptual, ssim, wssim, wssim_terms
from imgloss.metrics.maps import metric_map, metric_maps, wssim_term_maps
from imgloss.metrics.registry import MetricSpec
from pair_files import pixels, write_pair
from vgg_fixtures import isolated, no_network, standin_dir, use_standin  # noqa: F401


def test_pixel_and_ssim_maps_average_to_the_metric(tmp_path: Path) -> None:
    ref, cand = write_pair(tmp_path, 40, 48, seed=5, spread=60)
    x, y = pixels(ref), pixels(cand)
    kind, error = metric_map(MetricSpec.parse("mae"), x, y)
    assert kind == "abs_error" and error.shape == (40, 48)
    assert float(error.mean()) == pytest.approx(float(mae(x, y)), abs=1e-12)
    assert float(metric_map(MetricSpec.parse("mse"), x, y)[1].mean()) == pytest.approx(float(mse(x, y)), abs=1e-12)
    kind, dissimilarity = metric_map(MetricSpec.parse("ssim"), x, y)
    assert kind == "ssim" and dissimilarity.shape == (40, 48)
    assert torch.isnan(dissimilarity[:5]).all() and torch.isnan(dissimilarity[:, -5:]).all()
    inner = dissimilarity[5:-5, 5:-5]
    assert float(1 - inner.mean()) == pytest.approx(float(ssim(x, y)), abs=1e-12)
    kind, tm = metric_map(MetricSpec.parse("ssim:torchmetrics"), x, y)
    assert not torch.isnan(tm).any()
    assert float(1 - tm.mean()) == pytest.approx(float(ssim(x, y, convention="torchmetrics")), abs=1e-12)


def test_feature_maps_follow_the_value(use_standin: Path, tmp_path: Path) -> None:
    ref, cand = write_pair(tmp_path, 32, 32, seed=6, spread=60)
    x, y = pixels(ref, torch.float32), pixels(cand, torch.float32)
    _, lp = metric_map(MetricSpec.parse("lpips"), x, y)
    assert torch.allclose(lp, lpips(x, y, spatial=True)[0, 0])
    _, per = metric_map(MetricSpec.parse("perceptual"), x, y)
    assert per.shape == (32, 32) and (per >= 0).all()
    # bilinear upsampling keeps the mean of each tap's map only approximately
    assert float(per.mean()) == pytest.approx(float(perceptual(x, y)), rel=0.25)


def test_cli_maps_writes_one_png_per_mapped_metric(use_standin: Path, tmp_path: Path, invoke) -> None:
    ref, cand = write_pair(tmp_path, 40, 48, seed=7, spread=60)
    out = tmp_path / "maps"
    result = invoke("compare", ref, cand, "-m", "charbonnier,ssim,tv,lpips", "--maps", out, "-f", "csv")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["cand.png.charbonnier.png", "cand.png.lpips.png", "cand.png.ssim.png"]
    picture = np.asarray(Image.open(out / "cand.png.ssim.png").convert("RGB"))
    assert picture.shape[0] > 40 and picture.shape[1] > 48  # map, title and colour bar


def test_wssim_term_maps_weigh_up_to_one_minus_wssim(tmp_path: Path) -> None:
    ref, cand = write_pair(tmp_path, 32, 40, seed=8, spread=60)
    x, y = pixels(ref), pixels(cand)
    terms = wssim_term_maps(x, y)
    assert [(name, weight) for name, weight, _ in terms] == [(n, w) for n, w, _ in wssim_terms(x, y)]
    assert [tuple(m.shape[-2:]) for _, _, m in terms] == [(32, 40), (16, 20), (16, 20), (8, 10), (8, 10), (8, 10)]
    # exact at each term's own resolution
    weighted = sum(w * float(m.mean()) for _, w, m in terms) / sum(w for _, w, _ in terms)
    assert weighted == pytest.approx(1 - float(wssim(x, y)), abs=1e-6)
    maps = metric_maps(MetricSpec.parse("wssim"), x, y, breakdown=True)
    assert list(maps) == ["wssim", "wssim/image", "wssim/LH+HL1", "wssim/HH1", "wssim/LH+HL2", "wssim/HH2", "wssim/LL2"]
    assert all(kind == "ssim" and m.shape == (32, 40) for kind, m in maps.values())
    # each value repeated over the 2^k x 2^k block it summarises: sides divisible by 4 keep the mean exactly
    assert float(maps["wssim"][1].mean()) == pytest.approx(1 - float(wssim(x, y)), abs=1e-6)
    assert torch.equal(maps["wssim/HH1"][1][::2, ::2], terms[2][2][0, 0])
    # odd sides: the last row/column is repeated before the transform, so the mean is only close
    (tmp_path / "odd").mkdir()
    ref, cand = write_pair(tmp_path / "odd", 33, 41, seed=8, spread=60)
    x, y = pixels(ref), pixels(cand)
    total = float(metric_map(MetricSpec.parse("wssim"), x, y)[1].mean())
    assert total == pytest.approx(1 - float(wssim(x, y)), abs=0.02) and total != pytest.approx(1 - float(wssim(x, y)), abs=1e-9)


def test_feature_maps_per_tap_add_up_to_the_total(use_standin: Path, tmp_path: Path) -> None:
    ref, cand = write_pair(tmp_path, 32, 32, seed=9, spread=60)
    x, y = pixels(ref, torch.float32), pixels(cand, torch.float32)
    for column, values in (("perceptual", perceptual(x, y, breakdown=True)), ("lpips:alex", None)):
        maps = metric_maps(MetricSpec.parse(column), x, y, breakdown=True)
        parts = {name.split("/")[1]: m for name, (_, m) in maps.items() if "/" in name}
        taps = list(values)[:-1] if values is not None else ["relu1", "relu2", "relu3", "relu4", "relu5"]
        assert list(parts) == taps
        assert torch.allclose(torch.stack(list(parts.values())).sum(dim=0), maps[column][1], atol=1e-6)
        if values is not None:  # each tap's map averages to about its weighted term (bilinear upsampling)
            for tap, part in parts.items():
                assert float(part.mean()) == pytest.approx(float(values[tap]), rel=0.3)
    _, total = metric_map(MetricSpec.parse("lpips:alex"), x, y)
    assert torch.allclose(total, lpips(x, y, "alex", spatial=True)[0, 0], atol=1e-6)


def test_cli_maps_breakdown_writes_one_file_per_part(use_standin: Path, tmp_path: Path, invoke) -> None:
    ref, cand = write_pair(tmp_path, 32, 32, seed=10, spread=60)
    out = tmp_path / "maps"
    result = invoke("compare", ref, cand, "-m", "wssim,perceptual:drn,style", "--breakdown", "--maps", out, "-f", "csv")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["cand.png.wssim.png"] + [f"cand.png.wssim-{t}.png" for t in ("image", "LH+HL1", "HH1", "LH+HL2", "HH2", "LL2")]
        + ["cand.png.perceptual-drn.png"] + [f"cand.png.perceptual-drn-relu{i}_1.png" for i in (1, 2, 3)])
