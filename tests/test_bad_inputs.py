"""Every bad input of issue 16's table, as a user meets it: an output folder of a finished toy run
is damaged (or a bad option given), then ``ganbench run`` or ``ganbench report`` runs on it. Each
case asserts the exit status, the one ``ganbench: error:`` line (where it is an error) and that no
file in the output folder changed (a hash of the whole tree before and after)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from ganbench.cli import main

RUN = ["run", "--budget", "smoke", "--seeds", "1", "--datasets", "ring8", "--no-progress"]


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` and its SHA-256."""
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """An output folder holding one finished toy run (ring8, seed 0, smoke)."""
    out = tmp_path_factory.mktemp("finished") / "out"
    assert main([*RUN, "--out", str(out)]) == 0
    return out


@dataclass(frozen=True)
class Case:
    """``damage(out, monkeypatch)`` prepares the copied output folder (and may patch the process);
    ``arguments(out)`` is the command line, run in this process (or by ``invoke(arguments)``,
    which returns exit status, stdout and stderr). An error case (``code`` 2) must end in one
    ``ganbench: error:`` line holding ``message``; otherwise ``message`` is in the output. With
    ``unchanged``, no file of the folder may change (new empty folders aside); ``check(out)`` then
    checks the outcome."""

    damage: Callable[[Path, pytest.MonkeyPatch], None]
    arguments: Callable[[Path], list[str]]
    message: str
    code: int = 2
    unchanged: bool = True
    check: Callable[[Path], None] | None = None
    invoke: Callable[[list[str]], tuple[int, str, str]] | None = None
    skip: str | None = None


