"""Every metric's name, metadata and presets: the one table the CLI and engine read.

Pure data: importing this module imports no torch (``imgloss --help`` and
``imgloss metrics`` stay instant). Functions and loss classes are named by import
path and loaded on first use.
"""
from __future__ import annotations

import difflib
import functools
import importlib
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from imgloss.errors import UnknownMetricError


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class MetricInfo:
    """Metadata of one metric. ``range`` is the (low, high) of its values."""

    name: str
    title: str
    higher_is_better: bool
    needs_reference: bool
    needs_weights: bool
    differentiable: bool
    range: tuple[float, float]
    best: float
    unit: str
    description: str
    source: str
    function: str
    loss: str
    #: The keyword of ``function`` that a variant (``ssim:piq``) binds; "" when the
    #: metric's variants are presets of its loss module (perceptual, style, lpips).
    variant_keyword: str = ""

    @property
    def arrow(self) -> str:
        """``↑`` when higher is better, ``↓`` otherwise (for table headers)."""
        return "↑" if self.higher_is_better else "↓"

    def load_function(self) -> Callable[..., Any]:
        """The pure function ``(x, y) -> Tensor[N]`` (``(x) -> Tensor[N]`` for TV)."""
        return _load(self.function)

    def load_loss(self) -> type:
        """The ``nn.Module`` loss class."""
        return _load(self.loss)


@dataclass(frozen=True)
class VGGPreset:
    """A named configuration of a feature metric (perceptual, style or lpips; LPIPS-Alex runs on AlexNet)."""

    name: str
    metric: str
    backbone: str
    taps: tuple[str, ...]
    layer_weights: tuple[float, ...]
    distance: str
    normalize: str
    description: str
    source: str


INF = math.inf
_M = "imgloss.metrics."

METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo("charbonnier", "Charbonnier", False, True, False, True, (0.0, INF), 1e-3, "",
                   "mean sqrt((x-y)^2 + eps^2), eps = 1e-3; minimum eps at x = y",
                   "Lai et al. 2017 (LapSRN); S3Net", _M + "charbonnier:charbonnier", _M + "charbonnier:CharbonnierLoss"),
        MetricInfo("ssim", "SSIM", True, True, False, True, (-1.0, 1.0), 1.0, "",
                   "structural similarity, 11x11 Gaussian window (sigma 1.5), valid filtering",
                   "Wang et al. 2004", _M + "ssim:ssim", _M + "ssim:SSIMLoss", "convention"),
        MetricInfo("ms_ssim", "MS-SSIM", True, True, False, True, (0.0, 1.0), 1.0, "",
                   "multi-scale SSIM: 5 scales, weights 0.0448..0.1333, valid filtering; >= 161 px a side",
                   "Wang, Simoncelli & Bovik 2003", _M + "ms_ssim:ms_ssim", _M + "ms_ssim:MSSSIMLoss"),
        MetricInfo("wssim", "W-SSIM", True, True, False, True, (-1.0, 1.0), 1.0, "",
                   "wavelet SSIM: Haar, 2 levels, r = 0.7, normalised (reference loss = -2 * wssim)",
                   "Yang et al. 2020 (Y-net); S3Net", _M + "wssim:wssim", _M + "wssim:WSSIMLoss"),
        MetricInfo("psnr", "PSNR", True, True, False, True, (0.0, INF), INF, "dB",
                   "peak signal-to-noise ratio 10 log10(1/MSE), inf for identical images",
                   "standard", _M + "pixel:psnr", _M + "pixel:PSNRLoss"),
        MetricInfo("mse", "MSE", False, True, False, True, (0.0, 1.0), 0.0, "",
                   "mean squared error", "standard", _M + "pixel:mse", _M + "pixel:MSELoss"),
        MetricInfo("mae", "MAE", False, True, False, True, (0.0, 1.0), 0.0, "",
                   "mean absolute error (L1)", "standard", _M + "pixel:mae", _M + "pixel:MAELoss"),
        MetricInfo("tv", "TV", False, False, False, True, (0.0, INF), 0.0, "",
                   "total variation of one image, squared form (candidate: tv, reference: tv_ref)",
                   "Johnson et al. 2016; Mahendran & Vedaldi 2015", _M + "tv:tv", _M + "tv:TVLoss"),
        MetricInfo("perceptual", "Perceptual", False, True, True, True, (0.0, INF), 0.0, "",
                   "VGG19 feature L1, relu1_1..relu5_1 weighted 1/32..1 (pix2pixHD); presets",
                   "Johnson et al. 2016; Wang et al. 2018 (pix2pixHD)",
                   _M + "perceptual:perceptual", _M + "perceptual:PerceptualLoss"),
        MetricInfo("style", "Style", False, True, True, True, (0.0, INF), 0.0, "",
                   "Gram-matrix MSE of VGG19 relu1_1..relu5_1 features, summed",
                   "Gatys et al. 2016; Johnson et al. 2016", _M + "style:style", _M + "style:StyleLoss"),
        MetricInfo("lpips", "LPIPS", False, True, True, True, (0.0, INF), 0.0, "",
                   "LPIPS v0.1: learned weights on unit-normalised VGG16 (default) or AlexNet features",
                   "Zhang et al. 2018", _M + "lpips:lpips", _M + "lpips:LPIPSLoss"),
    )
}

