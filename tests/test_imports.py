"""Import hygiene: every imgloss module outside the tensor code imports without torch.

``from imgloss import config``, ``imgloss --help`` and the CLI modules must stay instant, so
torch is imported only by the modules in :data:`TORCH_MODULES`. The list of modules to check
is derived by walking the package, so a new module is checked without editing this file.

- Fast tier: one interpreter imports every torch-free module with torch *blocked* (an import
  of torch raises and is recorded with the module that asked), then runs ``--help`` through
  CliRunner; a control shows the probe catches a module that does import torch.
- Slow tier: a fresh interpreter per module (``import X`` then ``'torch' in sys.modules``),
  and the real console entry point under ``python -X importtime``.
"""
from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import imgloss

ROOT = Path(__file__).resolve().parents[1]

#: The modules that import torch at module level, and why. Everything else must not.
TORCH_MODULES = {
    # the public library API: tensors in, tensors out
    "imgloss.functional",
    "imgloss.losses",
    # metric implementations: a pure tensor function + a thin nn.Module each
    # (imgloss.metrics itself and metrics.registry hold metadata only and stay torch-free)
    "imgloss.metrics._base",
    "imgloss.metrics._checks",
    "imgloss.metrics.charbonnier",
    "imgloss.metrics.lpips",
    "imgloss.metrics.maps",
    "imgloss.metrics.masks",
    "imgloss.metrics.ms_ssim",
    "imgloss.metrics.ssim_conventions",
    "imgloss.metrics.ssim_moments",
    "imgloss.metrics.feature_loss",
    "imgloss.metrics.gram",
    "imgloss.metrics.perceptual",
    "imgloss.metrics.pixel",
    "imgloss.metrics.ssim",
    "imgloss.metrics.ssim_kernel",
    "imgloss.metrics.ssim_triton",
    "imgloss.metrics.style",
    "imgloss.metrics.tv",
    "imgloss.metrics.wavelet",
    "imgloss.metrics.wssim",
    # the feature extractors (VGG, AlexNet)
    "imgloss.features.alexnet",
    "imgloss.features.vgg",
    # the evaluation core: devices, the DataLoader dataset, batching and dispatch
    "imgloss.engine.device",
    "imgloss.engine.loader",
    "imgloss.engine.evaluator",
    "imgloss.engine.gpu_decode",
    "imgloss.engine.tiling",
    "imgloss.engine.tile_sums",
    # heatmaps are computed from the metric maps (tensors)
    "imgloss.gate.heatmap",
    # the Ray backend runs the engine inside its actors
    "imgloss.scale.ray_runner",
}
#: Not importable as a library module: running it starts the CLI.
ENTRY_POINTS = {"imgloss.__main__"}


def all_modules() -> list[str]:
    """``imgloss`` and every module and package under it, by walking the source tree."""
    walked = pkgutil.walk_packages(imgloss.__path__, prefix="imgloss.")
    return ["imgloss", *sorted(m.name for m in walked)]


TORCH_FREE = [m for m in all_modules() if m not in TORCH_MODULES | ENTRY_POINTS]

# Run in a fresh interpreter: blocks torch, imports each module in argv, records who asked.
PROBE = r"""
import importlib, json, sys, traceback
from typer.testing import CliRunner

asked = {}
current = [None]

class BlockTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            here = [f for f in traceback.extract_stack() if "/imgloss/" in f.filename.replace("\\", "/")]
            where = ["imgloss/" + f.filename.replace("\\", "/").rsplit("/imgloss/", 1)[1] + f":{f.lineno}" for f in here]
            asked.setdefault(current[0], f"{name} (from {' > '.join(where[-3:]) or '?'})")
            raise ImportError(f"torch is blocked in this probe ({name})")
        return None

sys.meta_path.insert(0, BlockTorch())
failed = {}
for name in sys.argv[1:]:
    current[0] = name
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
from imgloss.cli import app
for command in (["--help"], ["compare", "--help"], ["score", "--help"], ["check", "--help"],
                ["report", "--help"], ["weights", "--help"], ["metrics"]):
    current[0] = "imgloss " + " ".join(command)
    result = CliRunner().invoke(app, command)
    if result.exit_code != 0:
        failed[current[0]] = f"exit {result.exit_code}: {result.output[-300:]}"
print(json.dumps({"asked": asked, "failed": failed, "torch": "torch" in sys.modules}))
"""


def python(*args: str) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in a fresh interpreter with this checkout first on ``PYTHONPATH``."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "PYTHONPATH": path})


def probe(modules: list[str]) -> dict:
    done = python("-c", PROBE, *modules)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_walk_finds_the_layers_and_the_torch_list_names_real_modules() -> None:
    found = set(all_modules())
    assert {"imgloss.cli.commands", "imgloss.config", "imgloss.io.decode", "imgloss.report.writers"} <= found
    assert TORCH_MODULES - found == set(), "TORCH_MODULES names modules that no longer exist"


@pytest.mark.slow
def test_torch_free_modules_and_help_import_no_torch() -> None:
    result = probe(TORCH_FREE)
    assert result["asked"] == {}, "these imports reach torch: " + json.dumps(result["asked"], indent=1)
    assert result["failed"] == {} and result["torch"] is False, result


@pytest.mark.slow
def test_control_the_probe_catches_a_module_that_imports_torch() -> None:
    result = probe(["imgloss.errors", "imgloss.functional"])
    assert list(result["asked"]) == ["imgloss.functional"]
    assert list(result["failed"]) == ["imgloss.functional"] and result["torch"] is False


@pytest.mark.slow
@pytest.mark.parametrize("module", TORCH_FREE)
def test_module_alone_in_a_fresh_interpreter_imports_no_torch(module: str) -> None:
    done = python("-c", f"import sys, {module}; print('torch' in sys.modules)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False", f"import {module} imports torch"


@pytest.mark.slow
def test_control_a_torch_module_in_a_fresh_interpreter_does_import_torch() -> None:
    done = python("-c", "import sys, imgloss.functional; print('torch' in sys.modules)")
    assert done.stdout.strip() == "True", done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("command", [["--help"], ["compare", "--help"]], ids=["help", "compare-help"])
def test_console_help_imports_no_torch(command: list[str]) -> None:
    done = python("-X", "importtime", "-m", "imgloss", *command)
    assert done.returncode == 0, done.stderr
    assert "Usage" in done.stdout and "compare" in done.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert "typer" in imported  # the probe sees imports at all
    assert [m for m in imported if m == "torch" or m.startswith("torch.")] == []