def nothing(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pass


def append_line(line: str) -> Callable[[Path, pytest.MonkeyPatch], None]:
    def damage(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        with (out / "records.jsonl").open("a") as stream:
            stream.write(line + "\n")
    return damage


def records_as_folder(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (out / "records.jsonl").unlink()
    (out / "records.jsonl" / "inside").mkdir(parents=True)


def run(out: Path) -> list[str]:
    return [*RUN, "--out", str(out)]


def run_two_seeds(out: Path) -> list[str]:
    """The finished run is skipped; seed 1 runs."""
    return [*RUN[:4], "2", *RUN[5:], "--out", str(out)]


def report(out: Path) -> list[str]:
    return ["report", str(out)]


def with_options(*options: str) -> Callable[[Path], list[str]]:
    return lambda out: [*RUN, *options, "--out", str(out)]


def second_run_folder(out: Path) -> Path:
    """The folder of the toy run of seed 1 (ring8, smoke), which the finished folder lacks."""
    from ganbench.runs import SUITES, RunRequest

    plan = SUITES.get("toy").plan(RunRequest(budget="smoke", seeds=2, options={"datasets": ["ring8"]}))
    return out / "runs" / plan[1].run_id


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


# Row 10: a file ganbench did not write, named like a checkpoint.
def stray_checkpoint(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = second_run_folder(out) / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "checkpoint_abc.pt").write_text("not ours")


def stray_checkpoint_ignored(out: Path) -> None:
    assert [r["status"] for r in records(out)] == ["finished", "finished"]
    assert [p.name for p in (second_run_folder(out) / "checkpoints").iterdir()] == ["checkpoint_abc.pt"]
    assert (second_run_folder(out) / "checkpoints" / "checkpoint_abc.pt").read_text() == "not ours"


# Row 11: a run folder that cannot be written.
def checkpoints_not_a_folder(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    second_run_folder(out).mkdir(parents=True)
    (second_run_folder(out) / "checkpoints").write_text("a file where the checkpoints folder goes")


def read_only_run_folder(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    second_run_folder(out).mkdir(parents=True)
    second_run_folder(out).chmod(0o555)


# Row 12: the disk fills up while a checkpoint is written.
def disk_full(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ganbench.results

    real_fsync = ganbench.results.os.fsync

    def fsync(descriptor: int) -> None:
        if "checkpoint_" in os.readlink(f"/proc/self/fd/{descriptor}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(descriptor)

    monkeypatch.setattr(ganbench.results.os, "fsync", fsync)


# Row 13: a run killed mid-training, and one killed after its final checkpoint (while evaluating).
def interrupt_at(iteration: int | None) -> Callable[[Path, pytest.MonkeyPatch], None]:
    def damage(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        import ganbench.gan.run as runner
        from ganbench.metrics import EVALUATORS

        real_trainer = runner.create_gan_trainer
        coverage = EVALUATORS.get("coverage")

        def interrupted_trainer(*args, **kwargs):
            training = real_trainer(*args, **kwargs)

            @training.engine.on(runner.Events.ITERATION_COMPLETED(once=iteration))
            def interrupt(_):
                raise KeyboardInterrupt

            return training

        def interrupted_evaluation(context):
            raise KeyboardInterrupt

        with monkeypatch.context() as patch:
            if iteration is None:
                patch.setattr(coverage, "evaluate", interrupted_evaluation)
            else:
                patch.setattr(runner, "create_gan_trainer", interrupted_trainer)
            assert main(run_two_seeds(out)) == 130
        assert [p.name for p in (second_run_folder(out) / "checkpoints").iterdir()] == \
            [f"checkpoint_{36 if iteration else 60}.pt"]
    return damage


def timings_complete(resumed_from: int) -> Callable[[Path], None]:
    def check(out: Path) -> None:
        first, second = records(out)
        assert second["resumed_from_iteration"] == resumed_from
        for key in ("ms_per_iteration", "ms_per_iteration_median", "train_images_per_second", "peak_memory_mb"):
            assert second["throughput"][key] > 0, key
        assert second["throughput"]["timed_iterations"] == first["throughput"]["timed_iterations"] == 55
        assert "train img/s" in (out / "summary.md").read_text()
    return check


# Row 14: Ctrl-C while training.
def interrupt_process(arguments: list[str]) -> tuple[int, str, str]:
    # SIGINT back to its default in the child: a test run started in the background of a
    # non-interactive shell inherits SIGINT ignored, and Python then never raises KeyboardInterrupt.
    process = subprocess.Popen([sys.executable, "-m", "ganbench", *arguments, "--iterations", "1000000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert process.stdout.readline().startswith("ganbench ")  # planned; the runs start
        time.sleep(2)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, out, err


# Row 15: losses near 1e30.
def diverged_with_iteration(out: Path) -> None:
    runs = [record for record in records(out) if record["config"]["settings"]["lr_g"] == 1e6]
    assert len(runs) == 2
    for record in runs:
        assert record["status"] == "diverged"
        assert record["diverged_at"] == 2
        assert (record["error"].startswith("|loss_d| = ")
                and "above diverge_above = 1e+06 at iteration 2" in record["error"])
        assert "metrics" not in record or not record["metrics"]


# Row 16: a checkpoint whose unpickling would run code.
MARKER = Path(tempfile.gettempdir()) / f"ganbench-test-code-ran-{os.getpid()}"


class RunsCode:
    def __reduce__(self):
        return (Path.write_text, (MARKER, "code from a checkpoint ran"))


def planted_checkpoint(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    MARKER.unlink(missing_ok=True)
    folder = second_run_folder(out) / "checkpoints"
    folder.mkdir(parents=True)
    torch.save({"trainer": RunsCode()}, folder / "checkpoint_6.pt")


def no_code_ran(out: Path) -> None:
    assert not MARKER.exists()


NOT_A_RECORD = "records.jsonl line 2 is not a ganbench record"
NOT_A_DEVICE = "is not a device of this machine; it has: cpu"
CASES = {
    "4-array-line-run": Case(append_line("[1,2,3]"), run,
                             f"{NOT_A_RECORD} (it is an array, not a JSON object); fix or remove that line"),
    "4-array-line-report": Case(append_line("[1,2,3]"), report, f"{NOT_A_RECORD} (it is an array"),
    "5-missing-keys-run": Case(append_line('{"foo": 1}'), run, f"{NOT_A_RECORD} (missing 'run_id', 'suite', "
                               "'variant', 'dataset', 'budget', 'seed', 'status'"),
    "5-missing-keys-report": Case(append_line('{"foo": 1}'), report, f"{NOT_A_RECORD} (missing 'run_id'"),
    "6-records-folder-run": Case(records_as_folder, run, "records.jsonl is not a file (a folder?); move it away"),
    "6-records-folder-report": Case(records_as_folder, report, "records.jsonl is not a file (a folder?)"),
    "7-device-meta": Case(nothing, with_options("--device", "meta"), f"--device meta {NOT_A_DEVICE}"),
    "7-device-mps": Case(nothing, with_options("--device", "mps"), f"--device mps {NOT_A_DEVICE}",
                         skip="this machine has MPS" if torch.backends.mps.is_available() else None),
    "7-device-cuda-index": Case(nothing, with_options("--device", f"cuda:{torch.cuda.device_count()}"),
                                f"--device cuda:{torch.cuda.device_count()} {NOT_A_DEVICE}"),
    "8-empty-variants": Case(nothing, with_options("--variants", ","), "--variants has an empty name (,); give "
                             "comma-separated names"),
    "8-empty-datasets": Case(nothing, lambda out: [*RUN[:6], ",", *RUN[7:], "--out", str(out)],
                             "--datasets has an empty name"),
    "8-empty-name-in-list": Case(nothing, lambda out: [*RUN[:6], "ring8,,grid25", *RUN[7:], "--out", str(out)],
                                 "--datasets has an empty name (ring8,,grid25)"),
    "9-duplicate-dataset": Case(nothing, lambda out: [*RUN[:6], "ring8,ring8", *RUN[7:], "--out", str(out)],
                                "--datasets names ring8 twice; give each name once"),
    "9-duplicate-variant": Case(nothing, with_options("--variants", "fc,fc"), "--variants names fc twice"),
    "10-stray-checkpoint-ignored": Case(stray_checkpoint, run_two_seeds, "fc ring8 seed 1: finished", code=0,
                                        unchanged=False, check=stray_checkpoint_ignored),
    "11-checkpoints-not-a-folder": Case(checkpoints_not_a_folder, run_two_seeds, "checkpoints (not a folder); make "
                                        "it a writable folder (chmod -R u+w), or move it away"),
    "11-read-only-run-folder": Case(read_only_run_folder, run_two_seeds, "(Permission denied); make it a writable "
                                    "folder", skip="root writes into read-only folders" if os.geteuid() == 0 else None),
    "12-disk-full-at-checkpoint": Case(disk_full, run_two_seeds, "the disk is full: no space left to write "),
    "13-resumed-mid-training": Case(interrupt_at(40), run_two_seeds, "fc ring8 seed 1: finished", code=0,
                                    unchanged=False, check=timings_complete(36)),
    "13-resumed-from-final-checkpoint": Case(interrupt_at(None), run_two_seeds, "fc ring8 seed 1: finished", code=0,
                                             unchanged=False, check=timings_complete(60)),
    "14-sigint": Case(nothing, run_two_seeds, "\nganbench: interrupted; run the same command again to resume from the "
                      "last checkpoints\n", code=130, unchanged=False, invoke=interrupt_process),
    "15-losses-near-1e30": Case(nothing, with_options("--seeds", "2", "--set", "fc.lr_g=1e6", "--set", "fc.lr_d=1e6"),
                                "fc ring8 seed 1: diverged", code=0, unchanged=False, check=diverged_with_iteration),
    "15-bound-must-be-positive": Case(nothing, with_options("--set", "diverge_above=0"),
                                      "bad value for fc.diverge_above: 0.0 (must be > 0)"),
    "16-checkpoint-that-runs-code": Case(planted_checkpoint, run_two_seeds, "/checkpoints/checkpoint_6.pt: it holds "
                                         "pickled Python objects, not only tensors and plain data, and loading them "
                                         "could run code (", check=no_code_ran),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_input(name, finished, tmp_path, capsys, monkeypatch):
    case = CASES[name]
    if case.skip:
        pytest.skip(case.skip)
    out = tmp_path / "out"
    shutil.copytree(finished, out)
    case.damage(out, monkeypatch)
    before = tree(out)
    capsys.readouterr()
    if case.invoke is not None:
        code, stdout, stderr = case.invoke(case.arguments(out))
    else:
        try:
            code = main(case.arguments(out))
        except SystemExit as exit_:  # argparse's own checks exit instead of returning
            code = exit_.code
        captured = capsys.readouterr()
        stdout, stderr = captured.out, captured.err
    assert code == case.code, stderr
    if case.code == 2:
        assert stderr.startswith("ganbench: error: ") and stderr.count("\n") == 1, stderr
        assert case.message in stderr
    elif case.code == 130:
        assert stderr == case.message  # ours only: no traceback, no log line of ignite
    else:
        assert case.message in stdout + stderr
        assert "Traceback" not in stderr
    if case.unchanged:
        assert tree(out) == before
    if case.check is not None:
        case.check(out)


def test_records_survive_a_bad_line(finished, tmp_path):
    """The summary files are not rewritten from a damaged records file (row 5: they were, with a nan row)."""
    out = tmp_path / "out"
    shutil.copytree(finished, out)
    summary = (out / "summary.csv").read_bytes()
    append_line(json.dumps({"foo": 1}))(out, None)
    assert main(report(out)) == 2
    assert (out / "summary.csv").read_bytes() == summary


def test_one_run_is_counted_in_the_singular(finished, tmp_path, capsys):
    """The first line counts the planned runs in words a reader expects ("1 run", not "1 runs")."""
    out = tmp_path / "out"
    shutil.copytree(finished, out)
    assert main([*RUN, "--out", str(out)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert ", 1 run on cpu (1 thread)" in first, first
