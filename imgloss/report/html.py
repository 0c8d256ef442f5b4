"""``imgloss report``: one HTML page from a JSON result file, that scales to many failures.

Reads the document ``--format json`` writes (``check`` or ``compare``) and renders the
run's summary (counts, thresholds, per-metric mean/median/worst, warnings), then a
table of every pair: failures first, worst first (by the largest relative margin over
a broken limit), then errors, then passes; sortable by any column; filters by status;
direction arrows on metric columns; each pair's notes.

Images: a failing pair's heatmap is inlined only as a small JPEG thumbnail (a few
kB, so 100 failures stay well under 5 MB of HTML); clicking it opens a detail row
with the full-size heatmap, the maps of the failed metrics (``check --diff-dir``) and
a golden/candidate slider and blink view. Full-size images are files: with
``-o report.html`` they are copied into ``report_files/`` beside the page (linked
relatively, so the pair can be moved or kept as a CI artifact); on stdout the page
links to the files where they are (``file://``). Nothing is fetched from a network. A
``compare`` result file gets detail views for its first :data:`DETAIL_LIMIT` pairs and
says "reference" where a check says "golden".

A relative image path is looked up in the current directory, then beside the JSON
file; a heatmap that cannot be found is named in its row instead. No torch here.
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from imgloss.errors import InputError
from imgloss.report.html_assets import SCRIPT, STYLE
from imgloss.report.output import read_text
from imgloss.report.schema import SchemaError, validate
from imgloss.report.summary import format_value

#: Row order: what needs attention first.
ORDER = {"fail": 0, "error": 1, "pass": 2, "scored": 3}
#: Longest side of an inline heatmap thumbnail, and its JPEG quality.
THUMB_WIDTH, THUMB_QUALITY = 400, 75
#: Pairs of a ``compare`` result file (no verdicts) that get a detail view.
DETAIL_LIMIT = 100
#: Formats browsers show as they are; other images are converted to PNG when copied.
WEB_FORMATS = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"}


@dataclass
class Page:
    """The page's HTML and the files it links: target (relative to the page) -> source."""

    html: str
    files: dict[str, Path] = field(default_factory=dict)


def load_results(path: Path) -> dict[str, Any]:
    """The JSON document at ``path``; an :class:`InputError` if it is not one imgloss wrote."""
    try:
        document = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not JSON ({exc}); give the file of --format json") from None
    try:
        validate(document)
    except SchemaError as exc:
        raise InputError(path, f"not an imgloss JSON result file: {exc}; give the file of --format json") from None
    return document


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Any) -> float | None:
    """A JSON metric value (number, ``"inf"``, ``"-inf"``, a large stand-in or null) as a float."""
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


def margin(result: dict[str, Any]) -> float:
    """How far the pair is over its worst broken limit, relative to the limit
    (``0.1`` = 10 % over; infinite for an infinite or missing value); 0 when none is broken."""
    worst = 0.0
    for failed in (result.get("check") or {}).get("failed") or ():
        value, limit = _number(failed.get("value")), _number(failed.get("limit"))
        if value is None or limit is None:
            return math.inf
        over = value - limit if failed.get("bound") == "max" else limit - value
        worst = max(worst, over / abs(limit) if limit else math.inf if over > 0 else 0.0)
    return worst


