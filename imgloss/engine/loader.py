"""Decoding pairs for the engine: a ``Dataset`` run in DataLoader worker processes that
reads both files, matches channels and sizes, and hands back tensors or the reason a
pair failed (a pair never stops the run)."""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from torch import Tensor
from torch.utils.data import Dataset

from imgloss.engine.options import EngineOptions
from imgloss.errors import InputError
from imgloss.engine.workers import WorkerSlots
from imgloss.io import LoadedImage, Pair, match_channels, read_image, resize_to
from imgloss.io.conversions import conversions, image_notes




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

    def __init__(self, pairs: Sequence[Pair], options: EngineOptions, slots: WorkerSlots | None = None) -> None:
        self.pairs = pairs
        self.options = options
        self.slots = slots

    def __len__(self) -> int:
        return len(self.pairs)

    def _read(self, path: Any) -> LoadedImage:
        return read_image(path, background=self.options.background, max_pixels=self.options.max_pixels)

    def __getitem__(self, index: int) -> Decoded:
        if self.slots is None:
            return self._decode(index)
        with self.slots.decoding(index):  # a worker that dies here is blamed for this pair only
            return self._decode(index)

    def _decode(self, index: int) -> Decoded:
        pair = self.pairs[index]
        try:
            y = self._read(pair.candidate)
            if pair.reference is None:
                notes = (*y.notes, *image_notes(y.mode, y.icc_profile, y.tensor.shape[0], None))
                return self._checked(Decoded(index, None, y.tensor, notes), pair)
            x = self._read(pair.reference)
            return self._checked(Decoded(index, *self._align(pair, x, y)), pair)
        except InputError as exc:
            return Decoded(index, error=str(exc))
        except Exception as exc:  # a pair must never stop the run
            return Decoded(index, error=f"{pair.candidate}: cannot decode: {type(exc).__name__}: {exc}")

    def _checked(self, item: Decoded, pair: Pair) -> Decoded:
        """Under ``--strict``, a pair whose comparison needed a conversion is an error row."""
        refused = conversions(item.notes) if self.options.strict else []
        if refused:
            return Decoded(item.index, error=str(InputError(pair.candidate, f"--strict: {'; '.join(refused)}")))
        return item

    def _align(self, pair: Pair, x: LoadedImage, y: LoadedImage) -> tuple[Tensor, Tensor, tuple[str, ...]]:
        """Match channels (gray -> RGB) and sizes (error, or resize one side), noting each conversion."""
        cx, cy = x.tensor.shape[0], y.tensor.shape[0]
        notes = [f"reference: {n}" for n in (*x.notes, *image_notes(x.mode, x.icc_profile, cx, cy))]
        notes += [f"candidate: {n}" for n in (*y.notes, *image_notes(y.mode, y.icc_profile, cy, cx))]
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


def identity(item: Decoded) -> Decoded:
    """The DataLoader's collate function: items are bucketed by size in the main process."""
    return item
