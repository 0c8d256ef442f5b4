"""`imgloss report` at scale and in a real browser: 100 failures stay under 5 MB of HTML,
and headless Chromium runs the page's script and renders a screenshot with the failing
rows and heatmap thumbnails visible."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from check_helpers import LIMITS, make_folders
from imgloss.gate.heatmap import write_heatmap
from imgloss.report.html import build_page

#: Chromium's flags for a sandbox-free, offline, profile-free run in CI containers.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync",
)


def chromium() -> str | None:
    return next((path for name in ("chromium", "chromium-browser", "google-chrome") if (path := shutil.which(name))), None)


def browse(page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
    profile = tmp_path / "profile"
    command = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=3000", *args, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)


@pytest.mark.slow
def test_one_hundred_failures_make_less_than_5_mb_of_html(tmp_path) -> None:
    rng = np.random.default_rng(0)
    noisy = []  # noise compresses worst; 4 distinct 128 x 128 heatmaps, each used by 25 pairs
    for index in range(4):
        reference, candidate = (torch.from_numpy(rng.random((3, 128, 128))).float() for _ in range(2))
        write_heatmap(tmp_path / f"{index}.png", reference, candidate)
        noisy.append((tmp_path / f"{index}.png").read_bytes())
    results = []
    for index in range(100):
        heatmap = tmp_path / "diffs" / f"{index}.png.diff.png"
        heatmap.parent.mkdir(exist_ok=True)
        heatmap.write_bytes(noisy[index % 4])
        results.append({"reference": f"g/{index}.png", "candidate": f"c/{index}.png", "metrics": {"ssim": 0.01},
                        "notes": [], "check": {"status": "fail", "message": "ssim = 0.01 < min 0.98", "heatmap": str(heatmap),
                                               "failed": [{"metric": "ssim", "bound": "min", "limit": 0.98, "value": 0.01}]}})
    page = build_page({"options": {"check": {"thresholds": {}}}, "results": results}, tmp_path, folder="r_files")
    size = len(page.html.encode("utf-8"))
    assert size < 5_000_000, size
    assert page.html.count('<img class="thumb"') == 100 and len(page.files) == 100  # full-size heatmaps as files
    assert size < sum(path.stat().st_size for path in page.files.values())  # thumbnails are smaller than the maps


@pytest.mark.slow  # starts headless Chromium
def test_report_renders_in_headless_chromium(tmp_path, invoke) -> None:
    golden, cand = make_folders(tmp_path)
    results = tmp_path / "results.json"
    checked = invoke("check", golden, cand, *LIMITS, "--diff-dir", tmp_path / "diffs", "-f", "json", "-o", results,
                     "--workers", "0", "-q")
    assert checked.exit_code == 1, checked.output
    page = tmp_path / "report.html"
    assert invoke("report", results, "-o", page).exit_code == 0
    dom = browse(page, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr
    assert 'data-ready="1"' in dom.stdout  # the page's script ran to its end without an error
    shot = tmp_path / "shot.png"
    taken = browse(page, tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", "--hide-scrollbars",
                   "--run-all-compositor-stages-before-draw")
    assert taken.returncode == 0 and shot.is_file(), taken.stderr
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)
    assert Image.open(shot).size == (1200, 1600)
    red = ((pixels[:, 0] > 150) & (pixels[:, 1] < 60) & (pixels[:, 2] < 60)).sum()
    assert red > 50, f"no red FAIL status in the screenshot {shot}"  # the FAIL status is drawn in red
    colours = {tuple(p) for p in pixels[:: 7]}
    assert len(colours) > 200  # images rendered, not an empty page
    assert json.loads(results.read_text())["results"]
