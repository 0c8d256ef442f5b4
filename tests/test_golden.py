"""--update-golden is all or nothing: a failure at any step leaves the golden folder
byte-for-byte as it was, and no stage is left behind."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import imgloss.gate.golden as golden_module
from check_helpers import leftovers, make_folders
from imgloss.errors import InputError
from imgloss.gate.golden import Update, plan, replace_file, replace_tree
from imgloss.io import pair_inputs


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path]:
    golden, cand = make_folders(tmp_path)
    (golden / "README.txt").write_text("kept")
    (cand / "new.png").write_bytes((cand / "edited.png").read_bytes())
    return golden, cand


def test_replace_tree_applies_every_update_and_keeps_the_rest(folders) -> None:
    golden, cand = folders
    before = snapshot(golden)
    updates = plan(golden, cand, pair_inputs(golden, cand))
    assert {u.target for u in updates} == {"edited.png", "same.png", "sub/same2.png", "new.png"}
    replace_tree(golden, updates)
    after = snapshot(golden)
    assert after == {**before, **snapshot(cand)}
    assert after["README.txt"] == b"kept"
    assert leftovers(golden.parent) == []


def test_exception_after_the_first_copy_leaves_golden_unchanged(folders, monkeypatch) -> None:
    golden, cand = folders
    before = snapshot(golden)
    inode = golden.stat().st_ino
    real_copy = golden_module.copy_file
    calls: list[Path] = []

    def copy_then_fail(source: Path, target: Path) -> None:
        if calls:
            raise RuntimeError("disk on fire")
        calls.append(target)
        real_copy(source, target)

    monkeypatch.setattr(golden_module, "copy_file", copy_then_fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        replace_tree(golden, plan(golden, cand, pair_inputs(golden, cand)))
    assert len(calls) == 1
    assert snapshot(golden) == before and golden.stat().st_ino == inode
    assert leftovers(golden.parent) == [] and sorted(p.name for p in golden.parent.iterdir()) == ["cand", "golden"]


def test_os_error_while_staging_is_an_input_error_and_changes_nothing(folders, monkeypatch) -> None:
    golden, cand = folders
    before = snapshot(golden)

    def full_disk(source: Path, target: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(golden_module, "copy_file", full_disk)
    with pytest.raises(InputError, match="No space left on device.*it was not changed"):
        replace_tree(golden, plan(golden, cand, pair_inputs(golden, cand)))
    assert snapshot(golden) == before and leftovers(golden.parent) == []


def test_failed_swap_restores_the_old_folder(folders, monkeypatch) -> None:
    golden, cand = folders
    before = snapshot(golden)
    real_rename = os.rename

    def second_rename_fails(source, target) -> None:
        if Path(source).name == "new":
            raise OSError(16, "Device or resource busy")
        real_rename(source, target)

    monkeypatch.setattr(golden_module.os, "rename", second_rename_fails)
    monkeypatch.setattr(golden_module, "_exchange", lambda a, b: False)  # the journal path
    with pytest.raises(InputError, match="busy"):
        replace_tree(golden, plan(golden, cand, pair_inputs(golden, cand)))
    assert snapshot(golden) == before and leftovers(golden.parent) == []


def test_hard_linked_stage_never_writes_through_to_golden(folders, monkeypatch) -> None:
    golden, cand = folders
    original = (golden / "edited.png").read_bytes()

    def stop(*args: Path) -> None:
        raise RuntimeError("stop before the swap")

    monkeypatch.setattr(golden_module, "_swap", stop)
    with pytest.raises(RuntimeError):
        replace_tree(golden, [Update(cand / "edited.png", "edited.png", "edited.png")])
    assert (golden / "edited.png").read_bytes() == original


def test_ignore_extension_replaces_the_file_under_its_new_name(tmp_path) -> None:
    golden, cand = tmp_path / "g", tmp_path / "c"
    golden.mkdir(), cand.mkdir()
    (golden / "x.png").write_bytes(b"old")
    (cand / "x.jpg").write_bytes(b"new")
    replace_tree(golden, [Update(cand / "x.jpg", "x.jpg", "x.png")])
    assert snapshot(golden) == {"x.jpg": b"new"}


def test_replace_file(tmp_path) -> None:
    golden, cand = tmp_path / "g.png", tmp_path / "c.png"
    golden.write_bytes(b"old")
    cand.write_bytes(b"new")
    replace_file(golden, cand)
    assert golden.read_bytes() == b"new" and sorted(p.name for p in tmp_path.iterdir()) == ["c.png", "g.png"]


def test_golden_folder_given_as_dot(folders, monkeypatch) -> None:
    golden, cand = folders
    monkeypatch.chdir(golden)
    replace_tree(Path("."), plan(golden, cand, pair_inputs(golden, cand)))
    assert snapshot(golden) == {**snapshot(golden), **snapshot(cand)}
    assert (golden / "new.png").read_bytes() == (cand / "new.png").read_bytes()
    assert leftovers(golden.parent) == []
