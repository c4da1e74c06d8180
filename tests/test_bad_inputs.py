"""Every bad input of issue 16's table, as a user meets it: an output folder of a finished toy run
is damaged (or a bad option given), then ``ganbench run`` or ``ganbench report`` runs on it. Each
case asserts the exit status, the one ``ganbench: error:`` line (where it is an error) and that no
file in the output folder changed (a hash of the whole tree before and after)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ganbench.cli import main

RUN = ["run", "--budget", "smoke", "--seeds", "1", "--datasets", "ring8", "--no-progress"]


def tree(root: Path) -> dict[str, str]:
    """Every path under ``root``: a file's SHA-256, ``dir`` for a folder."""
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file()
            else "dir" for path in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """An output folder holding one finished toy run (ring8, seed 0, smoke)."""
    out = tmp_path_factory.mktemp("finished") / "out"
    assert main([*RUN, "--out", str(out)]) == 0
    return out


@dataclass(frozen=True)
class Case:
    """``damage(out)`` prepares the copied output folder; ``arguments(out)`` is the command line.
    An error case (``message`` set) must exit 2 with one line holding ``message`` and leave
    the folder as it was."""

    damage: Callable[[Path], None]
    arguments: Callable[[Path], list[str]]
    message: str
    code: int = 2
    unchanged: bool = True
    extra: Callable[[Path], None] | None = field(default=None)


def append_line(line: str) -> Callable[[Path], None]:
    def damage(out: Path) -> None:
        with (out / "records.jsonl").open("a") as stream:
            stream.write(line + "\n")
    return damage


def records_as_folder(out: Path) -> None:
    (out / "records.jsonl").unlink()
    (out / "records.jsonl" / "inside").mkdir(parents=True)


def run(out: Path) -> list[str]:
    return [*RUN, "--out", str(out)]


def report(out: Path) -> list[str]:
    return ["report", str(out)]


NOT_A_RECORD = "records.jsonl line 2 is not a ganbench record"
CASES = {
    "4-array-line-run": Case(append_line("[1,2,3]"), run,
                             f"{NOT_A_RECORD} (it is an array, not a JSON object); fix or remove that line"),
    "4-array-line-report": Case(append_line("[1,2,3]"), report, f"{NOT_A_RECORD} (it is an array"),
    "5-missing-keys-run": Case(append_line('{"foo": 1}'), run, f"{NOT_A_RECORD} (missing 'run_id', 'suite', "
                               "'variant', 'dataset', 'budget', 'seed', 'status'"),
    "5-missing-keys-report": Case(append_line('{"foo": 1}'), report, f"{NOT_A_RECORD} (missing 'run_id'"),
    "6-records-folder-run": Case(records_as_folder, run, "records.jsonl is not a file (a folder?); move it away"),
    "6-records-folder-report": Case(records_as_folder, report, "records.jsonl is not a file (a folder?)"),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_input(name, finished, tmp_path, capsys):
    case = CASES[name]
    out = tmp_path / "out"
    shutil.copytree(finished, out)
    case.damage(out)
    before = tree(out)
    capsys.readouterr()
    try:
        code = main(case.arguments(out))
    except SystemExit as exit_:  # argparse's own checks exit instead of returning
        code = exit_.code
    captured = capsys.readouterr()
    assert code == case.code, captured.err
    if case.code == 2:
        assert captured.err.startswith("ganbench: error: ") and captured.err.count("\n") == 1, captured.err
        assert case.message in captured.err
        assert str(out) in captured.err or "--" in case.message
    else:
        assert case.message in captured.out + captured.err
    if case.unchanged:
        assert tree(out) == before
    if case.extra is not None:
        case.extra(out)


def test_records_survive_a_bad_line(finished, tmp_path):
    """The summary files are not rewritten from a damaged records file (row 5: they were, with a nan row)."""
    out = tmp_path / "out"
    shutil.copytree(finished, out)
    summary = (out / "summary.csv").read_bytes()
    append_line(json.dumps({"foo": 1}))(out)
    assert main(report(out)) == 2
    assert (out / "summary.csv").read_bytes() == summary
