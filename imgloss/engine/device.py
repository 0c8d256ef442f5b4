"""Device choice and the hardware side of scoring: worker and thread counts, exact fp32
on cuDNN, out-of-memory recognition, the memory budget, host-to-device copies of
integer samples converted to float on the device."""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator

import torch
from torch import Tensor

from imgloss.errors import UsageError

#: Fewer pairs than this are decoded in the main process (worker start-up costs more).
SMALL_JOB = 8


def resolve_device(spec: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; an unavailable device is a UsageError."""
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise UsageError(f"unknown device {spec!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"device {spec!r} requested but CUDA is not available here")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(f"device {spec!r} does not exist ({torch.cuda.device_count()} CUDA device(s))")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError("device 'mps' requested but MPS is not available here")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise UsageError(f"unsupported device {spec!r}; use auto, cpu, cuda, cuda:N or mps")
    return device


def default_workers(n_pairs: int, device: torch.device) -> int:
    """Decoding workers: none for tiny jobs; with a GPU, cores - 1 (decoding is the
    bottleneck there); on the CPU, cores // 8 (at least 1), as the metrics need the
    other cores (measured: 15 workers beside 16 compute threads were 10% slower than none)."""
    if n_pairs < SMALL_JOB:
        return 0
    cores = os.cpu_count() or 1
    wanted = cores - 1 if device.type != "cpu" else max(1, cores // 8)
    return max(0, min(cores - 1, wanted, n_pairs // 2))


@contextmanager
def cpu_threads_beside(workers: int, device: torch.device) -> Iterator[None]:
    """On the CPU, leave one core per decoding worker: torch computes on the rest."""
    threads = torch.get_num_threads()
    share = device.type == "cpu" and workers > 0
    if share:
        torch.set_num_threads(max(1, min(threads, (os.cpu_count() or 1) - workers)))
    try:
        yield
    finally:
        if share:
            torch.set_num_threads(threads)


def exact_fp32(exact: bool) -> Any:
    """Turn off cuDNN's TF32 convolutions (on by default, ~1e-3 relative error) while
    scoring in fp32: reported numbers match the CPU; --precision bf16/fp16 trades that."""
    cudnn = torch.backends.cudnn
    return cudnn.flags(
        enabled=cudnn.enabled,
        benchmark=cudnn.benchmark,
        deterministic=cudnn.deterministic,
        allow_tf32=cudnn.allow_tf32 and not exact,
    )


def out_of_memory(exc: BaseException) -> bool:
    """CUDA raises ``torch.OutOfMemoryError``; the CPU allocator a plain RuntimeError."""
    return isinstance(exc, torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)
    )


def to_device(samples: Tensor, device: torch.device) -> Tensor:
    """A stacked ``N x C x H x W`` batch of samples (``uint8``/``uint16``/``float32``, in
    pinned memory on CUDA: the copy is asynchronous) as float32 in [0, 1] on ``device``;
    the conversion runs there, on 4x (2x) fewer bytes moved than floats."""
    from imgloss.io import to_unit_float

    return to_unit_float(samples.to(device, non_blocking=samples.is_pinned()))


def memory_budget(device: torch.device, max_memory: int | None) -> int:
    """Bytes one batch or tile may use: ``--max-memory``, else a quarter of what is free
    on ``device`` now (CUDA: ``mem_get_info``; CPU: available RAM)."""
    if max_memory is not None:
        return max_memory
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0] // 4
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4


def describe_device(device: torch.device) -> str:
    """``cpu``, or ``cuda:0 (NVIDIA H100 80GB HBM3)``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return str(device)
