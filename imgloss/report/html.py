"""``imgloss report``: one self-contained HTML page from a JSON result file.

Reads the document ``--format json`` writes (``check`` or ``compare``) and renders the
run's summary (counts, thresholds, per-metric mean/median/worst, warnings), then a
table of every pair, failures first, sortable by any column with a few lines of inline
JavaScript, with each failing pair's heatmap embedded as a ``data:image/png;base64``
URI. Everything is inline: no network, no external CSS, JavaScript or fonts, so the
page works as a CI artifact opened from disk.

A relative heatmap path is looked up in the current directory, then beside the JSON
file; a heatmap that cannot be found is named in its row instead. No torch here.
"""
from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path, PurePath
from typing import Any

from imgloss.errors import InputError
from imgloss.report.output import read_text
from imgloss.report.summary import format_value

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Row order: what needs attention first.
ORDER = {"fail": 0, "error": 1, "pass": 2, "scored": 3}

STYLE = """
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; vertical-align: top; }
th { background: #f3f3f3; } #pairs th { cursor: pointer; user-select: none; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.fail td.status, td.bad { color: #b00; font-weight: bold; }
tr.error td.status { color: #b60; font-weight: bold; } tr.pass td.status { color: #070; }
.warn { color: #b60; } img.heatmap { max-width: 100%; image-rendering: pixelated; }
""".strip()

# Sorts the rows of #pairs by the clicked column: numbers (data-sort) numerically,
# text alphabetically; a second click reverses.
SCRIPT = """
document.querySelectorAll("#pairs th").forEach(function (th, column) {
  th.addEventListener("click", function () {
    var body = document.querySelector("#pairs tbody");
    var rows = Array.prototype.slice.call(body.rows);
    var up = th.dataset.dir !== "up";
    th.dataset.dir = up ? "up" : "down";
    function key(row) {
      var cell = row.cells[column], raw = cell.dataset.sort;
      if (raw === undefined) { return cell.textContent.trim().toLowerCase(); }
      var n = parseFloat(raw);
      return isNaN(n) ? Infinity : n;
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
""".strip()


def load_results(path: Path) -> dict[str, Any]:
    """The JSON document at ``path``; an :class:`InputError` if it is not one imgloss wrote."""
    try:
        document = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not JSON ({exc}); give the file of --format json") from None
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, list) or not all(isinstance(r, dict) and "candidate" in r for r in results):
        raise InputError(path, "not an imgloss JSON result file (no \"results\" list); give the file of --format json")
    return document


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Any) -> float | None:
    """A JSON metric value (number, ``"inf"``, ``"-inf"`` or null) as a float."""
    if isinstance(value, str):
        return math.inf if value == "inf" else -math.inf if value == "-inf" else None
    return None if value is None else float(value)


def _pair_name(result: dict[str, Any], options: dict[str, Any]) -> str:
    """The candidate's path relative to the candidate root, as the tables show it."""
    candidate, root = PurePath(result["candidate"]), PurePath(str(options.get("candidate", "")))
    try:
        return candidate.relative_to(root).as_posix() if candidate != root else candidate.name
    except ValueError:
        return candidate.as_posix()


def _status(result: dict[str, Any]) -> str:
    check = result.get("check")
    if isinstance(check, dict) and check.get("status") in ORDER:
        return str(check["status"])
    return "error" if result.get("error") else "scored"


def _data_uri(raw: str, base: Path) -> str | None:
    """The PNG at ``raw`` (absolute, or relative to the current folder, then ``base``)."""
    path = Path(raw)
    for candidate in (path,) if path.is_absolute() else (path, base / path):
        try:
            data = candidate.read_bytes()
        except OSError:
            continue
        if data.startswith(PNG_SIGNATURE):
            return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return None


def _heatmap_cell(result: dict[str, Any], base: Path) -> str:
    check = result.get("check") or {}
    raw = check.get("heatmap")
    if not raw:
        problem = check.get("heatmap_error")
        return f'<span class="warn">{_e(problem)}</span>' if problem else ""
    uri = _data_uri(str(raw), base)
    if uri is None:
        return f'<span class="warn">heatmap not found: {_e(raw)}</span>'
    return f'<details><summary>heatmap</summary><img class="heatmap" alt="{_e(raw)}" src="{uri}"></details>'


def _columns(results: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(name for r in results for name in (r.get("metrics") or {})))


