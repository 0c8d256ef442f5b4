"""``[tool.imgloss]`` in ``pyproject.toml``: find it, validate it, hand back typed settings.

The file used is the nearest ``pyproject.toml`` from the current directory upward (the
first one found, whether or not it has a ``[tool.imgloss]`` table), or the file given
with ``--config``. Command-line options win over the file, which wins over defaults;
:mod:`imgloss.gate.thresholds` says how limits merge. Schema (every key optional)::

    [tool.imgloss]
    metrics = ["psnr"]          # computed and reported besides the thresholded ones
    device = "auto"             # auto, cpu, cuda, cuda:N, mps
    batch-size = 16             # integer >= 1
    workers = 0                 # integer >= 0
    precision = "fp32"          # fp32, fp16, bf16
    resize = "none"             # none, candidate, reference
    background = "white"        # white, black
    glob = "**/*.png"
    recursive = true
    ignore-extension = false
    weights = "weights/vgg19.pth"   # relative to the pyproject.toml's folder
    max-pixels = 200000000
    fail-on-missing = true
    ignore = [                  # rectangles X, Y, W, H ignored in pairs whose relative path matches
      { path = "ui/*.png", rect = [0, 0, 200, 40] },
      { path = "**/clock-*.png", rects = [[10, 10, 50, 20], [300, 10, 50, 20]] },
    ]

    [tool.imgloss.max]          # a pair fails when the value is above
    charbonnier = 0.01
    [tool.imgloss.min]          # a pair fails when the value is below
    ssim = 0.98

    [[tool.imgloss.overrides]]  # later entries win; glob as --glob, on the pair's key
    glob = "faces/**"
    max = { charbonnier = 0.02 }
    min = { ssim = 0.95 }

Keys use the command-line spelling (``batch-size``, not ``batch_size``). An unknown key,
a value of the wrong type or choice, or an unreadable file is a :class:`UsageError`
(exit 2) naming the file and the key: values go through the same declarations as the
command line (:mod:`imgloss.options`). No torch here.
"""
from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imgloss.errors import UsageError
from imgloss.io.masks import IgnoreRule, parse_rect
from imgloss.options import CONFIG_KEYS
from imgloss.gate.thresholds import BOUNDS, Override, Threshold, ThresholdSet, column_name, make_threshold

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PYPROJECT = "pyproject.toml"

TABLE_KEYS = ("metrics", *BOUNDS, "overrides", "ignore")
OVERRIDE_KEYS = ("glob", *BOUNDS)
IGNORE_KEYS = ("path", "rect", "rects")


@dataclass
class Config:
    """Validated ``[tool.imgloss]``: ``options`` typed and keyed by option name (``batch_size``)."""

    path: Path | None = None
    metrics: list[str] = field(default_factory=list)
    thresholds: ThresholdSet = field(default_factory=lambda: ThresholdSet(()))
    options: dict[str, Any] = field(default_factory=dict)
    #: ``ignore = [...]``: rectangles ignored per path glob (:mod:`imgloss.io.masks`).
    ignore: tuple[IgnoreRule, ...] = ()


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` in ``start`` or a folder above it."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / PYPROJECT
        if candidate.is_file():
            return candidate
    return None


def load_config(explicit: Path | None = None, start: Path | None = None) -> Config:
    """The settings of ``explicit`` (a TOML file that must exist) or of the nearest
    ``pyproject.toml`` above ``start`` (default: the current directory); an empty
    :class:`Config` when there is none or it has no ``[tool.imgloss]``."""
    path = explicit if explicit is not None else find_pyproject(start or Path.cwd())
    if path is None:
        return Config()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None
    table = document.get("tool", {}).get("imgloss")
    if table is None:
        return Config(path)
    return parse_config(table, path)


def parse_config(table: object, path: Path) -> Config:
    """Validate the ``[tool.imgloss]`` table read from ``path``."""
    where = f"{path}: [tool.imgloss]"
    table = _table(table, where)
    _no_unknown(table, (*TABLE_KEYS, *CONFIG_KEYS), where)
    options = {}
    for key, value in table.items():
        option = CONFIG_KEYS.get(key)
        if option is not None:
            value = option.convert(value, where=f"{where} {key}")
            options[option.name] = path.parent / value if option.relative else value
    metrics = table.get("metrics", [])
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise UsageError(f"{where} metrics must be a list of metric names, got {metrics!r}")
    metrics = [column_name(m, where=f"{where} metrics") for m in metrics]
    overrides = table.get("overrides", [])
    if not isinstance(overrides, list):
        raise UsageError(f"{where} overrides must be an array of tables ([[tool.imgloss.overrides]])")
    ignore = table.get("ignore", [])
    if not isinstance(ignore, list):
        raise UsageError(f"{where} ignore must be an array of tables such as {{ path = \"*.png\", rect = [x, y, w, h] }}")
    return Config(
        path=path,
        metrics=list(metrics),
        thresholds=ThresholdSet(
            _limits(table, where),
            tuple(_override(entry, f"{where} overrides[{i}]") for i, entry in enumerate(overrides)),
        ),
        options=options,
        ignore=tuple(_ignore_rule(entry, f"{where} ignore[{i}]") for i, entry in enumerate(ignore)),
    )


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UsageError(f"{where} must be a table, got {value!r}")
    return value


def _no_unknown(table: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    unknown = [key for key in table if key not in known]
    if not unknown:
        return
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key.replace("_", "-"), known, n=1)
        hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise UsageError(f"{where}: unknown key(s) {', '.join(hints)}; valid keys: {', '.join(known)}")


def _limits(table: dict[str, Any], where: str) -> tuple[Threshold, ...]:
    """The ``max`` and ``min`` sub-tables of ``table`` as thresholds."""
    found: list[Threshold] = []
    for bound in BOUNDS:
        limits = _table(table.get(bound, {}), f"{where} {bound}")
        found.extend(
            make_threshold(column, bound, limit, where=f"{where} {bound}.{column}")
            for column, limit in limits.items()
        )
    return tuple(found)


def _override(entry: object, where: str) -> Override:
    entry = _table(entry, where)
    _no_unknown(entry, OVERRIDE_KEYS, where)
    glob = entry.get("glob")
    if not isinstance(glob, str) or not glob:
        raise UsageError(f"{where} needs glob = \"PATTERN\" (a non-empty string)")
    return Override(glob, _limits(entry, where))


def _ignore_rule(entry: object, where: str) -> IgnoreRule:
    """One ``ignore`` entry: ``path`` (a glob on the pair's relative path) and ``rect``
    (``[x, y, w, h]``) or ``rects`` (a list of them)."""
    entry = _table(entry, where)
    _no_unknown(entry, IGNORE_KEYS, where)
    glob = entry.get("path")
    if not isinstance(glob, str) or not glob:
        raise UsageError(f"{where} needs path = \"GLOB\" (a non-empty string)")
    rects = [entry["rect"]] if "rect" in entry else []
    listed = entry.get("rects", [])
    if not isinstance(listed, list):
        raise UsageError(f"{where} rects must be a list of [x, y, w, h], got {listed!r}")
    rects += listed
    if not rects:
        raise UsageError(f"{where} needs rect = [x, y, w, h] or rects = [[x, y, w, h], ...]")
    return IgnoreRule(glob, tuple(parse_rect(rect, f"{where} rect") for rect in rects))
