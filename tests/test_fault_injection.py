"""Fault injection: ``ganbench run`` is killed with SIGKILL at seeded random moments and run again
until it completes; the output folder must then hold what one uninterrupted run writes.

The suite is the toy suite at the smoke budget, both datasets, one seed (2 runs of 60 iterations,
a checkpoint every 6). A kill may land anywhere: while importing, training, checkpointing,
evaluating, storing a record or writing the summary and report (a claim it held on a run is then
taken over by the next launch). Compared with an uninterrupted
run into another folder: the same records in the same order, bit-identical metrics, losses and
samples, complete timings (as many timed iterations), no temporary files and no checkpoints left.
The figures (kills, launches, launches that found a checkpoint to resume from) are printed
(``pytest -s`` shows them).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SEED = 16
KILLS = 10
ARGUMENTS = ["run", "--budget", "smoke", "--seeds", "1", "--jobs", "1", "--no-progress"]
ENVIRONMENT = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def launch(out: Path) -> subprocess.Popen:
    """``ganbench run`` in a process group of its own (a kill takes any worker with it)."""
    return subprocess.Popen([sys.executable, "-m", "ganbench", *ARGUMENTS, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ENVIRONMENT, start_new_session=True)


def wait_for_header(process: subprocess.Popen) -> str:
    """Read up to the line ``ganbench VERSION: suite ...`` printed once the runs are planned."""
    line = process.stdout.readline().decode()
    assert line.startswith("ganbench "), line
    return line


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


def artifacts(out: Path, record: dict) -> dict[str, bytes]:
    return {name: (out / path).read_bytes() for name, path in sorted(record["artifacts"].items())}


@pytest.mark.slow
def test_killed_at_random_moments_and_resumed_gives_the_uninterrupted_result(tmp_path):
    reference = tmp_path / "uninterrupted"
    process = launch(reference)
    header = wait_for_header(process)
    started = time.perf_counter()
    output, _ = process.communicate(timeout=600)
    work = time.perf_counter() - started
    assert process.returncode == 0, header + output.decode()

    # Kill moments: after the runs are planned (the header line; the seconds before it, spent on
    # imports, write nothing), a random delay of up to a fifth of an uninterrupted suite, so that
    # the kills land all over the suite; a launch that ends first is not a kill.
    rng = random.Random(SEED)
    out = tmp_path / "killed"
    kills, launches, resumes, moments = 0, 0, 0, []
    while kills < KILLS:
        assert launches < 5 * KILLS, f"only {kills} kills in {launches} launches"
        moment = rng.uniform(0, work / 5)
        resumes += any(out.glob("runs/*/checkpoints/checkpoint_*.pt"))
        process = launch(out)
        launches += 1
        wait_for_header(process)
        try:
            process.wait(timeout=moment)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            kills += 1
            moments.append(round(moment, 2))
        else:
            assert process.returncode == 0, process.stdout.read().decode()
        process.stdout.close()
    resumes += any(out.glob("runs/*/checkpoints/checkpoint_*.pt"))
    process = launch(out)
    launches += 1
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output.decode()
    assert resumes >= 3  # kills hit runs between their checkpoints

    expected, got = records(reference), records(out)
    assert [r["run_id"] for r in got] == [r["run_id"] for r in expected]
    for want, have in zip(expected, got):
        assert have["status"] == want["status"] == "finished"
        assert have["metrics"] == want["metrics"]  # JSON floats: equal means bit-identical
        assert have["iterations_done"] == want["iterations_done"]
        assert artifacts(out, have) == artifacts(reference, want)
        assert have["throughput"]["timed_iterations"] == want["throughput"]["timed_iterations"] == 55
        for key in ("ms_per_iteration", "train_images_per_second", "peak_memory_mb"):
            assert have["throughput"][key] > 0
    leftovers = [p.relative_to(out).as_posix() for p in out.rglob("*")
                 if p.name.endswith(".tmp") or p.name.startswith(".write-test-") or p.name.startswith("checkpoint")
                 or p.name == "claim.lock"]
    assert leftovers == []
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == \
        sorted(p.relative_to(reference).as_posix() for p in reference.rglob("*"))
    print(f"\nfault injection: {kills} SIGKILLs at {moments} s after the runs were planned, {launches} launches "
          f"({resumes} of them resumed a run from its checkpoint), {len(got)} records, metrics and "
          f"artifacts bit-identical to an uninterrupted suite ({work:.1f} s after planning)")
