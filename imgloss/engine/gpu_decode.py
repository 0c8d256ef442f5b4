"""JPEG decoding on the GPU (nvJPEG through ``torchvision.io.decode_jpeg``), CUDA only.

Workers look at the headers (:func:`encoded_pair`): a pair whose files are both plain
JPEGs (baseline or progressive, RGB or gray, one frame, no EXIF rotation, within the
pixel limit, equal sizes) is handed over still encoded, a few kB instead of megabytes;
anything else takes the CPU decoder as before, so every io rule (EXIF, alpha, 16 bit,
errors) is unchanged. The main process decodes a batch of them in one call on the
device (:func:`decode_on_device`); a file the GPU decoder refuses is decoded on the CPU
instead, with a note saying so. nvJPEG's IDCT may differ from libjpeg's by a code value
here and there, so GPU-decoded JPEG scores can differ from CPU ones in the last digits.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from imgloss.io import Pair, RawImage
from imgloss.io.limits import effective_limit

_JPEG = b"\xff\xd8\xff"
#: Larger JPEGs take the CPU path (the engine tiles images beyond its budget from host memory).
_MAX_GPU_PIXELS = 1 << 24
_ORIENTATION = 0x0112


@dataclass
class Encoded:
    """A JPEG file's bytes (``uint8``, 1-D), its path and its decoded shape ``C x H x W``
    (both sides of a pair have the same mode: a gray/colour pair takes the CPU path,
    which notes the conversion)."""

    data: Tensor
    path: Path
    shape: tuple[int, int, int]

    def pin_memory(self) -> "Encoded":
        return self


def _plain_jpeg(path: Path, limit: int | None) -> tuple[bytes, str, tuple[int, int]] | None:
    """``(bytes, mode, (H, W))`` of a JPEG the GPU decoder can take as is, else None."""
    try:
        data = path.read_bytes()
        if not data.startswith(_JPEG):
            return None
        with Image.open(path, formats=("JPEG",)) as im:
            width, height = im.size
            if (im.format != "JPEG" or im.mode not in ("RGB", "L") or getattr(im, "n_frames", 1) != 1
                    or (limit is not None and width * height > limit) or width * height > _MAX_GPU_PIXELS
                    or im.getexif().get(_ORIENTATION, 1) not in (1, None)):
                return None
            return data, im.mode, (height, width)
    except Exception:  # the CPU path decides what is wrong with the file
        return None


def encoded_pair(pair: Pair, max_pixels: int | None) -> tuple[Encoded | None, Encoded, tuple[str, ...]] | None:
    """``(x, y, notes)`` for a pair of plain JPEGs of one size, else None (CPU path)."""
    limit = effective_limit(max_pixels)
    paths = [pair.candidate] if pair.reference is None else [pair.reference, pair.candidate]
    found = [_plain_jpeg(Path(p), limit) for p in paths]
    if any(f is None for f in found) or len({f[1:] for f in found}) != 1:  # type: ignore[index]  # same mode and size: no conversion
        return None
    channels = 3 if found[0][1] == "RGB" else 1  # type: ignore[index]
    sides = [
        # A tensor with its own (resizable) storage: worker results move through shared memory.
        Encoded(torch.from_numpy(np.frombuffer(f[0], dtype=np.uint8).copy()), Path(p), (channels, *f[2]))  # type: ignore[index]
        for p, f in zip(paths, found)
    ]
    return (None, sides[0], ()) if len(sides) == 1 else (sides[0], sides[1], ())


def decode_on_device(
    sides: list[Encoded], device: torch.device, read_cpu: Callable[[Path], RawImage]
) -> list[tuple[Tensor | None, str | None]]:
    """Each file decoded on ``device`` (``C x H x W`` uint8), in one batched call when
    possible: ``(tensor, None)``; a file the GPU refuses is read by ``read_cpu``:
    ``(tensor, note)``; a file neither can read: ``(None, error)``."""
    from torchvision.io import ImageReadMode, decode_jpeg

    mode = ImageReadMode.RGB if sides[0].shape[0] == 3 else ImageReadMode.GRAY
    try:
        images = decode_jpeg([s.data for s in sides], mode=mode, device=device)
        if all(tuple(image.shape) == s.shape for image, s in zip(images, sides)):
            return [(image, None) for image in images]
    except Exception:
        pass  # one bad file fails the batch: decode one by one
    out: list[tuple[Tensor | None, str | None]] = []
    for side in sides:
        try:
            image = decode_jpeg(side.data, mode=mode, device=device)
            if tuple(image.shape) != side.shape:
                raise ValueError(f"decoded shape {tuple(image.shape)}, header says {side.shape}")
            out.append((image, None))
        except Exception as exc:
            out.append(_on_cpu(side, device, read_cpu, exc))
    return out


def _on_cpu(side: Encoded, device: torch.device, read_cpu: Callable[[Path], RawImage],
            exc: Exception) -> tuple[Tensor | None, str | None]:
    try:
        data = read_cpu(side.path).data
    except Exception as error:  # InputError names the file
        return None, str(error)
    if data.shape[0] == 1 and side.shape[0] == 3:
        data = data.repeat(3, 1, 1)
    return data.to(device), f"{side.path}: GPU JPEG decode failed ({type(exc).__name__}): decoded on the CPU"
