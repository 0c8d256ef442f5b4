"""One ``imgloss check`` run after scoring: verdicts, heatmaps, JUnit cases, exit code.

:class:`CheckWriter` wraps a report writer: before a result is passed on, it is judged
against its limits and, when it fails and a diff folder was given, its heatmap is
drawn. The verdict is stored as ``result.extra["check"]`` so that JSON and JSONL carry
it (and ``imgloss report`` can show it)::

    "check": {"status": "pass" | "fail" | "error",
              "thresholds": [{"metric": "ssim", "bound": "min", "limit": 0.98}, ...],
              "failed": [{"metric": "ssim", "bound": "min", "limit": 0.98, "value": 0.93}],
              "message": "ssim = 0.93 < min 0.98",
              "heatmap": "diffs/a.png.diff.png" | null,
              "maps": ["diffs/a.png.ssim.png"]}

``maps`` (a failing pair under ``--diff-dir`` only) lists the map of each failed metric
that has one (:mod:`imgloss.metrics.maps`), written as ``compare --maps`` writes them:
``<folder>/<pair key>.<column>.png`` on the same fixed scales. ``heatmap_error`` /
``maps_error`` replace a picture that could not be drawn.

Exit code (:func:`exit_code`): 3 when the check is incomplete (a pair could not be
read or scored, no pair was found, or a golden file has no candidate under
``--fail-on-missing``), else 1 when a limit was broken, else 0. An incomplete check
wins over a failed one: its failures are still listed, but "regression" would hide
that some pairs were never checked. Prints nothing; torch loads only for heatmaps.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from imgloss.errors import EXIT_FAILED_CHECK, EXIT_OK, ImglossError, InputError
from imgloss.io import Background
from imgloss.io.masks import MaskSpec
from imgloss.gate.junit import JUnitCase
from imgloss.report.summary import Summary, format_value
from imgloss.report.writers import Writer
from imgloss.results import PairResult
from imgloss.gate.thresholds import ThresholdSet

PASS, FAIL, ERROR = "pass", "fail", "error"
#: Table and report order: what needs attention first.
STATUS_ORDER = {FAIL: 0, ERROR: 1, PASS: 2}
HEATMAP_SUFFIX = ".diff.png"
#: Results arriving less than this many seconds apart came from one batch.
BURST = 0.005
JUNIT_CLASS = "imgloss.check"


#: Writes the maps of a scored pair's columns (failed metrics) and returns the files.
MapWriter = Callable[[PairResult, Sequence[str]], Sequence[Path]]


@dataclass(frozen=True)
class Heatmaps:
    """Where and how failing pairs are drawn: images are re-read as the engine read them.
    ``metric_maps`` (the CLI passes :func:`imgloss.run.write_maps` bound to the run's
    options) draws the maps of the failed metrics beside the heatmap."""

    folder: Path
    background: Background = "white"
    max_pixels: int | None = None
    scale: str = "fixed"
    metric_maps: MapWriter | None = None
    #: Each masked pair's ignore regions by key: drawn as "no value" in both maps.
    masks: Mapping[str, MaskSpec] = field(default_factory=dict)

    def path_for(self, key: str) -> Path:
        """``folder/<key>.diff.png``: the pair's relative path, so names never collide."""
        return self.folder / (key + HEATMAP_SUFFIX)

    def draw(self, result: PairResult) -> Path:
        """Write the heatmap of ``result``'s pair; raises ImglossError or OSError."""
        import torch

        from imgloss.gate.heatmap import write_heatmap
        from imgloss.io import read_image
        from imgloss.io.masks import read_mask

        def read(path: str | None) -> Any:
            return read_image(str(path), background=self.background, max_pixels=self.max_pixels).tensor

        path = self.path_for(result.key)
        reference = read(result.reference)
        spec = self.masks.get(result.key)
        mask = None if spec is None else read_mask(spec, *reference.shape[-2:], result.reference)
        write_heatmap(path, reference, read(result.candidate), self.scale, None if mask is None else torch.from_numpy(mask))
        return path


def judge(result: PairResult, thresholds: ThresholdSet, heatmaps: Heatmaps | None) -> dict[str, Any]:
    """The ``check`` record of one result (see the module docstring)."""
    if result.error is not None:
        return {"status": ERROR, "thresholds": [], "failed": [], "message": result.error, "heatmap": None}
    verdict = thresholds.judge(result)
    record: dict[str, Any] = {
        "status": PASS if verdict.passed else FAIL,
        "thresholds": [t.as_json() for t in verdict.thresholds],
        "failed": [{**t.as_json(), "value": v} for t, v in verdict.failed],
        "message": "; ".join(verdict.messages()),
        "heatmap": None,
    }
    if heatmaps is not None and not verdict.passed:
        try:
            record["heatmap"] = str(heatmaps.draw(result))
        except (ImglossError, OSError) as exc:
            record["heatmap_error"] = str(exc)
        if heatmaps.metric_maps is not None:
            failed = list(dict.fromkeys(t.column for t, _ in verdict.failed))
            try:
                record["maps"] = [str(path) for path in heatmaps.metric_maps(result, failed)]
            except (ImglossError, OSError, ValueError) as exc:
                record["maps_error"] = str(exc)
    return record


