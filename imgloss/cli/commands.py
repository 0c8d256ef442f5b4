"""The Typer app: registers the commands (compare, score, check, report, merge, demo, metrics, weights).

Imports no torch at module level, so ``imgloss --help`` is instant. Expected failures
(``ImglossError``) print one line, ``imgloss: error: ...``, on stderr and exit with
their code: 2 usage, 3 unreadable/unpaired inputs, 4 weights.
"""
from __future__ import annotations

from typing import Annotated

import sys

import typer

from imgloss._version import __version__
from imgloss.cli.compare import COMPARE_EPILOG, SCORE_EPILOG, compare, score
from imgloss.cli.check import CHECK_EPILOG, check, report
from imgloss.cli.merge import MERGE_EPILOG, merge
from imgloss.cli.demo import demo
from imgloss.cli.console import stop
from imgloss.cli.help import Command, Group
from imgloss.signals import Stopped, finished, install
from imgloss.cli.weights import app as weights_app

app = typer.Typer(
    name="imgloss",
    help="Compare images with restoration and style-transfer losses "
    "(Charbonnier, SSIM, W-SSIM, PSNR, TV, VGG perceptual, Gram style).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    cls=Group,
)


app.command(epilog=COMPARE_EPILOG, cls=Command)(compare)
app.command(epilog=SCORE_EPILOG, cls=Command)(score)
app.command(epilog=CHECK_EPILOG, cls=Command)(check)
app.command(cls=Command)(report)
app.command(epilog=MERGE_EPILOG, cls=Command)(merge)
app.command(cls=Command)(demo)


@app.command("metrics", cls=Command)
def list_metrics() -> None:
    """List every metric and preset: direction, weights, range, source."""
    from rich.table import Table

    from imgloss.metrics.registry import DEFAULT_METRICS, METRICS, PRESETS, SSIM_CONVENTIONS
    from imgloss.report.table import stdout_console

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
    conventions = Table(header_style="bold")
    for name in ("ssim:convention", "window", "borders", "differs by", "reproduces"):
        conventions.add_column(name, overflow="fold")
    for c in SSIM_CONVENTIONS.values():
        window = f"{c.size}x{c.size} {c.window}" + (f" sigma {c.sigma:g}" if c.window == "gaussian" else "")
        conventions.add_row(f"ssim:{c.name}", f"{window}, {c.covariance} covariance", c.padding, c.description, c.peer)
    console.print(conventions)


def format_bound(value: float) -> str:
    return "inf" if value == float("inf") else f"{value:g}"


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"imgloss {__version__}")
        raise typer.Exit()


app.add_typer(weights_app, name="weights")


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Print the version.", metavar="")] = False,
) -> None:
    """Compare images with restoration and style-transfer losses."""


def main() -> None:
    """Console-script entry point: SIGINT/SIGTERM at any moment (even while torch loads)
    end with one line and exit 130/143, never a traceback."""
    install()
    try:
        app()
    except Stopped as exc:
        sys.exit(stop(exc))
    finally:
        finished()
