"""``imgloss merge``: join shard outputs and --resume files into one run's result
(:mod:`imgloss.scale.merge`), written by the same writers as ``compare``. No torch.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, List

import typer

from imgloss.cli.console import expected_failures, stderr
from imgloss.cli.options import option_values, takes
from imgloss.options import MERGE

MERGE_EPILOG = """[bold]Examples[/]

  imgloss compare refs/ outputs/ --shard 1/3 --format json -o part-1.json   (and 2/3, 3/3 elsewhere)

  imgloss merge part-*.json --format csv -o scores.csv

  imgloss merge part-*.jsonl --format json -o merged.json && imgloss check --from merged.json --min ssim=0.98

Parts are --format json outputs or --resume files of one run: the same version and options, each pair in exactly one part. --format jsonl writes a header line (the run's metadata) before the rows, as a --resume file does: check --from reads it.

Exit codes: as the run would have given (0 all scored, 3 some pairs unreadable or unmatched; for check parts 1 a threshold failed), 2 parts that do not belong together, 3 a part unreadable or corrupt, or pairs missing or in two parts."""

Parts = Annotated[List[Path], typer.Argument(metavar="PARTS", help="Result files of the parts: --format json outputs or --resume files.",
                                             show_default=False)]


@takes(MERGE)
def merge(ctx: typer.Context, parts: Parts, **options: Any) -> None:
    """Join the parts of one run (shards, resumed runs) into the result of a single run."""
    with expected_failures():
        raise typer.Exit(_merge([Path(p) for p in parts], option_values(ctx, options)))


def _merge(parts: list[Path], values: dict[str, Any]) -> int:
    from imgloss import run
    from imgloss.errors import UsageError
    from imgloss.gate.verdicts import CSV_COLUMNS, Unpaired, exit_code
    from imgloss.report.output import check_destination
    from imgloss.report.table import render_summary
    from imgloss.report.writers import make_writer
    from imgloss.scale.merge import merge_parts
    from imgloss.scale.parts import PartWriter

    output, fmt = values["output"], values["fmt"]
    if output is not None:
        check_destination(output)
        if any(output.resolve() == part.resolve() for part in parts):
            raise UsageError(f"-o {output} is one of the parts: give another file name")
    merged = merge_parts(parts)
    prepared = merged.prepared
    check = prepared.info.options.get("check")
    judged = isinstance(check, dict) and merged.pairs > 0 and all("check" in r.extra for r in merged.results)
    if fmt == "jsonl":  # a finished resume file: check --from and a later --resume read its header
        writer = PartWriter(prepared.info, output, merged.pairs, merged.listing)
    else:  # parts of a check keep its verdict columns
        writer = make_writer(fmt, prepared.info, output, csv_extra=CSV_COLUMNS if judged else ())
    outcome = run.execute(prepared, writer)
    if fmt != "table" and not values["quiet"]:
        render_summary(stderr, prepared.info, outcome.summary)
    if outcome.output_error is not None:
        raise outcome.output_error
    if judged:
        unpaired = Unpaired(tuple(check.get("missing") or ()), tuple(check.get("extra") or ()))
        return exit_code(outcome.results, unpaired, bool(check.get("fail_on_missing")))
    return outcome.exit_code
