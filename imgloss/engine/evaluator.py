"""The one batched evaluation core behind every command (compare, score, check).

Owns: choosing the device, decoding pairs in DataLoader worker processes (integer
samples, stacked by size in the workers, :mod:`.loader`), grouping them into batches,
running each requested metric (and at most one VGG forward per network) once per
batch, halving a batch on out-of-memory, scoring images larger than the memory budget
in exact tiles (:mod:`.tiling`), and turning every failure into an error row so the run
goes on. Results come out as an iterator of :class:`PairResult`, in input order.

On CUDA nothing waits on the GPU per batch: values are copied back asynchronously into
pinned memory and read one batch later, while the next batch computes.

It reads files only through ``imgloss.io`` and prints nothing: the CLI renders.
"""
from __future__ import annotations

import os  # noqa: F401 - tests patch engine.os.cpu_count (default_workers reads it)
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from imgloss.engine.device import (
    cpu_threads_beside, default_workers, exact_fp32, memory_budget, out_of_memory, resolve_device, to_device,
)
from imgloss.engine.gpu_decode import decode_on_device
from imgloss.engine.loader import CHUNK, Decoded, Group, PairDataset, chunks, collate, quiet_worker_count, unstack
from imgloss.engine.workers import WorkerSlots, decoded_pairs, worker_init
from imgloss.engine.options import EngineOptions
from imgloss.engine.tiling import TiledScorer, pair_bytes
from imgloss.errors import UsageError
from imgloss.io import Pair
from imgloss.metrics.registry import report_columns
from imgloss.options import PRECISIONS
from imgloss.results import PairResult
from imgloss.signals import check as check_stop

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
        self._plain = [(r, r.load_function()) for r in options.metrics if not r.info.needs_weights]
        self._feature = [r for r in options.metrics if r.info.needs_weights]
        self._feature_losses: list[FeatureLoss] = [
            r.info.load_loss()(
                preset=r.preset or "default", reduction="none", weights=options.weights, device=self.device
            )
            for r in self._feature
        ]
        if self._feature_losses:
            from imgloss.metrics.feature_loss import run_feature_losses

            # Builds (and caches) each network now: weights problems stop the run here.
            probe = torch.zeros(1, 3, 32, 32, device=self.device)
            with torch.inference_mode():
                run_feature_losses(self._feature_losses, probe, probe)
        self.budget = memory_budget(self.device, options.memory_bytes)
        self.tiles = TiledScorer(self._plain, self._feature, self._feature_losses, self.dtype)

    def _check_precision(self) -> None:
        if self.dtype == torch.float16 and self.device.type == "cpu":
            raise UsageError("--precision fp16 needs a GPU; on the CPU use fp32 or bf16")
        if self.dtype == torch.bfloat16 and self.device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise UsageError("--precision bf16 is not supported by this GPU; use fp16 or fp32")

    def columns(self, with_reference: bool = True) -> dict[str, bool]:
        """Report columns in order, each with ``higher_is_better`` (see :func:`report_columns`)."""
        return report_columns(self.options.metrics, with_reference, self.options.breakdown)

    # ---------------------------------------------------------------- one batch

    def _metric_values(
        self, reference: Tensor | None, candidate: Tensor, mask: Tensor | None = None
    ) -> tuple[dict[str, Tensor], list[str]]:
        """Every column for one same-size batch, and per-metric failures. Metrics are
        called as ``(prediction, target)`` = ``(candidate, reference)``; with ``mask``
        (``N x 1 x H x W``, 1 = compared) by the rules of :mod:`imgloss.metrics.masks`."""
        values: dict[str, Tensor] = {}
        failures: list[str] = []
        for request, function in self._plain:
            try:
                if request.info.needs_reference:
                    values[request.column] = _value(request, function, candidate, reference, mask)
                else:
                    values[request.column] = _value(request, function, candidate, None, mask)
                    if reference is not None:
                        values[request.reference_column] = _value(request, function, reference, None, mask)
            except ValueError as exc:
                failures.append(f"{request.column}: {exc}")
        if mask is not None and reference is not None:
            from imgloss.metrics.masks import fill

            candidate = fill(candidate, reference, mask)
        if self._feature_losses and reference is not None:
            from imgloss.metrics.feature_loss import run_feature_terms

            autocast = torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32)
            try:
                with autocast:
                    outputs = run_feature_terms(self._feature_losses, candidate, reference)
            except ValueError as exc:
                failures.append(f"{', '.join(r.column for r in self._feature)}: {exc}")
            else:
                for request, terms in zip(self._feature, outputs):
                    values[request.column] = terms.pop("total")
                    if self.options.breakdown:
                        values.update({f"{request.column}/{tap}": value for tap, value in terms.items()})
        return values, failures

    def _inputs(self, group: Group, device: torch.device) -> tuple[Group, Tensor | None, Tensor, dict[int, _Scored]]:
        """The group's float batches on ``device``; GPU-decoded JPEGs that neither decoder
        could read leave the group as error rows (returned by index). Masked pairs are
        never handed over encoded (:class:`PairDataset`)."""
        if not isinstance(group.y, list):
            x = None if group.x is None else to_device(group.x, device)  # type: ignore[arg-type]
            return group, x, to_device(group.y, device), {}
        sides = [s for s in (group.x, group.y) if s is not None]
        decoded = [decode_on_device(side, device, PairDataset((), self.options).read) for side in sides]  # type: ignore[arg-type]
        failed: dict[int, _Scored] = {}
        keep = []
        for i, index in enumerate(group.indices):
            errors = [d[i][1] for d in decoded if d[i][0] is None]
            if errors:
                failed[index] = _Scored({}, [e for e in errors if e])
            else:
                keep.append(i)
                group.notes[i] += tuple(d[i][1] for d in decoded if d[i][1])  # type: ignore[misc]
        batches = [torch.stack([d[i][0] for i in keep]) for d in decoded]  # type: ignore[misc]
        kept = Group(group.key, [group.indices[i] for i in keep], [group.notes[i] for i in keep], None, [])
        floats = [to_device(b, device) for b in batches]
        return kept, (floats[0] if len(floats) == 2 else None), floats[-1], failed

    def _score(self, group: Group, device: torch.device) -> _Pending:
        """Launch a same-size batch on ``device``; its values come back asynchronously."""
        group, x, y, failed = self._inputs(group, device)
        mask = None if group.mask is None else group.mask.to(device, non_blocking=True)[:, None]
        values: dict[str, Tensor] = {}
        failures: list[str] = []
        if len(group):
            with torch.inference_mode(), exact_fp32(self.dtype == torch.float32):
                values, failures = self._metric_values(x, y, mask)
        return _Pending(group, list(values), _copy_back(values), failures, failed)

    def _score_with_retry(self, group: Group) -> list[_Pending]:
        """Halve the batch on out-of-memory; a single pair is tiled (when larger than one
        tile) or, on a GPU, moved to the CPU. Any other failure of a batch becomes error
        rows for its pairs: the run goes on."""
        try:
            return [self._score(group, self.device)]
        except Exception as exc:
            if not out_of_memory(exc):
                return [_failed(group, f"cannot score: {type(exc).__name__}: {exc}")]
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            if len(group) > 1:
                head, tail = group.split(len(group) // 2)
                return self._score_with_retry(head) + self._score_with_retry(tail)
            if isinstance(group.y, Tensor) and self.tiles.can_tile(tuple(group.y.shape[1:]), group.mask is not None):
                return [self._tiled(group, self.budget // 4)]
            if self.device.type == "cpu":
                return [_failed(group, "out of memory even for a single pair on the CPU")]
            pending = self._score(group, torch.device("cpu"))
            pending.notes.append("out of GPU memory: scored on the CPU")
            return [pending]

    def _tiled(self, group: Group, budget: int) -> _Pending:
        """One pair larger than the budget, scored tile by tile (exact)."""
        x = None if group.x is None else group.x[0]  # type: ignore[index]
        mask = None if group.mask is None else group.mask[0]
        try:
            with torch.inference_mode(), exact_fp32(self.dtype == torch.float32):
                values, failures, tile = self.tiles.score(x, group.y[0], self.device, budget, mask)  # type: ignore[index]
        except Exception as exc:
            reason = "out of memory even per tile" if out_of_memory(exc) else f"cannot score: {type(exc).__name__}: {exc}"
            return _failed(group, reason)
        pending = _Pending(group, list(values), _copy_back({k: v.reshape(1) for k, v in values.items()}), failures, {})
        pending.notes.append(f"scored in tiles of {tile}x{tile} px (exact)")
        return pending

    # ---------------------------------------------------------------- batching

    def tiled(self, shape: tuple[int, ...], masked: bool = False) -> bool:
        """Whether a ``C x H x W`` pair (``masked``: with a mask) is over the memory budget
        and can be tiled."""
        return pair_bytes(shape, bool(self._feature_losses)) > self.budget and self.tiles.can_tile(shape, masked)

    def batch_size_for(self, shape: tuple[int, ...]) -> int:
        """``--batch-size``, or as many pairs of this size as the memory budget holds;
        on the CPU also no more than ``_CPU_BATCH_PIXELS`` pixels per batch (large CPU
        batches only thrash the cache: per-pair time grows with the batch)."""
        per_pair = pair_bytes(shape, bool(self._feature_losses))
        if self.options.batch_size is not None:
            return self.options.batch_size
        limit = _MAX_AUTO_BATCH
        if self.device.type != "cuda":
            limit = min(limit, _CPU_BATCH_PIXELS // (shape[-1] * shape[-2]))
        return int(max(1, min(limit, self.budget // max(per_pair, 1))))

    def _loader(self, pairs: Sequence[Pair], workers: int, slots: WorkerSlots | None = None,
                indices: Sequence[int] | None = None) -> Iterator[Decoded]:
        """Decoded pairs of ``indices`` (default: all): workers decode and stack runs of
        ``CHUNK`` pairs; they arrive here one item per pair (views into the stacks)."""
        cuda = self.device.type == "cuda"
        with quiet_worker_count():
            loader = DataLoader(
                PairDataset(pairs, self.options, gpu_jpeg=cuda, slots=slots),
                batch_sampler=chunks(range(len(pairs)) if indices is None else indices, CHUNK if workers else 1),
                num_workers=workers,
                worker_init_fn=worker_init if workers else None,
                prefetch_factor=2 if workers else None,
                collate_fn=collate,
                pin_memory=cuda,
            )
            chunks_in = iter(loader)  # starts the workers (inside the warning filter)
        return (item for chunk in chunks_in for item in unstack(chunk))

    def run(self, pairs: Sequence[Pair], decoded: Iterable[Decoded] | None = None) -> Iterator[PairResult]:
        """Score ``pairs``; yields one :class:`PairResult` per pair, in input order.

        ``decoded``: the pairs already decoded elsewhere (one item per pair, ``index``
        into ``pairs``; the Ray runner's CPU tasks), in place of the DataLoader."""
        started = time.perf_counter()
        workers = default_workers(len(pairs), self.device) if self.options.workers is None else self.options.workers
        workers = 0 if decoded is not None else workers
        slots = WorkerSlots(workers)

        def loader(indices: Sequence[int], workers: int) -> Iterator[Decoded]:
            return self._loader(pairs, workers, slots, indices)

        def died(index: int, reason: str) -> Decoded:
            return Decoded(index, error=f"{pairs[index].candidate}: {reason} while decoding this pair "
                                        "(the run went on with a fresh worker)")
        buckets: OrderedDict[tuple[Any, ...], list[Group]] = OrderedDict()
        limits: dict[tuple[Any, ...], int] = {}  # batch size per key, sized once per run
        in_flight: deque[_Pending] = deque()
        done: dict[int, PairResult] = {}
        next_out = 0

        def collect(keep: int) -> None:
            """Read back every launched batch but the newest ``keep``."""
            while len(in_flight) > keep:
                pending = in_flight.popleft()
                for index, outcome in pending.results():
                    pair = pairs[index]
                    # Metric failures name the file, as decoding failures do.
                    outcome.errors = [e if e.startswith(str(pair.candidate)) or e.startswith(str(pair.reference))
                                      else f"{pair.candidate}: {e}" for e in outcome.errors]
                    done[index] = _result(pair, pending.notes_of(index), outcome)

        def finish(group: Group) -> None:
            check_stop()  # a safe point per batch (SIGINT/SIGTERM, imgloss.signals)
            tick = time.perf_counter()
            limit = limits[group.key]
            launched = self._score_with_retry(group) if limit else [self._tiled(group, self.budget)]
            self.stats.compute_seconds += time.perf_counter() - tick
            self.stats.batches += 1
            in_flight.extend(launched)
            collect(1 if self.device.type == "cuda" else 0)

        with cpu_threads_beside(workers, self.device):
            items = iter(decoded) if decoded is not None else decoded_pairs(range(len(pairs)), workers, loader, slots, died)
            while True:
                tick = time.perf_counter()
                item: Decoded | None = next(items, None)
                self.stats.wait_seconds += time.perf_counter() - tick
                if item is None:
                    break
                if item.error is not None:
                    done[item.index] = _result(pairs[item.index], item.notes, _Scored({}, [item.error]))
                else:
                    group = Group(item.key, [item.index], [item.notes], _one(item.x), _one(item.y), _one(item.mask))  # type: ignore[arg-type]
                    if group.key not in limits:
                        shape, encoded, masked = group.key[0][1], group.key[0][0] == "jpeg", group.key[2]
                        tiled = not encoded and self.tiled(shape, masked)
                        limits[group.key] = 0 if tiled else self.batch_size_for(shape)
                    bucket = buckets.setdefault(group.key, [])
                    bucket.append(group)
                    if len(bucket) >= max(1, limits[group.key]):
                        finish(Group.take(buckets.pop(group.key), None)[0])
                # A rare size must not hold back the stream: flush the oldest waiting bucket.
                if buckets and item.index - next(iter(buckets.values()))[0].indices[0] > 4 * _MAX_AUTO_BATCH:
                    finish(Group.take(buckets.popitem(last=False)[1], None)[0])
                while next_out in done:
                    yield done.pop(next_out)
                    next_out += 1
            for bucket in buckets.values():
                finish(Group.take(bucket, None)[0])
            collect(0)
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


def _copy_back(values: dict[str, Tensor]) -> tuple[Tensor | None, Any]:
    """All columns as one float64 ``columns x N`` tensor on the host: on CUDA an
    asynchronous copy into pinned memory, with the event that marks it done."""
    if not values:
        return None, None
    table = torch.stack([v.to(torch.float64) for v in values.values()])
    if table.device.type != "cuda":
        return table, None
    host = torch.empty(table.shape, dtype=table.dtype, pin_memory=True)
    host.copy_(table, non_blocking=True)
    event = torch.cuda.Event()
    event.record()
    return host, event


@dataclass
class _Pending:
    """A launched batch: its pairs, column names, values on their way to the host."""

    group: Group
    names: list[str]
    copy: tuple[Tensor | None, Any]
    failures: list[str]
    failed: dict[int, _Scored]
    notes: list[str] = field(default_factory=list)

    def notes_of(self, index: int) -> tuple[str, ...]:
        where = self.group.indices.index(index) if index in self.group.indices else None
        return (self.group.notes[where] if where is not None else ()) + tuple(self.notes)

    def results(self) -> Iterator[tuple[int, _Scored]]:
        """Wait for the copy (the one sync, a batch late) and give each pair its values."""
        host, event = self.copy
        if event is not None:
            event.synchronize()
        table = host.tolist() if host is not None else []
        for i, index in enumerate(self.group.indices):
            if index not in self.failed:
                yield index, _Scored({n: table[j][i] for j, n in enumerate(self.names)}, list(self.failures))
        yield from self.failed.items()


def _value(request: Any, function: Any, x: Tensor, y: Tensor | None, mask: Tensor | None) -> Tensor:
    """One metric's values for a batch: ``function(x, y)`` (``function(x)`` when ``y`` is
    None), or with ``mask`` the masked value (:func:`imgloss.metrics.masks.masked_value`)."""
    if mask is not None:
        from imgloss.metrics.masks import masked_value

        return masked_value(request, function, x, y, mask)
    return function(x) if y is None else function(x, y)


def _one(side: Any) -> Any:
    """One pair's side as a stack of one (a tensor gets a batch axis; an encoded JPEG a list)."""
    if side is None:
        return None
    return side[None] if isinstance(side, Tensor) else [side]


def _failed(group: Group, reason: str) -> _Pending:
    return _Pending(group, [], (None, None), [], {index: _Scored({}, [reason]) for index in group.indices})


def _result(pair: Pair, notes: tuple[str, ...], outcome: _Scored) -> PairResult:
    return PairResult(
        key=pair.key,
        reference=None if pair.reference is None else str(pair.reference),
        candidate=str(pair.candidate),
        metrics=outcome.values,
        error="; ".join(outcome.errors) or None,
        notes=notes + tuple(outcome.notes),
    )
