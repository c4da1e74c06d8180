"""Cluster tasks through submitit: a stop requested mid-training (the scheduler's time-limit or
preemption signal) checkpoints at the iteration boundary and requeues, and the resumed task records
what an uninterrupted run does; a task that dies is recorded failed; arrays are split; Ctrl-C
leaves the tasks running unless asked."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import torch
from ignite.engine import Engine, Events

from ganbench.cli import main
from ganbench.cluster import ClusterOptions, SubmititLauncher, _Task, cluster_launcher
from ganbench.engines import EngineRun
from ganbench.execution import Execution
from ganbench.handlers import LossHistory, checkpoint_files
from ganbench.tasks import CellTask
from ganbench.preemption import Preempted, clear_stop, request_stop
from ganbench.results import CLAIM_FILE, ResultsStore
from ganbench.runs import Cell


class Counter:
    """A tiny trainable state: the engine's step adds a seeded random number to ``total``."""

    def __init__(self):
        self.total = torch.zeros(())
        self.generator = torch.Generator().manual_seed(0)

    def step(self, engine, batch):
        self.total += torch.rand((), generator=self.generator)
        return {"loss": float(self.total)}

    def state_dict(self):
        return {"total": self.total, "generator": self.generator.get_state()}

    def load_state_dict(self, state):
        self.total = state["total"]
        self.generator.set_state(state["generator"])


def engine_run(run_dir: Path, stop_at: int | None = None) -> tuple[EngineRun, Counter]:
    counter = Counter()
    engine = Engine(counter.step)
    losses = LossHistory(lambda engine: {"iteration": engine.state.iteration, **engine.state.output})
    run = EngineRun(engine, losses, {"counter": counter}, run_dir, torch.device("cpu"), iterations=20,
                    checkpoint_every=6)
    if stop_at is not None:
        engine.add_event_handler(Events.ITERATION_STARTED(once=stop_at), lambda: request_stop())
    return run, counter


def test_a_requested_stop_checkpoints_at_the_iteration_and_the_resumed_run_is_exact(tmp_path):
    whole, _ = engine_run(tmp_path / "whole")
    whole.run()
    clear_stop()
    stopped, _ = engine_run(tmp_path / "stopped", stop_at=9)
    with pytest.raises(Preempted, match="iteration 9"):
        stopped.run()
    # the stop came during iteration 9: its checkpoint is that iteration's, not the last periodic one (6)
    assert [path.name for path in checkpoint_files(tmp_path / "stopped" / "checkpoints")] == ["checkpoint_9.pt"]
    clear_stop()
    resumed, counter = engine_run(tmp_path / "stopped")
    resumed.run()
    assert resumed.resumed_from == 9 and resumed.engine.state.iteration == 20
    assert resumed.losses.to_csv() == whole.losses.to_csv()  # bit-identical history


class FakeJob:
    def __init__(self, number, error=None):
        self.job_id = f"77_{number}"
        self.error = error
        self.cancelled = False

    def done(self):
        return self.error is not None

    def result(self):
        raise self.error

    def cancel(self, check=True):
        self.cancelled = True


class FakeExecutor:
    """Records the job arrays submitted (one per ``batch()``) and the cells of each task."""

    def __init__(self):
        self.arrays = []
        self.tasks = []

    @contextlib.contextmanager
    def batch(self):
        self.arrays.append(0)
        yield

    def submit(self, function, cells):
        self.arrays[-1] += 1
        self.tasks.append([cell.index for cell in cells])
        return FakeJob(sum(self.arrays))


def launcher(monkeypatch, tmp_path, **options) -> SubmititLauncher:
    executor = FakeExecutor()
    monkeypatch.setattr("ganbench.cluster.submitit_executor", lambda _: executor)
    task = CellTask(ResultsStore(tmp_path), "cpu", False, False, "2026-01-01T00:00:00Z")
    return SubmititLauncher(task, ClusterOptions("slurm", tmp_path / "submitit", **options))


def test_a_large_matrix_is_split_into_arrays_of_at_most_array_max_tasks(monkeypatch, tmp_path):
    """Clusters refuse arrays above MaxArraySize (1001 by default): one array per command was rejected."""
    submitted = launcher(monkeypatch, tmp_path, array_max=1000)
    handles = submitted.start([Cell(None, index, 2500) for index in range(2500)])
    assert submitted.executor.arrays == [1000, 1000, 500] and len(handles) == 2500


def test_several_cells_per_task_each_get_their_outcome(monkeypatch, tmp_path):
    submitted = launcher(monkeypatch, tmp_path, cells_per_task=3, array_max=2)
    handles = submitted.start([Cell(None, index, 7) for index in range(7)])
    assert submitted.executor.tasks == [[0, 1, 2], [3, 4, 5], [6]] and submitted.executor.arrays == [2, 1]
    for job in submitted.jobs:  # each task answers with its cells' outcomes, in order
        job.result = lambda cells=submitted.executor.tasks[submitted.jobs.index(job)]: [f"outcome {i}" for i in cells]
    assert [handle.cell.index for handle in handles] == list(range(7))
    assert [handle.result() for handle in handles] == [f"outcome {index}" for index in range(7)]


