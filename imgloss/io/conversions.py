"""What was changed between the stored pixels and the compared ones, said as notes, and
which notes ``--strict`` turns into errors.

Decoding (:mod:`.decode`) notes what it does to one file (alpha composited, first frame
of many, CMYK converted, EXIF rotated, 16-bit, ...). :func:`pair_notes` adds what the
pairing of two decoded images implies: a palette image expanded to RGB, a gray image
repeated to three channels beside an RGB one, an embedded ICC profile that is not
applied (values are compared as stored). :func:`conversions` picks the notes that
change what is compared (everything but :data:`DESCRIPTIVE`), the ones ``--strict``
refuses. No torch here.
"""
from __future__ import annotations

import io
import re
from typing import Sequence

#: Notes that describe the input without changing what is compared (``--strict`` keeps them).
DESCRIPTIVE = re.compile(r"(reference: |candidate: )?(16-bit|32-bit float|EXIF rotated \(orientation \d\)|"
                         r"opaque alpha channel ignored|out of GPU memory: scored on the CPU)$")

#: Pillow modes stored as a palette.
PALETTE_MODES = ("P", "PA")


def icc_description(profile: object) -> str | None:
    """The description of an embedded ICC profile, or None when there is none or it is
    sRGB (the stored values are then what the metrics expect)."""
    if not isinstance(profile, bytes) or not profile:
        return None
    try:
        from PIL import ImageCms

        description = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(profile))).strip()
    except Exception:  # no littleCMS in this Pillow, or a profile it cannot parse
        return "unreadable profile"
    return None if "srgb" in description.lower().replace(" ", "") else description or "unnamed profile"


def image_notes(mode: str, icc_profile: str | None, channels: int, other_channels: int | None) -> list[str]:
    """The notes of one side of a pair: ``mode`` as stored, its non-sRGB profile, its
    channel count and the other side's (None without a reference)."""
    notes = []
    if mode in PALETTE_MODES:
        notes.append("palette image expanded to RGB")
    if icc_profile is not None:
        notes.append(f"ICC profile '{icc_profile}' ignored (values compared as stored, not converted to sRGB)")
    if channels == 1 and other_channels == 3:
        notes.append("gray image repeated to 3 channels (the other image is RGB)")
    return notes


def conversions(notes: Sequence[str]) -> list[str]:
    """The notes that change what is compared (refused under ``--strict``)."""
    return [note for note in notes if not DESCRIPTIVE.match(note)]
