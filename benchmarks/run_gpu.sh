#!/usr/bin/env bash
# The GPU checks in one go, for a CUDA machine: the CUDA-marked tests, then the
# compare benchmark (CUDA and CPU, same corpus) and the VGG benchmark on CUDA.
#   bash benchmarks/run_gpu.sh [OUTDIR]      (figures land in OUTDIR, default .bench/gpu)
set -u
out=${1:-.bench/gpu}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  $py -c "import os, torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, torch.cuda.get_device_name(), os.cpu_count(), 'cores')"
} 2>&1 | tee "$out/machine.txt"
$py -m pytest -q -p no:cacheprovider -m gpu tests 2>&1 | tail -15 | tee "$out/pytest_gpu.txt"
$py benchmarks/bench_compare.py --pairs 200 --size 512 --device cuda --folder /tmp/imgloss-bench 2>&1 | tee "$out/bench_compare_cuda.txt"
$py benchmarks/bench_compare.py --pairs 200 --size 512 --device cpu --folder /tmp/imgloss-bench 2>&1 | tee "$out/bench_compare_cpu.txt"
$py benchmarks/bench_vgg.py --pairs 32 --size 256 --device cuda --batch-size 16 2>&1 | tee "$out/bench_vgg_cuda.txt"
$py benchmarks/bench_losses.py --device cuda --reps 10 2>&1 | tee "$out/bench_losses_cuda.txt"