class CheckWriter:
    """A :class:`~imgloss.report.Writer` that judges each result, then hands it on.

    :attr:`seconds` holds each pair's measured time: the wall time since the previous
    result arrived (the first counts from this writer's creation). Results of one batch
    arrive in a burst (less than :data:`BURST` apart); the burst's time is shared
    evenly among its pairs, so the times add up to the run's.
    """

    def __init__(self, inner: Writer, thresholds: ThresholdSet, heatmaps: Heatmaps | None) -> None:
        self.inner, self.thresholds, self.heatmaps = inner, thresholds, heatmaps
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()
        self._burst: list[str] = []
        self._burst_seconds = 0.0
        self._own: dict[str, float] = {}
        self._arrived = self._last

    def write(self, result: PairResult) -> None:
        self._time(result.key)
        result.extra["check"] = judge(result, self.thresholds, self.heatmaps)
        self._last = time.perf_counter()  # drawing a heatmap counts for the pair that needs it
        self._own[result.key] = self._last - self._arrived
        self.seconds[result.key] += self._own[result.key]
        self.inner.write(result)

    def _time(self, key: str) -> None:
        self._arrived = time.perf_counter()
        gap = self._arrived - self._last
        if gap >= BURST or not self._burst:
            self._burst, self._burst_seconds = [], 0.0
        self._burst.append(key)
        self._burst_seconds += gap
        share = self._burst_seconds / len(self._burst)
        for member in self._burst:
            self.seconds[member] = share + self._own.get(member, 0.0)

    def close(self, summary: Summary) -> None:
        self.inner.close(summary)

    def abort(self) -> None:
        self.inner.abort()


def status(result: PairResult) -> str:
    """``pass``, ``fail`` or ``error`` of a judged result."""
    return result.extra["check"]["status"]


def failed_thresholds(result: PairResult) -> str:
    """The limits a judged result broke: ``ssim min 0.98; charbonnier max 0.01``."""
    return "; ".join(f"{f['metric']} {f['bound']} {f['limit']:g}" for f in result.extra["check"]["failed"])


#: ``check -f csv``'s columns after ``error``.
CSV_COLUMNS = (("status", status), ("failed_thresholds", failed_thresholds))


@dataclass(frozen=True)
class Unpaired:
    """Files found on one side only: golden files with no candidate, and new candidates."""

    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()


def counts_line(results: Sequence[PairResult], unpaired: Unpaired) -> str:
    """``check: 3 passed, 1 failed, 0 errors; 1 missing candidate, 0 new candidates``."""
    count = Counter(status(r) for r in results)
    return (
        f"check: {count[PASS]} passed, {count[FAIL]} failed, {count[ERROR]} errors; "
        f"{len(unpaired.missing)} missing candidate(s), {len(unpaired.extra)} candidate(s) with no golden file"
    )


def exit_code(
    results: Sequence[PairResult], unpaired: Unpaired, fail_on_missing: bool, *, accepted: bool = False
) -> int:
    """3 incomplete, else 1 a limit broken (unless ``accepted``: the golden files were just
    updated to the candidates), else 0 (see the module docstring)."""
    statuses = {status(r) for r in results}
    if not results or ERROR in statuses or (fail_on_missing and unpaired.missing):
        return InputError.exit_code
    return EXIT_FAILED_CHECK if FAIL in statuses and not accepted else EXIT_OK


def relative(path: str, root: Path) -> str:
    """``path`` relative to the folder ``root`` (POSIX), or as given when outside it."""
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return path


def junit_cases(
    results: Sequence[PairResult],
    unpaired: Unpaired,
    fail_on_missing: bool,
    roots: tuple[Path, Path] = (Path(), Path()),
    seconds: Mapping[str, float] | None = None,
) -> list[JUnitCase]:
    """One case per pair (named by its relative path, timed by ``seconds``), then one
    per golden file with no candidate (an error under ``--fail-on-missing``, else
    skipped) and per candidate with no golden file (skipped), named relative to
    ``roots`` (golden folder, candidate folder). A failing pair's heatmap and maps are attached."""
    seconds = seconds or {}
    cases = []
    for result in results:
        record = result.extra["check"]
        outcome = {PASS: "passed", FAIL: "failure", ERROR: "error"}[record["status"]]
        limits = ", ".join(f"{t['metric']} {t['bound']} {t['limit']:g}" for t in record["thresholds"])
        values = ", ".join(f"{name} = {format_value(v)}" for name, v in result.metrics.items())
        details = "\n".join(
            line
            for line in (
                f"reference: {result.reference}",
                f"candidate: {result.candidate}",
                f"values: {values}" if values else "",
                f"thresholds: {limits}" if limits else "",
                f"heatmap: {record['heatmap']}" if record["heatmap"] else "",
                f"maps: {', '.join(record['maps'])}" if record.get("maps") else "",
            )
            if line
        )
        files = ([record["heatmap"]] if record["heatmap"] else []) + list(record.get("maps", ()))
        cases.append(JUnitCase(result.key, JUNIT_CLASS, outcome, record["message"], details if outcome != "passed" else "",
                               seconds.get(result.key, 0.0), tuple(files), tuple(result.notes)))
    for path in unpaired.missing:
        outcome = "error" if fail_on_missing else "skipped"
        cases.append(JUnitCase(relative(path, roots[0]), JUNIT_CLASS, outcome, "golden file has no candidate"))  # type: ignore[arg-type]
    cases.extend(JUnitCase(relative(path, roots[1]), JUNIT_CLASS, "skipped", "candidate has no golden file") for path in unpaired.extra)
    return cases
