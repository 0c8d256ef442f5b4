"""What every test module shares: the CLI runners, the device/dtype fixtures, the tiers.

- ``invoke("compare", a, b, ...)``: ``imgloss ARGS`` through Typer's CliRunner, in process,
  stdout and stderr kept apart (``result.stdout`` / ``result.stderr``), exceptions raised.
- ``run_module("compare", a, b, ...)``: ``python -m imgloss ARGS`` as a real process with this
  checkout first on ``PYTHONPATH``; returns the ``CompletedProcess`` (text).
- ``device``: ``"cpu"``, and ``"cuda"`` (marked ``gpu``; skipped without CUDA).
- ``dtype``: ``torch.float32`` and ``torch.float64``.

Tiers: ``pytest -m "not slow"`` is the fast tier (CliRunner and unit tests, under 30 s on
2 cores); subprocess and heavy tests carry ``@pytest.mark.slow``. Tests that use a fixture
of :data:`SLOW_FIXTURES` (``run_module``, the stand-in VGG weights) are marked here, so a
new subprocess test cannot land in the fast tier by mistake. ``make test`` runs both tiers.

This file imports no torch: the CLI tests also run against other typer/click/numpy versions
(``make test-deps``), and fixtures that need torch import it when used.
"""
from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
#: One ``python -m imgloss`` run may take this long before the test fails.
SUBPROCESS_TIMEOUT_S = 300

Invoke = Callable[..., Any]
RunModule = Callable[..., "subprocess.CompletedProcess[str]"]


def cli_invoke(*args: Any, env: dict[str, str] | None = None) -> Any:
    """``imgloss ARGS`` through CliRunner; ``env`` is added to the environment for the call."""
    from imgloss.cli import app

    # click < 8.2 mixes stderr into stdout unless told not to; click >= 8.2 always keeps
    # them apart and has no such argument.
    apart = {"mix_stderr": False} if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters else {}
    return CliRunner(**apart).invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


def module_run(*args: Any, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``python -m imgloss ARGS`` in a real process: this checkout first on ``PYTHONPATH``
    (what was already there, e.g. ``make test-deps``'s package folder, stays after it),
    the current environment plus ``env``, working directory ``cwd``."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-m", "imgloss", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, timeout=SUBPROCESS_TIMEOUT_S,
        env={**os.environ, "PYTHONPATH": path, **(env or {})},
    )


@pytest.fixture(scope="session")
def invoke() -> Invoke:
    """:func:`cli_invoke`: ``invoke("check", golden, cand, "--max", "ssim=0.9")``."""
    return cli_invoke


@pytest.fixture(scope="session")
def run_module() -> RunModule:
    """:func:`module_run`: ``run_module("compare", a, b, env={...}, cwd=tmp_path)``."""
    return module_run


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request: pytest.FixtureRequest) -> str:
    """Each device a tensor test runs on: ``"cpu"`` always, ``"cuda"`` when available."""
    if request.param == "cuda":
        import torch

        if not torch.cuda.is_available():
            pytest.skip("needs CUDA")
    return request.param


@pytest.fixture(params=["float32", "float64"])
def dtype(request: pytest.FixtureRequest) -> Any:
    """Each floating dtype a tensor test runs in: ``torch.float32`` and ``torch.float64``."""
    import torch

    return getattr(torch, request.param)


#: Fixtures that make every test using them slow (directly or through another fixture).
SLOW_FIXTURES = {
    "run_module": "starts a Python process that imports imgloss",
    "standin_dir": "builds the stand-in VGG19/VGG16 checkpoints (vgg_fixtures)",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks ``slow`` every test that uses one of :data:`SLOW_FIXTURES`."""
    for item in items:
        if SLOW_FIXTURES.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
