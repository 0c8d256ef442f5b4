"""Large-image benchmark (not a test): one SIZE x SIZE pair through ``imgloss compare`` in a
fresh process, its wall time and peak RSS, and the extra RSS over the same command on a
256 x 256 pair (start-up, torch, the network: what any run costs).

The pair is an uncompressed TIFF photograph-like pattern (smooth ramps + noise) under
.bench/large/. VGG metrics use a seeded stand-in checkpoint (torchvision's ``vgg19()``
under ``torch.manual_seed(0)``, as the tests do) through
``IMGLOSS_ALLOW_UNVERIFIED_WEIGHTS=1``: the same network, the same cost.

    python benchmarks/bench_large.py --size 8192 -m perceptual -m style
    python benchmarks/bench_large.py --size 16384            (default metrics)
    python benchmarks/bench_large.py --size 8192 -m perceptual -m style --cuda   (GPU peak memory)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / ".bench" / "large"


def make_pair(size: int) -> tuple[Path, Path]:
    """Reference and candidate TIFFs of size x size (kept between runs)."""
    FOLDER.mkdir(parents=True, exist_ok=True)
    ref, cand = FOLDER / f"r{size}.tif", FOLDER / f"c{size}.tif"
    if ref.exists() and cand.exists():
        return ref, cand
    rng = np.random.default_rng(size)
    ramp = np.linspace(0, 200, size, dtype=np.float32)
    for path, noise in ((ref, 0), (cand, 12)):
        rows = []
        for start in range(0, size, 1024):  # in strips: never a full float image in memory
            block = ramp[start:start + 1024, None, None] * 0.5 + ramp[None, :, None] * 0.5
            block = block + rng.normal(0, 6 + noise, (block.shape[0], size, 3)).astype(np.float32)
            rows.append(np.clip(block, 0, 255).astype(np.uint8))
        Image.fromarray(np.concatenate(rows)).save(path)
        del rows
    return ref, cand


def standin_weights(backbones: tuple[str, ...] = ("vgg19",)) -> Path:
    """The folder of seeded stand-in ``features`` (torchvision's ``vgg19()``, ``vgg16()``,
    ``alexnet()`` under ``torch.manual_seed(0)``, as the tests make them), each of
    ``backbones`` under its official file name."""
    import torch
    import torchvision
    from imgloss.weights import OFFICIAL

    folder = ROOT / ".bench" / "standin"
    for backbone in backbones:
        path = folder / OFFICIAL[backbone].filename
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            torch.manual_seed(0)
            model = getattr(torchvision.models, backbone)()
            torch.save({k: v for k, v in model.state_dict().items() if k.startswith("features.")}, path)
    return folder


def run(ref: Path, cand: Path, metrics: list[str], extra: list[str]) -> dict[str, float]:
    """Wall seconds and peak RSS (GiB) of one ``imgloss compare`` process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "IMGLOSS_WEIGHTS": str(standin_weights()),
           "IMGLOSS_ALLOW_UNVERIFIED_WEIGHTS": "1"}
    command = [sys.executable, "-m", "imgloss", "compare", str(ref), str(cand), "--format", "json",
               "--max-pixels", str(1 << 30), *[a for m in metrics for a in ("-m", m)], *extra]
    probe = ("import resource, subprocess, sys, time, json; t = time.perf_counter(); "
             "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "print(json.dumps({'rc': p.returncode, 'seconds': time.perf_counter() - t, "
             "'rss_gib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20, "
             "'stdout': p.stdout, 'stderr': p.stderr[-2000:]}))")
    out = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)


def on_cuda(ref: Path, cand: Path, metrics: list[str], max_memory: str | None) -> dict[str, float]:
    """The pair scored in this process on CUDA: wall seconds and peak GPU memory (GiB, as
    ``torch.cuda.max_memory_allocated`` reports)."""
    import torch

    sys.path.insert(0, str(ROOT))
    from imgloss.run import ScoreRequest, execute, prepare

    os.environ.update(IMGLOSS_WEIGHTS=str(standin_weights()), IMGLOSS_ALLOW_UNVERIFIED_WEIGHTS="1")
    options = {"device": "cuda", "max_pixels": 1 << 30, "max_memory": max_memory}
    job = prepare(ScoreRequest(candidate=cand, reference=ref, metrics=metrics, options=options), ("ssim",))
    torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    outcome = execute(job, type("Discard", (), {"write": lambda *a: None, "close": lambda *a: None,
                                                   "abort": lambda *a: None})())
    return {"seconds": time.perf_counter() - started, "gpu_peak_gib": torch.cuda.max_memory_allocated() / 2**30,
            "error": outcome.results[0].error, "notes": list(outcome.results[0].notes),
            "values": outcome.results[0].metrics}


def summary(result: dict) -> str:
    """One line for the README table (``benchmarks/table.py``)."""
    if "gpu_peak_gib" in result:
        return f"{result['seconds']:.1f} s, GPU peak {result['gpu_peak_gib']:.2f} GiB (torch max_memory_allocated)"
    state = "done" if result["exit_code"] == 0 else f"exit {result['exit_code']}"
    return (f"{result['seconds']:.0f} s ({state}), peak RSS {result['peak_rss_gib']:.2f} GiB, "
            f"{result['extra_rss_gib']:.2f} GiB over the same command on a 256 px pair")


def record(result: dict, path: Path) -> None:
    """Add ``result`` (with its summary line) to the ``large`` list of a results file."""
    report = json.loads(path.read_text()) if path.exists() else {}
    report["large"] = [r for r in report.get("large", []) if (r["size"], r["metrics"]) != (result["size"], result["metrics"])]
    report["large"].append({**result, "summary": summary(result)})
    path.write_text(json.dumps(report, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("-m", "--metric", action="append", default=[])
    parser.add_argument("--max-memory")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--cuda", action="store_true", help="score in this process on CUDA; report GPU peak memory")
    parser.add_argument("--record", type=Path, help="also add the result to this benchmarks/results/*.json file")
    args = parser.parse_args()
    if args.cuda:
        result = {"size": args.size, "metrics": args.metric, **on_cuda(*make_pair(args.size), args.metric, args.max_memory)}
        print(json.dumps(result, indent=2))
        if args.record:
            record(result, args.record)
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
        return
    extra = ["--max-memory", args.max_memory] if args.max_memory else []
    small = run(*make_pair(256), args.metric, extra)
    large = run(*make_pair(args.size), args.metric, extra)
    if large["rc"] != 0:
        print(large["stderr"], file=sys.stderr)
    result = {
        "size": args.size, "metrics": args.metric or ["default"], "max_memory": args.max_memory,
        "seconds": large["seconds"], "peak_rss_gib": large["rss_gib"],
        "baseline_rss_gib": small["rss_gib"], "extra_rss_gib": large["rss_gib"] - small["rss_gib"],
        "exit_code": large["rc"], "row": json.loads(large["stdout"])["results"][0] if large["rc"] in (0, 3) else None,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if args.record:
        record(result, args.record)


if __name__ == "__main__":
    main()
