"""Metric values as text and JSON, and the run summary (count, mean, median, worst pair)."""
from __future__ import annotations

import math
import statistics
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


def json_value(value: float | None) -> float | str | None:
    """A metric value for JSON: a number, ``"inf"``/``"-inf"``, or null."""
    if value is None or math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


# --------------------------------------------------------------------------- summary


@dataclass
class MetricSummary:
    """Mean, median and worst pair of one column over the scored pairs."""

    mean: float
    median: float
    worst_key: str
    worst_value: float


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
        return {
            "pairs_scored": self.scored,
            "pairs_failed": self.failed,
            "unmatched": self.unmatched,
            "device": self.device,
            "seconds": round(self.seconds, 4),
            "pairs_per_second": round(self.pairs_per_second, 3),
            "metrics": {
                name: {
                    "mean": json_value(m.mean),
                    "median": json_value(m.median),
                    "worst": {"pair": m.worst_key, "value": json_value(m.worst_value)},
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
        summary.metrics[column] = MetricSummary(
            statistics.fmean(values), statistics.median(values), worst_key, worst_value
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
