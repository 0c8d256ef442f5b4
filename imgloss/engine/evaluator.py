"""The one batched evaluation core behind every command (compare, score, check).

Owns: choosing the device, decoding pairs in DataLoader worker processes, grouping
decoded pairs by image size into batches, running each requested metric (and at most
one VGG forward per network) once per batch, halving a batch on out-of-memory, and
turning every failure into an error row so the run goes on. Results come out as an
iterator of :class:`PairResult`, in input order, as soon as they are ready.

It reads files only through ``imgloss.io`` and prints nothing: the CLI renders.
"""
from __future__ import annotations

import os
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from imgloss.engine.device import cpu_threads_beside, default_workers, exact_fp32, out_of_memory, resolve_device, to_device
from imgloss.engine.loader import Decoded, PairDataset, identity, quiet_worker_count
from imgloss.engine.workers import WorkerSlots, decoded_pairs, worker_init
from imgloss.engine.options import EngineOptions
from imgloss.errors import UsageError
from imgloss.io import Pair
from imgloss.metrics.registry import report_columns
from imgloss.options import PRECISIONS
from imgloss.results import PairResult

if TYPE_CHECKING:
    from imgloss.metrics.feature_loss import FeatureLoss

DTYPES = dict(zip(PRECISIONS, (torch.float32, torch.float16, torch.bfloat16)))


@dataclass
class RunStats:
    """Where the time went: waiting for decoded pairs vs computing metrics (seconds)."""

    pairs: int = 0
    batches: int = 0
    seconds: float = 0.0
    wait_seconds: float = 0.0
    compute_seconds: float = 0.0


#: Rough bytes of working memory per pixel of one pair, to size batches from free memory.
_BYTES_PER_PIXEL = {"pixel": 400, "vgg": 2600}
_MAX_AUTO_BATCH = 64
_CPU_BATCH_PIXELS = 256 * 256


