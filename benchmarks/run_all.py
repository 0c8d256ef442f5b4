"""``make bench`` (CPU) and the GPU half of ``benchmarks/run_gpu.sh``: the engine against
its ceilings and a plain loop, measured in ONE run on the same files, written to
``benchmarks/results/<machine>.json`` with every ratio printed.

For each case (file type x metrics x precision):
  - decode-only: the engine's own DataLoader (same files, same worker count), pairs to
    stacked integer tensors, nothing else;
  - metrics-only: the same batches already on the device (float), the metrics alone
    (for VGG metrics this is the model-only ceiling at that size and precision);
  - engine: ``imgloss`` folder scoring (prepare + execute, default options).
Ratios: on the CPU, engine pairs/s over the serial bound ``1 / (decode + metrics)`` per
pair (target >= 0.85); on CUDA, over ``min(decode-only, metrics-only)`` pairs/s (target
>= 0.80); and engine over a plain per-pair loop (PIL + pytorch-msssim, SSIM; target on
the GPU >= 8x). Also: start-up (``bench_startup``) and W-SSIM / SSIM kernel time.

    python benchmarks/run_all.py [--device cpu|cuda] [--pairs 64] [--size 256] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_compare import build_corpus, load  # noqa: E402
from bench_large import standin_weights  # noqa: E402
from imgloss.engine.device import cpu_threads_beside, default_workers, to_device  # noqa: E402
from imgloss.engine.evaluator import _one  # noqa: E402
from imgloss.engine.loader import Group  # noqa: E402
from imgloss.metrics.registry import DEFAULT_METRICS  # noqa: E402
from imgloss.run import ScoreRequest, execute, prepare  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


class _Discard:
    def write(self, result: Any) -> None: ...
    def close(self, summary: Any) -> None: ...
    def abort(self) -> None: ...


def machine() -> dict[str, str]:
    """What the figures were measured on; ``name`` is the results file's stem."""
    cores = os.cpu_count() or 1
    if torch.cuda.is_available():
        gpu = torch.cuda.get_device_name()
        name = f"{gpu.replace('NVIDIA ', '').split()[0].lower()}-{cores}core"
        text = f"1x {gpu}, {cores}-core {platform.machine()} CPU"
    else:
        name, text = f"cpu-{cores}core-{platform.machine()}", f"{cores}-core {platform.machine()} CPU, no GPU"
    return {"name": name, "description": text, "torch": torch.__version__, "python": platform.python_version()}


def jpeg_corpus(ref: Path, cand: Path) -> tuple[Path, Path]:
    """The PNG corpus re-encoded as JPEG (quality 95) beside it."""
    out_ref, out_cand = ref.parent / "jpeg_reference", ref.parent / "jpeg_distorted"
    for source, target in ((ref, out_ref), (cand, out_cand)):
        target.mkdir(exist_ok=True)
        for path in sorted(source.glob("*.png")):
            if not (target / (path.stem + ".jpg")).exists():
                Image.open(path).convert("RGB").save(target / (path.stem + ".jpg"), quality=95)
    return out_ref, out_cand


def prepared(ref: Path, cand: Path, metrics: tuple[str, ...], device: str, precision: str,
             glob: str | None = None) -> Any:
    options = {"device": device, "precision": precision, "glob": glob}
    return prepare(ScoreRequest(candidate=cand, reference=ref, metrics=metrics, options=options), DEFAULT_METRICS)


def decode_only(job: Any) -> tuple[float, list[Group]]:
    """Seconds to decode every pair with the engine's loader; the groups, batched as the
    engine batches them."""
    evaluator = job.evaluator
    workers = default_workers(len(job.pairs), evaluator.device)
    started = time.perf_counter()
    items = list(evaluator._loader(job.pairs, workers))
    seconds = time.perf_counter() - started
    groups = [Group(i.key, [i.index], [i.notes], _one(i.x), _one(i.y)) for i in items]
    size = evaluator.batch_size_for(groups[0].key[0][1])
    batches = []
    while groups:
        head, groups = Group.take(groups, size)
        batches.append(head)
    return seconds, batches


