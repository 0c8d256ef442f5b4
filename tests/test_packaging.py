"""Packaging: the MIT LICENSE file, py.typed, and the sample images inside the package
(declared as package data) behind `imgloss demo`."""
from __future__ import annotations

import sys

from check_helpers import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PACKAGE = ROOT / "imgloss"


def test_license_file_is_mit_and_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_py_typed_and_samples_are_package_data() -> None:
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["imgloss"]
    assert (PACKAGE / "py.typed").is_file() and "py.typed" in globs
    samples = sorted(p.relative_to(PACKAGE) for p in (PACKAGE / "samples").rglob("*")
                     if p.is_file() and p.suffix not in (".py", ".pyc"))  # code ships as code, bytecode is Python's
    assert len([p for p in samples if p.suffix == ".png"]) == 11
    declared = {p.relative_to(PACKAGE) for glob in globs for p in PACKAGE.glob(glob)}
    assert set(samples) <= declared  # every sample ships in the wheel (setuptools expands the same globs)


def test_demo_copies_the_samples_and_compares_them(tmp_path, invoke) -> None:
    result = invoke("demo", tmp_path / "d")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "d" / "reference" / "astronaut.png").read_bytes() == (PACKAGE / "samples" / "reference" / "astronaut.png").read_bytes()
    assert "astronaut.png" in result.stdout and "0.957163" in result.stdout  # ssim of the local edit
    assert "imgloss check" in result.stdout and "imgloss report" in result.stdout