def _summary_section(document: dict[str, Any], results: list[dict[str, Any]]) -> str:
    options = document.get("options") or {}
    check = options.get("check") or {}
    statuses = [_status(r) for r in results]
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in ORDER if s in statuses) or "no pairs"
    rows = [
        ("golden / reference", options.get("reference")),
        ("candidate", options.get("candidate")),
        ("pairs", counts),
        ("golden files with no candidate", len(check.get("missing", ()))),
        ("candidates with no golden file", len(check.get("extra", ()))),
        ("unmatched", None if check else len(document.get("unmatched") or ())),
        ("device", document.get("device")),
        ("imgloss", document.get("imgloss")),
        ("config", check.get("config")),
    ]
    parts = ["<h2>Summary</h2><table>"]
    parts += [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows if v not in (None, "")]
    parts.append("</table>")
    parts += [f'<p class="warn">warning: {_e(w)}</p>' for w in document.get("warnings") or ()]
    parts += _list("Golden files with no candidate", check.get("missing"))
    parts += _list("Candidates with no golden file", check.get("extra"))
    parts.append(_thresholds_table(check.get("thresholds") or {}))
    parts.append(_metrics_table((document.get("summary") or {}).get("metrics") or {}))
    return "\n".join(p for p in parts if p)


def _list(title: str, items: Any) -> list[str]:
    if not items:
        return []
    return [f"<h2>{_e(title)}</h2><ul>", *(f"<li>{_e(i)}</li>" for i in items), "</ul>"]


def _thresholds_table(thresholds: dict[str, Any]) -> str:
    rows = [("all pairs", bound, metric, limit) for bound in ("max", "min") for metric, limit in (thresholds.get(bound) or {}).items()]
    for override in thresholds.get("overrides") or ():
        rows += [(override.get("glob"), b, m, v) for b in ("max", "min") for m, v in (override.get(b) or {}).items()]
    if not rows:
        return ""
    body = "".join(f"<tr><td>{_e(w)}</td><td>{_e(b)}</td><td>{_e(m)}</td><td class=\"num\">{_e(v)}</td></tr>" for w, b, m, v in rows)
    return f"<h2>Thresholds</h2><table><tr><th>pairs</th><th>bound</th><th>metric</th><th>limit</th></tr>{body}</table>"


def _metrics_table(metrics: dict[str, Any]) -> str:
    if not metrics:
        return ""
    body = "".join(
        f"<tr><td>{_e(name)}</td><td class=\"num\">{_e(format_value(_number(m.get('mean'))))}</td>"
        f"<td class=\"num\">{_e(format_value(_number(m.get('median'))))}</td>"
        f"<td>{_e((m.get('worst') or {}).get('pair', ''))}</td>"
        f"<td class=\"num\">{_e(format_value(_number((m.get('worst') or {}).get('value'))))}</td></tr>"
        for name, m in metrics.items()
    )
    return f"<h2>Metrics</h2><table><tr><th>metric</th><th>mean</th><th>median</th><th>worst pair</th><th>worst</th></tr>{body}</table>"


def _pairs_table(results: list[dict[str, Any]], options: dict[str, Any], base: Path) -> str:
    columns = _columns(results)
    head = "".join(f"<th>{_e(c)}</th>" for c in ("status", "pair", *columns, "failed thresholds / error", "heatmap"))
    rows = []
    for result in sorted(results, key=lambda r: ORDER[_status(r)]):
        status = _status(result)
        check = result.get("check") or {}
        broken = {f.get("metric") for f in check.get("failed") or ()}
        metrics = result.get("metrics") or {}
        cells = [f'<td class="status">{_e(status.upper())}</td>', f"<td>{_e(_pair_name(result, options))}</td>"]
        for column in columns:
            value = _number(metrics.get(column))
            sort = "" if value is None else repr(value).replace("inf", "Infinity")
            css = "num bad" if column in broken else "num"
            cells.append(f'<td class="{css}" data-sort="{_e(sort)}">{_e(format_value(value))}</td>')
        cells.append(f"<td>{_e(check.get('message') or result.get('error') or '')}</td>")
        cells.append(f"<td>{_heatmap_cell(result, base)}</td>")
        rows.append(f'<tr class="{_e(status)}">{"".join(cells)}</tr>')
    return f'<h2>Pairs</h2><table id="pairs"><thead><tr>{head}</tr></thead><tbody>\n' + "\n".join(rows) + "\n</tbody></table>"


def render_html(document: dict[str, Any], base: Path) -> str:
    """The page for a loaded result document; ``base`` is the JSON file's folder."""
    results = document["results"]
    options = document.get("options") or {}
    return "\n".join(
        (
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>imgloss report</title>",
            f"<style>\n{STYLE}\n</style></head><body>",
            "<h1>imgloss report</h1>",
            _summary_section(document, results),
            _pairs_table(results, options, base),
            f"<script>\n{SCRIPT}\n</script>",
            "</body></html>",
            "",
        )
    )
