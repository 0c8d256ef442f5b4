"""Pieces every command of the CLI shares: option types, choices, the stderr line,
the mapping of expected failures to exit codes, and the progress bar.

No torch here: the CLI's help must stay instant.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Iterator, Optional

import typer
from rich.console import Console

from imgloss.errors import ImglossError

if TYPE_CHECKING:
    from imgloss.config import Config

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def error_line(message: str, kind: str = "error") -> None:
    """One line on stderr: ``imgloss: error: ...``."""
    stderr.print(f"imgloss: {kind}: {message}", markup=False)


@contextmanager
def expected_failures() -> Iterator[None]:
    """Turn ImglossError into its one-line message and exit code (no traceback)."""
    try:
        yield
    except ImglossError as exc:
        error_line(str(exc))
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        error_line("interrupted")
        raise typer.Exit(130) from None


# --------------------------------------------------------------- shared options

Metrics = Annotated[
    Optional[list[str]],
    typer.Option("--metric", "-m", help="Metric to compute (repeat, or comma-separate; NAME:PRESET for VGG presets). "
                 "Default: every metric that needs no weights.", show_default=False),
]
Preset = Annotated[Optional[str], typer.Option(help="Preset for perceptual/style: default, drn, johnson, johnson-content.")]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps (auto: CUDA, then MPS, then CPU).")]
BatchSize = Annotated[Optional[int], typer.Option(min=1, help="Pairs per batch (default: from free memory).", show_default=False)]
Workers = Annotated[Optional[int], typer.Option(min=0, help="Decoding worker processes (default: cores - 1; 0 for tiny jobs).", show_default=False)]
Precision = Annotated[str, typer.Option(help="fp32, fp16 or bf16 for the VGG forward (fp16 needs a GPU).")]
Format = Annotated[str, typer.Option("--format", "-f", help="table, csv, json or jsonl.")]
Output = Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to FILE (atomically) instead of stdout.", show_default=False)]
Resize = Annotated[str, typer.Option(help="On size mismatch: none (error), candidate or reference (resize that side, antialiased).")]
Background = Annotated[str, typer.Option(help="Composite transparent images on white or black.")]
Recursive = Annotated[bool, typer.Option("--recursive/--no-recursive", help="Descend into subfolders.")]
Glob = Annotated[Optional[str], typer.Option(help="Only files whose relative path matches (e.g. '*.png').", show_default=False)]
IgnoreExt = Annotated[bool, typer.Option("--ignore-extension", help="Pair a/x.png with b/x.jpg.")]
Weights = Annotated[Optional[str], typer.Option(help="VGG weights file (else IMGLOSS_WEIGHTS, torch hub cache, imgloss cache).", show_default=False)]
MaxPixels = Annotated[Optional[int], typer.Option(min=1, help="Raise Pillow's decompression-bomb limit to N pixels.", show_default=False)]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary on stderr.")]

def check_format(fmt: str) -> None:
    """A Typer usage error (exit 2) for an unknown ``--format``, before any work. The
    engine's options (precision, resize, background) are checked by the engine, which
    also sees the values that come from ``[tool.imgloss]``."""
    from imgloss.report import FORMATS

    if fmt not in FORMATS:
        raise typer.BadParameter(f"{fmt!r} is not one of {', '.join(FORMATS)}", param_hint="'--format'")


@contextmanager
def progress_bar(total: int, quiet: bool) -> Iterator[Callable[[], None]]:
    """A transient rich progress bar on stderr for runs of more than a few pairs."""
    if quiet or total <= 8 or not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("scoring", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=stderr, transient=True) as bar:
        task = bar.add_task("scoring", total=total)
        yield lambda: bar.advance(task)


ConfigFile = Annotated[
    Optional[Path],
    typer.Option("--config", metavar="FILE", help="Read \\[tool.imgloss] from FILE instead of the nearest pyproject.toml.", show_default=False),
]

#: Settings passed through to the engine unchanged (ScoreRequest's field names).
ENGINE_SETTINGS = (
    "device", "batch_size", "workers", "precision", "resize", "background", "max_pixels", "weights", "recursive",
    "glob", "ignore_extension", "output",
)


def settings_with_config(ctx: typer.Context, config: Config) -> dict[str, Any]:
    """The command's parameters, with ``[tool.imgloss]`` values for those left at their
    default (keys the command does not take, such as ``fail-on-missing`` for compare,
    are ignored)."""
    params = dict(ctx.params)
    for key, value in config.options.items():
        name = key.replace("-", "_")
        source = ctx.get_parameter_source(name)  # click's ParameterSource (vendored by newer Typer)
        if name in params and (source is None or source.name in ("DEFAULT", "DEFAULT_MAP")):
            params[name] = value
    return params
