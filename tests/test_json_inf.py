"""--json-inf string|null|large and summaries that average finite values and count infinities."""
from __future__ import annotations

import json
import math
import sys

import pytest

from check_helpers import make_folders
from imgloss.report.summary import json_value, jsonable, summarize
from imgloss.results import PairResult


@pytest.mark.parametrize(
    ("mode", "positive", "negative"),
    [("string", "inf", "-inf"), ("null", None, None), ("large", sys.float_info.max, -sys.float_info.max)],
)
def test_json_value_modes(mode, positive, negative) -> None:
    assert json_value(math.inf, mode) == positive and json_value(-math.inf, mode) == negative
    assert json_value(1.5, mode) == 1.5 and json_value(math.nan, mode) is None
    assert jsonable({"a": [math.inf, (2.0,)], "b": "x"}, mode) == {"a": [positive, [2.0]], "b": "x"}


def test_summary_mean_is_finite_and_counts_infinities() -> None:
    results = [PairResult("a", "r", "c", {"psnr": math.inf}), PairResult("b", "r", "c", {"psnr": 30.0}),
               PairResult("c", "r", "c", {"psnr": 40.0})]
    summary = summarize(results, ["psnr"], {"psnr": True}, unmatched=0, device="cpu", seconds=1.0)
    metric = summary.metrics["psnr"]
    assert metric.mean == 35.0 and metric.infinite == 1 and metric.median == 40.0
    only = summarize(results[:1], ["psnr"], {"psnr": True}, unmatched=0, device="cpu", seconds=1.0)
    assert only.metrics["psnr"].mean is None and only.metrics["psnr"].infinite == 1


@pytest.mark.parametrize("mode", ["string", "null", "large"])
def test_compare_json_inf_modes_parse_with_a_strict_reader(tmp_path, mode, invoke) -> None:
    golden, cand = make_folders(tmp_path)
    result = invoke("compare", golden, cand, "-m", "psnr", "-f", "json", "--json-inf", mode, "-q", "--workers", "0")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    values = {r["candidate"].rsplit("/", 1)[-1]: r["metrics"]["psnr"] for r in document["results"]}
    expected = {"string": "inf", "null": None, "large": sys.float_info.max}[mode]
    assert values["same.png"] == expected and isinstance(values["edited.png"], float)
    psnr = document["summary"]["metrics"]["psnr"]
    assert psnr["mean"] == pytest.approx(values["edited.png"]) and psnr["infinite"] == 2


def test_table_summary_shows_the_infinite_count(tmp_path, invoke) -> None:
    golden, cand = make_folders(tmp_path)
    result = invoke("compare", golden, cand, "-m", "psnr", "--workers", "0")
    assert "infinite" in result.stdout


def test_unknown_json_inf_is_a_usage_error(tmp_path, invoke) -> None:
    golden, cand = make_folders(tmp_path)
    result = invoke("compare", golden, cand, "--json-inf", "nan")
    assert result.exit_code == 2 and "string, null, large" in result.stderr
