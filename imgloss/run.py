"""What a scoring command does between the CLI's parsing and the engine.

Pair the inputs, build the evaluator (weights are checked before any work), stream
results into a writer, summarise, and decide the exit code (0 all scored, 3 some
pairs unreadable or unmatched). ``compare``, ``score`` and ``check`` share it. It
returns data and calls back; printing is the CLI's job. Torch loads on first call.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from imgloss.errors import EXIT_OK, InputError, OutputError, UsageError
from imgloss.io import Pair, Pairing, list_inputs, pair_inputs
from imgloss.io.masks import IgnoreRule, MaskSpec, Rect, attach_masks, parse_rect, read_mask
from imgloss.engine.options import EngineOptions
from imgloss.metrics.registry import PRESETS, parse_metric_specs
from imgloss.options import ENGINE, MASKING, PAIRING, SCALE, defaults
from imgloss.report.output import check_destination
from imgloss.report.summary import RunInfo, Summary, summarize
from imgloss.report.writers import Writer
from imgloss.results import PairResult
from imgloss.scale.shard import Shard, restrict
from imgloss.signals import check as check_stop

#: Options the reports leave out: where the device and the weights are is said elsewhere.
_NOT_REPORTED = ("device", "max_pixels", "weights", "max_memory")


@dataclass
class ScoreRequest:
    """A scoring run as the user asked for it: paths, metric specs (``ssim``,
    ``perceptual:johnson``, ``ssim,psnr``), and ``options`` by name: the engine's
    (:data:`imgloss.options.ENGINE`) and the pairing's (:data:`imgloss.options.PAIRING`);
    the scale-out ones (:data:`imgloss.options.SCALE`) and the masks' (:data:`imgloss.options.MASKING`);
    any left out take their declared default. ``ignore_rules``: ``[tool.imgloss]``'s ``ignore``."""

    candidate: Path
    reference: Path | None = None
    metrics: Sequence[str] = ()
    preset: str | None = None
    ssim_convention: str = "imgloss"
    output: Path | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    ignore_rules: Sequence[IgnoreRule] = ()


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
    #: The report could not be written after the work (the results were kept elsewhere).
    output_error: OutputError | None = None


def prepare(request: ScoreRequest, default_metrics: Sequence[str]) -> Prepared:
    """Validate, pair the inputs and build the evaluator. Raises ImglossError subclasses."""
    from imgloss.engine.device import describe_device
    from imgloss.engine.evaluator import Evaluator

    check_destination(request.output)
    options = {**defaults((*ENGINE, *PAIRING, *SCALE, *MASKING)), **request.options}
    shard = None if options["shard"] is None else Shard.parse(options["shard"])
    metrics = parse_metric_specs(request.metrics or default_metrics, request.preset,
                                 {"ssim": request.ssim_convention})
    if request.preset is not None and not any(m.preset == request.preset for m in metrics):
        owners = [name for name, presets in PRESETS.items() if request.preset in presets]
        raise UsageError(
            f"--preset {request.preset} applies to {', '.join(owners) or 'no metric'} "
            f"(presets: {', '.join(f'{m}:{p}' for m, ps in PRESETS.items() for p in ps)}), "
            "and no requested metric takes it"
        )
    pairing_options = {name: options[name] for name in PAIRING}
    if request.reference is None:
        needing = [m.column for m in metrics if m.info.needs_reference]
        if needing:
            verb = "needs" if len(needing) == 1 else "need"
            raise UsageError(f"{', '.join(needing)} {verb} a reference image; score takes no-reference metrics (tv)")
        del pairing_options["ignore_extension"]
        pairing = list_inputs(request.candidate, **pairing_options)
    else:
        pairing = pair_inputs(request.reference, request.candidate, **pairing_options)
    pairing, scope = restrict(pairing, shard, request.reference, request.candidate)
    masks_shown = None
    if request.reference is not None:
        files, rects, masks_shown = _masking(options, request.ignore_rules)
        pairing.pairs = attach_masks(pairing.pairs, request.ignore_rules, files, rects)
    engine_options = EngineOptions(metrics=metrics, **{name: options[name] for name in ENGINE})
    if options["backend"] == "ray":
        from imgloss.scale.ray_runner import RayEvaluator

        evaluator: Any = RayEvaluator(engine_options, options["address"])
        device = evaluator.description
    else:
        evaluator = Evaluator(engine_options)
        device = describe_device(evaluator.device)
    higher = evaluator.columns(with_reference=request.reference is not None)
    shown = {name: options[name] for name in (*ENGINE, *PAIRING) if name not in _NOT_REPORTED}
    info = RunInfo(
        columns=list(higher),
        higher_is_better=higher,
        device=device,
        options={
            "metrics": [m.column for m in metrics],
            "preset": request.preset,
            "ssim_convention": request.ssim_convention,
            **shown,
            "shard": scope,
            **({"masks": masks_shown} if masks_shown else {}),
            "reference": None if request.reference is None else str(request.reference),
            "candidate": str(request.candidate),
        },
        warnings=_weights_warnings(metrics),
        unmatched=[str(p) for p in pairing.unmatched_reference + pairing.unmatched_candidate],
        unsupported=[str(p) for p in pairing.unsupported],
    )
    if options["resume"] is not None:
        from imgloss.scale.resume import Resumed

        evaluator = Resumed.open(options["resume"], evaluator, info, pairing, request.reference, request.candidate)
    return Prepared(evaluator, list(pairing.pairs), pairing, info)


