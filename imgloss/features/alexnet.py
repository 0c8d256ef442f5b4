"""The AlexNet backbone of LPIPS-Alex: torchvision's ``alexnet().features`` and its taps.

LPIPS (Zhang et al. 2018) reads the five ReLU outputs of AlexNet's ``features``
(``lpips.pretrained_networks.alexnet`` slices 0-1, 2-4, 5-7, 8-9, 10-11). The network
is built, verified and cached by :mod:`imgloss.features.vgg` exactly like VGG (one
forward for x and y, never random weights); this module only describes it.
"""
from __future__ import annotations

from typing import Callable

from torch import nn

#: Tap name -> index in torchvision's ``alexnet().features`` (the output of that ReLU).
TAPS: dict[str, int] = {"relu1": 1, "relu2": 4, "relu3": 7, "relu4": 9, "relu5": 11}


def constructor() -> Callable[..., nn.Module]:
    """torchvision's ``alexnet`` constructor (imported on first use)."""
    import torchvision

    return torchvision.models.alexnet