class Evaluator:
    """Scores pairs with the requested metrics; build once per run.

    Construction validates the options, picks the device and builds every VGG network
    the metrics need, so missing weights fail (``WeightsError``) before any work.
    """

    def __init__(self, options: EngineOptions) -> None:
        self.options = options
        self.device = resolve_device(options.device)
        self.dtype = DTYPES[options.precision]
        self._check_precision()
        self.stats = RunStats()
        self._plain = [(r, r.info.load_function()) for r in options.metrics if not r.info.needs_weights]
        self._feature = [r for r in options.metrics if r.info.needs_weights]
        self._feature_losses: list[FeatureLoss] = [
            r.info.load_loss()(preset=r.preset or "default", reduction="none", weights=options.weights)
            for r in self._feature
        ]
        if self._feature_losses:
            from imgloss.metrics.feature_loss import run_feature_losses

            # Builds (and caches) each network now: weights problems stop the run here.
            probe = torch.zeros(1, 3, 32, 32, device=self.device)
            with torch.inference_mode():
                run_feature_losses(self._feature_losses, probe, probe)

    def _check_precision(self) -> None:
        if self.dtype == torch.float16 and self.device.type == "cpu":
            raise UsageError("--precision fp16 needs a GPU; on the CPU use fp32 or bf16")
        if self.dtype == torch.bfloat16 and self.device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise UsageError("--precision bf16 is not supported by this GPU; use fp16 or fp32")

    def columns(self, with_reference: bool = True) -> dict[str, bool]:
        """Report columns in order, each with ``higher_is_better`` (see :func:`report_columns`)."""
        return report_columns(self.options.metrics, with_reference)

    # ---------------------------------------------------------------- one batch

    def _metric_values(self, x: Tensor | None, y: Tensor) -> tuple[dict[str, Tensor], list[str]]:
        """Every column for one same-size batch, and per-metric failures."""
        values: dict[str, Tensor] = {}
        failures: list[str] = []
        for request, function in self._plain:
            try:
                if request.info.needs_reference:
                    values[request.column] = function(x, y)
                else:
                    values[request.column] = function(y)
                    if x is not None:
                        values[request.reference_column] = function(x)
            except ValueError as exc:
                failures.append(f"{request.column}: {exc}")
        if self._feature_losses and x is not None:
            from imgloss.metrics.feature_loss import run_feature_losses

            autocast = torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32)
            try:
                with autocast:
                    outputs = run_feature_losses(self._feature_losses, x, y)
            except ValueError as exc:
                failures.append(f"{', '.join(r.column for r in self._feature)}: {exc}")
            else:
                values.update({r.column: v for r, v in zip(self._feature, outputs)})
        return values, failures

    def _score(self, items: list[Decoded], device: torch.device) -> list[_Scored]:
        """Score a same-size batch on ``device``; one :class:`_Scored` per item."""
        y = to_device([item.y for item in items], device)  # type: ignore[misc]
        x = None if items[0].x is None else to_device([item.x for item in items], device)  # type: ignore[misc]
        with torch.inference_mode(), exact_fp32(self.dtype == torch.float32):
            values, failures = self._metric_values(x, y)
        names = list(values)
        table = torch.stack([values[n].to(torch.float64) for n in names]).cpu().tolist() if names else []
        return [_Scored({n: table[j][i] for j, n in enumerate(names)}, failures) for i in range(len(items))]

    def _score_with_retry(self, items: list[Decoded]) -> list[_Scored]:
        """Halve the batch on out-of-memory; a single pair falls back to the CPU. Any
        other failure of a batch becomes error rows for its pairs: the run goes on."""
        try:
            return self._score(items, self.device)
        except Exception as exc:
            if not out_of_memory(exc):
                return [_Scored({}, [f"cannot score: {type(exc).__name__}: {exc}"]) for _ in items]
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            if len(items) > 1:
                half = len(items) // 2
                return self._score_with_retry(items[:half]) + self._score_with_retry(items[half:])
            if self.device.type == "cpu":
                return [_Scored({}, ["out of memory even for a single pair on the CPU"])]
            scored = self._score(items, torch.device("cpu"))[0]
            scored.notes.append("out of GPU memory: scored on the CPU")
            return [scored]

    # ---------------------------------------------------------------- batching

    def batch_size_for(self, shape: tuple[int, ...]) -> int:
        """``--batch-size``, or as many pairs of this size as a quarter of free memory
        holds; on the CPU also no more than ``_CPU_BATCH_PIXELS`` pixels per batch (large
        CPU batches only thrash the cache: per-pair time grows with the batch)."""
        if self.options.batch_size is not None:
            return self.options.batch_size
        pixels = shape[-1] * shape[-2] * shape[-3]
        per_pair = pixels * _BYTES_PER_PIXEL["vgg" if self._feature_losses else "pixel"]
        if self.device.type == "cuda":
            free = torch.cuda.mem_get_info(self.device)[0]
            limit = _MAX_AUTO_BATCH
        else:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            limit = min(_MAX_AUTO_BATCH, _CPU_BATCH_PIXELS // (shape[-1] * shape[-2]))
        return int(max(1, min(limit, free // 4 // max(per_pair, 1))))

    def run(self, pairs: Sequence[Pair]) -> Iterator[PairResult]:
        """Score ``pairs``; yields one :class:`PairResult` per pair, in input order."""
        started = time.perf_counter()
        workers = default_workers(len(pairs), self.device) if self.options.workers is None else self.options.workers
        slots = WorkerSlots(workers)
        dataset = PairDataset(pairs, self.options, slots)

        def loader(indices: Sequence[int], workers: int) -> Iterator[Decoded]:
            with quiet_worker_count():
                return iter(DataLoader(
                    dataset,
                    batch_size=None,
                    sampler=indices,
                    num_workers=workers,
                    worker_init_fn=worker_init if workers else None,
                    prefetch_factor=4 if workers else None,
                    collate_fn=identity,
                ))

        def died(index: int, reason: str) -> Decoded:
            return Decoded(index, error=f"{pairs[index].candidate}: {reason} while decoding this pair "
                                        "(the run went on with a fresh worker)")
        buckets: OrderedDict[tuple[Any, ...], list[Decoded]] = OrderedDict()
        limits: dict[tuple[Any, ...], int] = {}  # batch size per image size, sized once per run
        done: dict[int, PairResult] = {}
        next_out = 0

        def finish(batch: list[Decoded]) -> None:
            tick = time.perf_counter()
            scored = self._score_with_retry(batch)
            self.stats.compute_seconds += time.perf_counter() - tick
            self.stats.batches += 1
            for item, outcome in zip(batch, scored):
                pair = pairs[item.index]
                # Metric failures name the file, as decoding failures do.
                outcome.errors = [f"{pair.candidate}: {error}" for error in outcome.errors]
                done[item.index] = _result(pair, item, outcome)

        with cpu_threads_beside(workers, self.device):
            items = decoded_pairs(range(len(pairs)), workers, loader, slots, died)
            while True:
                tick = time.perf_counter()
                item = next(items, None)
                self.stats.wait_seconds += time.perf_counter() - tick
                if item is None:
                    break
                if item.error is not None:
                    done[item.index] = _result(pairs[item.index], item, _Scored({}, [item.error]))
                else:
                    key = (tuple(item.y.shape), item.x is None)  # type: ignore[union-attr]
                    if key not in limits:
                        limits[key] = self.batch_size_for(key[0])
                    bucket = buckets.setdefault(key, [])
                    bucket.append(item)
                    if len(bucket) >= limits[key]:
                        finish(buckets.pop(key))
                # A rare size must not hold back the stream: flush the oldest waiting bucket.
                if buckets and item.index - next(iter(buckets.values()))[0].index > 4 * _MAX_AUTO_BATCH:
                    finish(buckets.popitem(last=False)[1])
                while next_out in done:
                    yield done.pop(next_out)
                    next_out += 1
            for bucket in buckets.values():
                finish(bucket)
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
        self.stats.pairs += len(pairs)
        self.stats.seconds += time.perf_counter() - started



@dataclass
class _Scored:
    """One pair's metric values, errors (an error row when any) and notes."""

    values: dict[str, float]
    errors: list[str]
    notes: list[str] = field(default_factory=list)


def _result(pair: Pair, item: Decoded, outcome: _Scored) -> PairResult:
    return PairResult(
        key=pair.key,
        reference=None if pair.reference is None else str(pair.reference),
        candidate=str(pair.candidate),
        metrics=outcome.values,
        error="; ".join(outcome.errors) or None,
        notes=item.notes + tuple(outcome.notes),
    )
