r"""JUnit XML for CI systems: one ``<testcase>`` per checked pair, written atomically.

The document is the common Jenkins/GitHub/GitLab dialect: a ``<testsuites>`` root
holding one ``<testsuite>`` with ``tests``, ``failures``, ``errors``, ``skipped``,
``time`` (seconds), ``timestamp`` (ISO 8601, UTC) and ``hostname`` attributes and a
``<properties>`` block (imgloss version, device, thresholds, options). Case names are
paths relative to the compared folders. Each case has its measured ``time`` and at
most one ``<failure>`` (a threshold broken), ``<error>`` (the pair could not be
checked) or ``<skipped>`` child, whose ``message`` attribute is the one-line reason
and whose text may hold details; a case with a file to show (a heatmap) carries
GitLab's ``[[ATTACHMENT|path]]`` line in its ``<system-out>``. A case whose pair needed
conversions to be compared (gray to RGB, alpha composited, ICC profile ignored...)
carries one ``note: ...`` line per note in its ``<system-out>``, before any attachment
(CI pages show it; a ``<properties>`` block inside a ``<testcase>`` is not in the
Jenkins/xunit2 schema).
The document is always well-formed XML 1.0: case names are in the reversible escaped
form of :func:`imgloss.report.names.escape` (undecodable bytes and control characters
as ``\xNN``, ``\`` doubled); messages, details, properties and attachments have
their control characters escaped. It is written through
:func:`imgloss.report.output.deliver`. No torch here.
"""
from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, Mapping, Sequence

from imgloss.report.names import display, escape
from imgloss.report.output import deliver

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
    attachments: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def junit_xml(
    suite: str,
    cases: Sequence[JUnitCase],
    seconds: float,
    properties: Mapping[str, str] | None = None,
    timestamp: datetime | None = None,
) -> bytes:
    """The UTF-8 XML document for ``cases`` in one suite named ``suite``; ``timestamp``:
    when the run started (default: now), written in UTC without a zone suffix as
    Jenkins' schema wants."""
    when = (timestamp or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)
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
    testsuite = ET.SubElement(root, "testsuite", {**attributes, "timestamp": when.isoformat(), "hostname": socket.gethostname()})
    if properties:
        block = ET.SubElement(testsuite, "properties")
        for name, value in properties.items():
            ET.SubElement(block, "property", {"name": display(name), "value": display(value)})
    for case in cases:
        element = ET.SubElement(
            testsuite, "testcase",
            {"name": escape(case.name), "classname": escape(case.classname), "time": f"{case.seconds:.3f}"},
        )
        if case.outcome != "passed":
            child = ET.SubElement(element, case.outcome, {"message": display(case.message)})
            child.text = "\n".join(map(display, case.details.split("\n"))) or None
        out = [f"note: {display(note)}" for note in case.notes]
        out += [f"[[ATTACHMENT|{display(a)}]]" for a in case.attachments]
        if out:
            ET.SubElement(element, "system-out").text = "\n".join(out)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(
    path: Path,
    suite: str,
    cases: Sequence[JUnitCase],
    seconds: float,
    properties: Mapping[str, str] | None = None,
    timestamp: datetime | None = None,
) -> None:
    """Write :func:`junit_xml` to ``path`` atomically (temp file, then rename); raises
    :class:`~imgloss.errors.OutputError` (the XML kept elsewhere) when that fails."""
    deliver(path, junit_xml(suite, cases, seconds, properties, timestamp), "--junit")
