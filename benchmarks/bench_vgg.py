"""Benchmark of the VGG perceptual metric (not a test): seed-style code vs imgloss.

On the same SIZE x SIZE pairs in one run, each approach in its own fresh process (so
peak memory is its own):
  - naive: the code the spec says not to reproduce: for every pair a new torchvision
    vgg19 with the weights loaded from disk, one sub-network ``features[:k+1]`` per tap,
    x and y in separate forwards;
  - imgloss: ``imgloss.functional.perceptual`` on batches of pairs (one forward for x
    and y, the network built once).
Both compute the default preset (VGG19 relu1_1..relu5_1, L1, weights 1/32..1) and must
agree. The weights are a seeded stand-in (``torch.manual_seed(0)``, torchvision's
initialisation, ``features.*`` only) written to a temporary folder and used through
``IMGLOSS_ALLOW_UNVERIFIED_WEIGHTS=1``; images come from sample_images/ (resized),
or are generated when it is absent. Reports pairs/s and peak memory (max RSS of the
process on CPU, ``torch.cuda.max_memory_allocated`` on CUDA).

    python benchmarks/bench_vgg.py --pairs 8 [--size 256] [--device cpu] [--batch-size 8]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imgloss.features.vgg import IMAGENET_MEAN, IMAGENET_STD, TAPS  # noqa: E402
from imgloss.metrics.registry import get_preset  # noqa: E402

PRESET = get_preset("perceptual", "default")
WEIGHTS_NAME = "vgg19-dcbb9e9d.pth"


def write_standin(folder: Path) -> Path:
    """Seeded torchvision VGG19 ``features.*`` saved under the official file name."""
    torch.manual_seed(0)
    state = {k: v for k, v in torchvision.models.vgg19().state_dict().items() if k.startswith("features.")}
    path = folder / WEIGHTS_NAME
    torch.save(state, path)
    return path


def load_pairs(pairs: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``pairs`` x 3 x size x size references and candidates in [0, 1]."""
    samples = ROOT / "sample_images"
    refs = sorted((samples / "reference").rglob("*.png"))
    if refs:
        def read(path: Path) -> torch.Tensor:
            image = Image.open(path).convert("RGB").resize((size, size), Image.BICUBIC)
            return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)

        chosen = [refs[i % len(refs)] for i in range(pairs)]
        x = torch.stack([read(p) for p in chosen])
        y = torch.stack([read(samples / "distorted" / p.relative_to(samples / "reference")) for p in chosen])
        return x, y
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(pairs, 3, size, size, generator=generator)
    return x, (x + 0.1 * torch.randn(x.shape, generator=generator)).clamp(0, 1)


def naive(x: torch.Tensor, y: torch.Tensor, weights: Path, device: torch.device) -> torch.Tensor:
    """Seed-style: rebuild the network per pair, one sub-network per tap, separate forwards."""
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    values = []
    for xi, yi in zip(x, y):
        model = torchvision.models.vgg19()
        model.features.load_state_dict({k[len("features."):]: v for k, v in torch.load(weights).items()})
        features = model.features.to(device).eval()
        a = (xi[None].to(device) - mean) / std
        b = (yi[None].to(device) - mean) / std
        total = torch.zeros((), device=device)
        for tap, weight in zip(PRESET.taps, PRESET.layer_weights):
            sub = features[: TAPS["vgg19"][tap] + 1]
            total = total + weight * (sub(a.clone()) - sub(b.clone())).abs().mean()
        values.append(total)
    return torch.stack(values)


def batched(x: torch.Tensor, y: torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    from imgloss.metrics.perceptual import perceptual

    return torch.cat([
        perceptual(x[i : i + batch_size].to(device), y[i : i + batch_size].to(device))
        for i in range(0, len(x), batch_size)
    ])


def run_one(args: argparse.Namespace) -> None:
    """Child process: time one approach, print a JSON line."""
    device = torch.device(args.device)
    x, y = load_pairs(args.pairs, args.size)
    weights = Path(args.weights_dir) / WEIGHTS_NAME
    start = time.perf_counter()
    with torch.no_grad():
        values = naive(x, y, weights, device) if args.mode == "naive" else batched(x, y, args.batch_size, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    if device.type == "cuda":
        peak_mib = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"seconds": seconds, "peak_mib": peak_mib, "values": values.double().cpu().tolist()}))


def spawn(mode: str, args: argparse.Namespace, weights_dir: str) -> dict:
    env = {**os.environ, "IMGLOSS_WEIGHTS": weights_dir, "IMGLOSS_ALLOW_UNVERIFIED_WEIGHTS": "1",
           "IMGLOSS_CACHE": str(Path(weights_dir) / "cache")}
    command = [sys.executable, __file__, "--mode", mode, "--weights-dir", weights_dir, "--pairs", str(args.pairs),
               "--size", str(args.size), "--device", args.device, "--batch-size", str(args.batch_size)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--mode", choices=("naive", "imgloss"), help=argparse.SUPPRESS)
    parser.add_argument("--weights-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        run_one(args)
        return
    with tempfile.TemporaryDirectory(prefix="imgloss-bench-") as folder:
        write_standin(Path(folder))
        results = {mode: spawn(mode, args, folder) for mode in ("naive", "imgloss")}
    difference = max(abs(a - b) / max(abs(a), 1e-12)
                     for a, b in zip(results["naive"]["values"], results["imgloss"]["values"]))
    memory = "GPU peak MiB" if args.device.startswith("cuda") else "peak RSS MiB"
    print(f"perceptual (default preset), {args.pairs} pairs of {args.size}x{args.size}, device {args.device}, "
          f"torch threads {torch.get_num_threads()}")
    print(f"{'approach':<40} {'seconds':>8} {'pairs/s':>8} {memory:>13}")
    for mode, label in (("naive", "naive (rebuild per pair, net per tap)"),
                        ("imgloss", f"imgloss (batch {args.batch_size}, one forward)")):
        r = results[mode]
        print(f"{label:<40} {r['seconds']:8.2f} {args.pairs / r['seconds']:8.2f} {r['peak_mib']:13.0f}")
    print(f"speed-up: {results['naive']['seconds'] / results['imgloss']['seconds']:.1f}x; "
          f"largest relative difference of the values: {difference:.1e}")


if __name__ == "__main__":
    main()
