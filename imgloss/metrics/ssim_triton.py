"""The fused SSIM kernel in Triton: forward and backward of the SSIM map in one pass each.

Used by :mod:`imgloss.metrics.ssim_kernel` on CUDA (and on CPU tensors under
``TRITON_INTERPRET=1``, which is how CI tests it); ``AVAILABLE`` is False when Triton
cannot be imported, and the convolution path runs instead.

Tiling (the same program shape for both passes): a program owns one image plane and a
tile of ``BLOCK_H - 10`` output rows by ``BLOCK_W`` columns. It reads a
``BLOCK_H x BLOCK_W`` input tile 11 times, shifted by one column each time (the
horizontal Gaussian taps, from L1/L2), accumulating the five moments ``x, y, x^2, y^2,
xy`` in fp32 registers, then applies the vertical taps as one banded ``BLOCK_H x
BLOCK_H`` matrix product per moment (``tl.dot`` in IEEE fp32). Zero padding ('same') and
valid filtering differ only in the tile's offset and the load masks. fp16/bf16 inputs
are converted on load; every sum is fp32.

- forward: the map (input dtype) and, when a gradient is wanted, the four partial
  derivatives of the map by ``mu_x, mu_y, E[x^2] (= E[y^2]), E[xy]`` (fp32).
- backward: ``grad_map * partial`` blurred back onto the input grid (the same tiling,
  offset by ``pad - 10``), then ``dx = G mu_x + 2 x G E2 + y G xy`` and ``dy`` likewise.
  ``grad_map`` may be an expanded tensor (stride 0: the gradient of a mean).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from imgloss.metrics.ssim_kernel import RADIUS, WINDOW_SIZE, gaussian_1d

try:  # pragma: no cover - depends on the installation
    import triton
    import triton.language as tl
    from torch.library import triton_op, wrap_triton

    AVAILABLE = True
except Exception:  # pragma: no cover - no Triton: the convolution path is used
    AVAILABLE = False

#: Tile: BLOCK_H input rows (BLOCK_H - 10 output rows) by BLOCK_W columns.
BLOCK_H = 32
BLOCK_W = 64
NUM_WARPS = 4

if AVAILABLE:

    @triton.jit
    def _band(g_ptr, BLOCK_H: tl.constexpr):  # pragma: no cover - compiled
        """The vertical taps as a banded matrix: ``V[a, a + k] = g[k]``."""
        rows = tl.arange(0, BLOCK_H)[:, None]
        cols = tl.arange(0, BLOCK_H)[None, :]
        k = cols - rows
        return tl.load(g_ptr + k, mask=(k >= 0) & (k < 11), other=0.0)

    @triton.jit
    def _ssim_forward_kernel(  # pragma: no cover - compiled
        x_ptr, y_ptr, g_ptr, map_ptr, partial_ptr,
        C, H, W, OH, OW, c1, c2,
        OFFSET: tl.constexpr, SAVE: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_W: tl.constexpr,
    ):
        plane = tl.program_id(0).to(tl.int64)
        out_row0 = tl.program_id(1) * (BLOCK_H - 10)
        a = tl.arange(0, BLOCK_H)
        cols = tl.program_id(2) * BLOCK_W + tl.arange(0, BLOCK_W)
        rows_in = out_row0 + OFFSET + a  # input rows of the tile
        row_ok = (rows_in >= 0) & (rows_in < H)
        base = plane * H * W
        sx = tl.zeros((BLOCK_H, BLOCK_W), tl.float32)
        sy = tl.zeros((BLOCK_H, BLOCK_W), tl.float32)
        sxx = tl.zeros((BLOCK_H, BLOCK_W), tl.float32)
        syy = tl.zeros((BLOCK_H, BLOCK_W), tl.float32)
        sxy = tl.zeros((BLOCK_H, BLOCK_W), tl.float32)
        for k in tl.static_range(11):
            cols_in = cols + OFFSET + k
            mask = row_ok[:, None] & ((cols_in >= 0) & (cols_in < W))[None, :]
            offsets = base + rows_in[:, None] * W + cols_in[None, :]
            xv = tl.load(x_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
            yv = tl.load(y_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
            w = tl.load(g_ptr + k)
            wx = w * xv
            wy = w * yv
            sx += wx
            sy += wy
            sxx += wx * xv
            syy += wy * yv
            sxy += wx * yv
        band = _band(g_ptr, BLOCK_H)
        mu_x = tl.dot(band, sx, input_precision="ieee")
        mu_y = tl.dot(band, sy, input_precision="ieee")
        exx = tl.dot(band, sxx, input_precision="ieee")
        eyy = tl.dot(band, syy, input_precision="ieee")
        exy = tl.dot(band, sxy, input_precision="ieee")
        mu_xx = mu_x * mu_x
        mu_yy = mu_y * mu_y
        mu_xy = mu_x * mu_y
        b1 = mu_xx + mu_yy + c1
        b2 = (exx - mu_xx) + (eyy - mu_yy) + c2
        lum = (2 * mu_xy + c1) / b1
        cs = (2 * (exy - mu_xy) + c2) / b2
        ssim = lum * cs
        out_rows = out_row0 + a
        out_mask = ((a < BLOCK_H - 10) & (out_rows < OH))[:, None] & (cols < OW)[None, :]
        out_offsets = plane * OH * OW + out_rows[:, None] * OW + cols[None, :]
        tl.store(map_ptr + out_offsets, ssim.to(map_ptr.dtype.element_ty), mask=out_mask)
        if SAVE:
            # partials: N x 4 x C x OH x OW, field-major inside each image
            n = plane // C
            c = plane % C
            field = (n * 4 * C + c) * OH * OW + out_rows[:, None] * OW + cols[None, :]
            step = C * OH * OW
            d_mu_x = 2 * (cs * (mu_y - lum * mu_x) / b1 + lum * (cs * mu_x - mu_y) / b2)
            d_mu_y = 2 * (cs * (mu_x - lum * mu_y) / b1 + lum * (cs * mu_y - mu_x) / b2)
            tl.store(partial_ptr + field, d_mu_x, mask=out_mask)
            tl.store(partial_ptr + field + step, d_mu_y, mask=out_mask)
            tl.store(partial_ptr + field + 2 * step, -ssim / b2, mask=out_mask)
            tl.store(partial_ptr + field + 3 * step, 2 * lum / b2, mask=out_mask)

    @triton.jit
    def _ssim_backward_kernel(  # pragma: no cover - compiled
        x_ptr, y_ptr, g_ptr, grad_ptr, partial_ptr, dx_ptr, dy_ptr,
        C, H, W, OH, OW, gs_n, gs_c, gs_h, gs_w,
        OFFSET: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_W: tl.constexpr,
    ):
        plane = tl.program_id(0).to(tl.int64)
        n = plane // C
        c = plane % C
        row0 = tl.program_id(1) * (BLOCK_H - 10)
        a = tl.arange(0, BLOCK_H)
        cols = tl.program_id(2) * BLOCK_W + tl.arange(0, BLOCK_W)
        rows_src = row0 + OFFSET + a  # rows of the output grid feeding this tile
        row_ok = (rows_src >= 0) & (rows_src < OH)
        step = C * OH * OW
        field_base = (n * 4 * C + c) * OH * OW
        grad_base = n * gs_n + c * gs_c
        f_mu_x = tl.zeros((BLOCK_H, BLOCK_W), tl.float32)
        f_mu_y = tl.zeros((BLOCK_H, BLOCK_W), tl.float32)
        f_e2 = tl.zeros((BLOCK_H, BLOCK_W), tl.float32)
        f_xy = tl.zeros((BLOCK_H, BLOCK_W), tl.float32)
        for k in tl.static_range(11):
            cols_src = cols + OFFSET + k
            mask = row_ok[:, None] & ((cols_src >= 0) & (cols_src < OW))[None, :]
            gm = tl.load(grad_ptr + grad_base + rows_src[:, None] * gs_h + cols_src[None, :] * gs_w,
                         mask=mask, other=0.0).to(tl.float32)
            wg = tl.load(g_ptr + k) * gm
            offsets = field_base + rows_src[:, None] * OW + cols_src[None, :]
            f_mu_x += wg * tl.load(partial_ptr + offsets, mask=mask, other=0.0)
            f_mu_y += wg * tl.load(partial_ptr + offsets + step, mask=mask, other=0.0)
            f_e2 += wg * tl.load(partial_ptr + offsets + 2 * step, mask=mask, other=0.0)
            f_xy += wg * tl.load(partial_ptr + offsets + 3 * step, mask=mask, other=0.0)
        band = _band(g_ptr, BLOCK_H)
        g_mu_x = tl.dot(band, f_mu_x, input_precision="ieee")
        g_mu_y = tl.dot(band, f_mu_y, input_precision="ieee")
        g_e2 = tl.dot(band, f_e2, input_precision="ieee")
        g_xy = tl.dot(band, f_xy, input_precision="ieee")
        rows = row0 + a
        mask = ((a < BLOCK_H - 10) & (rows < H))[:, None] & (cols < W)[None, :]
        offsets = plane * H * W + rows[:, None] * W + cols[None, :]
        xv = tl.load(x_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
        yv = tl.load(y_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
        dx = g_mu_x + 2 * xv * g_e2 + yv * g_xy
        dy = g_mu_y + 2 * yv * g_e2 + xv * g_xy
        tl.store(dx_ptr + offsets, dx.to(dx_ptr.dtype.element_ty), mask=mask)
        tl.store(dy_ptr + offsets, dy.to(dy_ptr.dtype.element_ty), mask=mask)

    def _window(device: torch.device) -> Tensor:
        return gaussian_1d(torch.float32, device)

    @triton_op("imgloss::ssim_fused_forward", mutates_args=())
    def _forward_op(x: Tensor, y: Tensor, same: bool, c1: float, c2: float, save: bool) -> tuple[Tensor, Tensor]:
        n, c, h, w = x.shape
        oh, ow = (h, w) if same else (h - 2 * RADIUS, w - 2 * RADIUS)
        x, y = x.contiguous(), y.contiguous()
        ssim = x.new_empty(n, c, oh, ow)
        partials = x.new_empty((n, 4 * c, oh, ow) if save else (0,), dtype=torch.float32)
        grid = (n * c, triton.cdiv(oh, BLOCK_H - 2 * RADIUS), triton.cdiv(ow, BLOCK_W))
        wrap_triton(_ssim_forward_kernel)[grid](
            x, y, _window(x.device), ssim, partials, c, h, w, oh, ow, c1, c2,
            OFFSET=-RADIUS if same else 0, SAVE=save, BLOCK_H=BLOCK_H, BLOCK_W=BLOCK_W, num_warps=NUM_WARPS,
        )
        return ssim, partials

    @triton_op("imgloss::ssim_fused_backward", mutates_args=())
    def _backward_op(grad: Tensor, x: Tensor, y: Tensor, partials: Tensor, same: bool) -> tuple[Tensor, Tensor]:
        n, c, h, w = x.shape
        oh, ow = grad.shape[-2:]
        x, y = x.contiguous(), y.contiguous()
        dx, dy = torch.empty_like(x), torch.empty_like(y)
        grid = (n * c, triton.cdiv(h, BLOCK_H - 2 * RADIUS), triton.cdiv(w, BLOCK_W))
        wrap_triton(_ssim_backward_kernel)[grid](
            x, y, _window(x.device), grad, partials, dx, dy, c, h, w, oh, ow, *grad.stride(),
            OFFSET=(RADIUS if same else 0) - (WINDOW_SIZE - 1), BLOCK_H=BLOCK_H, BLOCK_W=BLOCK_W,
            num_warps=NUM_WARPS,
        )
        return dx, dy


def forward(x: Tensor, y: Tensor, same: bool, c1: float, c2: float, save: bool) -> Any:
    """The map (input dtype) and, with ``save``, the fp32 partials ``N x 4C x H' x W'``."""
    return torch.ops.imgloss.ssim_fused_forward(x, y, same, c1, c2, save)


def backward(grad: Tensor, x: Tensor, y: Tensor, partials: Tensor, same: bool) -> Any:
    """``dx, dy`` (input dtype) from ``grad_map`` (any strides) and the saved partials."""
    return torch.ops.imgloss.ssim_fused_backward(grad, x, y, partials, same)
