"""Throughput of the three ways to score many pairs (not a test): one process, shards
run side by side and merged, and the Ray Data runner on a local Ray instance.

Builds N small pairs (SIZE x SIZE PNGs, noised) under .bench/scale, then times, on the
same files and in one run:
  - local: ``imgloss compare`` in one process (CLI wall time, and the engine's time);
  - local --resume: the same, appending every pair to a resume file (fsync cost);
  - shards: ``--shard i/S`` for S processes at once, then ``imgloss merge`` (wall time);
  - ray: ``--backend ray`` in one process that starts a local Ray instance
    (``num_cpus`` = CPUS; wall time including Ray's start), and the scoring alone on an
    instance already started (Ray Data + actor overhead vs the local engine).

    python benchmarks/bench_scale.py --pairs 1000 --size 32 --cpus 2
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imgloss.run import ScoreRequest, execute, prepare  # noqa: E402
from imgloss.report.summary import Summary  # noqa: E402
from imgloss.results import PairResult  # noqa: E402

METRICS = ["ssim", "psnr", "charbonnier"]


class NullWriter:
    def write(self, result: PairResult) -> None: ...
    def close(self, summary: Summary) -> None: ...
    def abort(self) -> None: ...


def build(folder: Path, pairs: int, size: int) -> tuple[Path, Path]:
    ref, cand = folder / "ref", folder / "cand"
    if ref.is_dir() and len(list(ref.rglob("*.png"))) == pairs:
        return ref, cand
    shutil.rmtree(folder, ignore_errors=True)
    rng = np.random.default_rng(0)
    for i in range(pairs):
        base = rng.integers(0, 256, (size, size, 3))
        for side, array in ((ref, base), (cand, np.clip(base + rng.normal(0, 10, base.shape), 0, 255))):
            path = side / f"{i % 10}" / f"{i:06d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(array.astype(np.uint8)).save(path)
    return ref, cand


def cli(*args: object) -> list[str]:
    return [sys.executable, "-m", "imgloss", *map(str, args)]


def timed(commands: list[list[str]]) -> float:
    """Wall seconds of running ``commands`` at the same time; each must exit 0."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    processes = [subprocess.Popen(c, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for c in commands]
    for process in processes:
        _, err = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"{process.args}: exit {process.returncode}: {err.decode()[-500:]}")
    return time.perf_counter() - start


def in_process(ref: Path, cand: Path, **options: object) -> float:
    """Seconds from prepare to the last result (no interpreter start), one process."""
    start = time.perf_counter()
    prepared = prepare(ScoreRequest(candidate=cand, reference=ref, metrics=METRICS, options=options), ())
    execute(prepared, NullWriter())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    folder = ROOT / ".bench" / "scale"
    ref, cand = build(folder, args.pairs, args.size)
    work = folder / "out"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    base = ("compare", ref, cand, "-m", ",".join(METRICS), "-q", "--format", "jsonl")
    rows: list[tuple[str, float]] = []

    rows.append(("local, one process (CLI wall)", timed([cli(*base, "-o", work / "local.jsonl")])))
    rows.append(("local --resume (CLI wall)", timed([cli(*base, "--resume", work / "r.jsonl", "-o", work / "r-out.jsonl")])))
    shards = [cli(*base[:-2], "--format", "json", "--shard", f"{i}/{args.cpus}", "-o", work / f"p{i}.json")
              for i in range(1, args.cpus + 1)]
    wall = timed(shards)
    merge = timed([cli("merge", *(work / f"p{i}.json" for i in range(1, args.cpus + 1)), "-q", "--format", "jsonl",
                       "-o", work / "merged.jsonl")])
    rows.append((f"{args.cpus} shards at once (CLI wall)", wall))
    rows.append((f"{args.cpus} shards at once + merge (CLI wall)", wall + merge))
    rows.append(("ray, starting a local instance (CLI wall)", timed([cli(*base, "--backend", "ray", "-o", work / "ray.jsonl")])))

    import ray

    rows.append(("local engine, in process (no start-up)", in_process(ref, cand)))
    start = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    started = time.perf_counter() - start
    rows.append(("ray, scoring on a started instance", in_process(ref, cand, backend="ray")))
    rows.append(("ray.init(num_cpus) alone", started))
    ray.shutdown()

    print(f"{args.pairs} pairs of {args.size}x{args.size} PNG, metrics {','.join(METRICS)}, {os.cpu_count()} cores, "
          f"load average at the end {os.getloadavg()[0]:.1f}")
    print("| run | seconds | pairs/s |\n|---|---:|---:|")
    for name, seconds in rows:
        rate = f"{args.pairs / seconds:.0f}" if "alone" not in name else ""
        print(f"| {name} | {seconds:.2f} | {rate} |")


if __name__ == "__main__":
    main()
