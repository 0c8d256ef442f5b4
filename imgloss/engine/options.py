"""What a scoring run asks of the engine: the metric columns and how pairs are read and scored.

Pure data (no torch): the run layer builds it; every value is checked on construction
by the one declaration of its option (:mod:`imgloss.options`).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from imgloss.errors import UsageError
from imgloss.metrics.registry import MetricSpec
from imgloss.options import check_values


@dataclass(frozen=True)
class EngineOptions:
    """Everything that changes how pairs are read and scored (see ``imgloss.options``)."""

    metrics: tuple[MetricSpec, ...]
    device: str = "auto"
    batch_size: int | None = None
    workers: int | None = None
    precision: str = "fp32"
    resize: str = "none"
    background: str = "white"
    max_pixels: int | None = None
    weights: str | Path | None = None
    breakdown: bool = False
    strict: bool = False

    def __post_init__(self) -> None:
        if not self.metrics:
            raise UsageError("no metrics requested")
        check_values({f.name: getattr(self, f.name) for f in fields(self) if f.name != "metrics"})