#: Metrics computed when the user names none: every one that needs no weights.
DEFAULT_METRICS: tuple[str, ...] = ("charbonnier", "ssim", "wssim", "psnr", "tv")

_STYLE_TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")

PRESETS: dict[str, dict[str, VGGPreset]] = {
    "perceptual": {
        p.name: p
        for p in (
            VGGPreset("default", "perceptual", "vgg19", _STYLE_TAPS, (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0),
                      "l1", "imagenet", "pix2pixHD VGGLoss: VGG19, L1, weights 1/32..1",
                      "Wang et al. 2018 (pix2pixHD)"),
            VGGPreset("drn", "perceptual", "vgg19", _STYLE_TAPS[:3], (1 / 32, 1 / 16, 1 / 8),
                      "l1", "imagenet", "S3Net's own: VGG19 relu1_1..relu3_1, L1, weights 1/32..1/8",
                      "S3Net"),
            VGGPreset("johnson", "perceptual", "vgg16", ("relu1_2", "relu2_2", "relu3_3", "relu4_3"),
                      (1.0, 1.0, 1.0, 1.0), "mse", "imagenet",
                      "VGG16 relu1_2..relu4_3, MSE, weights 1", "Johnson et al. 2016"),
            VGGPreset("johnson-content", "perceptual", "vgg16", ("relu3_3",), (1.0,), "mse", "imagenet",
                      "VGG16 relu3_3 only, MSE (feature reconstruction loss)", "Johnson et al. 2016"),
        )
    },
    "lpips": {
        p.name: p
        for p in (
            VGGPreset("vgg", "lpips", "vgg16", ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"), (1.0,) * 5,
                      "lpips", "imagenet", "LPIPS v0.1 VGG (the default): VGG16, learned 1x1 layers",
                      "Zhang et al. 2018"),
            VGGPreset("alex", "lpips", "alexnet", ("relu1", "relu2", "relu3", "relu4", "relu5"), (1.0,) * 5,
                      "lpips", "imagenet", "LPIPS v0.1 AlexNet: learned 1x1 layers", "Zhang et al. 2018"),
        )
    },
    "style": {
        "default": VGGPreset("default", "style", "vgg19", _STYLE_TAPS, (1.0,) * 5, "mse", "imagenet",
                             "Gram MSE on VGG19 relu1_1..relu5_1, weights 1, summed",
                             "Gatys et al. 2016; Johnson et al. 2016"),
    },
}


