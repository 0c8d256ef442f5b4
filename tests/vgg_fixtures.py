"""Shared fixtures of the VGG tests: seeded stand-in weights, an isolated environment,
a blocked network, and the independent torchvision reference network.

Import explicitly (``from vgg_fixtures import ...``); the autouse fixtures then apply to
the importing module. Stand-ins are torchvision's ``vgg19()``/``vgg16()``/``alexnet()`` under
``torch.manual_seed(0)``, saved once per session as ``features.*`` state dicts (the real
key layout; the 500 MB classifier is left out) under torchvision's official file names.
"""
from __future__ import annotations

import socket
from pathlib import Path
from typing import Iterator

import pytest
import torch
import torchvision
from torch import nn

import imgloss.weights as weights
from imgloss.features import vgg

BACKBONES = ("vgg19", "vgg16", "alexnet")
CONSTRUCTORS = {"vgg19": torchvision.models.vgg19, "vgg16": torchvision.models.vgg16,
                "alexnet": torchvision.models.alexnet}


def standin_state(backbone: str) -> dict[str, torch.Tensor]:
    """``features.*`` of a seeded, randomly initialised torchvision ``backbone``."""
    torch.manual_seed(0)
    model = CONSTRUCTORS[backbone]()
    return {k: v for k, v in model.state_dict().items() if k.startswith("features.")}


@pytest.fixture(scope="session")
def standin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding every stand-in under the official names (vgg19-dcbb9e9d.pth ...).

    Each importing module gets its own copy of this fixture, so the folder lives at a fixed
    place under the session's base temp and is written once: 142 MB per run, not per module."""
    folder = tmp_path_factory.getbasetemp() / "standin"
    if not folder.is_dir():
        partial = tmp_path_factory.mktemp("standin-partial")
        for backbone in BACKBONES:
            torch.save(standin_state(backbone), partial / weights.OFFICIAL[backbone].filename)
        partial.rename(folder)
    return folder


def standin_file(standin_dir: Path, backbone: str = "vgg19") -> Path:
    return standin_dir / weights.OFFICIAL[backbone].filename


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Caches in tmp dirs (nothing in ~ is read or written), no weights configured,
    the strict product path, and a fresh VGG cache."""
    monkeypatch.setenv(weights.ENV_CACHE, str(tmp_path / "imgloss-cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv(weights.ENV_WEIGHTS, raising=False)
    monkeypatch.delenv(weights.ENV_ALLOW_UNVERIFIED, raising=False)
    vgg.clear_cache()
    yield tmp_path
    vgg.clear_cache()


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Every socket connection or name lookup raises and is recorded; none may happen."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network access in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield attempts
    assert attempts == [], f"a test tried to reach the network: {attempts}"


@pytest.fixture
def use_standin(monkeypatch: pytest.MonkeyPatch, standin_dir: Path) -> Path:
    """Run on the stand-ins: IMGLOSS_WEIGHTS = their folder, unverified hashes allowed.
    The process-wide list of unverified files in use is the test's own (so later tests'
    reports carry no stand-in warning)."""
    monkeypatch.setenv(weights.ENV_WEIGHTS, str(standin_dir))
    monkeypatch.setenv(weights.ENV_ALLOW_UNVERIFIED, "1")
    monkeypatch.setattr(weights.store, "_unverified", set())
    return standin_dir


@pytest.fixture(scope="session")
def reference_vgg(standin_dir: Path) -> dict[str, nn.Sequential]:
    """Plain full torchvision VGGs loaded from the stand-in files; their ``features``."""
    networks = {}
    for backbone in BACKBONES:
        model = CONSTRUCTORS[backbone]()
        state = torch.load(standin_file(standin_dir, backbone), weights_only=True)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or any(not key.startswith("classifier.") for key in missing):
            raise RuntimeError(f"stand-in does not fit torchvision {backbone}: {missing} {unexpected}")
        networks[backbone] = model.features.eval().requires_grad_(False)
    return networks


def images(n: int = 2, size: int = 32, channels: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two seeded ``n x channels x size x size`` batches in [0, 1]: x and a distorted y."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, channels, size, size, generator=generator)
    noise = 0.2 * torch.randn(n, channels, size, size, generator=generator)
    return x, (x + noise).clamp(0, 1)
