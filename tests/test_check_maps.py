"""``imgloss check --diff-dir``: beside each failing pair's heatmap, the map of every failed
metric that has one, named as ``compare --maps`` names them and drawn on the same fixed
scales (pixel for pixel what :mod:`imgloss.metrics.maps` and :mod:`imgloss.report.colormap`
make), listed in the JSON ``check`` record."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from check_helpers import EDIT, LIMITS, make_folders
from imgloss.io import read_image
from imgloss.metrics.maps import metric_map
from imgloss.metrics.registry import MetricSpec
from imgloss.report.colormap import SCALES, title_height, with_colour_bar


def _expected_picture(golden: Path, cand: Path, spec: MetricSpec) -> np.ndarray:
    x, y = (read_image(str(path)).tensor[None] for path in (golden, cand))
    kind, values = metric_map(spec, x, y)
    return np.asarray(with_colour_bar(values.double().numpy(), SCALES[kind], f"{spec.column}: {cand.name}"))


def test_failed_metrics_get_their_maps_on_the_fixed_scales(tmp_path: Path, invoke) -> None:
    golden, cand = make_folders(tmp_path)
    diffs, out = tmp_path / "diffs", tmp_path / "results.json"
    result = invoke("check", golden, cand, *LIMITS, "--max", "mse=1", "--min", "wssim=0.99", "--ssim-convention", "torchmetrics",
                    "--diff-dir", diffs, "-f", "json", "-o", out, "--workers", "0", "-q")
    assert result.exit_code == 1, result.output
    # mse passed: no map of it; the passing pairs get nothing
    assert sorted(p.name for p in diffs.iterdir()) == [
        "edited.png.charbonnier.png", "edited.png.diff.png", "edited.png.ssim.png", "edited.png.wssim.png"]
    records = {Path(r["candidate"]).name: r["check"] for r in json.loads(out.read_text())["results"]}
    assert records["edited.png"]["maps"] == [str(diffs / f"edited.png.{c}.png") for c in ("charbonnier", "ssim", "wssim")]
    assert "maps" not in records["same.png"]
    for column in ("charbonnier", "ssim", "wssim"):
        spec = MetricSpec.parse(column, variants={"ssim": "torchmetrics"})
        written = np.asarray(Image.open(diffs / f"edited.png.{column}.png").convert("RGB"))
        np.testing.assert_array_equal(written, _expected_picture(golden / "edited.png", cand / "edited.png", spec))
    # torchmetrics' SSIM map covers the borders (no grey), and the edit is where it is bright
    ssim_picture = np.asarray(Image.open(diffs / "edited.png.ssim.png").convert("L"), dtype=float)
    top = title_height()
    panel = ssim_picture[top : top + 32, :40]
    x0, y0, x1, y1 = EDIT
    inside = np.zeros(panel.shape, bool)
    inside[y0:y1, x0:x1] = True
    assert panel[inside].mean() > panel[~inside].mean() + 50


def test_a_failed_metric_without_a_map_leaves_the_heatmap_alone(tmp_path: Path, invoke) -> None:
    golden, cand = make_folders(tmp_path)
    diffs, out = tmp_path / "diffs", tmp_path / "results.json"
    result = invoke("check", golden / "edited.png", cand / "edited.png", "--max", "tv=0", "--diff-dir", diffs,
                    "-f", "json", "-o", out, "--workers", "0", "-q")
    assert result.exit_code == 1, result.output
    assert [p.name for p in diffs.iterdir()] == ["edited.png.diff.png"]
    [record] = [r["check"] for r in json.loads(out.read_text())["results"]]
    assert record["status"] == "fail" and record["maps"] == []
