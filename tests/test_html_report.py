"""`imgloss report`: one self-contained page with every pair, heatmaps as data URIs,
nothing fetched from anywhere."""
from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from check_helpers import LIMITS, error_lines, invoke, leftovers, make_folders
from imgloss.errors import InputError
from imgloss.report.html import load_results, render_html


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
def results_json(tmp_path: Path) -> Path:
    golden, cand = make_folders(tmp_path)
    (cand / "broken.png").write_bytes(b"<html>not a png</html>")
    (golden / "broken.png").write_bytes((golden / "same.png").read_bytes())
    out = tmp_path / "out" / "results.json"
    out.parent.mkdir()
    result = invoke("check", golden, cand, *LIMITS, "--diff-dir", tmp_path / "diffs", "-f", "json", "-o", out,
                    "--workers", "0", "-q")
    assert result.exit_code == 3, result.output
    return out


def test_page_lists_every_pair_and_embeds_heatmaps(results_json, tmp_path) -> None:
    page_path = tmp_path / "report.html"
    result = invoke("report", results_json, "-o", page_path)
    assert result.exit_code == 0, result.output
    page = page_path.read_text()
    for key in ("same.png", "sub/same2.png", "edited.png", "broken.png"):
        assert f"<td>{key}</td>" in page
    assert re.search(r"<tr class=\"fail\">.*edited\.png", page)
    order = [page.index(f'<tr class="{s}">') for s in ("fail", "error", "pass")]
    assert order == sorted(order)  # failures first
    parser = References()
    parser.feed(page)
    assert parser.links and all(link.startswith("data:image/png;base64,") for link in parser.links)
    png = base64.b64decode(parser.links[0].split(",", 1)[1])
    heatmap = json.loads(results_json.read_text())["results"]
    assert png == Path(next(r["check"]["heatmap"] for r in heatmap if r["check"]["heatmap"])).read_bytes()
    assert {"script", "style", "table"} <= set(parser.tags) and not {"link", "iframe", "object"} & set(parser.tags)
    for external in ("http://", "https://", 'src="//', "href=\"//", "url(", "@import"):
        assert external not in page
    assert "charbonnier" in page and "0.98" in page  # thresholds table
    assert leftovers(tmp_path) == []


def test_page_goes_to_stdout_and_missing_heatmaps_are_named(results_json, tmp_path) -> None:
    document = json.loads(results_json.read_text())
    document["results"][0]["check"] = {"status": "fail", "failed": [], "thresholds": [], "message": "m",
                                       "heatmap": "nowhere/x.png"}
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps(document))
    result = invoke("report", moved)
    assert result.exit_code == 0
    assert "heatmap not found: nowhere/x.png" in result.stdout and result.stdout.startswith("<!DOCTYPE html>")


def test_compare_json_renders_too(tmp_path) -> None:
    golden, cand = make_folders(tmp_path)
    compared = invoke("compare", golden, cand, "-m", "psnr", "-f", "json", "-q", "--workers", "0")
    (tmp_path / "c.json").write_text(compared.stdout)
    page = render_html(load_results(tmp_path / "c.json"), tmp_path)
    assert page.count('<tr class="scored">') == 3 and "Infinity" in page  # psnr of identical pairs


@pytest.mark.parametrize(
    ("content", "reason"),
    [("{", "not JSON"), ('{"results": 3}', "not an imgloss JSON result file"), ("[1, 2]", "not an imgloss JSON")],
)
def test_bad_results_file_is_one_line_exit_3(tmp_path, content, reason) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(InputError, match=reason):
        load_results(bad)
    result = invoke("report", bad, "-o", tmp_path / "r.html")
    assert result.exit_code == 3
    [line] = error_lines(result.stderr)
    assert str(bad) in line and reason in line
    assert not (tmp_path / "r.html").exists() and leftovers(tmp_path) == []
