"""Device choice and the hardware side of scoring: worker and thread counts, exact fp32
on cuDNN, out-of-memory recognition, pinned host-to-device copies."""
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


def to_device(images: list[Tensor], device: torch.device) -> Tensor:
    """Stack same-size ``C x H x W`` images into a batch on ``device``; for CUDA the
    batch is assembled in pinned memory so the copy runs asynchronously."""
    if device.type != "cuda":
        return torch.stack(images).to(device)
    batch = torch.empty((len(images), *images[0].shape), dtype=images[0].dtype, pin_memory=True)
    torch.stack(images, out=batch)
    return batch.to(device, non_blocking=True)


def describe_device(device: torch.device) -> str:
    """``cpu``, or ``cuda:0 (NVIDIA H100 80GB HBM3)``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return str(device)
