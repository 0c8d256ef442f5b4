"""``make test-deps``: the CLI tests against the oldest and the newest dependencies allowed.

For typer, click, rich, pillow, pywavelets and numpy, three sets are tested with torch as
pinned in the main venv:

- ``low``: the floors of ``pyproject.toml`` (``typer>=X`` -> ``typer==X``), and click at the
  floor that typer's floor itself requires (recent typer vendors click; old typer does not);
- ``new``: the newest versions ``pyproject.toml`` allows, resolved from the package index;
- ``typer-0.27.2``: typer 0.27.2 with click 8.5.0, under which ``compare a.png b.png -o out.csv``
  once died with ``AttributeError: 'str' object has no attribute 'parent'``.

Each set is pip-installed into ``.deps/<set>/`` only when its pins changed (``.deps/<set>/.pins``)
and put first on ``PYTHONPATH``, in front of the main venv; the versions Python really imports
are printed and checked against the pins before the tests run. Usage:
``python tools/test_deps.py [SET ...]`` (all sets by default); exit 1 if any set fails.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the backport, an imgloss dependency there
    import tomli as tomllib

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
DEPS = ROOT / ".deps"
#: The distributions whose range is tested, as pyproject.toml names them.
PACKAGES = ("typer", "click", "rich", "pillow", "pywavelets", "numpy")
#: click's floor for the oldest typer allowed: typer 0.12.0 declares ``click>=8.0.0``.
CLICK_FLOOR_OF_TYPER_FLOOR = "8.0.0"
REGRESSION = {"typer": "0.27.2", "click": "8.5.0"}
#: The CLI, config, gate, report and io tests, slow tier included.
TESTS = (
    "tests/test_cli_compare.py", "tests/test_config.py", "tests/test_check.py", "tests/test_check_bad_inputs.py",
    "tests/test_html_report.py", "tests/test_junit.py", "tests/test_golden.py", "tests/test_io.py",
    "tests/test_imports.py",
)
#: Module name and distribution name of each package, for the version check.
MODULES = {"typer": "typer", "click": "click", "rich": "rich", "pillow": "PIL", "pywavelets": "pywt", "numpy": "numpy"}


def requirements() -> dict[str, Requirement]:
    """``pyproject.toml``'s requirement of each of :data:`PACKAGES` it names."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = {}
    for line in project["dependencies"]:
        req = Requirement(line)
        if req.name.lower() in PACKAGES:
            found[req.name.lower()] = req
    return found


def floor(req: Requirement) -> str:
    """The ``>=`` bound of ``req`` (every tested requirement must have one)."""
    bounds = [s.version for s in req.specifier if s.operator == ">="]
    if len(bounds) != 1:
        raise SystemExit(f"test-deps: {req} in pyproject.toml needs exactly one '>=' floor")
    return bounds[0]


def low_pins() -> dict[str, str]:
    pins = {name: floor(req) for name, req in requirements().items()}
    pins.setdefault("click", CLICK_FLOOR_OF_TYPER_FLOOR)
    return pins


def newest_pins() -> dict[str, str]:
    """The newest versions pyproject.toml allows, as pip resolves them now (no download)."""
    reqs = {name: str(req) for name, req in requirements().items()}
    reqs.setdefault("click", "click")
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        pip("install", "--dry-run", "--ignore-installed", "--report", str(report), *reqs.values())
        installs = json.loads(report.read_text())["install"]
    resolved = {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in installs}
    return {name: resolved[name] for name in reqs}


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args, "--quiet", "--only-binary=:all:", "--no-warn-conflicts",
                    "--disable-pip-version-check"], check=True)


def install(name: str, pins: dict[str, str]) -> Path:
    """``.deps/<name>`` holding exactly ``pins`` (and what they need); reused when unchanged."""
    target = DEPS / name
    wanted = " ".join(f"{k}=={v}" for k, v in sorted(pins.items()))
    stamp = target / ".pins"
    if stamp.is_file() and stamp.read_text() == wanted:
        return target
    shutil.rmtree(target, ignore_errors=True)
    print(f"test-deps: installing {name}: {wanted}", flush=True)
    pip("install", "--target", str(target), *wanted.split())
    stamp.write_text(wanted)
    return target


def environment(target: Path) -> dict[str, str]:
    """The package folder first, then this checkout, then the main venv (torch as pinned)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])}


CHECK = """
import importlib, importlib.metadata, json, os, sys
from packaging.version import Version
pins, modules, target, root = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]

def shown(path):
    return os.path.relpath(path, root) if path.startswith(root + os.sep) else path

bad = []
for dist, want in pins.items():
    got = importlib.metadata.version(dist)
    where = importlib.import_module(modules[dist]).__file__
    print(f"  {dist:<11} {got:<12} {shown(where)}")
    if Version(got) != Version(want) or not where.startswith(target + os.sep):
        bad.append(f"{dist}: wanted {want} from {target}, imported {got} from {where}")
import torch
print(f"  {'torch':<11} {torch.__version__:<12} {shown(torch.__file__)}")
if bad:
    sys.exit("\\n".join(bad))
"""


def run_set(name: str, pins: dict[str, str], extra: list[str]) -> bool:
    target = install(name, pins)
    env = environment(target)
    print(f"test-deps: {name}: versions imported", flush=True)
    check = subprocess.run([sys.executable, "-c", CHECK, json.dumps(pins), json.dumps(MODULES), str(target), str(ROOT)],
                           env=env, cwd=ROOT)
    if check.returncode != 0:
        return False
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS, *extra],
                          env=env, cwd=ROOT)
    verdict = "passed" if done.returncode == 0 else "FAILED"
    print(f"test-deps: {name}: {verdict} in {time.perf_counter() - start:.0f} s", flush=True)
    return done.returncode == 0


SETS = {"low": low_pins, "new": newest_pins, "typer-0.27.2": lambda: dict(REGRESSION)}


def main(argv: list[str]) -> int:
    names = [a for a in argv if not a.startswith("-")] or list(SETS)
    extra = [a for a in argv if a.startswith("-")]
    unknown = [n for n in names if n not in SETS]
    if unknown:
        raise SystemExit(f"test-deps: unknown set(s) {unknown}; known: {list(SETS)}")
    results = {name: run_set(name, SETS[name](), extra) for name in names}
    print("test-deps: " + ", ".join(f"{n} {'ok' if ok else 'FAILED'}" for n, ok in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
