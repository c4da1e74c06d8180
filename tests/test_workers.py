"""Worker processes of ``--jobs``: a worker killed outright (the OOM killer's SIGKILL) fails its
cell with the signal named while the command carries on; each worker gets its own GPU."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganbench.results import CLAIM_FILE
from ganbench.runs import use_device
from ganbench.workers import worker_device

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name, count, expected", [
    ("auto", 4, ["cuda:0", "cuda:1", "cuda:2", "cuda:3", "cuda:0"]),
    ("auto", 2, ["cuda:0", "cuda:1", "cuda:0", "cuda:1", "cuda:0"]),
    ("cuda", 3, ["cuda:0", "cuda:1", "cuda:2", "cuda:0", "cuda:1"]),
    ("auto", 0, ["auto"] * 5),  # no CUDA: auto resolves to the CPU in each worker
    ("cuda:1", 4, ["cuda:1"] * 5),  # a device named by index is every worker's
    ("cpu", 4, ["cpu"] * 5),
])
def test_workers_go_round_robin_over_the_visible_gpus(name, count, expected):
    assert [worker_device(name, index, count) for index in range(5)] == expected


def test_a_cuda_device_is_made_current_before_the_run_builds_anything(monkeypatch):
    chosen = []
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    use_device(torch.device("cuda:1"))
    use_device(torch.device("cpu"))
    assert chosen == [torch.device("cuda:1")]


def test_the_launcher_gives_each_worker_its_device(monkeypatch, tmp_path):
    from ganbench import workers
    from ganbench.tasks import CellTask
    from ganbench.results import ResultsStore

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    started = []

    class Process:
        def __init__(self, target, args, daemon, name):
            started.append(args[1].device)
            self.sentinel = None

        def start(self):
            pass

    launcher = workers.ProcessLauncher(CellTask(ResultsStore(tmp_path), "auto", False, False, "x"), 3)
    monkeypatch.setattr(launcher.context, "Process", Process)
    for _ in range(3):
        launcher._spawn()
    assert started == ["cuda:0", "cuda:1", "cuda:0"]


@pytest.mark.slow
def test_a_worker_killed_by_sigkill_fails_its_cell_and_the_others_complete(tmp_path):
    """The issue's reproduction: one worker of ``--jobs 2`` SIGKILLed (as the OOM killer does).
    Before, the command waited for ever on the dead worker's result."""
    out = tmp_path / "out"
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = subprocess.Popen(
        [sys.executable, "-m", "ganbench", "run", "--budget", "smoke", "--seeds", "3", "--datasets", "ring8",
         "--iterations", "150", "--jobs", "2", "--no-progress", "--out", str(out)],
        cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    claims: list[Path] = []
    while not claims:
        assert command.poll() is None and time.monotonic() < deadline, command.communicate()[0]
        time.sleep(0.2)
        claims = list(out.glob(f"runs/*/{CLAIM_FILE}"))
    try:
        holder = json.loads(claims[0].read_text())
    except ValueError:  # caught between its creation and its first write
        time.sleep(0.5)
        holder = json.loads(claims[0].read_text())
    os.kill(holder["pid"], signal.SIGKILL)
    output, _ = command.communicate(timeout=300)  # the old pool waited here for ever
    assert command.returncode == 1, output  # the exit status of a command with a failed run
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    statuses = {record["run_id"]: record["status"] for record in records}
    killed = claims[0].parent.name
    assert statuses.pop(killed) == "failed" and list(statuses.values()) == ["finished", "finished"], output
    error = next(record["error"] for record in records if record["run_id"] == killed)
    assert f"(pid {holder['pid']}) was killed by SIGKILL" in error
    assert "SIGKILL" in output and "Traceback" not in output
    assert not list(out.glob(f"runs/*/{CLAIM_FILE}"))
