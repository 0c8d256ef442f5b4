"""Throughput of LPIPS, MS-SSIM and SSIM under every ``--ssim-convention``, against the
peers installed beside imgloss, measured in ONE run on the same batch (not a test).

Each row times imgloss's function and the peer that defines the same number on one
``N x 3 x S x S`` float32 batch already on the device (inference mode, one warm-up call
each, then ``--reps`` measurements of each in alternation, each at least 0.2 s of calls;
medians) and prints images/s and the ratio imgloss / peer (> 1: imgloss is faster). Peers, as the tests use them for equality:

- ``lpips`` vgg / alex: ``lpips.LPIPS(net=..., version="0.1", pnet_rand=True)`` given
  the same seeded stand-in backbone (:func:`bench_large.standin_weights`, torchvision's
  ``vgg16()`` / ``alexnet()`` under ``torch.manual_seed(0)``: the real network's cost);
- ``ms_ssim``: pytorch-msssim, piq, torchmetrics;
- ``ssim:CONVENTION``: the library the convention reproduces (scikit-image per image on
  NumPy; ``matlab`` has no installed peer: imgloss alone).

A peer that is not installed is skipped and said so. The figures go to
``benchmarks/results/<machine>.json`` under ``"metrics"`` (other keys are kept).

    python benchmarks/bench_metrics.py [--device cpu|cuda] [--batch 2] [--size 192] [--reps 3]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
import warnings
from importlib import import_module, metadata
from pathlib import Path
from typing import Any, Callable

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_large import standin_weights  # noqa: E402
from run_all import RESULTS, machine  # noqa: E402

Fn = Callable[[torch.Tensor, torch.Tensor], Any]
#: Each measurement repeats a call until it spans at least this long (fast metrics).
WINDOW_S = 0.2
LPIPS_BACKBONES = {"vgg": "vgg16", "alex": "alexnet"}


def batch(n: int, size: int, device: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth random batch and a noisy copy, ``n x 3 x size x size`` in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 3, size // 8 + 1, size // 8 + 1, generator=g)
    x = torch.nn.functional.interpolate(base, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)
    y = (0.85 * x + 0.15 * torch.rand(n, 3, size, size, generator=g)).clamp(0, 1)
    return x.to(device), y.to(device)


def _call(function: Fn, x: torch.Tensor, y: torch.Tensor, calls: int = 1) -> float:
    """Wall seconds per call of ``calls`` calls of ``function(x, y)`` (synchronised on CUDA)."""
    if x.is_cuda:
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(calls):
        function(x, y)
    if x.is_cuda:
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / calls


def paired_seconds(ours: Fn, theirs: Fn, x: torch.Tensor, y: torch.Tensor, reps: int) -> tuple[float, float]:
    """Median seconds per call of ``ours(x, y)`` and ``theirs(x, y)``: after one warm-up call
    each, ``reps`` measurements of each in alternation (a shared machine's load then weighs
    on both alike), each measurement as many calls as fill :data:`WINDOW_S` (at least one)."""
    times: tuple[list[float], list[float]] = ([], [])
    with torch.inference_mode():
        calls = [max(1, math.ceil(WINDOW_S / _call(function, x, y))) for function in (ours, theirs)]
        for _ in range(reps):
            for function, count, record in zip((ours, theirs), calls, times):
                record.append(_call(function, x, y, count))
    return statistics.median(times[0]), statistics.median(times[1])


def _lpips_peer(net: str, folder: Path, device: str) -> Fn:
    """The lpips package's model on our stand-in backbone tensors (as ``tests/test_lpips.py``)."""
    import lpips
    from imgloss.weights import OFFICIAL

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's `pretrained=` deprecation
        model = lpips.LPIPS(pretrained=True, net=net, pnet_rand=True, verbose=False)
    state = torch.load(folder / OFFICIAL[LPIPS_BACKBONES[net]].filename, weights_only=True)
    model.net.load_state_dict({k: state[f"features.{k.split('.')[1]}.{k.split('.')[2]}"] for k in model.net.state_dict()})
    model = model.eval().to(device)
    return lambda x, y: model(x, y, normalize=True)


def _skimage(**options: Any) -> Fn:
    from skimage.metrics import structural_similarity

    def run(x: torch.Tensor, y: torch.Tensor) -> list[float]:
        return [structural_similarity(a.permute(1, 2, 0).cpu().numpy(), b.permute(1, 2, 0).cpu().numpy(),
                                      data_range=1, channel_axis=-1, **options) for a, b in zip(x, y)]

    return run


def _no_peer() -> Fn:
    raise ImportError("none installed; the tests check it against a NumPy transcription of ssim.m")


