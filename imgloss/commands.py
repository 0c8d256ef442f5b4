"""What a scoring command does between the CLI's parsing and the engine.

Pair the inputs, build the evaluator (weights are checked before any work), stream
results into a writer, summarise, and decide the exit code (0 all scored, 3 some
pairs unreadable or unmatched). ``compare``, ``score`` and ``check`` share it. It
returns data and calls back; printing is the CLI's job. Torch loads on first call.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Sequence

from imgloss.errors import InputError, UsageError
from imgloss.io import Pair, Pairing, list_images, pair_inputs
from imgloss.metrics.registry import PRESETS
from imgloss.report import RunInfo, Summary, Writer, check_writable, summarize
from imgloss.results import PairResult

#: Exit codes decided here; usage (2) and weights (4) come with their exceptions.
EXIT_OK, EXIT_FAILED_CHECK, EXIT_INPUT = 0, 1, InputError.exit_code


@dataclass
class ScoreRequest:
    """A scoring run as the user asked for it (paths, metric specs, engine options)."""

    candidate: Path
    reference: Path | None = None
    metrics: Sequence[str] = ()
    preset: str | None = None
    device: str = "auto"
    batch_size: int | None = None
    workers: int | None = None
    precision: str = "fp32"
    resize: str = "none"
    background: str = "white"
    max_pixels: int | None = None
    weights: str | None = None
    recursive: bool = True
    glob: str | None = None
    ignore_extension: bool = False
    output: Path | None = None


@dataclass
class Prepared:
    """Everything resolved before the first pair is decoded."""

    evaluator: Any
    pairs: list[Pair]
    pairing: Pairing
    info: RunInfo


@dataclass
class Outcome:
    """A finished run: every result, the summary and the exit code."""

    results: list[PairResult]
    summary: Summary
    exit_code: int
    unmatched: list[str] = field(default_factory=list)


def split_metric_specs(specs: Sequence[str]) -> list[str]:
    """``-m ssim -m wssim,psnr`` -> ``["ssim", "wssim", "psnr"]`` (order kept, no repeats)."""
    names = [part.strip() for spec in specs for part in spec.split(",") if part.strip()]
    return list(dict.fromkeys(names))


def prepare(request: ScoreRequest, default_metrics: Sequence[str]) -> Prepared:
    """Validate, pair the inputs and build the evaluator. Raises ImglossError subclasses."""
    from imgloss.engine import EngineOptions, Evaluator, MetricRequest
    from imgloss.weights import unverified_in_use

    if request.output is not None:
        check_writable(request.output)
    specs = split_metric_specs(request.metrics) or list(default_metrics)
    metrics = tuple(MetricRequest.parse(spec, request.preset) for spec in specs)
    if request.preset is not None and not any(m.preset == request.preset for m in metrics):
        owners = [name for name, presets in PRESETS.items() if request.preset in presets]
        raise UsageError(
            f"--preset {request.preset} applies to {', '.join(owners) or 'no metric'} "
            f"(presets: {', '.join(f'{m}:{p}' for m, ps in PRESETS.items() for p in ps)}), "
            "and no requested metric takes it"
        )
    if request.reference is None:
        needing = [m.column for m in metrics if m.info.needs_reference]
        if needing:
            verb = "needs" if len(needing) == 1 else "need"
            raise UsageError(f"{', '.join(needing)} {verb} a reference image; score takes no-reference metrics (tv)")
        pairing = Pairing(list_images(request.candidate, recursive=request.recursive, glob=request.glob), [], [])
    else:
        pairing = pair_inputs(
            request.reference,
            request.candidate,
            recursive=request.recursive,
            glob=request.glob,
            ignore_extension=request.ignore_extension,
        )
    # The request carries every engine option under the engine's own name.
    engine_fields = [f.name for f in fields(EngineOptions) if f.name != "metrics"]
    options = EngineOptions(metrics=metrics, **{name: getattr(request, name) for name in engine_fields})
    evaluator = Evaluator(options)
    higher = evaluator.columns(with_reference=request.reference is not None)
    columns = list(higher)
    info = RunInfo(
        columns=columns,
        higher_is_better=higher,
        device=describe_device(evaluator.device),
        options={
            "metrics": [m.column for m in metrics],
            "preset": request.preset,
            "precision": request.precision,
            "resize": request.resize,
            "background": request.background,
            "batch_size": request.batch_size,
            "workers": request.workers,
            "recursive": request.recursive,
            "glob": request.glob,
            "ignore_extension": request.ignore_extension,
            "reference": None if request.reference is None else str(request.reference),
            "candidate": str(request.candidate),
        },
        warnings=[f"unverified VGG weights in use: {p}" for p in unverified_in_use()],
        unmatched=[str(p) for p in pairing.unmatched_reference + pairing.unmatched_candidate],
    )
    return Prepared(evaluator, list(pairing.pairs), pairing, info)


def describe_device(device: Any) -> str:
    """``cpu``, or ``cuda:0 (NVIDIA H100 80GB HBM3)``."""
    if device.type == "cuda":
        import torch

        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return str(device)


def execute(
    prepared: Prepared,
    writer: Writer,
    on_result: Callable[[PairResult], None] = lambda result: None,
) -> Outcome:
    """Score every pair, streaming each result to ``writer`` and ``on_result``."""
    results: list[PairResult] = []
    evaluator = prepared.evaluator
    try:
        for result in evaluator.run(prepared.pairs):
            results.append(result)
            writer.write(result)
            on_result(result)
    except BaseException:
        writer.abort()
        raise
    pairing = prepared.pairing
    unmatched = len(pairing.unmatched_reference) + len(pairing.unmatched_candidate)
    summary = summarize(
        results,
        prepared.info.columns,
        prepared.info.higher_is_better,
        unmatched=unmatched,
        device=prepared.info.device,
        seconds=evaluator.stats.seconds,
    )
    writer.close(summary)
    failed = summary.failed or unmatched or not results
    return Outcome(results, summary, EXIT_INPUT if failed else EXIT_OK, prepared.info.unmatched)
