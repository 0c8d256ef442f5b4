"""The ``imgloss check`` and ``imgloss report`` commands (registered in ``cli.py``).

``check`` scores golden/candidate pairs with the thresholded metrics, judges them
(:mod:`imgloss.gate.verdicts`), and writes the report, JUnit XML and heatmaps; settings not
given on the command line come from ``[tool.imgloss]`` (:mod:`imgloss.config`).
``report`` turns a JSON result file into one self-contained HTML page. Imports no
torch at module level.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Mapping, Optional, Sequence

import typer

from imgloss.cli.console import error_line, expected_failures, progress_bar, stderr
from imgloss.cli.options import option_values, takes
from imgloss.options import CHECK, ENGINE, MASKING, PAIRING, SCALE

if TYPE_CHECKING:
    from imgloss.gate.verdicts import MapWriter, Unpaired
    from imgloss.io.masks import MaskSpec
    from imgloss.run import Outcome, Prepared
    from imgloss.config import Config
    from imgloss.io import Pairing
    from imgloss.report.summary import RunInfo
    from imgloss.results import PairResult
    from imgloss.gate.thresholds import ThresholdSet

CHECK_EPILOG = """[bold]Examples[/]

  imgloss check golden/ rendered/ --max charbonnier=0.01 --min ssim=0.98 --junit report.xml

  imgloss check golden/ rendered/ --min ssim=0.98 --diff-dir diffs --format json -o results.json

  imgloss report results.json -o report.html

  imgloss check --from merged.json --min ssim=0.98   (results of 'imgloss merge', JSON or JSONL)

Limits are in each metric's own direction: --max for lower-is-better metrics (charbonnier, perceptual), --min for higher-is-better ones (ssim, psnr).

Settings not given here come from \\[tool.imgloss] in the nearest pyproject.toml: keys as these options (batch-size, fail-on-missing, ...), limits in \\[tool.imgloss.max] and \\[tool.imgloss.min], per-folder limits in \\[\\[tool.imgloss.overrides]] (glob, max, min).

