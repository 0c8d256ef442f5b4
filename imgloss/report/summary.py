"""Metric values as text and JSON, and the run summary (count, mean, median, worst pair).

JSON has no infinity (PSNR of identical images is ``+inf``): ``--json-inf`` chooses how
it is written (:func:`json_value`): ``string`` (the default, ``"inf"``/``"-inf"``,
lossless and readable), ``null`` (``jq add`` and pandas then skip it) or ``large``
(``±1.7976931348623157e308``, the largest float64, which sorts and compares as
infinity does). Summaries average the finite values only and count the infinite ones
(``"infinite": 1``), so one identical pair does not make a mean of ``inf``.
"""
from __future__ import annotations

import math
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from imgloss.results import PairResult


def format_value(value: float | None, exact: bool = False) -> str:
    """A metric value as text: 6 significant digits for humans, or with ``exact`` the
    shortest text that reads back to the same float64 (CSV); ``inf`` for infinity."""
    if value is None or math.isnan(value):
        return ""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value) if exact else f"{value:.6g}"


def json_value(value: float | None, inf: str = "string") -> float | str | None:
    """A metric value for JSON: a number or null; an infinity as ``inf`` says
    (``string``: ``"inf"``/``"-inf"``, ``null``, ``large``: ±the largest float64)."""
    if value is None or math.isnan(value):
        return None
    if math.isinf(value):
        if inf == "null":
            return None
        if inf == "large":
            return math.copysign(sys.float_info.max, value)
        return "inf" if value > 0 else "-inf"
    return value


def jsonable(document: Any, inf: str = "string") -> Any:
    """``document`` with every float passed through :func:`json_value` (dicts, lists
    and tuples walked), so ``json.dumps(..., allow_nan=False)`` accepts it."""
    if isinstance(document, float):
        return json_value(document, inf)
    if isinstance(document, dict):
        return {key: jsonable(value, inf) for key, value in document.items()}
    if isinstance(document, (list, tuple)):
        return [jsonable(value, inf) for value in document]
    return document


# --------------------------------------------------------------------------- summary

_IMPORTED = time.monotonic()


def process_seconds() -> float:
    """Wall seconds since this process started, interpreter start-up and imports
    included (Linux: from ``/proc``); elsewhere since this module was imported."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as uptime:
            now = float(uptime.read().split()[0])
        return max(now - int(fields[19]) / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return time.monotonic() - _IMPORTED



@dataclass
class MetricSummary:
    """Mean (of the finite values; None when there are none), median, worst pair and
    the count of infinite values of one column over the scored pairs."""

    mean: float | None
    median: float
    worst_key: str
    worst_value: float
    infinite: int = 0


@dataclass
class Summary:
    """What a finished run reports after its rows."""

    scored: int
    failed: int
    unmatched: int
    device: str
    seconds: float
    metrics: dict[str, MetricSummary] = field(default_factory=dict)

    @property
    def pairs_per_second(self) -> float:
        return (self.scored + self.failed) / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        """The summary as plain data; floats stay floats (see :func:`jsonable`)."""
        return {
            "pairs_scored": self.scored,
            "pairs_failed": self.failed,
            "unmatched": self.unmatched,
            "device": self.device,
            "seconds": round(self.seconds, 4),
            "pairs_per_second": round(self.pairs_per_second, 3),
            "metrics": {
                name: {
                    "mean": m.mean,
                    "median": m.median,
                    "infinite": m.infinite,
                    "worst": {"pair": m.worst_key, "value": m.worst_value},
                }
                for name, m in self.metrics.items()
            },
        }


def summarize(
    results: Sequence[PairResult],
    columns: Sequence[str],
    higher_is_better: dict[str, bool],
    *,
    unmatched: int,
    device: str,
    seconds: float,
) -> Summary:
    """Aggregate the rows of a run; ``higher_is_better`` decides what "worst" means."""
    scored = [r for r in results if r.ok]
    summary = Summary(len(scored), len(results) - len(scored), unmatched, device, seconds)
    for column in columns:
        rows = [(r.key, r.metrics[column]) for r in scored if column in r.metrics]
        if not rows:
            continue
        values = [v for _, v in rows]
        pick = min if higher_is_better[column] else max
        worst_key, worst_value = pick(rows, key=lambda kv: kv[1])
        finite = [v for v in values if math.isfinite(v)]
        summary.metrics[column] = MetricSummary(
            statistics.fmean(finite) if finite else None, statistics.median(values), worst_key, worst_value,
            len(values) - len(finite),
        )
    return summary


@dataclass
class RunInfo:
    """Run-level metadata every format carries."""

    columns: list[str]
    higher_is_better: dict[str, bool]
    device: str
    options: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    #: Files in the folders that are not of a supported image type (counted as unmatched).
    unsupported: list[str] = field(default_factory=list)
