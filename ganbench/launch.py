"""Cells as cluster tasks through submitit: ``--launcher slurm`` (one array task per cell) and
``--launcher local`` (submitit's ``LocalExecutor``, the same code path on this machine, for CI).

Each task claims its cell in the shared output folder like any other writer (see
:mod:`ganbench.results`), so a requeued or duplicated task never trains a cell twice, and the
submitting command waits for the tasks, printing each cell's line as it ends, then writes the
tables. Task logs go to ``OUT/submitit/``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.errors import UserError
from ganbench.runs import Cell, CellTask

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


class SubmititLauncher:
    """One submitit task per cell, submitted as one job array."""

    def __init__(self, task: CellTask, options: ClusterOptions, poll_seconds: float = 2.0) -> None:
        self.task = task
        self.executor = submitit_executor(options)
        self.poll_seconds = poll_seconds
        self.jobs: list[Any] = []

    def start(self, cells: Sequence[Cell]) -> list[Any]:
        with self.executor.batch():
            jobs = [self.executor.submit(self.task, cell) for cell in cells]
        self.jobs += jobs
        return jobs

    def wait(self, handles: Sequence[Any], seconds: float | None) -> None:
        deadline = None if seconds is None else time.monotonic() + seconds
        while not any(job.done() for job in handles):
            if deadline is not None and time.monotonic() >= deadline:
                return
            time.sleep(self.poll_seconds)

    def running(self, pending: Sequence[Cell]) -> list[str]:
        return [f"{len(pending)} tasks queued or running"]

    def close(self, cancel: bool) -> None:
        if cancel:
            for job in self.jobs:
                if not job.done():
                    job.cancel(check=False)
