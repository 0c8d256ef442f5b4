"""The record of one scored pair, shared by the engine (which fills it) and the
report writers (which print it). No torch here."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PairResult:
    """The outcome of one pair: metric values (float64 as Python floats) or an error.

    ``key`` is the relative path shown in reports; ``reference`` is None for
    no-reference scoring; ``notes`` say what was done to the inputs (alpha
    composited, resized, moved to CPU, ...); ``extra`` holds a command's own fields
    (``check`` adds its verdict), which JSON output carries as extra keys.
    """

    key: str
    reference: str | None
    candidate: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None