Exit codes: 0 all passed, 1 a threshold failed, 2 usage or config error, 3 some inputs unreadable or missing (wins over 1), 4 VGG weights missing, 5 an output could not be written (results kept elsewhere, named on stderr), 130/143 interrupted."""

@takes(CHECK)
def check(
    ctx: typer.Context,
    golden: Annotated[Optional[Path], typer.Argument(metavar="GOLDEN", help="Golden image or folder.", show_default=False)] = None,
    candidate: Annotated[Optional[Path], typer.Argument(metavar="CANDIDATE", help="Candidate image or folder (paired by relative path).", show_default=False)] = None,
    **options: Any,
) -> None:
    """Gate a CI job on image regressions: every pair must stay within the thresholds."""
    with expected_failures():
        from imgloss.config import load_config
        from imgloss.errors import UsageError

        config = load_config(option_values(ctx, {"config": options["config"]})["config"])
        settings = option_values(ctx, options, config.options)
        stored = settings["from_results"]
        if stored is None and (golden is None or candidate is None):
            raise UsageError("check needs GOLDEN and CANDIDATE (or --from FILE to judge stored results)")
        if stored is not None and any(v for v in (golden, candidate, settings["update_golden"], settings["shard"], settings["resume"])):
            raise UsageError("--from FILE judges stored results: GOLDEN, CANDIDATE, --update-golden, --shard and --resume do not apply")
        code = _run_check(Path(golden or stored), Path(candidate or stored), settings, config)
    raise typer.Exit(code)


def _unpaired(pairing: Pairing) -> Unpaired:
    from imgloss.gate.verdicts import Unpaired

    return Unpaired(tuple(map(str, pairing.unmatched_reference)), tuple(map(str, pairing.unmatched_candidate)))


def _run_check(golden: Path, candidate: Path, settings: dict[str, Any], config: Config) -> int:
    """Body of ``check``: score, judge, write, update; the exit code."""
    from imgloss import run
    from imgloss.errors import OutputError
    from imgloss.gate.junit import write_junit
    from imgloss.gate.verdicts import exit_code, junit_cases

    from imgloss.gate.golden import recover

    thresholds = _thresholds(settings["max_limits"] or [], settings["min_limits"] or [], config)
    _check_destinations(settings)
    recover(golden)  # a killed --update-golden is completed or rolled back first
    if settings["from_results"] is not None:
        from imgloss.scale.replay import stored_run

        prepared = stored_run(settings["from_results"], thresholds.columns, settings["output"])
    else:
        request = run.ScoreRequest(
            candidate=candidate, reference=golden, metrics=thresholds.columns + config.metrics, output=settings["output"],
            ssim_convention=settings["ssim_convention"],
            options={name: settings[name] for name in (*ENGINE, *PAIRING, *SCALE, *MASKING)},
            ignore_rules=config.ignore,
        )
        prepared = run.prepare(request, ())
    unpaired = _unpaired(prepared.pairing)
    fail_on_missing = settings["fail_on_missing"]
    _announce(prepared.info, thresholds, unpaired, fail_on_missing)
    prepared.info.options["check"] = {
        "config": None if config.path is None else str(config.path),
        "thresholds": thresholds.as_json(),
        "fail_on_missing": fail_on_missing,
        "missing": list(unpaired.missing),
        "extra": list(unpaired.extra),
    }
    started = datetime.now(timezone.utc)
    outcome, seconds = _score(prepared, thresholds, unpaired, settings)
    if not prepared.pairs:
        error_line(f"no image pairs found in {golden} and {candidate}")
    failures = [] if outcome.output_error is None else [outcome.output_error]
    if settings["junit"] is not None:
        roots = (golden if golden.is_dir() else golden.parent, candidate if candidate.is_dir() else candidate.parent)
        cases = junit_cases(outcome.results, unpaired, fail_on_missing, roots, seconds)
        try:
            write_junit(settings["junit"], "imgloss check", cases, outcome.summary.seconds,
                        junit_properties(prepared.info, thresholds), started)
        except OutputError as exc:
            failures.append(exc)
    _github(settings["github"], outcome.results, prepared.info, unpaired, fail_on_missing)
    if settings["update_golden"]:
        code = _update_golden(golden, candidate, prepared.pairing, outcome.results, unpaired, fail_on_missing,
                              settings["update_all"])
    else:
        code = exit_code(outcome.results, unpaired, fail_on_missing)
    for failure in failures[:-1]:
        error_line(str(failure))
    if failures:
        raise failures[-1]
    return code




def _github(flag: bool | None, results: list[PairResult], info: RunInfo, unpaired: Unpaired, fail_on_missing: bool) -> None:
    """Under GitHub Actions (or --github): annotations on stderr, the table in the step summary."""
    import os

    from imgloss.gate import github

    if not github.enabled(flag):
        return
    for line in github.annotations(results, unpaired, fail_on_missing):
        typer.echo(line, err=True)
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if not summary_file:
        error_line("--github: GITHUB_STEP_SUMMARY is not set; no step summary written", "warning")
        return
    try:
        with open(summary_file, "a", encoding="utf-8") as stream:
            stream.write(github.step_summary(results, info, unpaired))
    except OSError as exc:
        error_line(f"{summary_file}: cannot write the GitHub step summary ({exc})", "warning")


def _thresholds(max_limits: list[str], min_limits: list[str], config: Config) -> ThresholdSet:
    """The command line's limits merged over the config's; at least one is required."""
    from imgloss.errors import UsageError
    from imgloss.gate.thresholds import merge, parse_threshold

    cli = [parse_threshold(t, "max") for t in max_limits] + [parse_threshold(t, "min") for t in min_limits]
    thresholds = merge(cli, config.thresholds)
    if not thresholds.columns:
        raise UsageError("check needs at least one threshold: --max METRIC=VALUE or --min METRIC=VALUE "
                         "(or [tool.imgloss.max] / [tool.imgloss.min] in pyproject.toml)")
    return thresholds


def _check_destinations(settings: dict[str, Any]) -> None:
    """Fail before any work when the JUnit file or the diff folder cannot be written
    (``-o`` is checked by :func:`run.prepare`)."""
    from imgloss.errors import UsageError
    from imgloss.report.output import check_destination

    if settings["junit"] is not None:
        check_destination(settings["junit"], "--junit")
    diff_dir = settings["diff_dir"]
    if diff_dir is not None:
        existing = next(folder for folder in (diff_dir, *diff_dir.parents) if folder.exists())
        if not existing.is_dir():
            raise UsageError(f"--diff-dir {diff_dir}: {existing} is not a folder")


def _announce(info: RunInfo, thresholds: ThresholdSet, unpaired: Unpaired, fail_on_missing: bool) -> None:
    """Direction warnings (also kept for the report) and unpaired files, one line each."""
    warnings = thresholds.warnings()
    info.warnings.extend(warnings)
    for warning in warnings:
        error_line(warning, "warning")
    for path in unpaired.missing:
        if fail_on_missing:
            error_line(f"{path}: golden file has no candidate (--fail-on-missing)")
        else:
            error_line(f"{path}: golden file has no candidate", "warning")
    for path in unpaired.extra:
        error_line(f"{path}: candidate has no golden file (not checked)", "warning")
    for path in info.unsupported:
        error_line(f"{path}: not a supported image type (not checked)", "warning")


def junit_properties(info: RunInfo, thresholds: ThresholdSet) -> dict[str, str]:
    """The JUnit suite's properties: version, device, thresholds and the run's options."""
    import json

    from imgloss._version import __version__

    options = {k: v for k, v in info.options.items() if k != "check"}
    return {
        "imgloss.version": __version__,
        "imgloss.device": info.device,
        "imgloss.thresholds": json.dumps(thresholds.as_json(), sort_keys=True),
        "imgloss.options": json.dumps(options, sort_keys=True, default=str),
    }


def _score(
    prepared: Prepared, thresholds: ThresholdSet, unpaired: Unpaired, settings: dict[str, Any]
) -> tuple[Outcome, dict[str, float]]:
    """Score and judge every pair: one stderr line per failure or error, then the summary;
    the outcome and each pair's seconds."""
    from imgloss import run
    from imgloss.cli.check_table import CheckTableWriter
    from imgloss.gate.verdicts import CSV_COLUMNS, ERROR, FAIL, CheckWriter, Heatmaps, counts_line
    from imgloss.report.table import render_summary
    from imgloss.report.writers import make_writer

    fmt, output, info = settings["fmt"], settings["output"], prepared.info
    if fmt == "table":
        inner = CheckTableWriter(info, output, unpaired)
    else:
        inner = make_writer(fmt, info, output, settings["json_inf"], CSV_COLUMNS)
    diff_dir = settings["diff_dir"]
    heatmaps = None
    if diff_dir is not None:
        masks = {pair.key: pair.mask for pair in prepared.pairs if pair.mask is not None}
        maps = _map_writer(diff_dir, settings, info.options.get("ssim_convention") or "imgloss", masks)
        heatmaps = Heatmaps(diff_dir, settings["background"], settings["max_pixels"], settings["heatmap_scale"], maps,
                            masks)
    with progress_bar(len(prepared.pairs), settings["quiet"]) as advance:

        def on_result(result: PairResult) -> None:
            advance()
            record = result.extra["check"]
            if record["status"] == ERROR:
                error_line(record["message"])
            elif record["status"] == FAIL:
                error_line(f"{result.key}: {record['message']}", "check failed")

        judged = CheckWriter(inner, thresholds, heatmaps)
        outcome = run.execute(prepared, judged, on_result)
    if fmt != "table" and not settings["quiet"]:
        render_summary(stderr, info, outcome.summary)
        stderr.print(counts_line(outcome.results, unpaired))
    return outcome, judged.seconds