def metrics_only(job: Any, batches: list[Group]) -> float:
    """Seconds for the metrics alone on batches already on the device (as floats)."""
    evaluator = job.evaluator
    device = evaluator.device
    on_device = [(None if b.x is None else to_device(b.x, device), to_device(b.y, device)) for b in batches]
    run = lambda: [evaluator._metric_values(x, y) for x, y in on_device]  # noqa: E731
    # The engine's threads: on the CPU it leaves one core per decoding worker.
    with torch.inference_mode(), cpu_threads_beside(default_workers(len(job.pairs), device), device):
        run()  # warm-up (kernels, cuDNN plans)
        _sync(device)
        started = time.perf_counter()
        run()
        _sync(device)
    return time.perf_counter() - started


def engine(job: Any) -> float:
    started = time.perf_counter()
    outcome = execute(job, _Discard())
    if outcome.summary.failed:
        raise SystemExit(f"benchmark pairs failed: {outcome.results[0].error}")
    return time.perf_counter() - started


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def plain_loop(ref: Path, cand: Path, device: str) -> float:
    """PIL + pytorch-msssim SSIM, one pair at a time: what a hand-written script does."""
    from pytorch_msssim import ssim

    started = time.perf_counter()
    for path in sorted(ref.glob("*.png")):
        x, y = load(path).to(device), load(cand / path.name).to(device)
        with torch.inference_mode():
            ssim(x, y, data_range=1, size_average=False).tolist()
    return time.perf_counter() - started


def wssim_over_ssim(device: str, size: int, repeats: int = 5) -> float:
    """Time of W-SSIM over SSIM (``imgloss.functional``, inference) on a batch of 8 RGB
    images already on the device, each the best of ``repeats`` calls after a warm-up."""
    from imgloss.functional import ssim, wssim

    x = torch.rand(8, 3, size, size, device=device)
    y = (x + 0.05 * torch.rand_like(x)).clamp(0, 1)
    best = {}
    with torch.inference_mode():
        for name, function in (("ssim", ssim), ("wssim", wssim)):
            function(x, y)
            times = []
            for _ in range(repeats):
                _sync(x.device)
                started = time.perf_counter()
                function(x, y)
                _sync(x.device)
                times.append(time.perf_counter() - started)
            best[name] = min(times)
    return best["wssim"] / best["ssim"]


