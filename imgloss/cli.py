"""The thin Typer app: parse options, call commands/engine/report, map errors to exit codes.

Imports no torch at module level, so ``imgloss --help`` is instant. Expected failures
(``ImglossError``) print one line, ``imgloss: error: ...``, on stderr and exit with
their code: 2 usage, 3 unreadable/unpaired inputs, 4 weights.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Sequence

import typer

from imgloss._version import __version__
from imgloss.cli_common import (
    ENGINE_SETTINGS, Background, BatchSize, ConfigFile, Device, Format, Glob, IgnoreExt, MaxPixels, Metrics, Output,
    Precision, Preset, Quiet, Recursive, Resize, Weights, Workers, check_format, error_line, expected_failures,
    progress_bar, settings_with_config, stderr,
)
from imgloss.cli_check import CHECK_EPILOG, check, report
from imgloss.cli_weights import app as weights_app

if TYPE_CHECKING:
    from imgloss.results import PairResult

app = typer.Typer(
    name="imgloss",
    help="Compare images with restoration and style-transfer losses "
    "(Charbonnier, SSIM, W-SSIM, PSNR, TV, VGG perceptual, Gram style).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


COMPARE_EXAMPLES = """[bold]Examples[/]

  imgloss compare a.png b.png -m perceptual

  imgloss compare refs/ outputs/ -m ssim -m wssim --format csv -o scores.csv

  imgloss compare refs/ outputs/ -m perceptual:johnson --device cuda --precision fp16

Exit codes: 0 all scored, 2 usage, 3 some inputs unreadable or unmatched, 4 VGG weights missing."""


@app.command(epilog=COMPARE_EXAMPLES)
def compare(
    ctx: typer.Context,
    reference: Annotated[Path, typer.Argument(help="Reference image or folder.", show_default=False)],
    candidate: Annotated[Path, typer.Argument(help="Candidate image or folder (paired by relative path).", show_default=False)],
    metric: Metrics = None,
    preset: Preset = None,
    device: Device = "auto",
    batch_size: BatchSize = None,
    workers: Workers = None,
    precision: Precision = "fp32",
    fmt: Format = "table",
    output: Output = None,
    resize: Resize = "none",
    background: Background = "white",
    recursive: Recursive = True,
    glob: Glob = None,
    ignore_extension: IgnoreExt = False,
    weights: Weights = None,
    max_pixels: MaxPixels = None,
    config: ConfigFile = None,
    quiet: Quiet = False,
) -> None:
    """Compare two images, or two folders of images paired by relative path."""
    check_format(fmt)
    raise typer.Exit(run_scoring(ctx, reference=reference, candidate=candidate, preset=preset))


@app.command(epilog="[bold]Example[/]\n\n  imgloss score outputs/ -m tv --format csv")
def score(
    ctx: typer.Context,
    images: Annotated[Path, typer.Argument(help="Image or folder to score.", show_default=False)],
    metric: Metrics = None,
    device: Device = "auto",
    batch_size: BatchSize = None,
    workers: Workers = None,
    fmt: Format = "table",
    output: Output = None,
    background: Background = "white",
    recursive: Recursive = True,
    glob: Glob = None,
    max_pixels: MaxPixels = None,
    config: ConfigFile = None,
    quiet: Quiet = False,
) -> None:
    """Score images alone with no-reference metrics (tv)."""
    check_format(fmt)
    raise typer.Exit(run_scoring(ctx, candidate=images, default_metrics=("tv",)))


def run_scoring(ctx: typer.Context, default_metrics: Sequence[str] | None = None, **fields: Any) -> int:
    """Shared body of compare and score: options over ``[tool.imgloss]``, prepare,
    stream, summarise; returns the exit code. ``fields`` go to the ScoreRequest."""
    from imgloss import commands
    from imgloss.config import load_config
    from imgloss.metrics.registry import DEFAULT_METRICS
    from imgloss.report import make_writer, render_summary

    with expected_failures():
        config = load_config(ctx.params["config"])
        settings = settings_with_config(ctx, config)
        request = commands.ScoreRequest(
            metrics=settings["metric"] or config.metrics,
            **{name: settings[name] for name in ENGINE_SETTINGS if name in settings},
            **fields,
        )
        prepared = commands.prepare(request, default_metrics or DEFAULT_METRICS)
        for path in prepared.info.unmatched:
            error_line(f"{path}: no matching file on the other side (unmatched)", "warning")
        fmt, quiet = settings["fmt"], settings["quiet"]
        writer = make_writer(fmt, prepared.info, request.output)
        with progress_bar(len(prepared.pairs), quiet) as advance:

            def on_result(result: PairResult) -> None:
                advance()
                if result.error:
                    error_line(result.error)

            outcome = commands.execute(prepared, writer, on_result)
        if not prepared.pairs:
            error_line("no image pairs found")
        if fmt != "table" and not quiet:
            render_summary(stderr, prepared.info, outcome.summary)
        return outcome.exit_code


app.command(epilog=CHECK_EPILOG)(check)
app.command()(report)


@app.command("metrics")
def list_metrics() -> None:
    """List every metric and preset: direction, weights, range, source."""
    from rich.table import Table

    from imgloss.metrics.registry import DEFAULT_METRICS, METRICS, PRESETS
    from imgloss.report import stdout_console

    table = Table(header_style="bold")
    for name in ("metric", "better", "needs", "range", "description", "source"):
        table.add_column(name, overflow="fold")
    for info in METRICS.values():
        needs = ", ".join(n for n, flag in (("reference", info.needs_reference), ("weights", info.needs_weights)) if flag)
        low, high = (format_bound(v) for v in info.range)
        default = " (default)" if info.name in DEFAULT_METRICS else ""
        table.add_row(info.name + default, f"{info.arrow} {'higher' if info.higher_is_better else 'lower'}",
                      needs or "-", f"[{low}, {high}]", info.description, info.source)
    console = stdout_console()
    console.print(table)
    presets = Table(header_style="bold")
    for name in ("metric:preset", "backbone", "taps (weight)", "distance", "source"):
        presets.add_column(name, overflow="fold")
    for metric, entries in PRESETS.items():
        for p in entries.values():
            taps = ", ".join(f"{t} ({w:g})" for t, w in zip(p.taps, p.layer_weights))
            presets.add_row(f"{metric}:{p.name}", p.backbone, taps, p.distance, p.source)
    console.print(presets)


def format_bound(value: float) -> str:
    return "inf" if value == float("inf") else f"{value:g}"


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"imgloss {__version__}")
        raise typer.Exit()


app.add_typer(weights_app, name="weights")


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Print the version.")] = False,
) -> None:
    """Compare images with restoration and style-transfer losses."""


def main() -> None:
    """Console-script entry point."""
    app()
