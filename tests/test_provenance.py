"""Provenance: what makes a run's source tree dirty, and the machine load every record carries."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ganbench.provenance import git_state, load_average


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args],
                   check=True, capture_output=True)


def test_untracked_file_under_the_package_makes_the_tree_dirty(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (tmp_path / ".gitignore").write_text("__pycache__/\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "initial")
    assert git_state(tmp_path, package)["dirty"] is False
    (tmp_path / "notes.txt").write_text("outside the package")  # untracked, not source: clean
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.pyc").write_bytes(b"")  # ignored: clean
    assert git_state(tmp_path, package)["dirty"] is False
    (package / "sub").mkdir()
    (package / "sub" / "new_module.py").write_text("X = 1\n")  # a new source file: dirty
    state = git_state(tmp_path, package)
    assert state["dirty"] is True and len(state["commit"]) == 40
    (package / "sub" / "new_module.py").unlink()
    (package / "__init__.py").write_text("changed = True\n")  # a tracked change: dirty, as before
    assert git_state(tmp_path, package)["dirty"] is True


def test_outside_a_git_checkout_nothing_is_claimed(tmp_path: Path) -> None:
    assert git_state(tmp_path, tmp_path) == {"commit": None, "dirty": None}


def test_load_average_is_three_non_negative_numbers() -> None:
    load = load_average()
    assert load is not None and len(load) == 3 and all(value >= 0 for value in load)
