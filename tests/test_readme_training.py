"""The README's training example runs as written, its loss falls at least 4x, and it
prints what the README shows (numbers to 5%: float rounding differs between CPUs)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"-?\d+\.\d+")


def block_after(marker: str) -> str:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index(marker) + 1
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
    return "\n".join(lines[start + 1 : end])


@pytest.mark.slow
def test_training_example_runs_and_prints_the_readme_output(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(block_after("<!-- training-example -->") + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    got, expected = done.stdout.strip().splitlines(), block_after("<!-- training-example-output -->").splitlines()
    assert [NUMBER.sub("N", line) for line in got] == [NUMBER.sub("N", line) for line in expected]
    for line, want in zip(got, expected):
        for a, b in zip(NUMBER.findall(line), NUMBER.findall(want)):
            assert abs(float(a) - float(b)) <= 0.05 * abs(float(b)) + 1e-3, (line, want)
    losses = [float(line.split()[-1]) for line in got if line.startswith("step")]
    assert losses[-1] < losses[0] / 4
