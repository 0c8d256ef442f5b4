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
import warnings
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from imgloss.errors import InputError, UsageError
from imgloss.io import LoadedImage, Pair, match_channels, read_image, resize_to
from imgloss.metrics.registry import PRESETS, MetricInfo, get_metric, get_preset
from imgloss.metrics.vgg_loss import FeatureLoss, run_feature_losses
from imgloss.results import PairResult

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
RESIZE_MODES = ("none", "reference", "candidate")
#: Fewer pairs than this are decoded in the main process (worker start-up costs more).
SMALL_JOB = 8


@dataclass(frozen=True)
class MetricRequest:
    """One column to compute: a registry metric, optionally with a VGG preset.

    ``column`` is the name in reports: the metric name, or ``name:preset`` when the
    user asked for a preset in the metric spec (``-m perceptual:johnson``).
    """

    column: str
    info: MetricInfo
    preset: str | None = None

    @classmethod
    def parse(cls, spec: str, default_preset: str | None = None) -> "MetricRequest":
        """Parse ``name`` or ``name:preset``; unknown names raise with suggestions."""
        name, _, preset = spec.strip().partition(":")
        info = get_metric(name.strip().lower())
        preset = preset.strip() or None
        if preset is None and default_preset in PRESETS.get(info.name, {}):
            preset = default_preset
        if preset is not None:
            get_preset(info.name, preset)  # validates, with a suggestion
        column = f"{info.name}:{preset}" if ":" in spec else info.name
        return cls(column, info, preset)

    @property
    def reference_column(self) -> str:
        """The column of a no-reference metric's value on the reference: ``tv_ref``."""
        return self.column.replace(self.info.name, f"{self.info.name}_ref", 1)


@dataclass(frozen=True)
class EngineOptions:
    """Everything that changes how pairs are read and scored."""

    metrics: tuple[MetricRequest, ...]
    device: str = "auto"
    batch_size: int | None = None
    workers: int | None = None
    precision: str = "fp32"
    resize: str = "none"
    background: str = "white"
    max_pixels: int | None = None
    weights: str | None = None


