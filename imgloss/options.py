"""Every option of the scoring commands, declared once: name, type, default, help,
choices or minimum, config key and help panel.

The CLI builds its Typer parameters from these declarations (:mod:`imgloss.cli.options`),
``[tool.imgloss]`` is read through them (:mod:`imgloss.config`), and the engine checks
its options with them (:class:`imgloss.engine.options.EngineOptions`): one conversion
and one validation, whatever the origin of a value and whatever Typer/Click version
parsed it. Pure data and plain Python: no torch, no Typer.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from imgloss.errors import UsageError
from imgloss.metrics.registry import SSIM_CONVENTIONS

#: Help panels, in the order ``--help`` shows them.
PANELS = (GATE, INPUT, METRICS, OUTPUT, PERFORMANCE, SCALE_PANEL, WEIGHTS) = (
    "Gate", "Input", "Metrics", "Output", "Performance", "Scale out", "Weights")
PRECISIONS = ("fp32", "fp16", "bf16")
RESIZE_MODES = ("none", "reference", "candidate")
BACKGROUNDS = ("white", "black")
FORMATS = ("table", "csv", "json", "jsonl")
#: ``--heatmap-scale``: the documented fixed range of each map, or each map's own maximum.
HEATMAP_SCALES = ("fixed", "auto")
#: ``--json-inf``: how JSON writes an infinite value (PSNR of identical images).
JSON_INF = ("string", "null", "large")
#: ``--backend``: score in this process, or on a Ray cluster.
BACKENDS = ("local", "ray")

_KINDS = {str: "a string", int: "an integer", bool: "true or false", Path: "a path"}


@dataclass(frozen=True)
class Option:
    """One option. ``name`` is the Python keyword (``batch_size``); ``flags`` default to
    ``--batch-size``; ``key`` is the ``[tool.imgloss]`` key (None: command line only).
    ``many``: repeatable, the value is a list of ``kind``. ``negatable``: a boolean with
    a ``--no-...`` form. ``relative``: a config path is relative to the config file."""

    name: str
    kind: type
    default: Any
    help: str
    panel: str
    flags: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    many: bool = False
    negatable: bool = False
    config: bool = True
    relative: bool = False
    metavar: str | None = None

    @property
    def flag(self) -> str:
        """The long flag: ``--batch-size``."""
        return self.flags[0] if self.flags else "--" + self.name.replace("_", "-")

    @property
    def key(self) -> str | None:
        """The ``[tool.imgloss]`` key (``batch-size``), or None when not configurable."""
        return self.flag[2:] if self.config else None

    def convert(self, value: Any, where: str | None = None) -> Any:
        """``value`` as this option's type, checked (choices, minimum); None stays None.

        ``where`` names the origin in errors (default: the flag). Raises UsageError.
        """
        if value is None:
            return None
        where = where or self.flag
        if self.many:
            if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                raise UsageError(f"{where} must be a list, got {value!r}")
            return [self._one(item, where) for item in value]
        return self._one(value, where)

    def _one(self, value: Any, where: str) -> Any:
        kind = self.kind
        if kind is Path and isinstance(value, (str, Path)):
            value = Path(value)
        # bool is a subclass of int in Python; true is not a worker count.
        elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise UsageError(f"{where} must be {_KINDS[kind]}, got {value!r}")
        if self.choices and value not in self.choices:
            raise UsageError(f"{where} must be one of {', '.join(self.choices)}, got {value!r}")
        if self.minimum is not None and value < self.minimum:
            raise UsageError(f"{where} must be at least {self.minimum}, got {value!r}")
        return value


def _declare(*options: Option) -> dict[str, Option]:
    return {option.name: option for option in options}


OPTIONS: dict[str, Option] = _declare(
    # Metrics
    Option("metric", str, None, "Metric to compute (repeat, or comma-separate; NAME:PRESET for presets, ssim:CONVENTION; "
           "see 'imgloss metrics'). Default: every metric that needs no weights.", METRICS,
           flags=("--metric", "-m"), many=True, config=False, metavar="NAME"),
    Option("preset", str, None, "Preset for perceptual/style: default, drn, johnson, johnson-content.", METRICS,
           config=False, metavar="NAME"),
    Option("ssim_convention", str, "imgloss", "Compute ssim as this library does (see 'imgloss metrics'); "
           "-m ssim:NAME for one column.", METRICS, choices=tuple(SSIM_CONVENTIONS), metavar="NAME"),
    Option("breakdown", bool, False, "Also report each tap's weighted term of perceptual, style and lpips "
           "(columns METRIC/TAP), in every format.", METRICS),
    # Input
    Option("resize", str, "none", "On size mismatch: none (error), candidate or reference (resize that side, "
           "antialiased).", INPUT, choices=RESIZE_MODES, metavar="SIDE"),
    Option("background", str, "white", "Composite transparent images on white or black.", INPUT, choices=BACKGROUNDS),
    Option("recursive", bool, True, "Descend into subfolders.", INPUT, negatable=True),
    Option("glob", str, None, "Only files whose relative path matches (e.g. '*.png').", INPUT, metavar="PATTERN"),
    Option("ignore_extension", bool, False, "Pair a/x.png with b/x.jpg.", INPUT),
    Option("strict", bool, False, "Refuse every conversion (gray->RGB, palette, ICC profile not applied, first "
           "frame, alpha, CMYK, resize, ...): such a pair becomes an error row instead of a note.", INPUT),
    Option("max_pixels", int, None, "Raise Pillow's decompression-bomb limit to N pixels.", INPUT, minimum=1,
           metavar="N"),
    Option("mask", Path, None, "Ignore regions in every pair: a mask image of the golden's size, nonzero (white) "
           "compared, 0 (black) ignored. GOLDEN.mask.png beside a golden file and _mask.png in its folder apply "
           "without it.", INPUT, config=False, metavar="FILE"),
    Option("ignore", str, None, "Ignore the rectangle X,Y,W,H (golden-image pixels, top-left corner and size) in "
           "every pair (repeat). Per path: ignore = [{ path = GLOB, rect = [x, y, w, h] }] in [tool.imgloss].",
           INPUT, many=True, config=False, metavar="X,Y,W,H"),
    Option("config", Path, None, "Read [tool.imgloss] from FILE instead of the nearest pyproject.toml.", INPUT,
           config=False, metavar="FILE"),
    # Output
    Option("fmt", str, "table", "Output format.", OUTPUT, flags=("--format", "-f"), choices=FORMATS, config=False),
    Option("output", Path, None, "Write to FILE (atomically) instead of stdout.", OUTPUT, flags=("--output", "-o"),
           config=False, metavar="FILE"),
    Option("json_inf", str, "string", "How JSON/JSONL write an infinite value (PSNR of identical images): string "
           "(\"inf\"), null, or large (±1.797e308, the largest float64).", OUTPUT, choices=JSON_INF),
    Option("maps", Path, None, "Write each pair's map of every metric with one (charbonnier, mae, mse, psnr, ssim, "
           "wssim, perceptual, lpips) to DIR as <pair>.<metric>.png, on fixed colour scales; with --breakdown also "
           "one per tap or W-SSIM subband (<pair>.<metric>-<part>.png).", OUTPUT, config=False,
           metavar="DIR"),
    Option("quiet", bool, False, "No progress or summary on stderr.", OUTPUT, flags=("--quiet", "-q"), config=False),
    # Performance
    Option("device", str, "auto", "auto, cpu, cuda, cuda:N or mps (auto: CUDA, then MPS, then CPU).", PERFORMANCE,
           metavar="DEVICE"),
    Option("batch_size", int, None, "Pairs per batch (default: from free memory).", PERFORMANCE, minimum=1, metavar="N"),
    Option("workers", int, None, "Decoding worker processes (default: by device and job size; 0: decode in the "
           "main process).", PERFORMANCE, minimum=0, metavar="N"),
    Option("precision", str, "fp32", "Precision of the VGG forward (fp16 needs a GPU).", PERFORMANCE,
           choices=PRECISIONS),
    Option("max_memory", str, None, "Memory one batch or tile may use, e.g. 4G, 512M (default: a quarter of "
           "what the device has free). Larger images are scored in exact tiles.", PERFORMANCE, metavar="SIZE"),
    # Scale out
    Option("shard", str, None, "Score only shard I of N (1-based): pairs split by a stable hash of their relative "
           "path, so N jobs cover every pair exactly once; join the parts with 'imgloss merge'.", SCALE_PANEL,
           config=False, metavar="I/N"),
    Option("resume", Path, None, "Append each scored pair to FILE.jsonl (fsynced every few seconds) and skip the "
           "pairs already there: rerun the same command after a crash or pre-emption.", SCALE_PANEL,
           config=False, metavar="FILE"),
    Option("backend", str, "local", "Score here (local) or on a Ray cluster (ray; needs the imgloss[ray] extra and "
           "paths every node can read).", SCALE_PANEL, choices=BACKENDS),
    Option("address", str, None, "Ray cluster to join with --backend ray (auto: the running one; default: start "
           "one here).", SCALE_PANEL, metavar="ADDRESS"),
    # Weights
    Option("weights", Path, None, "VGG weights file or folder (else IMGLOSS_WEIGHTS, torch hub cache, imgloss "
           "cache).", WEIGHTS, relative=True, metavar="PATH"),
    # Gate (check only)
    Option("max_limits", str, None, "Fail a pair whose METRIC is above VALUE (repeat).", GATE, flags=("--max",),
           many=True, config=False, metavar="METRIC=VALUE"),
    Option("min_limits", str, None, "Fail a pair whose METRIC is below VALUE (repeat).", GATE, flags=("--min",),
           many=True, config=False, metavar="METRIC=VALUE"),
    Option("fail_on_missing", bool, False, "A golden file with no candidate fails the check (exit 3).", GATE),
    Option("junit", Path, None, "Write JUnit XML (one testcase per pair).", GATE, config=False, metavar="FILE"),
    Option("diff_dir", Path, None, "Write a heatmap PNG per failing pair (images, |error|, 1 - SSIM) and the map "
           "of each failed metric that has one (<pair>.<metric>.png, as --maps).", GATE,
           config=False, metavar="DIR"),
    Option("heatmap_scale", str, "fixed", "Heatmap colour scale: fixed (|error| 0..0.25, 1 - SSIM 0..1, comparable "
           "between pairs) or auto (each map to its own maximum).", GATE, choices=HEATMAP_SCALES),
    Option("github", bool, None, "GitHub Actions output: ::error annotations per failing pair and a table in the "
           "step summary (default: on when GITHUB_ACTIONS=true).", GATE, negatable=True, config=False),
    Option("update_golden", bool, False, "After a reviewed change: copy the candidates of failing pairs over their "
           "golden files and add new candidates, all or nothing (passing golden files stay untouched).", GATE,
           config=False),
    Option("update_all", bool, False, "With --update-golden: replace every paired golden file, passing ones too.",
           GATE, flags=("--all",), config=False),
    Option("from_results", Path, None, "Judge stored results (a --format json file, a --resume file or the output "
           "of 'imgloss merge') instead of scoring GOLDEN and CANDIDATE.", GATE, flags=("--from",), config=False, metavar="FILE"),
)

#: Options the engine takes (the names of :class:`imgloss.engine.options.EngineOptions`' fields).
ENGINE = ("device", "batch_size", "workers", "precision", "max_memory", "resize", "background", "max_pixels",
          "weights", "breakdown", "strict")
#: Options that choose and pair the inputs (:func:`imgloss.io.pair_inputs`).
PAIRING = ("recursive", "glob", "ignore_extension")
#: Options that split, resume or distribute a run (:mod:`imgloss.scale`).
SCALE = ("shard", "resume", "backend", "address")
#: Options that ignore regions of the pairs (:mod:`imgloss.io.masks`).
MASKING = ("mask", "ignore")
_RUN = ("metric", *ENGINE, *PAIRING, *MASKING, "max_pixels", "config", "fmt", "output", "json_inf", "quiet", *SCALE)
#: The options of each command, in the order ``--help`` lists them.
COMPARE = tuple(dict.fromkeys(("metric", "preset", "ssim_convention", *_RUN, "maps")))
SCORE = tuple(name for name in COMPARE
              if name not in ("preset", "ssim_convention", "breakdown", "maps", "resize", "ignore_extension", "precision",
                              "weights", *MASKING))
CHECK = tuple(dict.fromkeys(("max_limits", "min_limits", "fail_on_missing", "junit", "diff_dir", "heatmap_scale", "github",
                             "update_golden", "update_all", "from_results", "ssim_convention",
                             *(n for n in _RUN if n != "metric"))))
MERGE = ("fmt", "output", "quiet")
#: ``[tool.imgloss]`` keys -> option, for the config reader.
CONFIG_KEYS: dict[str, Option] = {option.key: option for option in OPTIONS.values() if option.key is not None}


def defaults(names: Iterable[str]) -> dict[str, Any]:
    """The default value of each option in ``names``."""
    return {name: OPTIONS[name].default for name in names}


def resolve(
    given: Mapping[str, Any], configured: Mapping[str, Any], names: Iterable[str]
) -> dict[str, Any]:
    """Every option of ``names``: the command line's value when it was given (present in
    ``given``), else the config's, else the default; each converted and checked once.

    ``given``: name -> value as parsed from the command line (only those the user set);
    ``configured``: name -> value already converted by the config reader.
    """
    values: dict[str, Any] = {}
    for name in names:
        option = OPTIONS[name]
        if name in given:
            values[name] = option.convert(given[name])
        elif name in configured:
            values[name] = configured[name]
        else:
            values[name] = option.default
    return values


def check_values(values: Mapping[str, Any]) -> None:
    """Check already typed values (library callers of the engine) against their declarations."""
    for name, value in values.items():
        OPTIONS[name].convert(value, where=name)
