"""Cells as cluster tasks through submitit: ``--launcher slurm`` (one array task per cell) and
``--launcher local`` (submitit's ``LocalExecutor``, the same code path on this machine, for CI).

Each task claims its cell in the shared output folder like any other writer (see
:mod:`ganbench.results`), so a requeued or duplicated task never trains a cell twice, and the
submitting command waits for the tasks, printing each cell's line as it ends, then writes the
tables. Task logs go to ``OUT/submitit/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.errors import UserError
from ganbench.runs import Cell, CellTask, wait_for_any

LAUNCHERS = ("processes", "local", "slurm")


@dataclass(frozen=True)
class ClusterOptions:
    """What the tasks ask of the scheduler: ``partition`` (None: the cluster's default), ``minutes``
    of wall time per task, ``gpus_per_task``, ``cpus_per_task`` and ``array_parallelism`` (most
    tasks running at once)."""

    kind: str
    folder: Path
    partition: str | None = None
    minutes: int = 60
    gpus_per_task: int = 0
    cpus_per_task: int = 1
    array_parallelism: int = 64


def submitit_executor(options: ClusterOptions) -> Any:
    """A submitit ``AutoExecutor`` for ``options.kind`` (``slurm`` or ``local``) with the options set."""
    try:
        import submitit
    except ImportError:
        raise UserError("--launcher slurm/local needs submitit: pip install submitit") from None
    try:
        executor = submitit.AutoExecutor(folder=str(options.folder / "%j"), cluster=options.kind)
    except (RuntimeError, ValueError) as error:
        raise UserError(f"cannot use the {options.kind} launcher here ({error}); run where `sbatch` works, "
                        f"or use --launcher processes") from None
    parameters: dict[str, Any] = {
        "name": "ganbench", "timeout_min": options.minutes, "gpus_per_node": options.gpus_per_task,
        "tasks_per_node": 1, "cpus_per_task": options.cpus_per_task,
        "slurm_array_parallelism": options.array_parallelism,
    }
    if options.partition:
        parameters["slurm_partition"] = options.partition
    executor.update_parameters(**parameters)
    return executor


class _Task:
    """A submitted task: ``done()``, and ``result()`` where a task that crashed (rather than
    recording its cell ``failed``) is a :class:`UserError` naming its log."""

    def __init__(self, job: Any, folder: Path) -> None:
        self.job = job
        self.folder = folder

    def done(self) -> bool:
        return self.job.done()

    def result(self) -> Any:
        try:
            return self.job.result()
        except Exception as error:  # noqa: BLE001 - submitit raises its own for a task that died
            last = next((line for line in reversed(str(error).splitlines()) if line.strip()), type(error).__name__)
            raise UserError(f"cluster task {self.job.job_id} ended without a record ({last.strip()[:200]}); "
                            f"see its log in {self.folder}") from None


class SubmititLauncher:
    """One submitit task per cell, submitted as one job array."""

    def __init__(self, task: CellTask, options: ClusterOptions, poll_seconds: float = 2.0) -> None:
        self.task = task
        self.folder = options.folder
        self.executor = submitit_executor(options)
        self.poll_seconds = poll_seconds
        self.jobs: list[Any] = []

    def start(self, cells: Sequence[Cell]) -> list[_Task]:
        with self.executor.batch():
            jobs = [self.executor.submit(self.task, cell) for cell in cells]
        self.jobs += jobs
        return [_Task(job, self.folder) for job in jobs]

    def wait(self, handles: Sequence[Any], seconds: float | None) -> None:
        wait_for_any(handles, seconds, self.poll_seconds)

    def running(self, pending: Sequence[Cell]) -> list[str]:
        return [f"{len(pending)} tasks queued or running"]

    def close(self, cancel: bool) -> None:
        if cancel:
            for job in self.jobs:
                if not job.done():
                    job.cancel(check=False)
