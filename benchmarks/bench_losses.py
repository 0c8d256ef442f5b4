"""Training-speed benchmark of the SSIM/W-SSIM losses against pytorch-msssim (and piq),
eager and compiled, measured side by side in ONE run on one device.

    python benchmarks/bench_losses.py                 # CPU: batch 4 at 256 px
    python benchmarks/bench_losses.py --device cuda   # GPU: 256 px batch 16 and 1080p batch 5

Prints each timing and ratio and writes ``benchmarks/results/losses-<machine>.json``.
Targets (issue 11): CPU ``1 - ssim`` forward+backward at least as fast as pytorch-msssim;
``1 - wssim`` at most 2x ``1 - ssim``; compiled not slower than eager; on the GPU
forward+backward >= 5x pytorch-msssim and forward alone >= 3x.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imgloss.functional import charbonnier, ssim, wssim  # noqa: E402
from imgloss.metrics import ssim_kernel  # noqa: E402

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{os.cpu_count()}-core {platform.machine()} CPU"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def timed(step: Callable[[], None], device: torch.device, reps: int, warmup: int = 2) -> float:
    """Median seconds of ``step`` over ``reps`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(reps):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        tick = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - tick)
    return statistics.median(times)


def peers() -> dict[str, Loss]:
    out: dict[str, Loss] = {}
    try:
        from pytorch_msssim import ssim as msssim_ssim

        out["pytorch_msssim"] = lambda x, y: 1 - msssim_ssim(x, y, data_range=1.0, size_average=False)
    except ImportError:  # pragma: no cover - optional peer
        pass
    try:
        import piq

        out["piq"] = lambda x, y: 1 - piq.ssim(x, y, data_range=1.0, reduction="none", downsample=False)
    except ImportError:  # pragma: no cover - optional peer
        pass
    return out


def bench_case(
    device: torch.device, batch: int, height: int, width: int, reps: int, compile_too: bool,
    save: Callable[[dict], None],
) -> dict:
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(batch, 3, height, width, generator=g).to(device)
    y = (x0 + 0.1 * torch.randn(batch, 3, height, width, generator=g).to(device)).clamp(0, 1)
    losses: dict[str, Loss] = {
        "imgloss_ssim": lambda a, b: 1 - ssim(a, b),
        "imgloss_wssim": lambda a, b: 1 - wssim(a, b),
        **peers(),
    }
    if device.type == "cuda":
        losses["imgloss_ssim_conv"] = lambda a, b: _conv(lambda: 1 - ssim(a, b))
        losses["imgloss_wssim_conv"] = lambda a, b: _conv(lambda: 1 - wssim(a, b))
    if compile_too:
        for name, fn in (("ssim", lambda a, b: 1 - ssim(a, b)), ("wssim", lambda a, b: 1 - wssim(a, b)),
                         ("charbonnier", charbonnier)):
            losses[f"compiled_{name}"] = torch.compile(fn, fullgraph=True)
        losses["imgloss_charbonnier"] = charbonnier
    result: dict[str, dict[str, float]] = {}
    case = {"batch": batch, "height": height, "width": width, "seconds": result, "ratios": {}}
    for name, fn in losses.items():
        x = x0.clone().requires_grad_(True)

        def forward_backward() -> None:
            x.grad = None
            fn(x, y).mean().backward()

        def forward() -> None:
            with torch.no_grad():
                fn(x0, y)

        result[name] = {
            "forward_backward_s": timed(forward_backward, device, reps),
            "forward_s": timed(forward, device, reps),
        }
        per_image = batch / result[name]["forward_backward_s"]
        print(f"  {name:22s} fwd+bwd {result[name]['forward_backward_s'] * 1e3:9.2f} ms ({per_image:8.1f} img/s)"
              f"  fwd {result[name]['forward_s'] * 1e3:9.2f} ms", flush=True)
        case["ratios"] = ratios(result)
        save(case)  # a run cut short keeps what it measured
    return case


def _conv(run: Callable[[], torch.Tensor]) -> torch.Tensor:
    saved, ssim_kernel.KERNEL = ssim_kernel.KERNEL, "conv"
    try:
        return run()
    finally:
        ssim_kernel.KERNEL = saved


def ratios(result: dict[str, dict[str, float]]) -> dict[str, float]:
    """Speed-ups (peer time / imgloss time) and cost ratios, each named by its target."""
    def t(name: str, kind: str = "forward_backward_s") -> float | None:
        return result.get(name, {}).get(kind)

    out = {}
    pairs = {
        "ssim_fwd_bwd_speedup_vs_pytorch_msssim": ("pytorch_msssim", "imgloss_ssim", "forward_backward_s"),
        "ssim_fwd_speedup_vs_pytorch_msssim": ("pytorch_msssim", "imgloss_ssim", "forward_s"),
        "ssim_fwd_bwd_speedup_vs_piq": ("piq", "imgloss_ssim", "forward_backward_s"),
        "wssim_over_ssim_fwd_bwd": ("imgloss_wssim", "imgloss_ssim", "forward_backward_s"),
        "compiled_over_eager_ssim_fwd_bwd": ("compiled_ssim", "imgloss_ssim", "forward_backward_s"),
        "compiled_over_eager_wssim_fwd_bwd": ("compiled_wssim", "imgloss_wssim", "forward_backward_s"),
        "compiled_over_eager_charbonnier_fwd_bwd": ("compiled_charbonnier", "imgloss_charbonnier", "forward_backward_s"),
        "fused_speedup_over_conv_ssim_fwd_bwd": ("imgloss_ssim_conv", "imgloss_ssim", "forward_backward_s"),
    }
    for label, (num, den, kind) in pairs.items():
        a, b = t(num, kind), t(den, kind)
        if a is not None and b is not None:
            out[label] = round(a / b, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile timings")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cases = [(16, 256, 256), (5, 1080, 1920)] if device.type == "cuda" else [(4, 256, 256)]
    report = {
        "machine": machine(device),
        "device": str(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "ssim_kernel": "triton (fused)" if ssim_kernel._backend(torch.zeros(1, device=device)) else "conv",
        "cases": [],
    }
    print(f"{report['machine']}: torch {torch.__version__}, {report['threads']} threads, SSIM kernel {report['ssim_kernel']}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"losses-{report['machine']}.json"

    def save(case: dict) -> None:
        cases_so_far = [c for c in report["cases"] if c is not case] + [case]
        path.write_text(json.dumps({**report, "cases": cases_so_far}, indent=2) + "\n")

    for batch, height, width in cases:
        print(f"batch {batch} at {width}x{height}:", flush=True)
        case = bench_case(device, batch, height, width, args.reps, not args.no_compile, save)
        for label, value in case["ratios"].items():
            print(f"  {label:42s} {value:6.2f}")
        report["cases"].append(case)
        save(case)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
