"""``imgloss compare`` and ``imgloss score``: parse, then one scoring run (:mod:`imgloss.run`).

Options come from :mod:`imgloss.options` (declared once); settings not given on the
command line come from ``[tool.imgloss]``. Imports no torch at module level.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Sequence

import typer

from imgloss.cli.console import error_line, expected_failures, progress_bar, stderr
from imgloss.errors import ImglossError
from imgloss.cli.options import option_values, takes
from imgloss.options import COMPARE, ENGINE, MASKING, PAIRING, SCALE, SCORE

if TYPE_CHECKING:
    from imgloss.results import PairResult

COMPARE_EPILOG = """[bold]Examples[/]

  imgloss compare a.png b.png -m perceptual

  imgloss compare refs/ outputs/ -m ssim -m wssim --format csv -o scores.csv

  imgloss compare refs/ outputs/ -m perceptual:johnson --device cuda --precision fp16

Exit codes: 0 all scored, 2 usage, 3 some inputs unreadable or unmatched, 4 VGG weights missing, 5 an output could not be written (results kept elsewhere, named on stderr), 130/143 interrupted."""

SCORE_EPILOG = "[bold]Example[/]\n\n  imgloss score outputs/ -m tv --format csv"


@takes(COMPARE)
def compare(
    ctx: typer.Context,
    reference: Annotated[Path, typer.Argument(metavar="REFERENCE", help="Reference image or folder.", show_default=False)],
    candidate: Annotated[Path, typer.Argument(metavar="CANDIDATE", help="Candidate image or folder (paired by relative path).", show_default=False)],
    **options: Any,
) -> None:
    """Compare two images, or two folders of images paired by relative path."""
    raise typer.Exit(run_scoring(ctx, options, reference=Path(reference), candidate=Path(candidate)))


@takes(SCORE)
def score(
    ctx: typer.Context,
    images: Annotated[Path, typer.Argument(metavar="IMAGES", help="Image or folder to score.", show_default=False)],
    **options: Any,
) -> None:
    """Score images alone with no-reference metrics (tv)."""
    raise typer.Exit(run_scoring(ctx, options, candidate=Path(images), default_metrics=("tv",)))


def run_scoring(
    ctx: typer.Context,
    options: dict[str, Any],
    candidate: Path,
    reference: Path | None = None,
    default_metrics: Sequence[str] | None = None,
) -> int:
    """Shared body of compare and score: options over ``[tool.imgloss]``, prepare,
    stream, summarise; returns the exit code."""
    from imgloss import run
    from imgloss.config import load_config
    from imgloss.metrics.registry import DEFAULT_METRICS
    from imgloss.report.writers import make_writer
    from imgloss.report.table import render_summary

    with expected_failures():
        given = option_values(ctx, {"config": options["config"]})
        config = load_config(given["config"])
        values = option_values(ctx, options, config.options)
        request = run.ScoreRequest(
            candidate=candidate,
            reference=reference,
            metrics=values["metric"] or config.metrics,
            preset=values.get("preset"),
            ssim_convention=values.get("ssim_convention") or "imgloss",
            output=values["output"],
            options={name: values[name] for name in (*ENGINE, *PAIRING, *SCALE, *MASKING) if name in values},
            ignore_rules=config.ignore if reference is not None else (),
        )
        prepared = run.prepare(request, default_metrics or DEFAULT_METRICS)
        for path in prepared.info.unmatched:
            error_line(f"{path}: no matching file on the other side (unmatched)", "warning")
        for path in prepared.info.unsupported:
            error_line(f"{path}: not a supported image type, not compared (unmatched)", "warning")
        fmt, quiet = values["fmt"], values["quiet"]
        writer = make_writer(fmt, prepared.info, request.output, values["json_inf"])
        with progress_bar(len(prepared.pairs), quiet) as advance:

            maps = values.get("maps")
            masks = {pair.key: pair.mask for pair in prepared.pairs if pair.mask is not None}

            def on_result(result: PairResult) -> None:
                advance()
                if result.error:
                    error_line(result.error)
                elif maps is not None:
                    try:
                        run.write_maps(maps, result, prepared.evaluator.options.metrics, request.options,
                                       masks.get(result.key))
                    except (ImglossError, OSError, ValueError) as exc:
                        error_line(f"{result.candidate}: map not written: {exc}", "warning")

            outcome = run.execute(prepared, writer, on_result)
        scope = prepared.info.options.get("shard")
        if not prepared.pairs and scope and scope["pairs_total"]:
            error_line(f"shard {scope['part']} holds none of the {scope['pairs_total']} pairs", "warning")
        elif not prepared.pairs:
            error_line("no image pairs found")
        if fmt != "table" and not quiet:
            render_summary(stderr, prepared.info, outcome.summary)
        if outcome.output_error is not None:
            raise outcome.output_error
        return outcome.exit_code
