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
    max_memory: str | None = None
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
        _ = self.memory_bytes  # a bad size fails here, before any work

    @property
    def memory_bytes(self) -> int | None:
        """``max_memory`` in bytes (``4G``, ``512M``, ``1.5GiB``, ``100000``), or None."""
        if self.max_memory is None:
            return None
        text = self.max_memory.strip().upper().removesuffix("B").removesuffix("I")
        number, unit = (text[:-1], text[-1]) if text[-1:] in _UNITS else (text, "")
        try:
            value = float(number) * _UNITS.get(unit, 1)
        except ValueError:
            value = 0
        if not 1 <= value < 2**62:
            raise UsageError(f"--max-memory must be a size such as 4G, 512M or 100000 (bytes), got {self.max_memory!r}")
        return int(value)


_UNITS = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
