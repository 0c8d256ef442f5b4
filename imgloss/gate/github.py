"""GitHub Actions output of ``imgloss check``: ``::error`` annotations and the step summary.

:func:`annotations` gives one workflow command per failing or unreadable pair
(``::error file=<candidate>,title=...::<reason>``; a golden file with no candidate is
an error under ``--fail-on-missing``, else a ``::warning``) and a ``::notice`` per pair
whose inputs were converted (its notes: alpha composited, gray to RGB, ICC profile
ignored, ...), which GitHub shows on the run and on the pull request's files.
:func:`step_summary` gives the Markdown that is appended to ``$GITHUB_STEP_SUMMARY``:
the counts, then a table of the failing and unreadable pairs, worst status first (at
most :data:`SUMMARY_ROWS` rows), notes beside each reason.
:func:`enabled` decides: ``--github``/``--no-github``, else on under
``GITHUB_ACTIONS=true``. Builds text only; the CLI prints and writes it. No torch here.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

from imgloss.gate.verdicts import ERROR, FAIL, STATUS_ORDER, Unpaired, counts_line, failed_thresholds, status
from imgloss.report.summary import RunInfo, format_value
from imgloss.results import PairResult

#: Rows of the step summary's table; more failures are counted in a last line.
SUMMARY_ROWS = 50


def enabled(flag: bool | None, environ: Mapping[str, str] = os.environ) -> bool:
    """``flag`` when given, else whether this runs in GitHub Actions."""
    return flag if flag is not None else environ.get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped as GitHub requires."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as :func:`escape_data`, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workspace_path(path: str, cwd: Path | None = None) -> str:
    """``path`` relative to the working directory (the checkout) when inside it."""
    try:
        return Path(path).resolve().relative_to((cwd or Path.cwd()).resolve()).as_posix()
    except (ValueError, OSError):
        return path


def _command(kind: str, file: str, title: str, message: str) -> str:
    return f"::{kind} file={escape_property(workspace_path(file))},title={escape_property(title)}::{escape_data(message)}"


def annotations(results: Sequence[PairResult], unpaired: Unpaired, fail_on_missing: bool) -> list[str]:
    """One ``::error``/``::warning`` line per failing or unreadable pair and unpaired file,
    one ``::notice`` per pair with notes."""
    lines = []
    for result in results:
        verdict = status(result)
        if verdict == FAIL:
            lines.append(_command("error", result.candidate, f"imgloss check failed: {result.key}",
                                  result.extra["check"]["message"]))
        elif verdict == ERROR:
            lines.append(_command("error", result.candidate, f"imgloss could not check: {result.key}", result.error or ""))
        if result.notes:
            lines.append(_command("notice", result.candidate, f"imgloss note: {result.key}", "; ".join(result.notes)))
    for path in unpaired.missing:
        lines.append(_command("error" if fail_on_missing else "warning", path, "imgloss: golden file has no candidate",
                              "golden file has no candidate"))
    lines.extend(_command("warning", p, "imgloss: new candidate", "candidate has no golden file (not checked)")
                 for p in unpaired.extra)
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def step_summary(results: Sequence[PairResult], info: RunInfo, unpaired: Unpaired) -> str:
    """The Markdown for ``$GITHUB_STEP_SUMMARY`` (see the module docstring)."""
    bad = sorted((r for r in results if status(r) != "pass"), key=lambda r: STATUS_ORDER[status(r)])
    verdict = "failed" if bad or unpaired.missing else "passed"
    lines = [f"### imgloss check {verdict}", "", counts_line(results, unpaired), ""]
    if bad:
        arrows = [f"{c} {'↑' if info.higher_is_better[c] else '↓'}" for c in info.columns]
        lines.append("| status | pair | " + " | ".join(arrows) + " | failed thresholds / error |")
        lines.append("|---|---|" + "---:|" * len(arrows) + "---|")
        for result in bad[:SUMMARY_ROWS]:
            values = [format_value(result.metrics.get(c)) for c in info.columns]
            reason = failed_thresholds(result) if status(result) == FAIL else result.error or ""
            reason += "".join(f" (note: {note})" for note in result.notes)
            lines.append(f"| {status(result).upper()} | {_cell(result.key)} | " + " | ".join(values) + f" | {_cell(reason)} |")
        if len(bad) > SUMMARY_ROWS:
            lines.append(f"\n… and {len(bad) - SUMMARY_ROWS} more failing or unreadable pair(s).")
        lines.append("")
    return "\n".join(lines) + "\n"
