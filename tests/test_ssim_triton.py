"""The fused Triton SSIM kernel equals the convolution path (values and gradients).

On the CPU, CI runs the kernel through Triton's interpreter: ``TRITON_INTERPRET=1`` must
be set before Triton is imported, so the comparison runs in a subprocess with
``IMGLOSS_SSIM_KERNEL=triton`` (the fused kernel on CPU tensors). On a CUDA machine the
``gpu`` test checks that ``auto`` picks the kernel and that it agrees in fp32, fp16 and bf16.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("triton", reason="Triton is not installed: the fused SSIM kernel cannot be tested")

ROOT = Path(__file__).resolve().parents[1]

#: Runs in the subprocess: fused (IMGLOSS_SSIM_KERNEL=triton) vs conv (KERNEL switched
#: at run time) on small images; prints the worst relative differences as JSON.
SCRIPT = r"""
import json, torch
from imgloss.functional import ssim, ssim_map
from imgloss.losses import SSIMLoss, WSSIMLoss
from imgloss.metrics import ssim_kernel

def run(kernel, fn, x, y):
    ssim_kernel.KERNEL = kernel
    a, b = x.clone().requires_grad_(), y.clone().requires_grad_()
    value = fn(a, b)
    value.backward(torch.linspace(0.5, 1.5, value.numel()).view_as(value).to(value.dtype))
    return value.detach().float(), a.grad.float(), b.grad.float()

def rel(p, q):
    return float((p - q).abs().max() / q.abs().max().clamp_min(1e-12))

g = torch.Generator().manual_seed(0)
x = torch.rand(2, 2, 15, 19, generator=g)
y = (x + 0.2 * torch.randn(2, 2, 15, 19, generator=g)).clamp(0, 1)
cases = {  # a mean's gradient is an expanded (stride 0) map gradient; a map's is dense
    "ssim_valid": lambda a, b: ssim(a, b),
    "ssim_map_same": lambda a, b: ssim_map(a, b, "same"),
    "ssim_data_range": lambda a, b: SSIMLoss(data_range=255, reduction="none")(255 * a, 255 * b),
    "wssim": lambda a, b: WSSIMLoss(reduction="none")(a, b),
}
out = {}
for name, fn in cases.items():
    fused, conv = run("triton", fn, x, y), run("conv", fn, x, y)
    out[name] = [rel(p, q) for p, q in zip(fused, conv)]
for dtype in ("float16", "bfloat16"):
    low = getattr(torch, dtype)
    xl, yl = x.to(low), y.to(low)
    fused = run("triton", lambda a, b: ssim_map(a, b), xl[:1, :1], yl[:1, :1])
    conv = run("conv", lambda a, b: ssim_map(a, b), xl[:1, :1].float(), yl[:1, :1].float())
    out[dtype] = [rel(p, q) for p, q in zip(fused, conv)]
    out[dtype + "_dtypes"] = [str(ssim_map(xl[:1, :1], yl[:1, :1]).dtype)]
print(json.dumps(out))
"""


@pytest.mark.slow
def test_fused_kernel_equals_convolutions_in_the_interpreter() -> None:
    env = {**os.environ, "TRITON_INTERPRET": "1", "IMGLOSS_SSIM_KERNEL": "triton", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("ssim_valid", "ssim_map_same", "ssim_data_range", "wssim"):
        value, grad_x, grad_y = result[name]
        assert value <= 1e-5 and grad_x <= 1e-5 and grad_y <= 1e-5, (name, result[name])
    for dtype in ("float16", "bfloat16"):
        # fp32 accumulation: only the inputs' and outputs' rounding differs from fp32
        tolerance = 2e-3 if dtype == "float16" else 1.6e-2
        assert max(result[dtype]) <= tolerance, (dtype, result[dtype])
        assert result[dtype + "_dtypes"] == [f"torch.{dtype}"]


def test_cpu_tensors_use_the_convolutions_by_default() -> None:
    from imgloss.metrics import ssim_kernel

    if ssim_kernel.KERNEL != "auto":
        pytest.skip(f"IMGLOSS_SSIM_KERNEL={ssim_kernel.KERNEL} forces a kernel")
    assert ssim_kernel._backend(torch.zeros(1, 1, 11, 11)) is None
    assert ssim_kernel._backend(torch.zeros(1, 1, 11, 11, dtype=torch.float64)) is None


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_cuda_uses_the_fused_kernel_and_agrees(dtype: torch.dtype, padding: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from imgloss.functional import ssim
    from imgloss.metrics import ssim_kernel, ssim_triton

    assert ssim_kernel._backend(torch.zeros(1, device="cuda", dtype=dtype)) is ssim_triton
    g = torch.Generator(device="cuda").manual_seed(0)
    x = torch.rand(3, 3, 67, 131, device="cuda", generator=g)
    y = (x + 0.1 * torch.randn(3, 3, 67, 131, device="cuda", generator=g)).clamp(0, 1)

    def run(kernel: str, a: torch.Tensor, b: torch.Tensor) -> list[torch.Tensor]:
        monkeypatch.setattr(ssim_kernel, "KERNEL", kernel)
        a, b = a.clone().requires_grad_(), b.clone().requires_grad_()
        value = ssim(a, b, padding)
        value.sum().backward()
        return [value.float(), a.grad.float(), b.grad.float()]

    torch.backends.cudnn.allow_tf32 = False
    fused = run("auto", x.to(dtype), y.to(dtype))
    conv = run("conv", x.to(dtype).double(), y.to(dtype).double())
    tolerance = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1.6e-2}[dtype]
    for p, q in zip(fused, conv):
        assert float((p - q.float()).abs().max() / q.abs().max()) <= tolerance
