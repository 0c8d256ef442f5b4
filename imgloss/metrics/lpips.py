"""LPIPS v0.1 (Zhang et al. 2018), VGG (default) and AlexNet variants, per image.

For each of five taps ``l`` of the backbone (VGG16 relu1_2..relu5_3, or AlexNet
relu1..relu5): unit-normalise the features along channels (``f / (||f||_2 + 1e-10)``),
square the difference of x and y, weigh the channels with the learned 1x1 linear layer
``w_l`` (no bias) and average over the pixels; LPIPS is the sum over taps. Lower is
better, 0 at x = y. Equal to ``lpips.LPIPS(net=..., version="0.1")(x, y, normalize=True)``.

Inputs ``N x C x H x W`` in [0, 1] (C = 1 or 3). LPIPS's own scaling layer,
``(2x - 1 - shift) / scale`` with shift (-.030, -.088, -.188) and scale (.458, .448, .450),
is exactly ImageNet normalisation of ``x``: the backbone runs through
:mod:`imgloss.features.vgg` with ``normalize="imagenet"``, so LPIPS-VGG shares one VGG16
forward with any VGG16 perceptual preset (``johnson``) in the same run.
Weights: the backbone's torchvision file and the linear layers (``lpips-vgg`` /
``lpips-alex``: the files the ``lpips`` package ships, or ``imgloss weights import``),
both verified by SHA-256 (:mod:`imgloss.weights`); missing ones are a ``WeightsError``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from imgloss import weights as weights_store
from imgloss.features.vgg import Features, pair_features
from imgloss.metrics._base import Reduction, check_reduction, reduce
from imgloss.metrics._checks import check_pair
from imgloss.metrics.feature_loss import FeatureLoss, functional_module
from imgloss.metrics.registry import get_preset

EPS = 1e-10
#: ``default`` is ``vgg``.
DEFAULT_NET = "vgg"


def _unit(features: Tensor) -> Tensor:
    """``lpips.normalize_tensor``: divide by the channel-wise L2 norm plus 1e-10."""
    return features / (features.square().sum(dim=1, keepdim=True).sqrt() + EPS)


class LPIPSLoss(FeatureLoss):
    """LPIPS per image (``reduction="none"``) or reduced; ``net``: ``vgg`` or ``alex``.

    ``weights``: an explicit backbone weights file or folder (a folder is also searched for
    the linear layers' ``vgg.pth``/``alex.pth``); ``lin_weights``: an explicit file of the
    linear layers. Both default to the usual resolution order. Loads and verifies the
    linear layers on construction (``WeightsError`` when missing).
    """

    def __init__(
        self,
        preset: str = DEFAULT_NET,
        *,
        weights: str | None = None,
        lin_weights: str | None = None,
        data_range: float = 1.0,
        reduction: Reduction = "mean",
        check_values: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(reduction, weights, data_range=data_range, check_values=check_values)
        self.preset = DEFAULT_NET if preset == "default" else preset
        spec = get_preset("lpips", self.preset)
        self.backbone, self.taps, self.normalize = spec.backbone, spec.taps, spec.normalize
        explicit = lin_weights
        if explicit is None and weights is not None and _is_dir(weights):
            explicit = weights
        state = weights_store.load(f"lpips-{self.preset}", explicit).state
        for index in range(len(self.taps)):
            lin = state[f"lin{index}.model.1.weight"].to(device=device, dtype=dtype or torch.float32)
            self.register_buffer(f"lin{index}", lin, persistent=False)
        self.attach_network(None, device, dtype)

    def tap_maps(self, fx: Features, fy: Features) -> dict[str, Tensor]:
        """Each tap's spatial term ``w_l . (f_x - f_y)^2`` (``N x 1 x H_l x W_l``)."""
        maps = {}
        for index, tap in enumerate(self.taps):
            diff = (_unit(fx[tap]) - _unit(fy[tap])).square()
            lin = getattr(self, f"lin{index}").to(dtype=diff.dtype)
            maps[tap] = F.conv2d(diff, lin)
        return maps

    def terms(self, fx: Features, fy: Features) -> dict[str, Tensor]:
        """Each tap's contribution (shape ``N``); they sum to LPIPS."""
        return {tap: m.mean(dim=(1, 2, 3)) for tap, m in self.tap_maps(fx, fy).items()}

    def from_features(self, fx: Features, fy: Features) -> Tensor:
        return torch.stack(list(self.terms(fx, fy).values())).sum(dim=0)

    def spatial(self, x: Tensor, y: Tensor) -> Tensor:
        """``lpips.LPIPS(spatial=True)``: each tap's map upsampled bilinearly to the input
        size and summed; ``N x 1 x H x W``."""
        check_pair(x, y, check_values=self.check_values, data_range=self.data_range)
        if self.data_range != 1:
            x, y = x / self.data_range, y / self.data_range
        fx, fy = pair_features(self.network, x, y, self.taps, self.normalize)
        size = x.shape[-2:]
        maps = [F.interpolate(m, size=size, mode="bilinear", align_corners=False)
                for m in self.tap_maps(fx, fy).values()]
        return torch.stack(maps).sum(dim=0)

    def extra_repr(self) -> str:
        return f"net={self.preset!r}, backbone={self.backbone!r}, taps={self.taps}, reduction={self.reduction!r}"


def _is_dir(path: str) -> bool:
    from pathlib import Path

    return Path(path).expanduser().is_dir()


def lpips(
    x: Tensor,
    y: Tensor,
    net: str = DEFAULT_NET,
    *,
    spatial: bool = False,
    weights: str | None = None,
    lin_weights: str | None = None,
    data_range: float = 1.0,
    reduction: Reduction = "none",
    check_values: bool = False,
) -> Tensor:
    """LPIPS v0.1 per image (shape ``N``, lower is better, 0 at x = y); with ``spatial``
    the map ``N x 1 x H x W`` (``lpips.LPIPS(spatial=True)``; its mean is close to, not
    equal to, the value: the tap maps are upsampled bilinearly).

    ``x``, ``y``: ``N x C x H x W`` in [0, 1] (C = 1 or 3); ``net``: ``vgg`` (VGG16,
    needs at least 16 px a side) or ``alex`` (AlexNet, at least 31 px). ``data_range``,
    ``reduction`` (default ``"none"``; not with ``spatial``) and ``check_values`` as
    :func:`imgloss.functional.ssim`.
    """
    check_reduction(reduction)
    module = functional_module(
        LPIPSLoss, x, net, weights=weights, lin_weights=lin_weights, data_range=float(data_range),
        reduction="none", check_values=bool(check_values),
    )
    return module.spatial(x, y) if spatial else reduce(module.per_image(x, y), reduction)