def _order(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failures worst first, then errors, then passes (stable within each)."""
    return sorted(results, key=lambda r: (ORDER[_status(r)], -margin(r) if _status(r) == "fail" else 0.0))


def find_file(raw: str, base: Path) -> Path | None:
    """The file at ``raw`` (absolute, or relative to the current folder, then ``base``)."""
    path = Path(raw)
    for candidate in (path,) if path.is_absolute() else (path, base / path):
        if candidate.is_file():
            return candidate
    return None


def thumbnail_uri(path: Path) -> str | None:
    """A small JPEG of the image at ``path`` as a data URI; None if it cannot be read."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            image.thumbnail((THUMB_WIDTH, THUMB_WIDTH))
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=THUMB_QUALITY, optimize=True)
    except (OSError, ValueError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def copy_file(source: Path, target: Path) -> None:
    """Copy an image for the page: as is when browsers show its format, else as PNG."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.suffix.lower() in WEB_FORMATS:
        shutil.copyfile(source, target)
        return
    from PIL import Image

    with Image.open(source) as image:
        image.convert("RGBA" if "A" in image.getbands() else "RGB").save(target, format="PNG")


class _Links:
    """Where the page finds each image: copied under ``folder`` or linked in place."""

    def __init__(self, base: Path, folder: str | None) -> None:
        self.base, self.folder = base, folder
        self.files: dict[str, Path] = {}

    def src(self, raw: str | None, index: int, role: str) -> str | None:
        found = None if not raw else find_file(str(raw), self.base)
        if found is None:
            return None
        if self.folder is None:
            return found.resolve().as_uri()
        suffix = found.suffix.lower() if found.suffix.lower() in WEB_FORMATS else ".png"
        target = f"{self.folder}/{index:05d}-{role}{suffix}"
        self.files[target] = found
        return target


def _detail_row(index: int, result: dict[str, Any], links: _Links, span: int, golden: str) -> tuple[str, str]:
    """(the heatmap cell, the hidden detail row) of pair ``index``."""
    check = result.get("check") or {}
    heatmap_raw = check.get("heatmap")
    heatmap = links.src(heatmap_raw, index, "heatmap")
    reference = links.src(result.get("reference"), index, "reference")
    candidate = links.src(result.get("candidate"), index, "candidate")
    ident = f"detail-{index}"
    if heatmap_raw and heatmap is None:
        cell = f'<span class="warn">heatmap not found: {_e(heatmap_raw)}</span>'
    elif heatmap is not None:
        thumb = thumbnail_uri(find_file(str(heatmap_raw), links.base))  # type: ignore[arg-type]
        cell = f'<img class="thumb" alt="heatmap (click for details)" data-detail="{ident}" src="{_e(thumb)}">' if thumb else ""
    elif check.get("heatmap_error"):
        cell = f'<span class="warn">{_e(check["heatmap_error"])}</span>'
    else:
        cell = ""
    views = []
    if reference and candidate:
        cell += f' <button type="button" data-detail="{ident}">compare</button>'
        views.append(
            f'<div><div>slider: {_e(golden)} | candidate</div><div class="cmp">'
            f'<img alt="{_e(golden)}" data-src="{_e(reference)}"><img class="top" alt="candidate" data-src="{_e(candidate)}">'
            '<input type="range" min="0" max="100" value="50" aria-label="slider position" style="width:100%"></div></div>'
            f'<div class="blink"><div>blink: <button type="button" class="blink-toggle">blink</button></div>'
            f'<img alt="{_e(golden)}" data-src="{_e(reference)}"><img class="hidden" alt="candidate" data-src="{_e(candidate)}"></div>'
        )
    if heatmap:
        views.append(f'<div><a href="{_e(heatmap)}">full-size heatmap</a><br>'
                     f'<img class="heatmap" alt="heatmap" data-src="{_e(heatmap)}"></div>')
    views += _map_views(index, check, links)
    if views and not cell:
        cell = f'<button type="button" data-detail="{ident}">maps</button>'
    if not views:
        return cell, ""
    return cell, f'<tr class="detail hidden" id="{ident}"><td colspan="{span}"><div class="views">{"".join(views)}</div></td></tr>'


def _map_views(index: int, check: dict[str, Any], links: _Links) -> list[str]:
    """One view per map of a failed metric (``check --diff-dir``), captioned by its file
    name (``<pair>.<column>.png``); a map that cannot be found, or could not be drawn, is
    named instead."""
    views = []
    for k, raw in enumerate(check.get("maps") or ()):
        name = PurePath(raw).name
        src = links.src(raw, index, f"map{k}")
        if src is None:
            views.append(f'<div class="warn">map not found: {_e(raw)}</div>')
        else:
            views.append(f'<div><a href="{_e(src)}">{_e(name)}</a><br>'
                         f'<img class="heatmap" alt="{_e(name)}" data-src="{_e(src)}"></div>')
    if check.get("maps_error"):
        views.append(f'<div class="warn">maps: {_e(check["maps_error"])}</div>')
    return views


def _columns(results: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(name for r in results for name in (r.get("metrics") or {})))


def _arrow(document: dict[str, Any], column: str) -> str:
    higher = (document.get("higher_is_better") or {}).get(column)
    return "" if higher is None else " ↑" if higher else " ↓"


def _summary_section(document: dict[str, Any], results: list[dict[str, Any]]) -> str:
    options = document.get("options") or {}
    check = options.get("check") or {}
    statuses = [_status(r) for r in results]
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in ORDER if s in statuses) or "no pairs"
    rows = [
        ("golden" if check else "reference", options.get("reference")),
        ("candidate", options.get("candidate")),
        ("pairs", counts),
        ("golden files with no candidate", len(check.get("missing", ())) if check else None),
        ("candidates with no golden file", len(check.get("extra", ())) if check else None),
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
    parts.append(_metrics_table(document, (document.get("summary") or {}).get("metrics") or {}))
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


def _metrics_table(document: dict[str, Any], metrics: dict[str, Any]) -> str:
    if not metrics:
        return ""
    body = "".join(
        f"<tr><td>{_e(name + _arrow(document, name))}</td><td class=\"num\">{_e(format_value(_number(m.get('mean'))))}</td>"
        f"<td class=\"num\">{_e(format_value(_number(m.get('median'))))}</td>"
        f"<td>{_e((m.get('worst') or {}).get('pair', ''))}</td>"
        f"<td class=\"num\">{_e(format_value(_number((m.get('worst') or {}).get('value'))))}</td>"
        f"<td class=\"num\">{_e(m.get('infinite', ''))}</td></tr>"
        for name, m in metrics.items()
    )
    head = "".join(f"<th>{h}</th>" for h in ("metric", "mean (finite)", "median", "worst pair", "worst", "infinite"))
    return f"<h2>Metrics</h2><table><tr>{head}</tr>{body}</table>"


def _filters(results: list[dict[str, Any]]) -> str:
    statuses = [_status(r) for r in results]
    boxes = "".join(
        f'<label><input type="checkbox" value="{s}" checked> {s} ({statuses.count(s)})</label>' for s in ORDER if s in statuses
    )
    return f'<p id="filters">show: {boxes}</p>'


def _pairs_table(document: dict[str, Any], links: _Links) -> str:
    results, options = document["results"], document.get("options") or {}
    golden = "golden" if options.get("check") else "reference"
    columns = _columns(results)
    headers = ("status", "pair", *(c + _arrow(document, c) for c in columns), "failed thresholds / error", "notes", "heatmap")
    head = "".join(f"<th>{_e(c)}</th>" for c in headers)
    rows = []
    for index, result in enumerate(_order(results)):
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
        cells.append(f'<td class="note">{_e("; ".join(result.get("notes") or ()))}</td>')
        wanted = status in ("fail", "error") or check.get("heatmap") or (not check and index < DETAIL_LIMIT)
        cell, detail = _detail_row(index, result, links, len(headers), golden) if wanted else ("", "")
        cells.append(f"<td>{cell}</td>")
        rows.append(f'<tr class="pair {_e(status)}" data-status="{_e(status)}">{"".join(cells)}</tr>')
        if detail:
            rows.append(detail)
    table = f'<table id="pairs"><thead><tr>{head}</tr></thead><tbody>\n' + "\n".join(rows) + "\n</tbody></table>"
    return f"<h2>Pairs</h2>{_filters(results)}{table}"


def build_page(document: dict[str, Any], base: Path, folder: str | None = None) -> Page:
    """The page for a loaded result document. ``base``: the JSON file's folder;
    ``folder``: where (relative to the page) full-size images are to be copied, or
    None to link them where they are. The caller copies :attr:`Page.files`."""
    links = _Links(base, folder)
    title = "imgloss check report" if (document.get("options") or {}).get("check") else "imgloss compare report"
    text = "\n".join(
        (
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{title}</title>",
            f"<style>\n{STYLE}\n</style></head><body>",
            f"<h1>{title}</h1>",
            _summary_section(document, document["results"]),
            _pairs_table(document, links),
            f"<script>\n{SCRIPT}\n</script>",
            "</body></html>",
            "",
        )
    )
    return Page(text, links.files)


def render_html(document: dict[str, Any], base: Path) -> str:
    """The page's HTML, linking full-size images where they are."""
    return build_page(document, base).html
