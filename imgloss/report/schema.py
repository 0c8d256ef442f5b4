"""What an imgloss JSON result file (``--format json`` of ``compare`` or ``check``) must
hold for ``imgloss report``, checked field by field before any rendering, so that a
malformed or foreign file is one line naming the field (``results[3].metrics.ssim: a
number, "inf", "-inf" or null, got a list``), never a traceback deep in the page code.

Only what the report reads is checked; unknown keys are allowed (newer writers add
some). No torch here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Union

Check = Callable[[Any, str], None]
Spec = Union[type, tuple, dict, Check, "Required"]
_NAMES = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}


class SchemaError(ValueError):
    """A field of the document is not what the report expects; ``str`` names the field."""


@dataclass(frozen=True)
class Required:
    """A key that must be present (others may be left out)."""

    spec: Spec


def _kind(value: Any) -> str:
    return _NAMES.get(type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def _join(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def _metric_value(value: Any, where: str) -> None:
    if value is None or value in ("inf", "-inf") or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return
    raise SchemaError(f'{where}: a number, "inf", "-inf" or null, got {_kind(value)}')


def _each(spec: Spec) -> Check:
    """A list whose every item matches ``spec``."""

    def check(value: Any, where: str) -> None:
        if not isinstance(value, list):
            raise SchemaError(f"{where}: a list, got {_kind(value)}")
        for index, item in enumerate(value):
            _check(item, spec, f"{where}[{index}]")

    return check


def _values(spec: Spec) -> Check:
    """An object whose every value matches ``spec``."""

    def check(value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise SchemaError(f"{where}: an object, got {_kind(value)}")
        for key, item in value.items():
            _check(item, spec, _join(where, key))

    return check


_TEXT = (str, type(None))
_NUMBER = _metric_value
_SUMMARY_METRIC = {"mean": _NUMBER, "median": _NUMBER, "worst": {"pair": _TEXT, "value": _NUMBER}}
_THRESHOLDS = {"max": _values(_NUMBER), "min": _values(_NUMBER),
               "overrides": _each({"glob": _TEXT, "max": _values(_NUMBER), "min": _values(_NUMBER)})}
_CHECK_RECORD = {"status": _TEXT, "message": _TEXT, "heatmap": _TEXT, "heatmap_error": _TEXT,
                 "maps": _each(str), "maps_error": _TEXT, "failed": _each({"metric": _TEXT})}
RESULT = {"candidate": Required(str), "reference": _TEXT, "metrics": _values(_NUMBER), "error": _TEXT,
          "notes": _each(str), "check": _CHECK_RECORD}
DOCUMENT = {
    "results": Required(_each(RESULT)),
    "imgloss": _TEXT,
    "device": _TEXT,
    "warnings": _each(str),
    "unmatched": _each(str),
    "unsupported": _each(str),
    "options": {"reference": _TEXT, "candidate": _TEXT,
                "check": {"config": _TEXT, "missing": _each(str), "extra": _each(str), "thresholds": _THRESHOLDS}},
    "summary": {"metrics": _values(_SUMMARY_METRIC)},
}


def _check(value: Any, spec: Spec, where: str) -> None:
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise SchemaError(f"{where or 'the document'}: an object, got {_kind(value)}")
        for key, field in spec.items():
            inner = field.spec if isinstance(field, Required) else field
            if key in value:
                _check(value[key], inner, _join(where, key))
            elif isinstance(field, Required):
                raise SchemaError(f"{_join(where, key)}: missing")
    elif isinstance(spec, (type, tuple)):
        kinds = spec if isinstance(spec, tuple) else (spec,)
        if type(value) not in kinds:
            raise SchemaError(f"{where}: {' or '.join(_NAMES[k] for k in kinds)}, got {_kind(value)}")
    else:
        spec(value, where)


def validate(document: Any) -> None:
    """Raise :class:`SchemaError` naming the first field of ``document`` that the report
    cannot use (``results`` missing, ``results[2].candidate`` not a string, ...)."""
    _check(document, DOCUMENT, "")
