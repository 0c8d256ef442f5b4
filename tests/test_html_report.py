"""`imgloss report`: one self-contained page with every pair, heatmaps as data URIs,
nothing fetched from anywhere."""
from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from check_helpers import LIMITS, error_lines, leftovers, make_folders
from imgloss.errors import InputError
from imgloss.report.html import load_results, margin, render_html


class References(HTMLParser):
    """Every src/href value and every tag of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [value or "" for name, value in attrs if name in ("src", "href")]


@pytest.fixture()
def results_json(tmp_path: Path, invoke) -> Path:
    golden, cand = make_folders(tmp_path)
    (cand / "broken.png").write_bytes(b"<html>not a png</html>")
    (golden / "broken.png").write_bytes((golden / "same.png").read_bytes())
    out = tmp_path / "out" / "results.json"
    out.parent.mkdir()
    result = invoke("check", golden, cand, *LIMITS, "--diff-dir", tmp_path / "diffs", "-f", "json", "-o", out,
                    "--workers", "0", "-q")
    assert result.exit_code == 3, result.output
    return out


def test_page_lists_every_pair_with_thumbnails_and_files_beside_it(results_json, tmp_path, invoke) -> None:
    page_path = tmp_path / "site" / "report.html"
    page_path.parent.mkdir()
    result = invoke("report", results_json, "-o", page_path)
    assert result.exit_code == 0, result.output
    page = page_path.read_text()
    for key in ("same.png", "sub/same2.png", "edited.png", "broken.png"):
        assert f"<td>{key}</td>" in page
    assert re.search(r'<tr class="pair fail" data-status="fail">.*edited\.png', page)
    order = [page.index(f'<tr class="pair {s}"') for s in ("fail", "error", "pass")]
    assert order == sorted(order)  # failures first
    parser = References()
    parser.feed(page)
    inline = [link for link in parser.links if link.startswith("data:")]
    assert inline and all(link.startswith("data:image/jpeg;base64,") for link in inline)  # thumbnails only
    files = [link for link in parser.links + re.findall(r'data-src="([^"]+)"', page) if not link.startswith("data:")]
    assert files and all(link.startswith("report_files/") for link in files)
    for link in files:
        assert (page_path.parent / link).is_file(), link
    heatmaps = [r["check"]["heatmap"] for r in json.loads(results_json.read_text())["results"] if r["check"]["heatmap"]]
    copied = next(link for link in files if link.endswith("heatmap.png"))
    assert (page_path.parent / copied).read_bytes() == Path(heatmaps[0]).read_bytes()
    assert {"script", "style", "table"} <= set(parser.tags) and not {"link", "iframe", "object"} & set(parser.tags)
    for external in ("http://", "https://", 'src="//', "href=\"//", "url(", "@import"):
        assert external not in page
    assert "charbonnier ↓" in page and "ssim ↑" in page and "0.98" in page  # arrows, thresholds table
    assert 'id="filters"' in page and 'type="range"' in page and "blink" in page
    assert leftovers(tmp_path) == []


def test_page_goes_to_stdout_and_missing_heatmaps_are_named(results_json, tmp_path, invoke) -> None:
    document = json.loads(results_json.read_text())
    document["results"][0]["check"] = {"status": "fail", "failed": [], "thresholds": [], "message": "m",
                                       "heatmap": "nowhere/x.png"}
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps(document))
    result = invoke("report", moved)
    assert result.exit_code == 0
    assert "heatmap not found: nowhere/x.png" in result.stdout and result.stdout.startswith("<!DOCTYPE html>")
    assert "file://" in result.stdout  # full-size images linked where they are


def test_the_failed_metrics_maps_are_shown_and_copied(results_json, tmp_path, invoke) -> None:
    """``check --diff-dir`` writes the failed metrics' maps; the detail row shows each one,
    copied beside the page, and names a map that has gone missing."""
    document = json.loads(results_json.read_text())
    failing = next(r for r in document["results"] if r["check"]["status"] == "fail")
    maps = failing["check"]["maps"]
    assert maps and all(Path(m).is_file() for m in maps)
    page_path = tmp_path / "site" / "report.html"
    page_path.parent.mkdir()
    assert invoke("report", results_json, "-o", page_path).exit_code == 0
    page = page_path.read_text()
    for raw in maps:
        name = Path(raw).name
        link = re.search(rf'<a href="(report_files/[^"]+)">{re.escape(name)}</a>', page)
        assert link, name
        assert (page_path.parent / link.group(1)).read_bytes() == Path(raw).read_bytes()
    failing["check"]["maps"] = ["nowhere/edited.png.ssim.png"]
    failing["check"]["maps_error"] = "cannot write: disk full"
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps(document))
    page = render_html(load_results(moved), tmp_path)
    assert "map not found: nowhere/edited.png.ssim.png" in page and "maps: cannot write: disk full" in page


def _failure(name: str, value: float, limit: float, bound: str = "max") -> dict:
    return {"candidate": name, "metrics": {"charbonnier": value}, "notes": [],
            "check": {"status": "fail", "message": "m", "heatmap": None,
                      "failed": [{"metric": "charbonnier", "bound": bound, "limit": limit, "value": value}]}}


def test_failures_are_ordered_worst_first_by_margin(tmp_path) -> None:
    document = {"options": {"check": {"thresholds": {}}}, "results": [
        {"candidate": "ok.png", "metrics": {"charbonnier": 0.0}, "check": {"status": "pass", "failed": []}},
        _failure("slightly.png", 0.011, 0.01),
        _failure("far.png", 0.5, 0.01),
        _failure("ssim.png", 0.5, 0.98, "min"),
        _failure("inf.png", float("inf"), 0.01),
    ]}
    document["results"][-1]["check"]["failed"][0]["value"] = "inf"
    page = render_html(document, tmp_path)
    positions = [page.index(f"<td>{n}</td>") for n in ("inf.png", "far.png", "ssim.png", "slightly.png", "ok.png")]
    assert positions == sorted(positions)
    assert margin(_failure("x", 0.011, 0.01)) == pytest.approx(0.1)
    assert margin(_failure("x", 0.49, 0.98, "min")) == pytest.approx(0.5)


def test_notes_are_shown(tmp_path) -> None:
    document = {"results": [{"candidate": "a.png", "metrics": {}, "notes": ["resized candidate 8x8 -> 4x4"]}]}
    assert "resized candidate 8x8 -&gt; 4x4" in render_html(document, tmp_path)


def test_compare_json_renders_too(tmp_path, invoke) -> None:
    golden, cand = make_folders(tmp_path)
    compared = invoke("compare", golden, cand, "-m", "psnr", "-f", "json", "-q", "--workers", "0")
    (tmp_path / "c.json").write_text(compared.stdout)
    page = render_html(load_results(tmp_path / "c.json"), tmp_path)
    assert page.count('<tr class="pair scored"') == 3 and "Infinity" in page  # psnr of identical pairs
    assert "<th>golden" not in page and "<th>reference</th>" in page and "psnr ↑" in page
    assert page.count('class="cmp"') == 3  # slider views for compare pairs too


@pytest.mark.parametrize(
    ("content", "reason"),
    [("{", "not JSON"), ('{"results": 3}', "not an imgloss JSON result file"), ("[1, 2]", "not an imgloss JSON")],
)
def test_bad_results_file_is_one_line_exit_3(tmp_path, content, reason, invoke) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(InputError, match=reason):
        load_results(bad)
    result = invoke("report", bad, "-o", tmp_path / "r.html")
    assert result.exit_code == 3
    [line] = error_lines(result.stderr)
    assert str(bad) in line and reason in line
    assert not (tmp_path / "r.html").exists() and leftovers(tmp_path) == []
