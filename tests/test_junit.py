"""JUnit XML: counts, one child per outcome, escaping, timestamp, properties, GitLab
attachments, atomic writing; parsed back with junitparser (a JUnit library) and the
standard library, and a real check's report with relative names and real times."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import junitparser

from check_helpers import LIMITS, make_folders
from imgloss.gate.junit import JUnitCase, junit_xml, write_junit

CASES = [
    JUnitCase("a.png", "imgloss.check", seconds=0.25),
    JUnitCase("b & <c>.png", "imgloss.check", "failure", 'ssim = 0.9 < min 0.98; "quoted"', "values: ssim = 0.9",
              attachments=("diffs/b.png.diff.png",)),
    JUnitCase("d.png", "imgloss.check", "error", "d.png: truncated or corrupt image data"),
    JUnitCase("e.png", "imgloss.check", "skipped", "candidate has no golden file"),
]


def test_counts_children_and_escaping() -> None:
    root = ET.fromstring(junit_xml("imgloss check", CASES, 1.5))
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    for element in (root, suite):
        assert {k: element.get(k) for k in ("name", "tests", "failures", "errors", "skipped", "time")} == {
            "name": "imgloss check", "tests": "4", "failures": "1", "errors": "1", "skipped": "1", "time": "1.500",
        }
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["a.png", "b & <c>.png", "d.png", "e.png"]
    assert list(cases[0]) == [] and cases[0].get("time") == "0.250"
    failure, out = list(cases[1])
    assert failure.tag == "failure" and failure.get("message") == 'ssim = 0.9 < min 0.98; "quoted"'
    assert failure.text == "values: ssim = 0.9"
    assert out.tag == "system-out" and out.text == "[[ATTACHMENT|diffs/b.png.diff.png]]"
    assert [c.tag for c in cases[2]] == ["error"] and [c.tag for c in cases[3]] == ["skipped"]


def test_junitparser_reads_outcomes_timestamp_and_properties(tmp_path) -> None:
    path = tmp_path / "j.xml"
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    write_junit(path, "imgloss check", CASES, 1.5, {"imgloss.device": "cpu", "imgloss.version": "9"}, when)
    xml = junitparser.JUnitXml.fromfile(str(path))
    [suite] = list(xml)
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (4, 1, 1, 1)
    assert suite.timestamp == "2026-01-02T03:04:05" and suite.hostname
    assert {p.name: p.value for p in suite.properties()} == {"imgloss.device": "cpu", "imgloss.version": "9"}
    cases = {case.name: case for case in suite}
    assert cases["a.png"].time == 0.25 and cases["a.png"].is_passed
    [failure] = cases["b & <c>.png"].result
    assert isinstance(failure, junitparser.Failure) and failure.message.startswith("ssim = 0.9")
    assert cases["b & <c>.png"].system_out == "[[ATTACHMENT|diffs/b.png.diff.png]]"
    assert isinstance(cases["d.png"].result[0], junitparser.Error) and cases["e.png"].is_skipped


def test_notes_are_system_out_lines_before_the_attachment() -> None:
    case = JUnitCase("g.png", "imgloss.check", "failure", "mae = 0.5 > max 0.1",
                     attachments=("diffs/g.png.diff.png",), notes=("reference: gray image repeated to 3 channels",
                                                                   "candidate: \x1b[31m"))
    [element] = ET.fromstring(junit_xml("imgloss check", [case], 0.1)).iter("testcase")
    assert element.find("system-out").text == (
        "note: reference: gray image repeated to 3 channels\nnote: candidate: \\x1b[31m\n"
        "[[ATTACHMENT|diffs/g.png.diff.png]]"
    )
    passed = JUnitCase("p.png", "imgloss.check", notes=("candidate: palette image expanded to RGB",))
    [element] = ET.fromstring(junit_xml("imgloss check", [passed], 0.1)).iter("testcase")
    assert [c.tag for c in element] == ["system-out"]


def test_write_is_atomic_and_replaces(tmp_path) -> None:
    path = tmp_path / "report.xml"
    path.write_text("old")
    write_junit(path, "suite", CASES[:1], 0.0)
    assert ET.parse(path).getroot().find("testsuite").get("tests") == "1"  # type: ignore[union-attr]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.xml"]


def test_check_report_has_relative_names_real_times_and_attachments(tmp_path, monkeypatch, invoke) -> None:
    golden, cand = make_folders(tmp_path)
    (cand / "new.png").write_bytes((cand / "same.png").read_bytes())
    monkeypatch.chdir(tmp_path)
    result = invoke("check", "golden", cand, *LIMITS, "--junit", "j.xml", "--diff-dir", "diffs", "--workers", "0", "-q")
    assert result.exit_code == 1, result.output
    [suite] = list(junitparser.JUnitXml.fromfile(str(tmp_path / "j.xml")))
    cases = {case.name: case for case in suite}
    assert set(cases) == {"edited.png", "same.png", "sub/same2.png", "new.png"}  # never absolute
    assert all(case.time > 0 for name, case in cases.items() if name != "new.png")
    assert sum(case.time for case in cases.values()) <= suite.time + 0.5
    assert cases["edited.png"].system_out.splitlines() == [
        "[[ATTACHMENT|diffs/edited.png.diff.png]]", "[[ATTACHMENT|diffs/edited.png.charbonnier.png]]",
        "[[ATTACHMENT|diffs/edited.png.ssim.png]]"]
    properties = {p.name: p.value for p in suite.properties()}
    assert properties["imgloss.device"] == "cpu" and '"charbonnier": 0.01' in properties["imgloss.thresholds"]
    assert "imgloss.version" in properties and "imgloss.options" in properties
    assert datetime.fromisoformat(suite.timestamp).year >= 2024
