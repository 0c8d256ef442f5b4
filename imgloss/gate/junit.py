"""JUnit XML for CI systems: one ``<testcase>`` per checked pair, written atomically.

The document is the common Jenkins/GitHub/GitLab dialect: a ``<testsuites>`` root
holding one ``<testsuite>`` with ``tests``, ``failures``, ``errors``, ``skipped`` and
``time`` (seconds) attributes; each case has at most one ``<failure>`` (a threshold
broken), ``<error>`` (the pair could not be checked) or ``<skipped>`` child, whose
``message`` attribute is the one-line reason and whose text may hold details.
No torch here.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from imgloss.report.output import atomic_write_bytes

Outcome = Literal["passed", "failure", "error", "skipped"]


@dataclass(frozen=True)
class JUnitCase:
    """One pair's result: ``outcome`` with its ``message`` (empty when passed)."""

    name: str
    classname: str
    outcome: Outcome = "passed"
    message: str = ""
    details: str = ""
    seconds: float = 0.0


def junit_xml(suite: str, cases: Sequence[JUnitCase], seconds: float) -> bytes:
    """The UTF-8 XML document for ``cases`` in one suite named ``suite``."""
    counts = {kind: sum(c.outcome == kind for c in cases) for kind in ("failure", "error", "skipped")}
    attributes = {
        "name": suite,
        "tests": str(len(cases)),
        "failures": str(counts["failure"]),
        "errors": str(counts["error"]),
        "skipped": str(counts["skipped"]),
        "time": f"{seconds:.3f}",
    }
    root = ET.Element("testsuites", attributes)
    testsuite = ET.SubElement(root, "testsuite", attributes)
    for case in cases:
        element = ET.SubElement(
            testsuite, "testcase", {"name": case.name, "classname": case.classname, "time": f"{case.seconds:.3f}"}
        )
        if case.outcome != "passed":
            child = ET.SubElement(element, case.outcome, {"message": case.message})
            child.text = case.details or None
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(path: Path, suite: str, cases: Sequence[JUnitCase], seconds: float) -> None:
    """Write :func:`junit_xml` to ``path`` atomically (temp file, then rename)."""
    atomic_write_bytes(path, junit_xml(suite, cases, seconds))
