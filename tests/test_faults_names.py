"""Hostile file names: any bytes a file system allows round-trip through CSV, JSON,
JSONL and JUnit, JUnit stays well-formed XML, and nothing raw reaches the terminal."""
from __future__ import annotations

import json
import os
import random
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import cli_invoke as invoke

from faults import assert_one_line, csv_rows, pair_folders

HOSTILE = [
    b"caf\xe9.png",  # Latin-1, not UTF-8
    b"\xff\xfe.png",
    b"cr\rsplit.png",
    b"nl\nsplit.png",
    b"esc\x1b[31mred.png",
    b'quote",comma.png',
    b"back\\slash.png",
    b"[bold]markup.png",
    "bidi\u202egnp.png".encode(),
    "c1\u0085next.png".encode(),
    b"tab\tname.png",
]
RAW = ("\x1b", "\r", "\u202e", "\u0085")




@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("hostile")
    ref, cand, _ = pair_folders(root, 0, [os.fsdecode(name) for name in HOSTILE])
    return ref, cand


def test_escape_round_trips_any_bytes() -> None:
    from imgloss.report.names import display, escape, unescape

    rng = random.Random(7)
    alphabet = [b for b in range(1, 256) if b != ord("/")]
    for _ in range(500):
        raw = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        name = os.fsdecode(raw)
        assert os.fsencode(unescape(escape(name))) == raw
        shown = escape(name)
        assert shown.isprintable() and shown.encode("utf-8")  # valid text, nothing raw
    assert escape("a\\x41") == "a\\\\x41" and unescape("a\\\\x41") == "a\\x41"
    assert display("x\x1b[2Jy") == "x\\x1b[2Jy"


def test_csv_keeps_every_name_exactly(hostile, tmp_path) -> None:
    ref, cand = hostile
    out = tmp_path / "r.csv"
    result = invoke("compare", ref, cand, "-m", "mae", "-q", "-f", "csv", "-o", out, "--workers", "0")
    assert result.exit_code == 0, result.output
    rows = csv_rows(out.read_bytes())
    assert sorted(os.fsencode(Path(r["candidate"]).name) for r in rows) == sorted(HOSTILE)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_is_valid_unicode_and_keeps_the_bytes(hostile, tmp_path, fmt) -> None:
    from imgloss.report.names import from_json

    ref, cand = hostile
    out = tmp_path / f"r.{fmt}"
    result = invoke("compare", ref, cand, "-m", "mae", "-q", "-f", fmt, "-o", out, "--workers", "0")
    assert result.exit_code == 0, result.output
    text = out.read_bytes().decode("utf-8")  # strict: valid UTF-8
    assert "\\udc" not in text  # no lone surrogates, which strict JSON readers reject
    results = json.loads(text)["results"] if fmt == "json" else [json.loads(line) for line in text.splitlines()]
    names = sorted(os.fsencode(Path(from_json(r, "candidate")).name) for r in results)  # type: ignore[arg-type]
    assert names == sorted(HOSTILE)
    assert any("candidate_bytes" in r for r in results)


def test_junit_is_well_formed_and_names_unescape_to_the_bytes(hostile, tmp_path) -> None:
    from imgloss.report.names import unescape

    ref, cand = hostile
    junit = tmp_path / "j.xml"
    result = invoke("check", ref, cand, "--max", "mae=1", "-q", "--junit", junit, "--workers", "0")
    assert result.exit_code == 0, result.output
    root = ET.fromstring(junit.read_bytes())
    names = [case.get("name") for case in root.iter("testcase")]
    assert sorted(os.fsencode(unescape(n)) for n in names) == sorted(HOSTILE)  # type: ignore[arg-type]


def test_terminal_shows_names_escaped(hostile, tmp_path) -> None:
    ref, cand = hostile
    bad = os.fsdecode(b"bad\x1b[2J\xff.png")
    (ref / bad).write_bytes(b"not an image")
    (cand / bad).write_bytes(b"not an image")
    try:
        result = invoke("compare", ref, cand, "-m", "mae", "--workers", "0")
    finally:
        (ref / bad).unlink(), (cand / bad).unlink()
    assert result.exit_code == 3, result.output
    for stream in (result.stdout, result.stderr):
        assert not any(raw in stream for raw in RAW), repr(stream)
    assert "bad\\x1b[2J\\xff.png" in result.stderr
    assert "esc\\x1b[31mred.png" in result.stdout and "[bold]markup.png" in result.stdout


def test_unreadable_hostile_name_is_one_escaped_line(tmp_path) -> None:
    name = os.fsdecode(b"a\rb\x1b]0;pwned\x07.png")
    (tmp_path / name).write_bytes(b"junk")
    result = invoke("score", tmp_path / name, "-q")
    assert result.exit_code == 3, result.output
    assert_one_line(result.stderr, "a\\x0db\\x1b]0;pwned\\x07.png")
