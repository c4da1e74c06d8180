"""Cells as cluster tasks through submitit: ``slurm`` (one array task per cell) and ``local``
(submitit's ``LocalExecutor``, the same code path on this machine, for CI), the launchers of the
``launcher`` option other than ``processes`` (see :mod:`ganbench.launch`).

Each task claims its cell in the shared output folder like any other writer (see
:mod:`ganbench.results`), so a requeued or duplicated task never trains a cell twice, and the
submitting command waits for the tasks, printing each cell's line as it ends, then writes the
tables. Task logs go to ``OUT/submitit/``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from ganbench.errors import UserError, option
from ganbench.launch import CellTask, Launcher, wait_for_any
from ganbench.options import Option, positive_int
from ganbench.runs import Cell

CLUSTER_OPTIONS = (
    Option("partition", f"{option('launcher', 'slurm')}: the partition (default: the cluster's)", group="cluster"),
    Option("time", f"{option('launcher', 'slurm/local')}: wall-time limit per task in minutes (default: 60)",
           group="cluster", parse=positive_int, default=60, metavar="MINUTES"),
    Option("gpus_per_task", f"{option('launcher', 'slurm')}: GPUs per task (default: 0; with "
           f"{option('device', 'auto')} a task uses its GPU)", group="cluster", parse=int, default=0, metavar="N"),
    Option("cpus_per_task", f"{option('launcher', 'slurm')}: CPUs per task (default: {option('threads')})",
           group="cluster", parse=positive_int, metavar="N"),
    Option("array_parallelism", f"{option('launcher', 'slurm')}: most tasks of the array running at once "
           "(default: 64)", group="cluster", parse=positive_int, default=64, metavar="N"),
)
"""The options of cluster tasks (:class:`ClusterOptions`, :func:`cluster_launcher`)."""


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
        raise UserError(f"{option('launcher', 'slurm/local')} needs submitit: pip install submitit") from None
    try:
        executor = submitit.AutoExecutor(folder=str(options.folder / "%j"), cluster=options.kind)
    except (RuntimeError, ValueError) as error:
        raise UserError(f"cannot use the {options.kind} launcher here ({error}); run where `sbatch` works, "
                        f"or use {option('launcher', 'processes')}") from None
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


def check_cluster_options(values: Mapping[str, Any]) -> None:
    """Options of ``launcher`` ``slurm`` given with another launcher, or a negative GPU count, are a
    :class:`UserError`."""
    if values.get("launcher") != "slurm" and (values.get("partition") or values.get("gpus_per_task")):
        raise UserError(f"{option('partition')} and {option('gpus_per_task')} are options of "
                        f"{option('launcher', 'slurm')}")
    if values.get("gpus_per_task", 0) < 0:
        raise UserError(f"{option('gpus_per_task')} must be 0 or more, got {values['gpus_per_task']}")


def cluster_launcher(values: Mapping[str, Any], folder: Path) -> Callable[[CellTask], Launcher] | None:
    """The launcher that option ``values`` (by name: ``launcher`` and :data:`CLUSTER_OPTIONS`) ask for, its task logs in
    ``folder``; None for ``processes`` (this machine)."""
    if values.get("launcher", "processes") == "processes":
        return None
    options = ClusterOptions(values["launcher"], folder, values.get("partition"), values.get("time", 60),
                             values.get("gpus_per_task", 0), values.get("cpus_per_task") or values.get("threads", 1),
                             values.get("array_parallelism", 64))
    return partial(SubmititLauncher, options=options)