def cases(folder: Path, device: str) -> list[tuple[str, Fn, str, Callable[[], Fn]]]:
    """``(row, imgloss function, peer name, peer factory)``; a factory may raise ImportError."""
    from imgloss.functional import lpips, ms_ssim, ssim

    rows: list[tuple[str, Fn, str, Callable[[], Fn]]] = []
    for net in LPIPS_BACKBONES:
        rows.append((f"lpips:{net}", lambda x, y, net=net: lpips(x, y, net), "lpips",
                     lambda net=net: _lpips_peer(net, folder, device)))
    rows += [
        ("ms_ssim", ms_ssim, "pytorch_msssim",
         lambda: (lambda x, y: import_module("pytorch_msssim").ms_ssim(x, y, data_range=1, size_average=False))),
        ("ms_ssim", ms_ssim, "piq",
         lambda: (lambda x, y: import_module("piq").multi_scale_ssim(x, y, data_range=1.0, reduction="none"))),
        ("ms_ssim", ms_ssim, "torchmetrics", lambda: (
            lambda x, y: import_module("torchmetrics.functional.image").multiscale_structural_similarity_index_measure(
                x, y, data_range=1.0, reduction="none"))),
    ]
    peers: dict[str, tuple[str, Callable[[], Fn]]] = {
        "imgloss": ("pytorch_msssim", lambda: (
            lambda x, y: import_module("pytorch_msssim").ssim(x, y, data_range=1, size_average=False))),
        "skimage": ("skimage", lambda: _skimage(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)),
        "skimage-default": ("skimage", _skimage),
        "pytorch-msssim": ("pytorch_msssim", lambda: (
            lambda x, y: import_module("pytorch_msssim").ssim(x, y, data_range=1, size_average=False))),
        "piq": ("piq", lambda: (lambda x, y: import_module("piq").ssim(x, y, data_range=1.0, reduction="none"))),
        "torchmetrics": ("torchmetrics", lambda: (
            lambda x, y: import_module("torchmetrics.functional.image").structural_similarity_index_measure(
                x, y, data_range=1.0, reduction="none"))),
    }
    from imgloss.metrics.registry import SSIM_CONVENTIONS

    for convention in SSIM_CONVENTIONS:
        peer, factory = peers.get(convention, ("", _no_peer))
        rows.append((f"ssim:{convention}", lambda x, y, c=convention: ssim(x, y, convention=c), peer, factory))
    return rows


def version(package: str) -> str:
    try:
        return metadata.version({"skimage": "scikit-image", "pytorch_msssim": "pytorch-msssim"}.get(package, package))
    except metadata.PackageNotFoundError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--size", type=int, default=192, help="image side (MS-SSIM needs >= 161)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    folder = standin_weights(("vgg16", "alexnet"))
    os.environ.setdefault("IMGLOSS_WEIGHTS", str(folder))
    os.environ.setdefault("IMGLOSS_ALLOW_UNVERIFIED_WEIGHTS", "1")
    x, y = batch(args.batch, args.size, args.device)
    info = machine()
    print(f"{info['description']}; torch {info['torch']} ({torch.get_num_threads()} threads); batch {args.batch} x 3 x "
          f"{args.size} x {args.size}, median of {args.reps}; load average {os.getloadavg()[0]:.1f}")
    rows = []
    for name, ours, peer, factory in cases(folder, args.device):
        row: dict[str, Any] = {"metric": name, "peer": peer or None}
        try:
            theirs = factory()
        except ImportError as exc:
            mine = paired_seconds(ours, ours, x, y, args.reps)[0]
            row.update(imgloss_images_s=args.batch / mine, peer_images_s=None, imgloss_over_peer=None)
            text = f"peer: none ({exc})" if not peer else f"{peer} not installed"
        else:
            mine, other = paired_seconds(ours, theirs, x, y, args.reps)
            row.update(imgloss_images_s=args.batch / mine, peer_version=version(peer), peer_images_s=args.batch / other,
                       imgloss_over_peer=other / mine)
            text = (f"{peer} {row['peer_version']} {row['peer_images_s']:8.2f} images/s | "
                    f"imgloss / peer {row['imgloss_over_peer']:.2f}x")
        rows.append(row)
        print(f"{name:20} imgloss {row['imgloss_images_s']:8.2f} images/s | {text}")
    out = args.out or RESULTS / f"{info['name']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    report = {"machine": info, "device": args.device, "batch": args.batch, "size": args.size, "reps": args.reps,
              "torch_threads": torch.get_num_threads(), "load_average": os.getloadavg(), "rows": rows}
    out.write_text(json.dumps({**previous, "metrics": report}, indent=2) + "\n")
    print(f"written {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()