@dataclass(frozen=True)
class SSIMConvention:
    """How one library computes SSIM, so ``ssim(..., convention=name)`` reproduces it.

    ``window``: ``gaussian`` (``size`` taps, ``sigma``) or ``uniform`` (``size`` x ``size``
    box). ``covariance``: ``population`` or ``sample`` (``n / (n - 1)``, n = size^2).
    ``padding``: ``valid`` (only windows that fit) or ``reflect`` (reflect-pad by
    ``size // 2``: a map of the image's size). ``downsample`` before SSIM: ``none``;
    ``piq`` (average-pool by ``f = max(1, round(min(H, W) / 256))``, Python rounding, floor);
    ``matlab`` (Wang's ssim.m: an ``f x f`` box filter with symmetric borders, then every
    f-th pixel from the first, ``f`` rounded half up). ``short_axes``: ``error`` for an
    image side shorter than the window, or ``skip`` filtering along it (pytorch-msssim).
    ``clamp_variances``: variances clamped at 0 (torchmetrics).
    """

    name: str
    peer: str
    window: str
    size: int
    sigma: float
    covariance: str
    padding: str
    downsample: str
    short_axes: str
    clamp_variances: bool
    description: str


SSIM_CONVENTIONS: dict[str, SSIMConvention] = {
    c.name: c
    for c in (
        SSIMConvention("imgloss", "imgloss.functional.ssim(x, y)", "gaussian", 11, 1.5, "population", "valid",
                       "none", "error", False, "Wang et al. 2004: 11x11 Gaussian (sigma 1.5), valid windows"),
        SSIMConvention("skimage", "skimage.metrics.structural_similarity(x, y, data_range=1, gaussian_weights=True, "
                       "sigma=1.5, use_sample_covariance=False)", "gaussian", 11, 1.5, "population", "valid",
                       "none", "error", False, "scikit-image set up as Wang et al. (its documented recipe)"),
        SSIMConvention("skimage-default", "skimage.metrics.structural_similarity(x, y, data_range=1)", "uniform",
                       7, 0.0, "sample", "valid", "none", "error", False,
                       "scikit-image's defaults: 7x7 uniform window, sample covariance"),
        SSIMConvention("pytorch-msssim", "pytorch_msssim.ssim(x, y, data_range=1, size_average=False)", "gaussian",
                       11, 1.5, "population", "valid", "none", "skip", False,
                       "as imgloss; a side under 11 px is not filtered (pytorch-msssim warns)"),
        SSIMConvention("piq", "piq.ssim(x, y, data_range=1.0, reduction='none')", "gaussian", 11, 1.5,
                       "population", "valid", "piq", "error", False,
                       "average-pools by round(min(H, W) / 256) first (downsample=True)"),
        SSIMConvention("torchmetrics", "torchmetrics.functional.structural_similarity_index_measure(x, y, "
                       "data_range=1.0, reduction='none')", "gaussian", 11, 1.5, "population", "reflect", "none",
                       "error", True, "reflect-padded borders count in the mean; variances clamped at 0"),
        SSIMConvention("matlab", "ssim.m (Wang's reference code, 2009), per channel", "gaussian", 11, 1.5,
                       "population", "valid", "matlab", "error", False,
                       "box-filters and subsamples by round(min(H, W) / 256) first"),
    )
}


def get_ssim_convention(name: str) -> SSIMConvention:
    """The SSIM convention ``name``; an :class:`UnknownMetricError` lists valid names."""
    try:
        return SSIM_CONVENTIONS[name]
    except KeyError:
        raise _unknown("SSIM convention", name, list(SSIM_CONVENTIONS)) from None


def _unknown(kind: str, name: str, valid: list[str]) -> UnknownMetricError:
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return UnknownMetricError(f"unknown {kind} {name!r}.{hint} Valid: {', '.join(valid)}")


def get_metric(name: str) -> MetricInfo:
    """The metadata of ``name``; an :class:`UnknownMetricError` lists valid names."""
    try:
        return METRICS[name]
    except KeyError:
        raise _unknown("metric", name, list(METRICS)) from None


def get_preset(metric: str, name: str = "default") -> VGGPreset:
    """The preset ``name`` of the VGG metric ``metric`` (``perceptual`` or ``style``)."""
    presets = PRESETS.get(get_metric(metric).name)
    if presets is None:
        raise UnknownMetricError(f"metric {metric!r} has no presets; only {', '.join(PRESETS)} do")
    try:
        return presets[name]
    except KeyError:
        raise _unknown(f"{metric} preset", name, list(presets)) from None


