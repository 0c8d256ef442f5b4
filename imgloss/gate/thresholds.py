"""Pass/fail limits of ``imgloss check``: parse ``name=value``, judge one scored pair.

A threshold is a bound on one report column in that metric's own units: ``max``
fails a pair whose value is above the limit, ``min`` one whose value is below it
(``--max charbonnier=0.01 --min ssim=0.98``). A bound against the metric's direction
(``--max ssim=...`` on a higher-is-better metric) is allowed and only warned about. A
NaN value fails every bound; ``inf`` compares as infinity (PSNR of identical images
passes any ``min``).

Per-folder overrides (:class:`Override`) replace the base limit of the same metric and
bound for the pairs whose key (relative path, POSIX) matches their glob (the rules of
``--glob``); the last matching override wins. No torch, no I/O.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Sequence

from imgloss.errors import UsageError
from imgloss.io import glob_matches
from imgloss.metrics.registry import MetricSpec, get_metric
from imgloss.results import PairResult

Bound = Literal["max", "min"]
BOUNDS: tuple[Bound, ...] = ("max", "min")


@dataclass(frozen=True)
class Threshold:
    """``column`` (``ssim``, ``perceptual:johnson``) must stay at or below (``max``) or at
    or above (``min``) ``limit``."""

    column: str
    bound: Bound
    limit: float

    @property
    def metric(self) -> str:
        """The registry name of the column's metric (``perceptual`` for ``perceptual:johnson``)."""
        return self.column.partition(":")[0]

    def __str__(self) -> str:
        return f"{self.bound} {self.column}={self.limit:g}"

    def as_json(self) -> dict[str, Any]:
        return {"metric": self.column, "bound": self.bound, "limit": self.limit}

    def violated_by(self, value: float) -> bool:
        """True when ``value`` breaks this bound (NaN always does)."""
        if math.isnan(value):
            return True
        return value > self.limit if self.bound == "max" else value < self.limit

    def direction_warning(self) -> str | None:
        """A warning when the bound points against the metric's better direction."""
        higher = get_metric(self.metric).higher_is_better
        if (self.bound == "max") != higher:
            return None
        better, other = ("higher", "min") if higher else ("lower", "max")
        return (
            f"--{self.bound} {self.column}={self.limit:g}: {better} {self.metric} is better, so this fails "
            f"pairs that are *better* than {self.limit:g} (did you mean --{other}?)"
        )


def make_threshold(column: str, bound: str, limit: object, *, where: str) -> Threshold:
    """Validate one threshold; ``where`` names its origin in errors (``--max``, a config key).

    ``column`` must be a registry metric, optionally ``name:preset``; ``limit`` a finite
    real number (a bool is not one). Raises :class:`UsageError`.
    """
    if bound not in BOUNDS:
        raise UsageError(f"{where}: bound must be max or min, got {bound!r}")
    column = column_name(column, where=where)
    if isinstance(limit, bool) or not isinstance(limit, (int, float)):
        raise UsageError(f"{where}: the limit of {column} must be a number, got {limit!r}")
    if not math.isfinite(limit):
        raise UsageError(f"{where}: the limit of {column} must be finite, got {limit!r}")
    return Threshold(column, bound, float(limit))  # type: ignore[arg-type]


def column_name(spec: str, *, where: str) -> str:
    """The report column of a metric spec (``" SSIM "`` -> ``ssim``, ``perceptual:johnson``
    stays); an unknown metric or preset is a :class:`UsageError` prefixed with ``where``."""
    try:
        return MetricSpec.parse(spec).column
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None


def parse_threshold(text: str, bound: str) -> Threshold:
    """``"ssim=0.98"`` given to ``--min`` -> ``Threshold("ssim", "min", 0.98)``."""
    where = f"--{bound} {text}"
    column, sep, value = text.partition("=")
    if not sep or not column.strip() or not value.strip():
        raise UsageError(f"{where}: expected METRIC=VALUE, e.g. --{bound} ssim=0.98")
    try:
        limit = float(value)
    except ValueError:
        raise UsageError(f"{where}: {value.strip()!r} is not a number") from None
    return make_threshold(column, bound, limit, where=where)


@dataclass(frozen=True)
class Override:
    """Limits that replace the base ones for pairs whose key matches ``glob``."""

    glob: str
    thresholds: tuple[Threshold, ...]


@dataclass(frozen=True)
class Verdict:
    """How one pair fared: ``failed`` lists each broken bound with the value found."""

    thresholds: tuple[Threshold, ...]
    failed: tuple[tuple[Threshold, float], ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failed

    def messages(self) -> list[str]:
        """``["ssim = 0.931 < min 0.98", ...]``: value, comparison and limit per failure."""
        return [
            f"{t.column} = {value:.6g} {'>' if t.bound == 'max' else '<'} {t.bound} {t.limit:g}"
            for t, value in self.failed
        ]


@dataclass(frozen=True)
class ThresholdSet:
    """The base limits and the per-folder overrides of one check run."""

    base: tuple[Threshold, ...]
    overrides: tuple[Override, ...] = field(default=())

    @property
    def columns(self) -> list[str]:
        """Every column any limit applies to, in first-seen order (the metrics to compute)."""
        every = list(self.base) + [t for o in self.overrides for t in o.thresholds]
        return list(dict.fromkeys(t.column for t in every))

    def for_key(self, key: str) -> tuple[Threshold, ...]:
        """The limits that apply to the pair ``key`` (overrides replace same column+bound)."""
        chosen = {(t.column, t.bound): t for t in self.base}
        for override in self.overrides:
            if glob_matches(key, override.glob):
                chosen.update({(t.column, t.bound): t for t in override.thresholds})
        return tuple(chosen.values())

    def judge(self, result: PairResult) -> Verdict:
        """The verdict on a scored pair (a missing column counts as NaN, so it fails)."""
        limits = self.for_key(result.key)
        failed = []
        for threshold in limits:
            value = result.metrics.get(threshold.column, math.nan)
            if threshold.violated_by(value):
                failed.append((threshold, value))
        return Verdict(limits, tuple(failed))

    def as_json(self) -> dict[str, Any]:
        """The limits in the shape of ``[tool.imgloss]``: ``{"max": {...}, "min": {...},
        "overrides": [{"glob", "max", "min"}, ...]}``."""

        def bounds(items: Sequence[Threshold]) -> dict[str, dict[str, float]]:
            return {b: {t.column: t.limit for t in items if t.bound == b} for b in BOUNDS}

        overrides = [{"glob": o.glob, **bounds(o.thresholds)} for o in self.overrides]
        return {**bounds(self.base), "overrides": overrides}

    def warnings(self) -> list[str]:
        """One direction warning per distinct limit that points the wrong way."""
        every = list(self.base) + [t for o in self.overrides for t in o.thresholds]
        found = (t.direction_warning() for t in dict.fromkeys(every))
        return [w for w in found if w is not None]


def merge(cli: Sequence[Threshold], config: ThresholdSet) -> ThresholdSet:
    """Command-line limits win: each replaces the config's limit of the same column and
    bound, in the base and in every override."""
    given = {(t.column, t.bound) for t in cli}

    def keep(items: Iterable[Threshold]) -> tuple[Threshold, ...]:
        return tuple(t for t in items if (t.column, t.bound) not in given)

    overrides = tuple(Override(o.glob, keep(o.thresholds)) for o in config.overrides)
    return ThresholdSet(keep(config.base) + tuple(cli), tuple(o for o in overrides if o.thresholds))
