"""``--breakdown``: each tap's weighted term of perceptual, style and lpips as its own
column (``METRIC/TAP``), in every format; the terms sum to the metric's value and equal
the library's ``breakdown=True`` / ``terms``."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import cli_invoke
from imgloss.functional import perceptual, style
from imgloss.metrics.registry import PRESETS
from pair_files import pixels, write_pair
from vgg_fixtures import isolated, no_network, standin_dir, use_standin  # noqa: F401

METRICS = "perceptual,style:default,lpips:alex"


def _run(tmp_path: Path, fmt: str, *extra: str):
    ref, cand = write_pair(tmp_path, 40, 48, seed=2, spread=60)
    result = cli_invoke("compare", ref, cand, "-m", METRICS, "-f", fmt, *extra)
    assert result.exit_code == 0, result.output
    return ref, cand, result


def test_csv_columns_sum_to_the_total_and_equal_the_library(use_standin: Path, tmp_path: Path) -> None:
    ref, cand, result = _run(tmp_path, "csv", "--breakdown")
    header, row = result.stdout.strip().splitlines()[:2]
    values = dict(zip(header.split(","), row.split(",")))
    x, y = pixels(ref, torch.float32), pixels(cand, torch.float32)
    for column, metric, preset in (("perceptual", "perceptual", "default"), ("style:default", "style", "default"),
                                   ("lpips:alex", "lpips", "alex")):
        taps = PRESETS[metric][preset].taps
        terms = [float(values[f"{column}/{tap}"]) for tap in taps]
        assert sum(terms) == pytest.approx(float(values[column]), rel=1e-5)
    expected = perceptual(x, y, breakdown=True)
    for tap in PRESETS["perceptual"]["default"].taps:
        assert float(values[f"perceptual/{tap}"]) == pytest.approx(float(expected[tap]), rel=1e-5, abs=1e-7)
    assert float(values["style:default"]) == pytest.approx(float(style(x, y)), rel=1e-5)


def test_json_and_table_carry_the_terms_and_without_the_flag_nothing(use_standin: Path, tmp_path: Path) -> None:
    _, _, result = _run(tmp_path, "json", "--breakdown")
    report = json.loads(result.stdout)
    assert "lpips:alex/relu5" in report["summary"]["metrics"]
    for name in ("table", "plain"):
        (tmp_path / name).mkdir()
    _, _, table = _run(tmp_path / "table", "table", "--breakdown")
    assert "relu1_1" in table.stdout
    _, _, plain = _run(tmp_path / "plain", "csv")
    assert "/relu" not in plain.stdout.splitlines()[0]
