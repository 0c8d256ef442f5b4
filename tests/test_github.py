"""GitHub Actions output: ::error annotations (escaped as the runner requires) and the
step summary's Markdown table, from a real check and from the builders."""
from __future__ import annotations

import re

from check_helpers import LIMITS, make_folders
from imgloss.gate.github import enabled, escape_data, escape_property, step_summary
from imgloss.gate.verdicts import Unpaired
from imgloss.report.summary import RunInfo
from imgloss.results import PairResult

COMMAND = re.compile(r"^::(error|warning) file=([^,:]+),title=([^:]*)::(.*)$")


def test_enabled_follows_the_flag_then_the_environment() -> None:
    assert enabled(None, {"GITHUB_ACTIONS": "true"}) and not enabled(None, {})
    assert not enabled(False, {"GITHUB_ACTIONS": "true"}) and enabled(True, {})


def test_escaping() -> None:
    assert escape_data("50% a\nb\r") == "50%25 a%0Ab%0D"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"


def test_check_under_github_actions_annotates_and_writes_the_step_summary(tmp_path, monkeypatch, invoke) -> None:
    golden, cand = make_folders(tmp_path)
    (golden / "gone.png").write_bytes((golden / "same.png").read_bytes())
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.chdir(tmp_path)
    result = invoke("check", "golden", "cand", *LIMITS, "--workers", "0", "-q")
    assert result.exit_code == 1, result.output
    commands = [COMMAND.match(line) for line in result.stderr.splitlines() if line.startswith("::")]
    assert all(commands) and len(commands) == 2
    kinds = {m.group(1): m for m in commands if m}
    assert kinds["error"].group(2) == "cand/edited.png"  # relative to the checkout
    assert "edited.png" in kinds["error"].group(3) and "charbonnier = " in kinds["error"].group(4)
    assert kinds["warning"].group(2) == "golden/gone.png"
    text = summary.read_text()
    assert text.startswith("earlier step\n### imgloss check failed\n")  # appended
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert rows[0] == "| status | pair | charbonnier ↓ | ssim ↑ | failed thresholds / error |"
    assert rows[1] == "|---|---|---:|---:|---|"
    assert len(rows) == 3 and rows[2].startswith("| FAIL | edited.png | ")
    assert rows[2].endswith("| charbonnier max 0.01; ssim min 0.98 |")
    assert all(row.count("|") == rows[0].count("|") for row in rows)
    quiet = invoke("check", "golden", "cand", *LIMITS, "--workers", "0", "-q", "--no-github")
    assert "::error" not in quiet.stderr


def test_step_summary_caps_rows_and_escapes_pipes() -> None:
    info = RunInfo(["ssim"], {"ssim": True}, "cpu", {})
    results = []
    for index in range(60):
        result = PairResult(f"a|{index}.png", "r", "c", {"ssim": 0.5})
        result.extra["check"] = {"status": "fail", "failed": [{"metric": "ssim", "bound": "min", "limit": 0.9}],
                                 "message": "m", "heatmap": None}
        results.append(result)
    text = step_summary(results, info, Unpaired())
    rows = [line for line in text.splitlines() if line.startswith("| FAIL")]
    assert len(rows) == 50 and "a\\|0.png" in rows[0] and "… and 10 more" in text


def test_notes_are_notices_and_shown_in_the_summary() -> None:
    """Every conversion is a note in every output format: here a ``::notice`` per pair
    with notes (passing or not) and the note beside the failing pair's reason."""
    from imgloss.gate.github import annotations

    passed = PairResult("gray.png", "r/gray.png", "c/gray.png", {"ssim": 1.0}, notes=("c/gray.png: gray converted to RGB",))
    passed.extra["check"] = {"status": "pass", "failed": [], "message": "", "heatmap": None}
    failed = PairResult("a.png", "r/a.png", "c/a.png", {"ssim": 0.5}, notes=("c/a.png: alpha composited on white",))
    failed.extra["check"] = {"status": "fail", "failed": [{"metric": "ssim", "bound": "min", "limit": 0.9}],
                             "message": "ssim = 0.5 < 0.9", "heatmap": None}
    plain = PairResult("b.png", "r/b.png", "c/b.png", {"ssim": 1.0})
    plain.extra["check"] = {"status": "pass", "failed": [], "message": "", "heatmap": None}
    lines = annotations([passed, failed, plain], Unpaired([], []), fail_on_missing=False)
    notices = [line for line in lines if line.startswith("::notice")]
    assert notices == ["::notice file=c/gray.png,title=imgloss note%3A gray.png::c/gray.png: gray converted to RGB",
                       "::notice file=c/a.png,title=imgloss note%3A a.png::c/a.png: alpha composited on white"]
    assert len([line for line in lines if line.startswith("::error")]) == 1
    text = step_summary([passed, failed, plain], RunInfo(["ssim"], {"ssim": True}, "cpu", {}), Unpaired([], []))
    assert "| ssim min 0.9 (note: c/a.png: alpha composited on white) |" in text
