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

Kernels: separable depthwise convolutions (any device and dtype; the fallback); on the
CPU without gradients (float32/float64), cache-sized tiles filtered by shifted slices
(:func:`_map_tiled`); and, on CUDA with Triton, the fused kernel of
:mod:`imgloss.metrics.ssim_triton` (five moments in one pass, fp32 accumulation for
fp16/bf16). ``IMGLOSS_SSIM_KERNEL`` (``auto``, default; ``conv``; ``triton``, which also
runs CPU tensors under ``TRITON_INTERPRET=1``) is read once at import.
"""
from __future__ import annotations

import math
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
#: Bytes of moment stack per tile of a gradient-free CPU map (:func:`_map_tiled`);
#: 3 MB measured fastest on a 2-core CPU (512 KB L2 per core, 8 MB L3).
CPU_TILE_BYTES = 3 << 20
_TILED_DTYPES = (torch.float32, torch.float64)


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


def _blur_by_slices(stack: Tensor, taps: list[float]) -> Tensor:
    """Valid separable filtering of ``... x H x W`` by ``taps`` as shifted multiply-adds
    (H then W): on the CPU, for a tile in cache, 1.2-2x faster than depthwise convolution."""
    size = len(taps)
    height, width = stack.shape[-2] - size + 1, stack.shape[-1] - size + 1
    rows = torch.mul(stack[..., :height, :], taps[0])
    for k in range(1, size):
        rows.add_(stack[..., k : k + height, :], alpha=taps[k])
    out = torch.mul(rows[..., :width], taps[0])
    for k in range(1, size):
        out.add_(rows[..., k : k + width], alpha=taps[k])
    return out


def _tile_map(x: Tensor, y: Tensor, taps: list[float], c1: float, c2: float, out: Tensor) -> None:
    """The valid SSIM map of one tile (``P x 1 x h x w``) into ``out``, from FOUR centred
    moments: SSIM needs only the sum of the variances, so ``E[u^2 + v^2]`` (``u = x - s``,
    ``v = y - s``, ``s`` the tile's mean of y) replaces ``E[x^2]`` and ``E[y^2]`` (a fifth
    less filtering), and the centring keeps the variances' cancellation as accurate as
    the five raw moments' (fp32 errors against fp64 measured 0.4x-1.2x theirs). A NaN or
    inf in y leaves the tile uncentred, so it spoils only the windows that contain it."""
    shift = float(y.mean())
    if not math.isfinite(shift):
        shift = 0.0
    stack = x.new_empty(x.shape[0], 4, *x.shape[-2:])
    u, v = torch.sub(x, shift, out=stack[:, 0:1]), torch.sub(y, shift, out=stack[:, 1:2])
    torch.mul(u, u, out=stack[:, 2:3]).addcmul_(v, v)
    torch.mul(u, v, out=stack[:, 3:4])
    m_u, m_v, e2, e_uv = _blur_by_slices(stack, taps).unbind(1)
    m_uv = m_u * m_v
    m_sq = torch.mul(m_u, m_u).addcmul_(m_v, m_v)
    contrast_structure = torch.sub(e_uv, m_uv).mul_(2).add_(c2).div_(torch.sub(e2, m_sq).add_(c2))
    m_sum = m_u.add_(m_v)  # mu_x mu_y = m_uv + s (m_u + m_v) + s^2; mu_x^2 + mu_y^2 likewise
    mu_xy_2 = m_uv.add_(m_sum, alpha=shift).mul_(2).add_(2 * shift * shift + c1)
    b1 = m_sq.add_(m_sum, alpha=2 * shift).add_(2 * shift * shift + c1)
    torch.mul(mu_xy_2.div_(b1), contrast_structure, out=out.squeeze(1))


def _tile_shape(channels: int, height: int, width: int, element_size: int) -> tuple[int, int]:
    """``(planes, output rows)`` per tile of a valid map of one image's ``channels`` padded
    planes ``height x width``: the tile's moment stack within :data:`CPU_TILE_BYTES`."""
    row_bytes = 4 * width * element_size
    out_rows = height - 2 * RADIUS
    rows = max(1, CPU_TILE_BYTES // row_bytes - 2 * RADIUS)
    if rows < out_rows:
        return 1, rows
    return max(1, min(channels, CPU_TILE_BYTES // (row_bytes * height))), out_rows


def _map_tiled(x: Tensor, y: Tensor, same: bool, c1: float, c2: float) -> Tensor:
    """The gradient-free CPU map tile by tile (:func:`_tile_map`): a tile is a group of one
    image's channel planes or a band of rows of one plane (with its 10 halo rows), sized by
    :data:`CPU_TILE_BYTES` so that its moments and temporaries stay in cache. Tiles never
    mix images, so an image's values do not depend on the batch it is in (bit for bit)."""
    n, c, height, width = x.shape
    if same:
        x, y = F.pad(x, (RADIUS,) * 4), F.pad(y, (RADIUS,) * 4)
        height, width = height + 2 * RADIUS, width + 2 * RADIUS
    out_h, out_w = height - 2 * RADIUS, width - 2 * RADIUS
    out = x.new_empty(n, c, 1, out_h, out_w)
    x, y = x.unsqueeze(2), y.unsqueeze(2)  # N x C x 1 x H x W: a tile is P x 1 x h x w
    taps = gaussian_1d(x.dtype, x.device).tolist()
    planes, rows = _tile_shape(c, height, width, x.element_size())
    for i in range(n):
        for p in range(0, c, planes):
            for r in range(0, out_h, rows):
                band = slice(r, min(r + rows, out_h) + 2 * RADIUS)
                _tile_map(x[i, p : p + planes, :, band], y[i, p : p + planes, :, band], taps, c1, c2,
                          out[i, p : p + planes, :, r : r + rows])
    return out.view(n, c, out_h, out_w)


def ssim_map_raw(x: Tensor, y: Tensor, same: bool, c1: float, c2: float) -> Tensor:
    """The SSIM map of validated inputs: ``same`` zero padding (5 px) or valid filtering.

    Without gradients on the CPU (the engine, any ``no_grad`` scoring) in float32/float64
    the map is computed in cache-sized tiles (:func:`_map_tiled`): about 1.8x faster on a
    2-core CPU at 8 x 3 x 256 x 256 and 512 x 512 than convolving the whole batch (whose
    100 MB temporaries are also fresh ``mmap`` pages whose faults cost as much as the
    arithmetic)."""
    save = 0
    if torch.is_grad_enabled():
        save = int(x.requires_grad) | 2 * int(y.requires_grad)
    tiled = x.device.type == "cpu" and x.dtype in _TILED_DTYPES and _backend(x) is None
    if not save and tiled and not torch.compiler.is_compiling():
        return _map_tiled(x, y, same, c1, c2)
    return _SSIMMap.apply(x, y, same, c1, c2, save)[0]