@dataclass(frozen=True)
class MetricSpec:
    """One column to compute: a registry metric, optionally with a VGG preset.

    ``column`` is the name in reports: the metric name, or ``name:preset`` when the
    user asked for a preset in the metric spec (``-m perceptual:johnson``).
    """

    column: str
    info: MetricInfo
    preset: str | None = None

    @classmethod
    def parse(
        cls, spec: str, default_preset: str | None = None, variants: Mapping[str, str] | None = None
    ) -> "MetricSpec":
        """Parse ``name`` or ``name:preset`` (``ssim:CONVENTION`` for SSIM); unknown names
        raise with suggestions. ``variants`` maps a metric to the variant it takes when
        the spec names none (``{"ssim": "piq"}`` from ``--ssim-convention``)."""
        name, _, explicit = spec.strip().partition(":")
        info = get_metric(name.strip().lower())
        preset = explicit.strip() or None
        column = f"{info.name}:{preset}" if preset else info.name
        if preset is None and default_preset in PRESETS.get(info.name, {}):
            preset = default_preset
        if preset is None:
            preset = (variants or {}).get(info.name)
        if preset is not None:
            check_variant(info.name, preset)
        return cls(column, info, preset)

    def load_function(self) -> Callable[..., Any]:
        """The metric's pure function with this spec's variant bound (``ssim:piq`` ->
        ``ssim(..., convention="piq")``)."""
        function = self.info.load_function()
        if self.preset is not None and self.info.variant_keyword:
            return functools.partial(function, **{self.info.variant_keyword: self.preset})
        return function

    @property
    def reference_column(self) -> str:
        """The column of a no-reference metric's value on the reference: ``tv_ref``."""
        return self.column.replace(self.info.name, f"{self.info.name}_ref", 1)


def check_variant(metric: str, name: str) -> None:
    """Validate a variant of ``metric``: an SSIM convention for ``ssim``, else a preset."""
    if get_metric(metric).variant_keyword == "convention":
        get_ssim_convention(name)
    else:
        get_preset(metric, name)


def parse_metric_specs(
    specs: Sequence[str], default_preset: str | None = None, variants: Mapping[str, str] | None = None
) -> tuple[MetricSpec, ...]:
    """``["ssim", "wssim,psnr", "ssim"]`` -> one :class:`MetricSpec` per distinct column, in
    order (``-m`` may repeat and comma-separate). Unknown names raise with suggestions.
    ``variants``: see :meth:`MetricSpec.parse`."""
    names = [part.strip() for spec in specs for part in spec.split(",") if part.strip()]
    return tuple(MetricSpec.parse(name, default_preset, variants) for name in dict.fromkeys(names))


def default_preset_name(metric: str) -> str:
    """The preset a feature metric uses when none is named: ``default`` (``vgg`` for LPIPS)."""
    presets = PRESETS[get_metric(metric).name]
    return "default" if "default" in presets else next(iter(presets))


def breakdown_columns(spec: MetricSpec) -> list[str]:
    """``perceptual/relu1_1``, ...: one column per tap of a feature metric (none otherwise)."""
    if spec.info.name not in PRESETS:
        return []
    preset = get_preset(spec.info.name, spec.preset or default_preset_name(spec.info.name))
    return [f"{spec.column}/{tap}" for tap in preset.taps]


def report_columns(
    metrics: Sequence[MetricSpec], with_reference: bool = True, breakdown: bool = False
) -> dict[str, bool]:
    """Report columns in order, each with ``higher_is_better``; a no-reference metric
    such as TV adds its ``_ref`` column (the reference's value) beside the candidate's;
    with ``breakdown``, each feature metric is followed by its per-tap terms."""
    columns: dict[str, bool] = {}
    for spec in metrics:
        columns[spec.column] = spec.info.higher_is_better
        if not spec.info.needs_reference and with_reference:
            columns[spec.reference_column] = spec.info.higher_is_better
        if breakdown:
            columns.update(dict.fromkeys(breakdown_columns(spec), spec.info.higher_is_better))
    return columns
