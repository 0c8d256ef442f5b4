"""``check --update-golden`` killed at seeded points: the golden folder is always whole,
old or new, never missing or mixed; what a killed run left is finished or rolled back
by the next run, and no stage or journal stays behind."""
from __future__ import annotations

import signal
from pathlib import Path

import pytest

from check_helpers import make_folders
from conftest import cli_invoke as invoke
from faults import run_killed_at, temp_files

#: The steps of a swap: the journal's and the folders' renames, the exchange, the stage's removal.
STEPS = "os.rename,ctypes.dlsym,shutil.rmtree"
JOURNAL = "import imgloss.gate.golden as g; g._exchange = lambda a, b: False"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow
@pytest.mark.parametrize(("prelude", "steps"), [("", 2), (JOURNAL, 4)], ids=["exchange", "journal"])
def test_update_golden_killed_at_every_step_keeps_a_whole_golden_folder(tmp_path, prelude, steps) -> None:
    for k in range(1, steps + 1):
        root = tmp_path / f"kill-{k}"
        golden, cand = make_folders(root)
        old, new = snapshot(golden), {**snapshot(golden), **snapshot(cand)}
        proc = run_killed_at(root, k, signal.SIGKILL, "check", golden, cand, "--max", "mae=1", "-q", "--update-golden", "--all",
                             "--workers", "0", events=STEPS, prelude=prelude)
        assert proc.returncode == -signal.SIGKILL, (k, proc.returncode, proc.stderr)  # the kill point exists
        if not prelude:  # one atomic exchange: whole at every instant, before any recovery
            assert snapshot(golden) in (old, new)
        result = invoke("check", golden, cand, "--max", "mae=1", "-q", "--workers", "0")  # the next run recovers
        assert result.exit_code == 0, result.output
        assert snapshot(golden) in (old, new), k
        assert temp_files(root) == []
