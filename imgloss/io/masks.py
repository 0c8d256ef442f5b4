"""Ignore regions: where a pair's mask comes from, and the mask as pixels.

A pair's mask is the intersection of every source that applies to it (a pixel ignored
by any source is ignored):

- a mask image beside the golden (reference) file: for ``a/b.png`` the file
  ``a/b.mask.png`` (:data:`MASK_SUFFIX`; the golden's suffix is replaced, so
  ``a/b.jpg`` takes ``a/b.mask.png`` too);
- a folder-wide mask image ``_mask.png`` (:data:`FOLDER_MASK`) in the golden file's own
  folder (not in its subfolders), for every golden image of that folder;
- rectangles from ``[tool.imgloss]`` ``ignore = [{ path = "ui/*.png", rect = [x, y, w, h] }]``
  whose ``path`` glob matches the pair's relative path (the rules of ``--glob``);
- ``--mask FILE`` (a mask image for every pair) and ``--ignore X,Y,W,H`` (a rectangle
  ignored in every pair).

Mask images: any mode Pillow reads, taken as gray (``L``); a **nonzero** pixel (white)
is compared, a **zero** pixel (black) is ignored. A mask must have the golden image's
size. Rectangles are in golden-image pixels, ``x, y`` the top-left corner, clipped to
the image. Mask files are never images to compare: folder pairing skips them
(:func:`is_mask_file`), so they are never listed as unmatched either.

Plain Python, NumPy and Pillow; no torch.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from imgloss.errors import InputError, UsageError

if TYPE_CHECKING:
    import numpy as np

    from imgloss.io.pairing import Pair

#: The suffix of a mask image beside its golden file: ``b.png`` -> ``b.mask.png``.
MASK_SUFFIX = ".mask.png"
#: The name of a mask image for every golden image of its folder.
FOLDER_MASK = "_mask.png"


def is_mask_file(name: str) -> bool:
    """Whether a file name is a mask image (``*.mask.png`` or ``_mask.png``, any case)."""
    lower = name.lower()
    return lower.endswith(MASK_SUFFIX) or lower == FOLDER_MASK


@dataclass(frozen=True)
class Rect:
    """A rectangle of ignored pixels: top-left ``x, y``, width ``w``, height ``h`` (pixels)."""

    x: int
    y: int
    w: int
    h: int

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.w},{self.h}"


def parse_rect(value: object, where: str) -> Rect:
    """``"X,Y,W,H"`` or ``[x, y, w, h]`` (non-negative integers, ``w, h >= 1``) as a
    :class:`Rect`; a :class:`UsageError` naming ``where`` otherwise."""
    parts: Any = value.split(",") if isinstance(value, str) else value
    try:
        if not isinstance(parts, (list, tuple)) or len(parts) != 4 or any(isinstance(p, (bool, float)) for p in parts):
            raise ValueError
        x, y, w, h = (int(str(p).strip()) for p in parts)
    except ValueError:
        raise UsageError(f"{where} must be a rectangle X,Y,W,H of four integers, got {value!r}") from None
    if min(x, y) < 0 or min(w, h) < 1:
        raise UsageError(f"{where}: X and Y must be >= 0 and W and H >= 1, got {value!r}")
    return Rect(x, y, w, h)


@dataclass(frozen=True)
class IgnoreRule:
    """Rectangles ignored in every pair whose relative path matches ``glob``."""

    glob: str
    rects: tuple[Rect, ...]


@dataclass(frozen=True)
class MaskSpec:
    """Where one pair's mask comes from: mask images and ignored rectangles."""

    files: tuple[Path, ...] = ()
    rects: tuple[Rect, ...] = ()

    def describe(self) -> str:
        """``a/b.mask.png, 2 rectangles``: the sources, for notes and errors."""
        parts = [str(path) for path in self.files]
        if self.rects:
            parts.append(f"{len(self.rects)} rectangle{'s' if len(self.rects) > 1 else ''}")
        return ", ".join(parts)


def mask_for(
    reference: Path, key: str, rules: Sequence[IgnoreRule] = (), files: Sequence[Path] = (), rects: Sequence[Rect] = ()
) -> MaskSpec | None:
    """The mask of the pair of golden file ``reference`` and relative path ``key``:
    the mask files found beside it, the rules matching ``key``, and ``files`` / ``rects``
    given for every pair; None when nothing applies."""
    from imgloss.io.pairing import glob_matches

    found = [path for path in (reference.with_name(reference.stem + MASK_SUFFIX), reference.with_name(FOLDER_MASK))
             if path.is_file()]
    matched = [rect for rule in rules if glob_matches(key, rule.glob) for rect in rule.rects]
    spec = MaskSpec((*found, *files), (*matched, *rects))
    return spec if spec.files or spec.rects else None


def attach_masks(
    pairs: Iterable[Pair], rules: Sequence[IgnoreRule] = (), files: Sequence[Path] = (), rects: Sequence[Rect] = ()
) -> list[Pair]:
    """``pairs`` with their :class:`MaskSpec` (see :func:`mask_for`); pairs without a
    reference are returned as they are."""
    return [pair if pair.reference is None else replace(pair, mask=mask_for(pair.reference, pair.key, rules, files, rects))
            for pair in pairs]


def read_mask(spec: MaskSpec, height: int, width: int, golden: object = "golden image") -> np.ndarray:
    """The ``height x width`` bool array of ``spec``, True where pixels are compared;
    ``golden`` names the golden file in errors.

    Raises :class:`InputError` for a mask file that cannot be read or has another size
    than the golden image, or a mask that ignores every pixel.
    """
    import numpy as np
    from PIL import Image

    keep = np.ones((height, width), dtype=bool)
    for path in spec.files:
        try:
            with Image.open(path) as image:
                gray = np.asarray(image.convert("L"))
        except (OSError, ValueError) as exc:
            raise InputError(path, f"cannot read mask image ({exc})") from None
        if gray.shape != (height, width):
            raise InputError(path, f"mask image is {gray.shape[1]}x{gray.shape[0]}, its golden image is "
                                   f"{width}x{height}")
        keep &= gray != 0
    for rect in spec.rects:
        keep[rect.y : rect.y + rect.h, rect.x : rect.x + rect.w] = False
    if not keep.any():
        raise InputError(golden, f"the mask ({spec.describe()}) ignores every pixel: nothing left to compare")
    return keep


def ignored_note(keep: np.ndarray) -> str:
    """``mask: 12.5% of pixels ignored``: the note a masked pair carries."""
    share = 100.0 * (1.0 - float(keep.mean()))
    return f"mask: {share:.3g}% of pixels ignored"
