"""Start-up benchmark (not a test): how much a one-pair ``imgloss compare`` costs beyond
importing torch, and how fast ``imgloss --help`` answers.

Runs, interleaved (so a load change on a shared machine hits every command alike),
``python -c "import torch"``, ``python -m imgloss compare A B -m ssim`` and
``python -m imgloss --help``, each ``--runs`` times in fresh processes, and reports the
median wall time of each and the ratio compare / import torch (target: <= 1.25) and
the help time (target: < 0.3 s).

    python benchmarks/bench_startup.py [--runs 7] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAIR = (ROOT / "sample_images" / "reference" / "camera.png", ROOT / "sample_images" / "distorted" / "camera.png")
COMMANDS = {
    "import torch": [sys.executable, "-c", "import torch"],
    "compare -m ssim": [sys.executable, "-m", "imgloss", "compare", *map(str, PAIR), "-m", "ssim"],
    "--help": [sys.executable, "-m", "imgloss", "--help"],
}


def wall(command: list[str]) -> float:
    """Seconds one fresh process takes, output discarded; a failure stops the benchmark."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def measure(runs: int) -> dict[str, float]:
    """Median seconds per command, runs interleaved; one untimed warm-up round first."""
    for command in COMMANDS.values():
        wall(command)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, command in COMMANDS.items():
            times[name].append(wall(command))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    medians = measure(args.runs)
    ratio = medians["compare -m ssim"] / medians["import torch"]
    for name, seconds in medians.items():
        print(f"{name:18} {seconds:6.3f} s (median of {args.runs})")
    print(f"compare / import torch: {ratio:.2f}x (target <= 1.25); --help {medians['--help']:.3f} s (target < 0.3)")
    if args.json:
        args.json.write_text(json.dumps({"medians_s": medians, "compare_over_import_torch": ratio}, indent=2))


if __name__ == "__main__":
    main()