def test_ctrl_c_leaves_the_tasks_running_unless_asked(monkeypatch, tmp_path, capsys):
    for cancel_on_interrupt in (False, True):
        submitted = launcher(monkeypatch, tmp_path, cancel_on_interrupt=cancel_on_interrupt)
        submitted.start([Cell(None, 0, 1)])
        submitted.close(cancel=True)  # what an interrupt does
        assert submitted.jobs[0].cancelled == cancel_on_interrupt
    printed = capsys.readouterr().out
    assert "1 cluster tasks carry on" in printed and "cancelled 1 cluster tasks" in printed


class Run:
    run_id, label = "run_a", "run a"
    identity = {"kind": "gan", "suite": "t", "variant": "v", "dataset": "d", "seed": 0, "budget": "b"}
    execution = Execution()

    def config(self):
        return {"execution": self.execution.config()}


def test_a_task_that_died_is_recorded_failed_and_its_claim_taken_over(tmp_path):
    """Before, the dead task's error stopped the command and cancelled every other task."""
    store = ResultsStore(tmp_path)
    claim = store.run_dir("run_a") / CLAIM_FILE  # the dead task's claim, on another node, still fresh
    claim.write_text(json.dumps({"pid": 1, "host": "node-b", "token": "t", "task": "77_3"}))
    task = CellTask(store, "cpu", False, False, "2026-01-01T00:00:00Z")
    died = _Task(FakeJob(3, RuntimeError("Job not requeued because: timed-out too many times.")), Cell(Run(), 0, 1),
                 0, task, tmp_path / "submitit")
    outcome = died.result()
    record = store.record_of("run_a")
    assert outcome.record == record and record["status"] == "failed" and record["cell"] == {"index": 0, "of": 1}
    assert "cluster task 77_3 ended without a record (Job not requeued because: timed-out" in record["error"]
    assert not claim.exists()


def test_cpus_per_task_default_to_threads_times_processes(tmp_path):
    made = cluster_launcher({"launcher": "local", "threads": 2, "nproc_per_node": 3}, tmp_path)
    assert made.keywords["options"].cpus_per_task == 6
    given = cluster_launcher({"launcher": "local", "threads": 2, "nproc_per_node": 3, "cpus_per_task": 4}, tmp_path)
    assert given.keywords["options"].cpus_per_task == 4


def test_a_stop_margin_as_long_as_the_task_is_one_error_line(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["run", "--budget", "smoke", "--launcher", "local", "--time", "5", "--stop-margin", "300",
                 "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--stop-margin 300 leaves no training time in --time 5" in error
    assert not out.exists()


def signal_once_training(out: Path, signalled: list) -> None:
    """Send the task's stop signal (USR2) once its run wrote a checkpoint, as SLURM does at the
    time limit; note the pid and the checkpoint seen."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        checkpoints = list(out.glob("runs/*/checkpoints/checkpoint_*.pt"))
        claims = list(out.glob(f"runs/*/{CLAIM_FILE}"))
        if checkpoints and claims:
            with contextlib.suppress(ValueError, OSError):
                pid = json.loads(claims[0].read_text())["pid"]
                os.kill(pid, signal.SIGUSR2)
                signalled.append((pid, checkpoints[0].name))
                return
        time.sleep(0.05)


@pytest.mark.slow
def test_a_task_signalled_mid_training_requeues_and_records_the_uninterrupted_result(tmp_path, capsys):
    """Two cells in one task of submitit's local executor; the first run is signalled (as SLURM
    does before the time limit) once it wrote a checkpoint. Before, the task was recorded failed."""
    pytest.importorskip("submitit")
    common = ["run", "--budget", "smoke", "--seeds", "1", "--iterations", "300", "--no-progress"]
    assert main([*common, "--jobs", "1", "--out", str(tmp_path / "whole")]) == 0
    out, signalled = tmp_path / "signalled", []
    watcher = threading.Thread(target=signal_once_training, args=(out, signalled))
    watcher.start()
    assert main([*common, "--launcher", "local", "--time", "10", "--cells-per-task", "2", "--out", str(out)]) == 0
    watcher.join()
    assert signalled, "the run ended before it could be signalled"
    printed = capsys.readouterr().out
    assert "run by another process" not in printed and printed.count(": finished in") == 4  # 2 here, 2 in the task
    whole, wanted, got = tmp_path / "whole", ResultsStore(tmp_path / "whole").records(), ResultsStore(out).records()
    assert [r["run_id"] for r in got] == [r["run_id"] for r in wanted] and len(got) == 2
    for want, have in zip(wanted, got):
        assert have["status"] == want["status"] == "finished"
        assert have["metrics"] == want["metrics"] and have["iterations_done"] == want["iterations_done"] == 300
        for name in ("losses", "samples"):
            assert (out / have["artifacts"][name]).read_bytes() == (whole / want["artifacts"][name]).read_bytes()
    assert 30 <= got[0]["resumed_from_iteration"] < 300  # stopped past its first checkpoint, resumed there
    assert got[1]["resumed_from_iteration"] is None
    logs = "".join(path.read_text() for path in (out / "submitit").rglob("*_log.out"))
    assert "Calling checkpoint method" in logs and "Requeued job" in logs and "Job completed successfully" in logs
    assert len(list((out / "submitit").rglob("*_result.pkl"))) == 1  # one task, run twice
    assert not list(out.glob("runs/*/checkpoints/*"))  # the finished runs' checkpoints are gone
