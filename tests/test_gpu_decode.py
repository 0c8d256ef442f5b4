"""GPU JPEG hand-off: which pairs go over encoded, and the CPU fallback with its note
(the decoder is faked here; the real nvJPEG path runs in benchmarks/run_gpu.sh)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from imgloss.engine import gpu_decode
from imgloss.engine.gpu_decode import decode_on_device, encoded_pair
from imgloss.io import Pair, read_image_raw


def jpeg(path: Path, mode: str = "RGB", size: tuple[int, int] = (24, 16), **save: object) -> Path:
    rng = np.random.default_rng(len(path.name) + ord(path.name[0]))  # different files, different bytes
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    Image.fromarray(rng.integers(0, 256, shape).astype(np.uint8), mode).save(path, **save)
    return path


def test_plain_jpeg_pairs_go_encoded_others_take_the_cpu_path(tmp_path: Path) -> None:
    a, b = jpeg(tmp_path / "a.jpg"), jpeg(tmp_path / "b.jpg")
    x, y, notes = encoded_pair(Pair(a, b, "b.jpg"), None)
    assert x.shape == y.shape == (3, 16, 24) and notes == ()
    assert bytes(y.data.numpy()) == b.read_bytes()
    gray = jpeg(tmp_path / "g.jpg", "L")
    assert encoded_pair(Pair(gray, gray, "g.jpg"), None)[1].shape == (1, 16, 24)
    assert encoded_pair(Pair(a, gray, "g.jpg"), None) is None  # gray beside colour: the CPU path notes it
    assert encoded_pair(Pair(a, jpeg(tmp_path / "c.jpg", size=(20, 16)), "c"), None) is None  # sizes differ
    png = tmp_path / "p.png"
    Image.open(a).save(png)
    assert encoded_pair(Pair(a, png, "p"), None) is None
    exif = Image.Exif()
    exif[0x0112] = 6
    assert encoded_pair(Pair(a, jpeg(tmp_path / "r.jpg", exif=exif), "r"), None) is None  # EXIF rotation: CPU
    assert encoded_pair(Pair(a, b, "b"), max_pixels=100) is None  # over the pixel limit: the CPU path refuses it


def test_a_file_the_gpu_decoder_refuses_is_decoded_on_the_cpu_with_a_note(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("torchvision")
    import torchvision.io

    a, b = jpeg(tmp_path / "a.jpg"), jpeg(tmp_path / "b.jpg")
    _, y, _ = encoded_pair(Pair(a, b, "b"), None)

    def fake(data, mode, device):  # the batch fails; one by one, b.jpg fails
        if isinstance(data, list) or bytes(data.numpy()) == b.read_bytes():
            raise RuntimeError("nvjpeg refused")
        return torch.zeros(3, 16, 24, dtype=torch.uint8)

    monkeypatch.setattr(torchvision.io, "decode_jpeg", fake)
    x_side = encoded_pair(Pair(b, a, "a"), None)[1]
    read = lambda path: read_image_raw(path)  # noqa: E731
    (first, note_a), (second, note_b) = decode_on_device([x_side, y], torch.device("cpu"), read)
    assert note_a is None and first.abs().sum() == 0
    assert note_b == f"{b}: GPU JPEG decode failed (RuntimeError): decoded on the CPU"
    assert torch.equal(second, read_image_raw(b).data)
    missing = gpu_decode.Encoded(y.data, tmp_path / "gone.jpg", y.shape)
    ((tensor, error),) = decode_on_device([missing], torch.device("cpu"), read)
    assert tensor is None and "gone.jpg" in error