def case(name: str, ref: Path, cand: Path, metrics: tuple[str, ...], device: str, precision: str = "fp32",
         glob: str | None = None, repeats: int = 3) -> dict[str, Any]:
    """One case; each of decode-only, metrics-only and the engine is timed ``repeats``
    times and its best (shortest) time kept, as ``timeit`` does: a run of 64 small pairs
    lasts about a second, and one stall of a shared 2-core machine moved a single-shot
    ratio by 0.3."""
    job = prepared(ref, cand, metrics, device, precision, glob)
    n = len(job.pairs)
    decode_s, batches = decode_only(job)
    decode_s = min([decode_s] + [decode_only(job)[0] for _ in range(repeats - 1)])
    metric_s = min(metrics_only(job, batches) for _ in range(repeats))
    engine_s = min(engine(prepared(ref, cand, metrics, device, precision, glob)) for _ in range(repeats))
    row: dict[str, Any] = {
        "case": name, "pairs": n, "device": device, "precision": precision, "metrics": list(metrics),
        "decode_only_pairs_s": n / decode_s, "metrics_only_pairs_s": n / metric_s, "engine_pairs_s": n / engine_s,
        "serial_bound_pairs_s": n / (decode_s + metric_s),
        "workers": default_workers(n, job.evaluator.device), "repeats": repeats,
    }
    row["ratio_to_serial_bound"] = row["engine_pairs_s"] / row["serial_bound_pairs_s"]
    row["ratio_to_ceiling"] = row["engine_pairs_s"] / min(row["decode_only_pairs_s"], row["metrics_only_pairs_s"])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="timings per measurement; the best is kept")
    parser.add_argument("--startup-runs", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("IMGLOSS_WEIGHTS", str(standin_weights()))
    os.environ.setdefault("IMGLOSS_ALLOW_UNVERIFIED_WEIGHTS", "1")
    ref, cand = build_corpus(ROOT / ".bench" / f"corpus{args.size}", args.pairs, args.size)
    jref, jcand = jpeg_corpus(ref, cand)
    cuda = args.device.startswith("cuda")
    # VGG on the CPU is ~100x the cost of the other metrics: its case takes the first 10 pairs there.
    vgg_glob = None if cuda else "0000[0-9].png"
    cases = [("png default", ref, cand, DEFAULT_METRICS, "fp32", None), ("png ssim", ref, cand, ("ssim",), "fp32", None),
             ("jpeg default", jref, jcand, DEFAULT_METRICS, "fp32", None),
             ("jpeg ssim", jref, jcand, ("ssim",), "fp32", None),
             ("png perceptual", ref, cand, ("perceptual",), "fp32", vgg_glob)]
    if cuda:
        cases.append(("png perceptual bf16", ref, cand, ("perceptual",), "bf16", None))
    info = machine()
    print(f"{info['description']}; torch {info['torch']}; {args.pairs} pairs of {args.size}x{args.size}")
    rows = []
    for name, r, c, metrics, precision, glob in cases:
        row = case(name, r, c, metrics, args.device, precision, glob, args.repeats)
        rows.append(row)
        target = ("ceiling", "ratio_to_ceiling", 0.80) if cuda else ("serial bound", "ratio_to_serial_bound", 0.85)
        print(f"{name:22} engine {row['engine_pairs_s']:8.1f} pairs/s | decode-only {row['decode_only_pairs_s']:8.1f}"
              f" | metrics-only {row['metrics_only_pairs_s']:8.1f} | {row[target[1]]:.2f} of the {target[0]}"
              f" (target >= {target[2]})")
    loop_s = plain_loop(ref, cand, args.device)
    ssim_row = next(r for r in rows if r["case"] == "png ssim")
    loop = {"plain_loop_pairs_s": args.pairs / loop_s, "engine_ssim_pairs_s": ssim_row["engine_pairs_s"]}
    loop["engine_over_plain_loop"] = loop["engine_ssim_pairs_s"] / loop["plain_loop_pairs_s"]
    print(f"plain loop (PIL + pytorch-msssim, SSIM) {loop['plain_loop_pairs_s']:.1f} pairs/s; engine "
          f"{loop['engine_over_plain_loop']:.2f}x that" + (" (target >= 8x)" if cuda else ""))
    ratios = {str(size): wssim_over_ssim(args.device, size) for size in (256, 512)}
    print("W-SSIM / SSIM time, batch 8 RGB, best of 5: "
          + ", ".join(f"{size} px {ratio:.2f}x" for size, ratio in ratios.items()) + " (target <= 2)")
    report: dict[str, Any] = {"machine": info, "pairs": args.pairs, "size": args.size, "cases": rows,
                              "plain_loop": loop, "wssim_over_ssim": ratios}
    if not cuda and args.startup_runs:
        from bench_startup import measure

        medians = measure(args.startup_runs)
        report["startup"] = {"medians_s": medians,
                             "compare_over_import_torch": medians["compare -m ssim"] / medians["import torch"]}
        print(f"start-up: compare -m ssim / import torch {report['startup']['compare_over_import_torch']:.2f}x "
              f"(target <= 1.25); --help {medians['--help']:.3f} s (target < 0.3)")
    out = args.out or RESULTS / f"{info['name']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps({**previous, **report}, indent=2) + "\n")
    print(f"written {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()
