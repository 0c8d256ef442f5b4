"""``compare --maps DIR``: one PNG per pair and mapped metric, on the fixed scales, and
the maps' values (:func:`imgloss.metrics.maps.metric_map`) against their definitions."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from imgloss.functional import lpips, mae, mse, perceptual, ssim
from imgloss.metrics.maps import metric_map
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
