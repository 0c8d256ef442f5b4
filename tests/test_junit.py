"""JUnit XML: counts, one child per outcome, escaping, atomic writing; parsed back with
the standard library."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from imgloss.gate.junit import JUnitCase, junit_xml, write_junit

CASES = [
    JUnitCase("a.png", "imgloss.check"),
    JUnitCase("b & <c>.png", "imgloss.check", "failure", 'ssim = 0.9 < min 0.98; "quoted"', "values: ssim = 0.9"),
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
    assert list(cases[0]) == []
    [failure] = list(cases[1])
    assert failure.tag == "failure" and failure.get("message") == 'ssim = 0.9 < min 0.98; "quoted"'
    assert failure.text == "values: ssim = 0.9"
    assert [c.tag for c in cases[2]] == ["error"] and [c.tag for c in cases[3]] == ["skipped"]


def test_write_is_atomic_and_replaces(tmp_path) -> None:
    path = tmp_path / "report.xml"
    path.write_text("old")
    write_junit(path, "suite", CASES[:1], 0.0)
    assert ET.parse(path).getroot().find("testsuite").get("tests") == "1"  # type: ignore[union-attr]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.xml"]
