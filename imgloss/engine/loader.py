"""Decoding pairs for the engine: a ``Dataset`` run in DataLoader worker processes that
reads both files, matches channels and sizes, and hands back integer samples (``uint8``
/ ``uint16``; ``float32`` only where decoding made floats: alpha composited, resized),
or the reason a pair failed (a pair never stops the run).

Workers decode a run of consecutive pairs (:func:`chunks`) and stack the pairs of one
size and sample type into one tensor per side (:func:`collate`): the main process gets
a few ready-made groups instead of one message per image, and the float conversion
happens on the device (:func:`imgloss.io.to_unit_float`). On CUDA, plain JPEGs are
handed over still encoded and decoded there (:mod:`.gpu_decode`).
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

from imgloss.engine.gpu_decode import Encoded, encoded_pair
from imgloss.engine.options import EngineOptions
from imgloss.engine.workers import WorkerSlots
from imgloss.errors import InputError
from imgloss.io import Pair, RawImage, match_channels, read_image_raw, resize_to, to_unit_float
from imgloss.io.conversions import conversions, image_notes
from imgloss.io.masks import ignored_note, read_mask

#: Pairs a worker decodes per message (one chunk), when decoding runs in workers.
CHUNK = 8


@dataclass
class Decoded:
    """One pair as a worker hands it back: ``C x H x W`` samples (``uint8``, ``uint16`` or
    ``float32``), still-encoded JPEGs (:class:`Encoded`), or the reason the pair failed;
    ``mask``: ``H x W`` bool, True where pixels are compared (None: all are)."""

    index: int
    x: Tensor | Encoded | None = None
    y: Tensor | Encoded | None = None
    notes: tuple[str, ...] = ()
    error: str | None = None
    mask: Tensor | None = None

    @property
    def key(self) -> tuple[Any, ...]:
        """Pairs with equal keys stack into one batch: size, sample types, reference or
        not, masked or not."""
        return (_describe(self.y), _describe(self.x), self.mask is not None)


def _describe(side: Tensor | Encoded | None) -> tuple[Any, ...] | None:
    if side is None:
        return None
    if isinstance(side, Encoded):
        return ("jpeg", side.shape)
    return (str(side.dtype), tuple(side.shape))


@dataclass
class Group:
    """Same-key pairs stacked by a worker: ``x``/``y`` are ``N x C x H x W`` (``x`` None
    when scoring without a reference) or lists of :class:`Encoded` for GPU decoding;
    ``mask`` ``N x H x W`` bool for masked pairs (None: unmasked)."""

    key: tuple[Any, ...]
    indices: list[int]
    notes: list[tuple[str, ...]]
    x: Tensor | list[Encoded] | None
    y: Tensor | list[Encoded]
    mask: Tensor | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def split(self, n: int) -> tuple["Group", "Group"]:
        """The first ``n`` pairs and the rest."""
        def cut(side: Any, part: slice) -> Any:
            return None if side is None else side[part]

        head, tail = slice(0, n), slice(n, None)
        return tuple(Group(self.key, self.indices[part], self.notes[part], cut(self.x, part), cut(self.y, part),
                           cut(self.mask, part)) for part in (head, tail))  # type: ignore[return-value]

    @staticmethod
    def take(groups: list["Group"], n: int | None) -> tuple["Group", list["Group"]]:
        """One group of the first ``n`` pairs (all when None) of same-key ``groups``, and
        what is left; stacked tensors are concatenated only when there are several."""
        whole = groups[0] if len(groups) == 1 else Group(
            groups[0].key,
            [i for g in groups for i in g.indices],
            [notes for g in groups for notes in g.notes],
            None if groups[0].x is None else _join([g.x for g in groups]),
            _join([g.y for g in groups]),
            None if groups[0].mask is None else _join([g.mask for g in groups]),
        )
        if n is None or n >= len(whole):
            return whole, []
        head, tail = whole.split(n)
        return head, [tail]

    def pin_memory(self) -> "Group":
        """Page-locked copies (the DataLoader's pin thread calls this on CUDA)."""
        self.x, self.y, self.mask = _pin(self.x), _pin(self.y), _pin(self.mask)  # type: ignore[assignment]
        return self


def _pin(side: Tensor | list[Encoded] | None) -> Any:
    return side.pin_memory() if isinstance(side, Tensor) else side


@dataclass
class Chunk:
    """What one worker message carries: stacked groups and the failed pairs."""

    groups: list[Group] = field(default_factory=list)
    failed: list[Decoded] = field(default_factory=list)

    def pin_memory(self) -> "Chunk":
        self.groups = [group.pin_memory() for group in self.groups]
        return self


class PairDataset(Dataset):
    """Decodes pair ``i`` (runs inside DataLoader workers). ``gpu_jpeg``: hand plain
    JPEG pairs over encoded, for decoding on the GPU; ``slots``: where each worker says
    which pair it is decoding (a worker that dies is blamed for that pair only)."""

    def __init__(self, pairs: Sequence[Pair], options: EngineOptions, gpu_jpeg: bool = False,
                 slots: WorkerSlots | None = None) -> None:
        self.pairs = pairs
        self.options = options
        self.gpu_jpeg = gpu_jpeg
        self.slots = slots

    def __len__(self) -> int:
        return len(self.pairs)

    def read(self, path: Any) -> RawImage:
        """One file's samples, with this run's background and pixel limit."""
        return read_image_raw(path, background=self.options.background, max_pixels=self.options.max_pixels)

    def __getitem__(self, index: int) -> Decoded:
        if self.slots is None:
            return self._decode(index)
        with self.slots.decoding(index):
            return self._decode(index)

    def _decode(self, index: int) -> Decoded:
        pair = self.pairs[index]
        try:
            if self.gpu_jpeg and not self.options.strict and pair.mask is None:
                encoded = encoded_pair(pair, self.options.max_pixels)
                if encoded is not None:
                    return Decoded(index, *encoded)
            y = self.read(pair.candidate)
            if pair.reference is None:
                notes = (*y.notes, *image_notes(y.mode, y.icc_profile, y.data.shape[0], None))
                return self._checked(Decoded(index, None, y.data, notes), pair)
            x = self.read(pair.reference)
            return self._masked(self._checked(Decoded(index, *self._align(pair, x, y)), pair), pair, x)
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

    def _masked(self, item: Decoded, pair: Pair, golden: RawImage) -> Decoded:
        """Attach the pair's mask (read at the golden file's size, then brought to the
        compared size when the reference was resized) and its note."""
        if pair.mask is None or item.error is not None:
            return item
        _, height, width = golden.data.shape
        keep = torch.from_numpy(read_mask(pair.mask, height, width, pair.reference))
        size = tuple(item.x.shape[-2:])  # type: ignore[union-attr]
        if size != (height, width):
            keep = torch.nn.functional.interpolate(keep[None, None].float(), size=size, mode="nearest")[0, 0] > 0
        return Decoded(item.index, item.x, item.y, (*item.notes, ignored_note(keep.numpy())), mask=keep)

    def _align(self, pair: Pair, x: RawImage, y: RawImage) -> tuple[Tensor, Tensor, tuple[str, ...]]:
        """Match channels (gray -> RGB) and sizes (error, or resize one side), noting each conversion."""
        cx, cy = x.data.shape[0], y.data.shape[0]
        notes = [f"reference: {n}" for n in (*x.notes, *image_notes(x.mode, x.icc_profile, cx, cy))]
        notes += [f"candidate: {n}" for n in (*y.notes, *image_notes(y.mode, y.icc_profile, cy, cx))]
        xt, yt = match_channels(x.data, y.data)
        (_, hx, wx), (_, hy, wy) = xt.shape, yt.shape
        if (hx, wx) != (hy, wy):
            if self.options.resize == "candidate":
                yt = resize_to(to_unit_float(yt), (hx, wx))
                notes.append(f"candidate resized {wy}x{hy} -> {wx}x{hx}")
            elif self.options.resize == "reference":
                xt = resize_to(to_unit_float(xt), (hy, wy))
                notes.append(f"reference resized {wx}x{hx} -> {wy}x{hy}")
            else:
                raise InputError(
                    pair.candidate,
                    f"size mismatch: reference {wx}x{hx}, candidate {wy}x{hy} (use --resize candidate|reference)",
                )
        return xt, yt, tuple(notes)


def chunks(indices: Sequence[int], size: int) -> list[list[int]]:
    """Consecutive runs of ``size`` of ``indices`` (the DataLoader's batch sampler)."""
    indices = list(indices)
    return [indices[start:start + size] for start in range(0, len(indices), size)]


def unstack(chunk: Chunk) -> Iterator[Decoded]:
    """A worker's chunk as one item per pair again (views into the stacked tensors), for
    the restart loop of :func:`imgloss.engine.workers.decoded_pairs`, which counts pairs."""
    yield from chunk.failed
    for group in chunk.groups:
        for i, index in enumerate(group.indices):
            yield Decoded(index, None if group.x is None else group.x[i], group.y[i], group.notes[i],
                          mask=None if group.mask is None else group.mask[i])


def collate(items: list[Decoded]) -> Chunk:
    """Runs in the worker: stack the pairs of one key per side, keep failures apart."""
    chunk = Chunk()
    by_key: dict[tuple[Any, ...], list[Decoded]] = {}
    for item in items:
        if item.error is not None:
            chunk.failed.append(item)
        else:
            by_key.setdefault(item.key, []).append(item)
    for key, members in by_key.items():
        chunk.groups.append(
            Group(
                key,
                [m.index for m in members],
                [m.notes for m in members],
                None if members[0].x is None else _stack([m.x for m in members]),  # type: ignore[misc]
                _stack([m.y for m in members]),  # type: ignore[misc]
                None if members[0].mask is None else torch.stack([m.mask for m in members]),  # type: ignore[misc]
            )
        )
    return chunk


def _join(sides: list[Any]) -> Any:
    return torch.cat(sides) if isinstance(sides[0], Tensor) else [s for side in sides for s in side]


def _stack(sides: list[Tensor | Encoded]) -> Tensor | list[Encoded]:
    if isinstance(sides[0], Encoded):
        return sides  # type: ignore[return-value]
    return torch.stack(sides)  # type: ignore[arg-type]


@contextmanager
def quiet_worker_count() -> Iterator[None]:
    """An explicit --workers above the core count is the user's call: torch's multi-line
    DataLoader warning about it would only clutter stderr."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="This DataLoader will create")
        yield
