"""Regenerate sample_images/: real photographs and distorted versions of each.

The photographs ship with scikit-image (public domain or CC0, see LICENSE.md); this
script re-encodes them small and writes ``reference/<key>`` and ``distorted/<key>``
with the same relative path ``key``, one distortion per pair, plus one file present
only in ``distorted/``. ``manifest.json`` records every pair's size, channels,
distortion and parameters (and the edited region), for tests and for readers.

Deterministic: fixed seeds, no randomness elsewhere. Run from anywhere:
    .venv/bin/python sample_images/make_samples.py
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from skimage import data

HERE = Path(__file__).resolve().parent
SEED = 20240601

# The painted rectangle of the local edit: x0, y0, x1, y1 (half-open, pixels).
EDIT_REGION = (150, 40, 214, 88)
EDIT_COLOUR = (255, 0, 255)


def _fit(array: np.ndarray, width: int, height: int) -> Image.Image:
    """Scale to cover width x height (Lanczos), then crop the centre."""
    im = Image.fromarray(array)
    scale = max(width / im.width, height / im.height)
    size = (max(width, round(im.width * scale)), max(height, round(im.height * scale)))
    im = im.resize(size, Image.Resampling.LANCZOS)
    left, top = (im.width - width) // 2, (im.height - height) // 2
    return im.crop((left, top, left + width, top + height))


def _noise(im: Image.Image, sigma: float, seed: int) -> Image.Image:
    x = np.asarray(im).astype(np.float64)
    x += np.random.default_rng(seed).normal(0.0, sigma, x.shape)
    return Image.fromarray(np.clip(np.round(x), 0, 255).astype(np.uint8), im.mode)


def _blur(im: Image.Image, radius: float) -> Image.Image:
    return im.filter(ImageFilter.GaussianBlur(radius))


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as decoded:
        return decoded.convert(im.mode)  # stored as PNG: same relative path as reference


def _colour_shift(im: Image.Image, gains: tuple[float, float, float], offsets: tuple[float, float, float]) -> Image.Image:
    x = np.asarray(im).astype(np.float64) * np.array(gains) + np.array(offsets)
    return Image.fromarray(np.clip(np.round(x), 0, 255).astype(np.uint8), "RGB")


def _local_edit(im: Image.Image) -> Image.Image:
    out = im.copy()
    x0, y0, x1, y1 = EDIT_REGION
    ImageDraw.Draw(out).rectangle((x0, y0, x1 - 1, y1 - 1), fill=EDIT_COLOUR)
    return out


def build() -> dict:
    """Write every file and return the manifest."""
    sources = {
        "astronaut.png": (_fit(data.astronaut(), 256, 256), "skimage.data.astronaut"),
        "camera.png": (_fit(data.camera(), 256, 256), "skimage.data.camera"),
        "coffee.png": (_fit(data.coffee(), 320, 240), "skimage.data.coffee"),
        "rocket.png": (_fit(data.rocket(), 320, 240), "skimage.data.rocket"),
        "nature/chelsea.png": (_fit(data.chelsea(), 320, 240), "skimage.data.chelsea"),
    }
    distortions = {
        "astronaut.png": ("local_edit", _local_edit, {"region": list(EDIT_REGION), "colour": list(EDIT_COLOUR)}),
        "camera.png": ("gaussian_noise", lambda im: _noise(im, 20.0, SEED), {"sigma_8bit": 20.0, "seed": SEED}),
        "coffee.png": ("gaussian_blur", lambda im: _blur(im, 2.0), {"radius": 2.0}),
        "rocket.png": ("jpeg", lambda im: _jpeg(im, 10), {"quality": 10}),
        "nature/chelsea.png": (
            "colour_shift",
            lambda im: _colour_shift(im, (1.10, 1.0, 0.85), (8.0, 0.0, -4.0)),
            {"gains_rgb": [1.10, 1.0, 0.85], "offsets_rgb_8bit": [8.0, 0.0, -4.0]},
        ),
    }
    manifest: dict = {"pairs": {}, "unmatched": "extra.png"}
    for key, (reference, source) in sources.items():
        name, distort, params = distortions[key]
        distorted = distort(reference)
        for side, im in (("reference", reference), ("distorted", distorted)):
            path = HERE / side / key
            path.parent.mkdir(parents=True, exist_ok=True)
            im.save(path, optimize=True)
        manifest["pairs"][key] = {
            "source": source,
            "width": reference.width,
            "height": reference.height,
            "channels": 1 if reference.mode == "L" else 3,
            "distortion": name,
            **params,
        }
    extra = _fit(data.gravel(), 200, 200)  # only in distorted/: must stay unmatched
    extra.save(HERE / "distorted" / "extra.png", optimize=True)
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


if __name__ == "__main__":
    build()
