"""How file names are written in each output, so that any name a file system allows
(any bytes but ``/`` and NUL on Linux) survives, and none can forge terminal output.

Python holds a name that is not valid UTF-8 as text with "surrogate escapes" (each
undecodable byte ``0xNN`` becomes ``U+DCNN``); ``os.fsencode`` gives the bytes back.

- :func:`escape`: the reversible escaped form (JUnit, and the terminal through
  :func:`display`): ``\\`` becomes ``\\\\``, an undecodable byte ``\\xNN``, an ASCII
  control character ``\\xNN``, any other character that is not printable (C1 controls,
  bidi overrides, line separators, unassigned) ``\\uNNNN`` or ``\\UNNNNNNNN``.
  :func:`unescape` reverses it exactly.
- :func:`display`: the same, leaving ``\\`` alone (for people, not for parsing).
- :func:`json_fields`: JSON strings are valid Unicode: an undecodable byte shows as
  U+FFFD and the exact bytes are added in a ``<field>_bytes`` key (base64).
- CSV keeps the exact bytes (written with ``surrogateescape``) and quotes any field
  holding a comma, a quote, CR or LF.

No torch here.
"""
from __future__ import annotations

import base64
import re

_ESCAPED = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")


def _one(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def display(name: str) -> str:
    """``name`` safe to print: every character Python does not call printable (controls,
    format characters such as bidi overrides, separators other than the space,
    unassigned code points, undecodable bytes) escaped."""
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() or c == " " else _one(c) for c in name)


def escape(name: str) -> str:
    """The reversible escaped form of ``name`` (see the module docstring)."""
    return display(name.replace("\\", "\\\\"))


def unescape(text: str) -> str:
    """The name that :func:`escape` turned into ``text``."""

    def back(match: re.Match[str]) -> str:
        token = match.group(1)
        if token == "\\":
            return "\\"
        code = int(token[1:], 16)
        return chr(0xDC00 + code) if token[0] == "x" and code >= 0x80 else chr(code)

    return _ESCAPED.sub(back, text)


def json_text(name: str) -> str:
    """``name`` as a valid JSON string: undecodable bytes become U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def json_fields(fields: dict[str, str | None]) -> dict[str, str | None]:
    """``{field: name}`` for JSON, with ``<field>_bytes`` (base64 of the exact bytes)
    added for each name that is not valid UTF-8."""
    out: dict[str, str | None] = {}
    extra: dict[str, str] = {}
    for key, value in fields.items():
        out[key] = None if value is None else json_text(value)
        if value is not None and out[key] != value:
            extra[f"{key}_bytes"] = base64.b64encode(value.encode("utf-8", "surrogateescape")).decode("ascii")
    return {**out, **extra}


def from_json(result: dict[str, object], key: str) -> str | None:
    """The exact name of ``key`` in a JSON result object (inverse of :func:`json_fields`)."""
    raw = result.get(f"{key}_bytes")
    if isinstance(raw, str):
        return base64.b64decode(raw).decode("utf-8", "surrogateescape")
    value = result.get(key)
    return value if isinstance(value, str) else None
