"""Decoding pairs for the engine: a ``Dataset`` run in DataLoader worker processes that
reads both files, matches channels and sizes, and hands back tensors or the reason a
pair failed (a pair never stops the run)."""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

from imgloss.engine.options import EngineOptions
from imgloss.errors import InputError
from imgloss.io import LoadedImage, Pair, match_channels, read_image, resize_to




@dataclass
class Decoded:
    """What a worker hands back: tensors (C x H x W) or the reason the pair failed."""

    index: int
    x: Tensor | None = None
    y: Tensor | None = None
    notes: tuple[str, ...] = ()
    error: str | None = None


class PairDataset(Dataset):
    """Decodes pair ``i`` (runs inside DataLoader workers)."""

    def __init__(self, pairs: Sequence[Pair], options: EngineOptions) -> None:
        self.pairs = pairs
        self.options = options

    def __len__(self) -> int:
        return len(self.pairs)

    def _read(self, path: Any) -> LoadedImage:
        return read_image(path, background=self.options.background, max_pixels=self.options.max_pixels)

    def __getitem__(self, index: int) -> Decoded:
        pair = self.pairs[index]
        try:
            y = self._read(pair.candidate)
            if pair.reference is None:
                return Decoded(index, None, y.tensor, y.notes)
            x = self._read(pair.reference)
            return Decoded(index, *self._align(pair, x, y))
        except InputError as exc:
            return Decoded(index, error=str(exc))
        except Exception as exc:  # a pair must never stop the run
            return Decoded(index, error=f"{pair.candidate}: cannot decode: {type(exc).__name__}: {exc}")

    def _align(self, pair: Pair, x: LoadedImage, y: LoadedImage) -> tuple[Tensor, Tensor, tuple[str, ...]]:
        """Match channels (gray -> RGB) and sizes (error, or resize one side)."""
        notes = [f"reference: {n}" for n in x.notes] + [f"candidate: {n}" for n in y.notes]
        xt, yt = match_channels(x.tensor, y.tensor)
        (_, hx, wx), (_, hy, wy) = xt.shape, yt.shape
        if (hx, wx) != (hy, wy):
            if self.options.resize == "candidate":
                yt = resize_to(yt, (hx, wx))
                notes.append(f"candidate resized {wy}x{hy} -> {wx}x{hx}")
            elif self.options.resize == "reference":
                xt = resize_to(xt, (hy, wy))
                notes.append(f"reference resized {wx}x{hx} -> {wy}x{hy}")
            else:
                raise InputError(
                    pair.candidate,
                    f"size mismatch: reference {wx}x{hx}, candidate {wy}x{hy} (use --resize candidate|reference)",
                )
        return xt, yt, tuple(notes)


@contextmanager
def quiet_worker_count() -> Iterator[None]:
    """An explicit --workers above the core count is the user's call: torch's multi-line
    DataLoader warning about it would only clutter stderr."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="This DataLoader will create")
        yield


def worker_init(_: int) -> None:
    """Decoding workers use one thread each; the main process keeps the rest."""
    torch.set_num_threads(1)


def identity(item: Decoded) -> Decoded:
    """The DataLoader's collate function: items are bucketed by size in the main process."""
    return item
