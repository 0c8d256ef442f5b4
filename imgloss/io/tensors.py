"""Tensor helpers for decoded images: integer samples to [0, 1] floats, channel matching
(gray beside RGB) and antialiased resizing.

Torch is imported on first use, so importing this module stays torch-free."""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from torch import Tensor

# ----------------------------------------------------------------------- tensor helpers

#: Integer sample type -> the value that maps to 1.0 (:func:`to_unit_float` divides by it).
SCALES = {"uint8": 255.0, "uint16": 65535.0}


def to_unit_float(data: Tensor) -> Tensor:
    """``uint8``/``uint16``/``float32`` samples -> float32 in [0, 1], bit-identical to
    :func:`read_image` on any device: a true division by a tensor (a scalar divisor may be
    turned into a multiplication by its reciprocal, which is not correctly rounded)."""
    import torch

    name = str(data.dtype).removeprefix("torch.")
    if name not in SCALES:
        return data.to(torch.float32)
    if name == "uint16":  # few kernels take uint16; its bits as int16, widened, are exact
        data = data.view(torch.int16).to(torch.int32).bitwise_and_(0xFFFF)
    return data.to(torch.float32) / torch.tensor(SCALES[name], dtype=torch.float32, device=data.device)


def match_channels(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Repeat a one-channel image to three channels when the other one has three.

    Works on ``C x H x W`` and ``N x C x H x W`` (channels at dim -3). Returns the two
    tensors, unchanged when their channel counts already agree. Raises ``ValueError``
    for other mismatches (e.g. 2 vs 3).
    """
    ca, cb = a.shape[-3], b.shape[-3]
    if ca == cb:
        return a, b
    if ca == 1 and cb == 3:
        return _repeat_channels(a), b
    if ca == 3 and cb == 1:
        return a, _repeat_channels(b)
    raise ValueError(f"cannot match {ca} channels with {cb} channels (only 1 and 3 mix)")


def _repeat_channels(t: Tensor) -> Tensor:
    reps = [1] * t.dim()
    reps[-3] = 3
    return t.repeat(*reps)


def resize_to(
    t: Tensor,
    size: tuple[int, int],
    *,
    mode: Literal["bicubic", "bilinear"] = "bicubic",
) -> Tensor:
    """Resize ``C x H x W`` (or ``N x C x H x W``) to ``size = (H, W)`` with antialiasing.

    Uses ``torch.nn.functional.interpolate(..., antialias=True)`` so downscaling does not
    alias; the result is float, same rank as ``t``, clamped to [0, 1] (bicubic
    overshoots at edges). Returns ``t`` itself when it already has that size.
    """
    if t.dim() not in (3, 4):
        raise ValueError(f"expected C x H x W or N x C x H x W, got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        raise ValueError(f"expected a floating tensor in [0, 1], got dtype {t.dtype}")
    if mode not in ("bicubic", "bilinear"):
        raise ValueError(f"mode must be 'bicubic' or 'bilinear', got {mode!r}")
    try:
        height, width = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (height, width), got {size!r}") from None
    if height < 1 or width < 1:
        raise ValueError(f"size must be positive, got {size!r}")
    if tuple(t.shape[-2:]) == (height, width):
        return t
    import torch.nn.functional as F  # deferred: importing imgloss.io stays torch-free

    batch = t if t.dim() == 4 else t.unsqueeze(0)
    out = F.interpolate(
        batch, size=(height, width), mode=mode, align_corners=False, antialias=True
    ).clamp_(0.0, 1.0)
    return out if t.dim() == 4 else out.squeeze(0)