def _masking(
    options: Mapping[str, Any], rules: Sequence[IgnoreRule]
) -> tuple[tuple[Path, ...], tuple[Rect, ...], dict[str, Any] | None]:
    """``--mask`` and ``--ignore`` checked: the mask files and rectangles of every pair,
    and what the report shows of them with the ``ignore`` rules (None when there is
    none of the three; mask files beside golden files apply regardless)."""
    mask: Path | None = options.get("mask")
    if mask is not None and not mask.is_file():
        raise UsageError(f"--mask {mask}: no such file")
    files = () if mask is None else (mask,)
    rects = tuple(parse_rect(text, "--ignore") for text in options.get("ignore") or ())
    if not (files or rects or rules):
        return files, rects, None
    shown = {
        "mask": None if mask is None else str(mask),
        "ignore": [str(rect) for rect in rects],
        "rules": [{"path": rule.glob, "rects": [str(rect) for rect in rule.rects]} for rule in rules],
    }
    return files, rects, shown


def _weights_warnings(metrics: Sequence[Any]) -> list[str]:
    """The report's warning for test-only unverified VGG weights (the weights code loads
    only when a metric needs weights)."""
    if not any(m.info.needs_weights for m in metrics):
        return []
    from imgloss.weights import unverified_in_use

    return [f"unverified VGG weights in use: {p}" for p in unverified_in_use()]


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
            check_stop()
    except BaseException:
        writer.abort()
        raise
    pairing = prepared.pairing
    # Files of unsupported types in the folders count as unmatched: they were not compared.
    unmatched = len(pairing.unmatched_reference) + len(pairing.unmatched_candidate) + len(pairing.unsupported)
    summary = summarize(
        results,
        prepared.info.columns,
        prepared.info.higher_is_better,
        unmatched=unmatched,
        device=prepared.info.device,
        seconds=evaluator.stats.seconds,
    )
    try:
        writer.close(summary)
    except OutputError as exc:
        output_error = exc
    else:
        output_error = None
    # A shard may hold none of a run's pairs; the run as a whole must have some.
    empty = not results and not (prepared.info.options.get("shard") or {}).get("pairs_total")
    failed = summary.failed or unmatched or empty
    code = InputError.exit_code if failed else EXIT_OK
    return Outcome(results, summary, code, prepared.info.unmatched, output_error)


def write_maps(
    folder: Path, result: PairResult, metrics: Sequence[Any], options: Mapping[str, Any],
    mask: MaskSpec | None = None,
) -> list[Path]:
    """Write the map of each of ``metrics`` (MetricSpecs) that has one, for a scored
    pair (:mod:`imgloss.metrics.maps`), and with ``options["breakdown"]`` one map per
    part (tap, W-SSIM term) as ``<key>.<column>-<part>.png``; the images are re-read as
    the engine read them (the candidate resized to the reference when their sizes
    differ). With the pair's ``mask``, the candidate is filled with the reference where
    pixels are ignored (as scoring does) and those pixels have no value (grey). Returns
    the files."""
    from imgloss.io import match_channels, read_image, resize_to
    from imgloss.metrics.maps import MAPPED, metric_maps
    from imgloss.report.maps import map_path, write_map

    wanted = [spec for spec in metrics if spec.info.name in MAPPED]
    if result.error is not None or result.reference is None or not wanted:
        return []

    def read(path: str) -> Any:
        return read_image(path, background=options.get("background", "white"),
                          max_pixels=options.get("max_pixels")).tensor

    x, y = match_channels(read(result.reference), read(result.candidate))
    y = resize_to(y, tuple(x.shape[-2:]))
    keep = None if mask is None else read_mask(mask, *x.shape[-2:], result.reference)
    if keep is not None:
        import torch

        from imgloss.metrics.masks import fill

        y = fill(y, x, torch.from_numpy(keep))
    written = []
    for spec in wanted:
        maps = metric_maps(spec, x[None], y[None], options.get("weights"), bool(options.get("breakdown")))
        for column, (kind, values) in maps.items():
            path = map_path(folder, result.key, column)
            drawn = values.double().cpu().numpy()
            if keep is not None and drawn.shape == keep.shape:
                drawn[~keep] = float("nan")
            write_map(path, drawn, kind, f"{column}: {Path(result.key).name}")
            written.append(path)
    return written