def resolve_device(spec: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; an unavailable device is a UsageError."""
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise UsageError(f"unknown device {spec!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"device {spec!r} requested but CUDA is not available here")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(f"device {spec!r} does not exist ({torch.cuda.device_count()} CUDA device(s))")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError("device 'mps' requested but MPS is not available here")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise UsageError(f"unsupported device {spec!r}; use auto, cpu, cuda, cuda:N or mps")
    return device


def default_workers(n_pairs: int, device: torch.device) -> int:
    """Decoding workers: none for tiny jobs; with a GPU, cores - 1 (decoding is the
    bottleneck there); on the CPU, cores // 8 (at least 1), as the metrics need the
    other cores (measured: 15 workers beside 16 compute threads were 10% slower than none)."""
    if n_pairs < SMALL_JOB:
        return 0
    cores = os.cpu_count() or 1
    wanted = cores - 1 if device.type != "cpu" else max(1, cores // 8)
    return max(0, min(cores - 1, wanted, n_pairs // 2))


@contextmanager
def _cpu_threads_beside(workers: int, device: torch.device) -> Iterator[None]:
    """On the CPU, leave one core per decoding worker: torch computes on the rest."""
    threads = torch.get_num_threads()
    share = device.type == "cpu" and workers > 0
    if share:
        torch.set_num_threads(max(1, min(threads, (os.cpu_count() or 1) - workers)))
    try:
        yield
    finally:
        if share:
            torch.set_num_threads(threads)


# --------------------------------------------------------------------------- decoding


@dataclass
class _Decoded:
    """What a worker hands back: tensors (C x H x W) or the reason the pair failed."""

    index: int
    x: Tensor | None = None
    y: Tensor | None = None
    notes: tuple[str, ...] = ()
    error: str | None = None


class _PairDataset(Dataset):
    """Decodes pair ``i`` (runs inside DataLoader workers)."""

    def __init__(self, pairs: Sequence[Pair], options: EngineOptions) -> None:
        self.pairs = pairs
        self.options = options

    def __len__(self) -> int:
        return len(self.pairs)

    def _read(self, path: Any) -> LoadedImage:
        return read_image(path, background=self.options.background, max_pixels=self.options.max_pixels)

    def __getitem__(self, index: int) -> _Decoded:
        pair = self.pairs[index]
        try:
            y = self._read(pair.candidate)
            if pair.reference is None:
                return _Decoded(index, None, y.tensor, y.notes)
            x = self._read(pair.reference)
            return _Decoded(index, *self._align(pair, x, y))
        except InputError as exc:
            return _Decoded(index, error=str(exc))
        except Exception as exc:  # a pair must never stop the run
            return _Decoded(index, error=f"{pair.candidate}: cannot decode: {type(exc).__name__}: {exc}")

    def _align(self, pair: Pair, x: LoadedImage, y: LoadedImage) -> tuple[Tensor, Tensor, tuple[str, ...]]:
        """Match channels (gray -> RGB) and sizes (error, or resize one side)."""
        notes = [f"reference: {n}" for n in x.notes] + [f"candidate: {n}" for n in y.notes]
        xt, yt = match_channels(x.tensor, y.tensor)
        (_, hx, wx), (_, hy, wy) = xt.shape, yt.shape
        if (hx, wx) != (hy, wy):
            if self.options.resize == "candidate":
                yt = resize_to(yt, (hx, wx))
                notes.append(f"candidate resized {wy}x{hy} -> {wx}x{hx}")
            elif self.options.resize == "reference":
                xt = resize_to(xt, (hy, wy))
                notes.append(f"reference resized {wx}x{hx} -> {wy}x{hy}")
            else:
                raise InputError(
                    pair.candidate,
                    f"size mismatch: reference {wx}x{hx}, candidate {wy}x{hy} (use --resize candidate|reference)",
                )
        return xt, yt, tuple(notes)


def _exact_fp32(exact: bool) -> Any:
    """Turn off cuDNN's TF32 convolutions (on by default, ~1e-3 relative error) while
    scoring in fp32: reported numbers match the CPU; --precision bf16/fp16 trades that."""
    cudnn = torch.backends.cudnn
    return cudnn.flags(
        enabled=cudnn.enabled,
        benchmark=cudnn.benchmark,
        deterministic=cudnn.deterministic,
        allow_tf32=cudnn.allow_tf32 and not exact,
    )


def _out_of_memory(exc: BaseException) -> bool:
    """CUDA raises ``torch.OutOfMemoryError``; the CPU allocator a plain RuntimeError."""
    return isinstance(exc, torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)
    )


def _to_device(images: list[Tensor], device: torch.device) -> Tensor:
    """Stack same-size ``C x H x W`` images into a batch on ``device``; for CUDA the
    batch is assembled in pinned memory so the copy runs asynchronously."""
    if device.type != "cuda":
        return torch.stack(images).to(device)
    batch = torch.empty((len(images), *images[0].shape), dtype=images[0].dtype, pin_memory=True)
    torch.stack(images, out=batch)
    return batch.to(device, non_blocking=True)


@contextmanager
def _quiet_worker_count() -> Iterator[None]:
    """An explicit --workers above the core count is the user's call: torch's multi-line
    DataLoader warning about it would only clutter stderr."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="This DataLoader will create")
        yield


def _worker_init(_: int) -> None:
    """Decoding workers use one thread each; the main process keeps the rest."""
    torch.set_num_threads(1)


# --------------------------------------------------------------------------- scoring


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
        if not options.metrics:
            raise UsageError("no metrics requested")
        if options.precision not in PRECISIONS:
            raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}, got {options.precision!r}")
        if options.resize not in RESIZE_MODES:
            raise UsageError(f"resize must be one of {', '.join(RESIZE_MODES)}, got {options.resize!r}")
        if options.background not in ("white", "black"):
            raise UsageError(f"background must be white or black, got {options.background!r}")
        if options.batch_size is not None and options.batch_size < 1:
            raise UsageError(f"batch size must be at least 1, got {options.batch_size}")
        if options.workers is not None and options.workers < 0:
            raise UsageError(f"workers must be 0 or more, got {options.workers}")
        self.device = resolve_device(options.device)
        self.dtype = PRECISIONS[options.precision]
        self._check_precision()
        self.stats = RunStats()
        self._plain = [(r, r.info.load_function()) for r in options.metrics if not r.info.needs_weights]
        self._feature = [r for r in options.metrics if r.info.needs_weights]
        self._feature_losses: list[FeatureLoss] = [
            r.info.load_loss()(preset=r.preset or "default", reduction="none", weights=options.weights)
            for r in self._feature
        ]
        if self._feature_losses:
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
        """Report columns in order, each with ``higher_is_better``; a no-reference metric
        such as TV adds its ``_ref`` column (the reference's value) beside the candidate's."""
        columns: dict[str, bool] = {}
        for request in self.options.metrics:
            columns[request.column] = request.info.higher_is_better
            if not request.info.needs_reference and with_reference:
                columns[request.reference_column] = request.info.higher_is_better
        return columns

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
            autocast = torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32)
            try:
                with autocast:
                    outputs = run_feature_losses(self._feature_losses, x, y)
            except ValueError as exc:
                failures.append(f"{', '.join(r.column for r in self._feature)}: {exc}")
            else:
                values.update({r.column: v for r, v in zip(self._feature, outputs)})
        return values, failures

    def _score(self, items: list[_Decoded], device: torch.device) -> list[_Scored]:
        """Score a same-size batch on ``device``; one :class:`_Scored` per item."""
        y = _to_device([item.y for item in items], device)  # type: ignore[misc]
        x = None if items[0].x is None else _to_device([item.x for item in items], device)  # type: ignore[misc]
        with torch.inference_mode(), _exact_fp32(self.dtype == torch.float32):
            values, failures = self._metric_values(x, y)
        names = list(values)
        table = torch.stack([values[n].to(torch.float64) for n in names]).cpu().tolist() if names else []
        return [_Scored({n: table[j][i] for j, n in enumerate(names)}, failures) for i in range(len(items))]

    def _score_with_retry(self, items: list[_Decoded]) -> list[_Scored]:
        """Halve the batch on out-of-memory; a single pair falls back to the CPU. Any
        other failure of a batch becomes error rows for its pairs: the run goes on."""
        try:
            return self._score(items, self.device)
        except Exception as exc:
            if not _out_of_memory(exc):
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
        with _quiet_worker_count():
            loader = DataLoader(
                _PairDataset(pairs, self.options),
                batch_size=None,
                num_workers=workers,
                worker_init_fn=_worker_init if workers else None,
                prefetch_factor=4 if workers else None,
                collate_fn=_identity,
            )
        buckets: OrderedDict[tuple[Any, ...], list[_Decoded]] = OrderedDict()
        limits: dict[tuple[Any, ...], int] = {}  # batch size per image size, sized once per run
        done: dict[int, PairResult] = {}
        next_out = 0

        def finish(batch: list[_Decoded]) -> None:
            tick = time.perf_counter()
            scored = self._score_with_retry(batch)
            self.stats.compute_seconds += time.perf_counter() - tick
            self.stats.batches += 1
            for item, outcome in zip(batch, scored):
                pair = pairs[item.index]
                # Metric failures name the file, as decoding failures do.
                outcome.errors = [f"{pair.candidate}: {error}" for error in outcome.errors]
                done[item.index] = _result(pair, item, outcome)

        with _cpu_threads_beside(workers, self.device):
            with _quiet_worker_count():
                iterator = iter(loader)
            while True:
                tick = time.perf_counter()
                item = next(iterator, None)
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


def _result(pair: Pair, item: _Decoded, outcome: _Scored) -> PairResult:
    return PairResult(
        key=pair.key,
        reference=None if pair.reference is None else str(pair.reference),
        candidate=str(pair.candidate),
        metrics=outcome.values,
        error="; ".join(outcome.errors) or None,
        notes=item.notes + tuple(outcome.notes),
    )


def _identity(item: _Decoded) -> _Decoded:
    return item
