#!/usr/bin/env bash
# The GPU checks in one go, for one CUDA machine, in under 8 minutes: the CUDA-marked
# tests, the engine against its ceilings and peers (benchmarks/run_all.py --device cuda:
# PNG and JPEG, default metrics, ssim, perceptual fp32 and bf16), LPIPS, MS-SSIM and each SSIM
# convention against their peers (benchmarks/bench_metrics.py), and one 8192x8192 pair
# with perceptual and style (peak GPU memory). Results: benchmarks/results/<gpu>.json;
# the logs land in OUTDIR (default .bench/gpu).
#   bash benchmarks/run_gpu.sh [OUTDIR]
set -u
out=${1:-.bench/gpu}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  $py -c "import os, torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, torch.cuda.get_device_name(), os.cpu_count(), 'cores')"
} 2>&1 | tee "$out/machine.txt"
timeout 150 $py -m pytest -q -p no:cacheprovider -m gpu tests 2>&1 | tail -15 | tee "$out/pytest_gpu.txt"
timeout 240 $py benchmarks/run_all.py --device cuda --pairs 600 --size 512 --repeats 1 2>&1 | tee "$out/run_all_cuda.txt"
timeout 90 $py benchmarks/bench_metrics.py --device cuda --batch 16 --size 512 --reps 5 2>&1 | tee "$out/bench_metrics_cuda.txt"
timeout 60 $py benchmarks/bench_losses.py --device cuda --reps 10 2>&1 | tee "$out/bench_losses_cuda.txt"
timeout 90 $py benchmarks/bench_large.py --size 8192 -m perceptual -m style --cuda --max-memory 3G \
  --json "$out/large8192_cuda.json" --record "benchmarks/results/$(ls -t benchmarks/results | head -1)" 2>&1 | tail -20 | tee "$out/large8192_cuda.txt"
