"""Benchmark of the evaluation core on a folder of pairs (not a test).

Builds N pairs of photographs (sample_images/ crops, tiled and noised) at SIZE x SIZE
under .bench/, then times in ONE run, on the same files:
  - naive: a Python loop that decodes each pair with Pillow and calls the metrics one
    pair at a time (what a hand-written script does);
  - peers: scikit-image SSIM and pytorch-msssim SSIM in the same loop (SSIM only);
  - imgloss with --workers 0 (decode in the main process) and with default workers.
Reports pairs/s, the ratio to naive, and the engine's share of time spent waiting
for decoded pairs vs computing metrics.

    python benchmarks/bench_compare.py --pairs 200 --size 512 [--device cpu]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imgloss import functional as F  # noqa: E402
from imgloss.run import ScoreRequest, execute, prepare  # noqa: E402
from imgloss.metrics.registry import DEFAULT_METRICS  # noqa: E402
from imgloss.report.summary import Summary  # noqa: E402
from imgloss.results import PairResult  # noqa: E402


def build_corpus(folder: Path, pairs: int, size: int) -> tuple[Path, Path]:
    """``pairs`` reference/candidate PNGs of size x size, made from the sample photos."""
    ref, cand = folder / "reference", folder / "distorted"
    if ref.is_dir() and len(list(ref.glob("*.png"))) == pairs and Image.open(next(ref.glob("*.png"))).size == (size, size):
        return ref, cand
    shutil.rmtree(folder, ignore_errors=True)
    ref.mkdir(parents=True)
    cand.mkdir(parents=True)
    photos = sorted((ROOT / "sample_images" / "reference").rglob("*.png"))
    rng = np.random.default_rng(0)
    for i in range(pairs):
        photo = Image.open(photos[i % len(photos)]).convert("RGB").resize((size, size), Image.BICUBIC)
        photo.save(ref / f"{i:05d}.png")
        noisy = np.asarray(photo.filter(ImageFilter.GaussianBlur(1.0)), dtype=np.float32)
        noisy = np.clip(noisy + rng.normal(0, 8, noisy.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(cand / f"{i:05d}.png")
    return ref, cand


def load(path: Path) -> torch.Tensor:
    array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1)[None]


def naive_loop(ref: Path, cand: Path, device: str) -> float:
    """Decode and score one pair at a time in the main process; returns seconds."""
    started = time.perf_counter()
    for path in sorted(ref.glob("*.png")):
        x, y = load(path).to(device), load(cand / path.name).to(device)
        with torch.inference_mode():
            F.charbonnier(x, y), F.ssim(x, y), F.wssim(x, y), F.psnr(x, y), F.tv(y), F.tv(x)
    return time.perf_counter() - started


def peer_loop(ref: Path, cand: Path, device: str, peer: str) -> float:
    """SSIM alone, one pair at a time, with a peer library; returns seconds."""
    started = time.perf_counter()
    for path in sorted(ref.glob("*.png")):
        if peer == "skimage":
            from skimage.metrics import structural_similarity

            a = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255
            b = np.asarray(Image.open(cand / path.name).convert("RGB"), dtype=np.float64) / 255
            structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                  data_range=1, channel_axis=2)
        else:
            from pytorch_msssim import ssim

            x, y = load(path).to(device), load(cand / path.name).to(device)
            with torch.inference_mode():
                ssim(x, y, data_range=1, size_average=False)
    return time.perf_counter() - started


class _Discard:
    def write(self, result: PairResult) -> None: ...
    def close(self, summary: Summary) -> None: ...
    def abort(self) -> None: ...


def imgloss_run(ref: Path, cand: Path, device: str, workers: int | None, metrics: tuple[str, ...]) -> tuple[float, float, float]:
    """The engine over the folders; returns (seconds, wait seconds, compute seconds)."""
    request = ScoreRequest(candidate=cand, reference=ref, metrics=metrics, device=device, workers=workers)
    prepared = prepare(request, DEFAULT_METRICS)
    outcome = execute(prepared, _Discard())
    assert outcome.summary.failed == 0
    stats = prepared.evaluator.stats
    return stats.seconds, stats.wait_seconds, stats.compute_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--folder", type=Path, default=ROOT / ".bench" / "compare")
    args = parser.parse_args()
    ref, cand = build_corpus(args.folder, args.pairs, args.size)
    n = args.pairs
    print(f"{n} pairs at {args.size}x{args.size}, device {args.device}, {os.cpu_count()} cores, torch {torch.__version__}")
    naive = naive_loop(ref, cand, args.device)
    rows = [("naive loop (5 cheap metrics)", naive, None)]
    for workers, label in ((0, "imgloss --workers 0"), (None, "imgloss default workers")):
        seconds, wait, compute = imgloss_run(ref, cand, args.device, workers, DEFAULT_METRICS)
        rows.append((f"{label} (5 cheap metrics)", seconds, (wait, compute)))
    ssim_only = imgloss_run(ref, cand, args.device, None, ("ssim",))
    rows.append(("imgloss default workers (ssim only)", ssim_only[0], ssim_only[1:]))
    for peer in ("pytorch-msssim", "skimage"):
        rows.append((f"{peer} loop (ssim only)", peer_loop(ref, cand, args.device, peer), None))
    print(f"{'run':44} {'s':>7} {'pairs/s':>8} {'vs naive':>8}  waiting-for-decode / compute")
    for label, seconds, split in rows:
        share = "" if split is None else f"{split[0] / seconds:6.1%} / {split[1] / seconds:6.1%}"
        print(f"{label:44} {seconds:7.2f} {n / seconds:8.1f} {naive / seconds:7.2f}x  {share}")


if __name__ == "__main__":
    main()