def _map_writer(folder: Path, settings: dict[str, Any], convention: str, masks: Mapping[str, MaskSpec]) -> MapWriter:
    """Writes a failing pair's maps of the failed columns into ``folder`` as ``compare
    --maps`` does (:func:`imgloss.run.write_maps`: the run's SSIM convention, weights,
    reading options and ``--breakdown``; ``masks``: each masked pair's ignore regions)."""
    from imgloss import run
    from imgloss.metrics.registry import MetricSpec

    def write(result: PairResult, columns: Sequence[str]) -> list[Path]:
        specs = [MetricSpec.parse(column, variants={"ssim": convention}) for column in columns]
        return run.write_maps(folder, result, specs, settings, masks.get(result.key))

    return write


def _update_golden(
    golden: Path, candidate: Path, pairing: Pairing, results: list[PairResult], unpaired: Unpaired,
    fail_on_missing: bool, update_all: bool,
) -> int:
    """Replace the golden files of failing pairs and add new candidates (every paired
    golden file with ``update_all``) when every pair was read; the exit code as if all
    passed. Passing golden files are left untouched, so the commit holds only real changes."""
    from imgloss.gate import golden as gold
    from imgloss.gate.verdicts import ERROR, FAIL, exit_code, status
    from imgloss.errors import InputError

    unreadable = sum(status(r) == ERROR for r in results)
    if unreadable or not results:
        raise InputError(golden, f"not updated: {unreadable or 'no'} pair(s) could not be checked")
    failing = {r.key for r in results if status(r) == FAIL}
    if golden.is_dir():
        updates = [u for u in gold.plan(golden, candidate, pairing) if update_all or u.replaces is None or u.target in failing]
        if updates:
            gold.replace_tree(golden, updates)
        count = len(updates)
    else:
        count = int(update_all or bool(failing))
        if count:
            gold.replace_file(golden, candidate)
    kept = "" if update_all else " (failing or new only; --all replaces passing ones too)"
    error_line(f"updated {count} golden file(s) in {golden}{kept}", "info")
    return exit_code(results, unpaired, fail_on_missing, accepted=True)


Results = Annotated[Path, typer.Argument(metavar="RESULTS", help="JSON results of check or compare (--format json).", show_default=False)]


@takes(("output",))
def report(ctx: typer.Context, results: Results, **options: Any) -> None:
    """Write an HTML report (worst failures first, filters, thumbnails, slider) from JSON results.

    With -o NAME.html, full-size images are copied to NAME_files/ beside it."""
    with expected_failures():
        output = option_values(ctx, options)["output"]
        results = Path(results)
        from imgloss.errors import InputError
        from imgloss.report.html import build_page, copy_file, load_results
        from imgloss.report.output import check_destination, deliver

        check_destination(output)
        document = load_results(results)
        if output is None:
            deliver(None, build_page(document, base=results.parent).html.encode("utf-8", "replace"))
            return
        page = build_page(document, base=results.parent, folder=f"{output.stem}_files")
        for target, source in page.files.items():
            try:
                copy_file(source, output.parent / target)
            except OSError as exc:
                raise InputError(source, f"cannot copy into the report's folder ({exc})") from None
        deliver(output, page.html.encode("utf-8", "replace"))
