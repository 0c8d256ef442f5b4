"""The SSIM map's arithmetic, forward and analytic backward, and the choice of kernel.

One ``torch.autograd.Function`` serves both kernels. With the five local moments
``mu_x, mu_y, E[x^2], E[y^2], E[xy]`` (Gaussian blurs), ``l = A1 / B1``, ``cs = A2 / B2``
(``A1 = 2 mu_x mu_y + C1``, ``B1 = mu_x^2 + mu_y^2 + C1``, ``A2 = 2 s_xy + C2``,
``B2 = s_xx + s_yy + C2``) and ``map = l cs``, the partial derivatives by the raw moments are

    d mu_x  = 2 (cs (mu_y - l mu_x) / B1 + l (cs mu_x - mu_y) / B2)   (mu_y: swap x and y)
    d E[x^2] = d E[y^2] = -map / B2,   d E[xy] = 2 l / B2

and, with ``G^T`` the transposed blur of ``grad_map * partial``,
``dx = G^T d mu_x + 2 x G^T d E2 + y G^T d E[xy]`` (``dy`` likewise). The forward saves
the partial maps the backward needs (none without a gradient; three fields when only the
prediction needs one, as in training); the backward is one blur of those fields and a few
products: no autograd graph of 30 intermediates.

Kernels: separable depthwise convolutions (any device and dtype; the fallback) and, on
CUDA with Triton, the fused kernel of :mod:`imgloss.metrics.ssim_triton` (five moments
in one pass, fp32 accumulation for fp16/bf16). ``IMGLOSS_SSIM_KERNEL`` (``auto``,
default; ``conv``; ``triton``, which also runs CPU tensors under ``TRITON_INTERPRET=1``)
is read once at import.
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

WINDOW_SIZE = 11
SIGMA = 1.5
RADIUS = WINDOW_SIZE // 2
KERNELS = ("auto", "conv", "triton")
KERNEL = os.environ.get("IMGLOSS_SSIM_KERNEL", "auto").strip().lower() or "auto"
_FUSED_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
#: Bytes of moment stack per chunk of a gradient-free CPU map (:func:`ssim_map_raw`);
#: 4-8 MB measured fastest on the 2-core CPU (8 MB L3).
CPU_CHUNK_BYTES = 8 << 20


def _gaussian(dtype: torch.dtype, device: torch.device) -> Tensor:
    coords = torch.arange(WINDOW_SIZE, dtype=torch.float64) - RADIUS
    g = torch.exp(-(coords**2) / (2 * SIGMA**2))
    return (g / g.sum()).to(dtype=dtype, device=device)


@lru_cache(maxsize=None)
def _cached_gaussian(dtype: torch.dtype, device: torch.device) -> Tensor:
    # A normal tensor even when first built under inference_mode: it is cached and
    # later used by autograd.
    with torch.inference_mode(False):
        return _gaussian(dtype, device)


def gaussian_1d(dtype: torch.dtype, device: torch.device) -> Tensor:
    """The normalised 11-tap Gaussian (sigma 1.5), built in float64 then cast; cached
    per dtype and device (built in the graph, a constant, under ``torch.compile``)."""
    if torch.compiler.is_compiling():
        return _gaussian(dtype, device)
    return _cached_gaussian(dtype, device)


gaussian_1d.cache_clear = _cached_gaussian.cache_clear  # type: ignore[attr-defined]


def blur(x: Tensor, pad: int = 0) -> Tensor:
    """Depthwise separable Gaussian filtering of every channel, ``pad`` zeros per side.

    Both passes filter without padding (zeros, when asked, are added first): the CPU's
    depthwise convolution is 2-3x slower when it pads itself. The SSIM kernels below
    write their fields straight into a zero-bordered buffer (:func:`_bordered`) instead.
    """
    g = gaussian_1d(x.dtype, x.device)
    channels = x.shape[1]
    if pad:
        x = F.pad(x, (pad, pad, pad, pad))
    x = F.conv2d(x, g.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)
    return F.conv2d(x, g.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)


def _bordered(like: Tensor, fields: int, pad: int) -> tuple[Tensor, Tensor]:
    """A zero buffer ``N x fields*C x (H + 2 pad) x (W + 2 pad)`` and its interior viewed
    as ``N x fields x C x H x W``, to be written in place (one write, no cat, no pad)."""
    n, c, h, w = like.shape
    buffer = like.new_zeros(n, fields * c, h + 2 * pad, w + 2 * pad)
    return buffer, buffer[..., pad : pad + h, pad : pad + w].unflatten(1, (fields, c))


def map_and_partials(moments: Tensor, c1: float, c2: float, save: int) -> tuple[Tensor, Tensor | None]:
    """The SSIM map from ``N x 5C x H x W`` moments and the partials the backward needs:
    ``save`` is a bit set (1: x needs a gradient, 2: y does); the partials are
    ``d mu_x`` (bit 1), ``d mu_y`` (bit 2), then ``d E2`` and ``d E[xy]``, each C channels."""
    mu_x, mu_y, xx, yy, xy = moments.chunk(5, dim=1)
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    b1 = mu_xx + mu_yy + c1
    b2 = (xx - mu_xx) + (yy - mu_yy) + c2
    luminance = (2 * mu_xy + c1) / b1
    contrast_structure = (2 * (xy - mu_xy) + c2) / b2
    ssim = luminance * contrast_structure
    if not save:
        return ssim, None
    fields = []
    if save & 1:
        fields.append(2 * (contrast_structure * (mu_y - luminance * mu_x) / b1 + luminance * (contrast_structure * mu_x - mu_y) / b2))
    if save & 2:
        fields.append(2 * (contrast_structure * (mu_x - luminance * mu_y) / b1 + luminance * (contrast_structure * mu_y - mu_x) / b2))
    return ssim, torch.cat([*fields, -ssim / b2, 2 * luminance / b2], dim=1)


def conv_forward(x: Tensor, y: Tensor, same: bool, c1: float, c2: float, save: int) -> tuple[Tensor, Tensor | None]:
    """Map (and partials, see :func:`map_and_partials`) by separable convolutions: one
    blur of the 5C moment stack."""
    pad = RADIUS if same else 0
    if torch.compiler.is_compiling():  # the compiler fuses the stack; no out= views
        return map_and_partials(blur(torch.cat([x, y, x * x, y * y, x * y], dim=1), pad), c1, c2, save)
    stack, parts = _bordered(x, 5, pad)
    parts[:, 0] = x
    parts[:, 1] = y
    torch.mul(x, x, out=parts[:, 2])
    torch.mul(y, y, out=parts[:, 3])
    torch.mul(x, y, out=parts[:, 4])
    return map_and_partials(blur(stack), c1, c2, save)


def conv_backward(
    grad: Tensor, x: Tensor, y: Tensor, partials: Tensor, same: bool, save: int
) -> tuple[Tensor | None, Tensor | None]:
    """``dx``, ``dy`` (None where not wanted) from ``grad_map``: the transposed blur of the
    saved fields times ``grad_map`` (3C channels for one input, 4C for both), then products."""
    count, pad = partials.shape[1] // x.shape[1], RADIUS if same else 2 * RADIUS
    if torch.compiler.is_compiling():
        fields = F.pad((partials.unflatten(1, (count, -1)) * grad.unsqueeze(1)).flatten(1, 2), (pad,) * 4)
    else:
        fields, parts = _bordered(grad, count, pad)
        torch.mul(partials.unflatten(1, (count, -1)), grad.unsqueeze(1), out=parts)
    blurred = list(blur(fields).chunk(count, dim=1))
    g_xy, g_e2 = blurred.pop(), blurred.pop()
    dx = blurred.pop(0) + 2 * x * g_e2 + y * g_xy if save & 1 else None
    dy = blurred.pop(0) + 2 * y * g_e2 + x * g_xy if save & 2 else None
    return dx, dy


def _backend(x: Tensor) -> Any:
    """The fused Triton backend when it applies to ``x``, else None (convolutions)."""
    if KERNEL == "conv" or x.dtype not in _FUSED_DTYPES:
        return None
    if KERNEL != "triton" and x.device.type != "cuda":
        return None
    from imgloss.metrics import ssim_triton

    return ssim_triton if ssim_triton.AVAILABLE else None


class _SSIMMap(torch.autograd.Function):
    """SSIM map with the analytic backward above; kernel chosen per call. ``save``: which
    inputs need a gradient (bit 1: x, bit 2: y), 0 when none does."""

    @staticmethod
    def forward(x: Tensor, y: Tensor, same: bool, c1: float, c2: float, save: int) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        backend = _backend(x)
        if backend is not None:
            return backend.forward(x, y, same, c1, c2, bool(save))
        ssim, partials = conv_forward(x, y, same, c1, c2, save)
        return ssim, x.new_empty(0) if partials is None else partials

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: tuple) -> None:
        x, y, same, _, _, save = inputs
        ctx.same, ctx.save = same, save
        ctx.save_for_backward(x, y, output[1])
        ctx.mark_non_differentiable(output[1])

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor, _unused: Tensor | None) -> tuple:  # type: ignore[override]
        x, y, partials = ctx.saved_tensors
        backend = _backend(x)
        if backend is not None:
            dx, dy = backend.backward(grad, x, y, partials, ctx.same)
        else:
            dx, dy = conv_backward(grad, x, y, partials, ctx.same, ctx.save)
        return (
            dx if ctx.needs_input_grad[0] else None,
            dy if ctx.needs_input_grad[1] else None,
            None, None, None, None,
        )


def _planes_per_chunk(x: Tensor, same: bool) -> int | None:
    """How many channel planes one chunk of a gradient-free CPU map takes (its moment stack
    within :data:`CPU_CHUNK_BYTES`), or None when the whole input fits in one."""
    height, width = x.shape[-2:]
    pad = 2 * RADIUS if same else 0
    planes = max(1, CPU_CHUNK_BYTES // (5 * (height + pad) * (width + pad) * x.element_size()))
    return planes if planes < x.shape[0] * x.shape[1] else None


def _map_in_chunks(x: Tensor, y: Tensor, same: bool, c1: float, c2: float, planes: int) -> Tensor:
    """The map computed over chunks of ``planes`` channel planes (every channel's map is
    independent of the others), written into one output."""
    n, c, height, width = x.shape
    x, y = x.reshape(n * c, 1, height, width), y.reshape(n * c, 1, height, width)
    trim = 0 if same else 2 * RADIUS
    out = x.new_empty(n * c, 1, height - trim, width - trim)
    for start in range(0, n * c, planes):
        end = start + planes
        out[start:end] = conv_forward(x[start:end], y[start:end], same, c1, c2, 0)[0]
    return out.view(n, c, height - trim, width - trim)


def ssim_map_raw(x: Tensor, y: Tensor, same: bool, c1: float, c2: float) -> Tensor:
    """The SSIM map of validated inputs: ``same`` zero padding (5 px) or valid filtering.

    Without gradients on the CPU (the engine, any ``no_grad`` scoring) a large input is
    computed in chunks of whole channel planes (:data:`CPU_CHUNK_BYTES`): the same values
    (the map is per channel), 1.3-1.6x faster on a 2-core CPU at 8 x 3 x 512 x 512, because
    a chunk's temporaries stay in cache and in the allocator's heap, where the whole
    batch's 100 MB temporaries are fresh ``mmap`` pages whose faults cost as much as the
    arithmetic."""
    save = 0
    if torch.is_grad_enabled():
        save = int(x.requires_grad) | 2 * int(y.requires_grad)
    if not save and x.device.type == "cpu" and _backend(x) is None and not torch.compiler.is_compiling():
        planes = _planes_per_chunk(x, same)
        if planes is not None:
            return _map_in_chunks(x, y, same, c1, c2, planes)
    return _SSIMMap.apply(x, y, same, c1, c2, save)[0]
