"""The record of one scored pair, shared by the engine (which fills it) and the
report writers (which print it). No torch here."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PairResult:
    """The outcome of one pair: metric values (float64 as Python floats) or an error.

    ``key`` is the relative path shown in reports; ``reference`` is None for
    no-reference scoring; ``notes`` say what was done to the inputs (alpha
    composited, resized, moved to CPU, ...).
    """

    key: str
    reference: str | None
    candidate: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None
