"""Cells as cluster tasks through submitit: ``slurm`` (one array task per cell) and ``local``
(submitit's ``LocalExecutor``, the same code path on this machine, for CI), the launchers of the
``launcher`` option other than ``processes`` (see :mod:`ganbench.launch`).

Each task claims its cell in the shared output folder like any other writer (see
:mod:`ganbench.results`), so a requeued or duplicated task never trains a cell twice, and the
submitting command waits for the tasks, printing each cell's line as it ends, then writes the
tables. Each task is checkpointable (:class:`ClusterTask`): at the scheduler's time-limit or
preemption signal its run stops at the next training iteration with a checkpoint there and the
task is requeued. A task that dies is recorded failed and the others carry on; an interrupted
command leaves the tasks running unless ``cancel_on_interrupt``. Cells are submitted as arrays of
at most ``array_max`` tasks. Task logs go to ``OUT/submitit/``.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ganbench.errors import UserError, option
from ganbench.launch import Launcher, wait_for_any
from ganbench.options import Option, positive_int
from ganbench.preemption import Preempted, clear_stop, request_stop
from ganbench.results import TASK_VARIABLE
from ganbench.tasks import CellTask, record_failure
from ganbench.runs import Cell, CellOutcome

CLUSTER_OPTIONS = (
    Option("partition", f"{option('launcher', 'slurm')}: the partition (default: the cluster's)", group="cluster"),
    Option("time", f"{option('launcher', 'slurm/local')}: wall-time limit per task in minutes (default: 60); a run "
           "longer than that is checkpointed and requeued", group="cluster", parse=positive_int, default=60,
           metavar="MINUTES"),
    Option("stop_margin", f"{option('launcher', 'slurm/local')}: seconds before {option('time')} at which a task "
           "is signalled to stop training at the next iteration, checkpoint and requeue: the time left for "
           "evaluating a run whose training ended just before (default: 300)", group="cluster", parse=positive_int,
           default=300, metavar="SECONDS"),
    Option("gpus_per_task", f"{option('launcher', 'slurm')}: GPUs per task (default: 0; with "
           f"{option('device', 'auto')} a task uses its GPU)", group="cluster", parse=int, default=0, metavar="N"),
    Option("cpus_per_task", f"{option('launcher', 'slurm')}: CPUs per task (default: {option('threads')} x "
           f"{option('nproc_per_node')})", group="cluster", parse=positive_int, metavar="N"),
    Option("array_parallelism", f"{option('launcher', 'slurm')}: most tasks of the array running at once "
           "(default: 64)", group="cluster", parse=positive_int, default=64, metavar="N"),
    Option("array_max", f"{option('launcher', 'slurm/local')}: most tasks per job array; a larger matrix is "
           "submitted as several arrays (default: 1000, under SLURM's usual MaxArraySize of 1001)",
           group="cluster", parse=positive_int, default=1000, metavar="N"),
    Option("cells_per_task", f"{option('launcher', 'slurm/local')}: cells one task runs one after another, for "
           f"matrices of short runs (default: 1); give {option('time')} for all of them", group="cluster",
           parse=positive_int, default=1, metavar="N"),
    Option("cancel_on_interrupt", f"{option('launcher', 'slurm/local')}: Ctrl-C also cancels the tasks not yet "
           "ended (by default they carry on and the same command later collects them)", group="cluster",
           given="switch", default=False),
)
"""The options of cluster tasks (:class:`ClusterOptions`, :func:`cluster_launcher`)."""


@dataclass(frozen=True)
class ClusterOptions:
    """What the tasks ask of the scheduler: ``partition`` (None: the cluster's default), ``minutes``
    of wall time per task, ``stop_margin`` (seconds before the end at which the scheduler signals
    the task to stop training, checkpoint and requeue), ``gpus_per_task``, ``cpus_per_task``,
    ``array_parallelism`` (most tasks running at once), ``array_max`` (most tasks per array),
    ``cancel_on_interrupt`` (Ctrl-C cancels the tasks not ended) and ``cells_per_task`` (cells
    one task runs one after another)."""

    kind: str
    folder: Path
    partition: str | None = None
    minutes: int = 60
    stop_margin: int = 300
    gpus_per_task: int = 0
    cpus_per_task: int = 1
    array_parallelism: int = 64
    array_max: int = 1000
    cancel_on_interrupt: bool = False
    cells_per_task: int = 1


def submitit_executor(options: ClusterOptions) -> Any:
    """A submitit executor for ``options.kind`` with the options set: SLURM's through
    ``AutoExecutor``, signalling ``stop_margin`` seconds before the time limit (``--signal``), or
    the ``LocalExecutor``, whose controller sends the same signal as late."""
    try:
        import submitit
    except ImportError:
        raise UserError(f"{option('launcher', 'slurm/local')} needs submitit: pip install submitit") from None
    if options.kind == "local":
        executor = submitit.LocalExecutor(folder=str(options.folder / "%j"))
        executor.update_parameters(timeout_min=options.minutes, gpus_per_node=options.gpus_per_task,
                                   tasks_per_node=1, signal_delay_s=options.stop_margin)
        return executor
    try:
        executor = submitit.AutoExecutor(folder=str(options.folder / "%j"), cluster=options.kind)
    except (RuntimeError, ValueError) as error:
        raise UserError(f"cannot use the {options.kind} launcher here ({error}); run where `sbatch` works, "
                        f"or use {option('launcher', 'processes')}") from None
    parameters: dict[str, Any] = {
        "name": "ganbench", "timeout_min": options.minutes, "gpus_per_node": options.gpus_per_task,
        "tasks_per_node": 1, "cpus_per_task": options.cpus_per_task,
        "slurm_array_parallelism": options.array_parallelism, "slurm_signal_delay_s": options.stop_margin,
    }
    if options.partition:
        parameters["slurm_partition"] = options.partition
    executor.update_parameters(**parameters)
    return executor


@dataclass
class ClusterTask:
    """What a cluster task runs: ``task`` (the cell's :class:`~ganbench.tasks.CellTask`) with the
    scheduler's stop signal (submitit's: ``USR2`` unless ``$SUBMITIT_PREEMPT_SIGNAL`` says
    otherwise) turned into a stop at the next training iteration, a checkpoint there and a requeue
    (submitit's ``checkpoint`` protocol: :meth:`checkpoint` resubmits the same cell, which resumes
    from that checkpoint). The task's id is kept in its claims (``$GANBENCH_TASK``), so that the
    submitting command can take over the claim of a task that died."""

    task: CellTask
    ended: list[CellOutcome] = field(default_factory=list)  # the outcomes of the cells done, kept across requeues

    def __call__(self, cells: Sequence[Cell]) -> list[CellOutcome]:
        """Run ``cells`` one after another (one cell per task unless ``cells_per_task``); their
        outcomes. A requeued task starts at the cell it stopped in."""
        import submitit

        environment = submitit.JobEnvironment()
        os.environ[TASK_VARIABLE] = str(environment.job_id)
        stop = environment._usr_sig()  # submitit's signal for time limits and preemption
        requeue = signal.getsignal(stop)
        clear_stop()
        signal.signal(stop, request_stop)
        try:
            for cell in cells[len(self.ended):]:
                self.ended.append(self.task(cell))
            return self.ended
        except Preempted:
            if not callable(requeue):
                raise
            requeue(stop, None)  # submitit's handler: calls checkpoint(), requeues the task and exits
            raise
        finally:
            signal.signal(stop, requeue)

    def checkpoint(self, cells: Sequence[Cell]) -> Any:
        """The task to requeue: this one again (with the outcomes of the cells it ended), on the
        same cells; the stopped run resumes from its checkpoint."""
        import submitit

        return submitit.helpers.DelayedSubmission(self, cells)


class _Task:
    """A submitted task: ``done()``, and ``result()``, where a task that ended without its cell's
    outcome (killed, out of memory, requeued too often) records the cell ``failed`` with the
    error and the log's place (see :func:`~ganbench.launch.record_failure`)."""

    def __init__(self, job: Any, cell: Cell, position: int, task: CellTask, folder: Path) -> None:
        self.job = job
        self.cell = cell
        self.position = position  # the cell's place among the task's cells
        self.task = task
        self.folder = folder

    def done(self) -> bool:
        return self.job.done()

    def result(self) -> CellOutcome:
        try:
            return self.job.result()[self.position]
        except Exception as error:  # noqa: BLE001 - submitit raises its own for a task that died
            last = next((line for line in reversed(str(error).splitlines()) if line.strip()), type(error).__name__)
            return record_failure(self.cell, self.task.store, self.task.since,
                                  f"TaskDied: cluster task {self.job.job_id} ended without a record "
                                  f"({last.strip()[:200]}); see its log in {self.folder}", task=str(self.job.job_id))


class SubmititLauncher:
    """One submitit task per ``cells_per_task`` cells (default one), submitted as job arrays of at
    most ``array_max`` tasks."""

    def __init__(self, task: CellTask, options: ClusterOptions, poll_seconds: float = 2.0) -> None:
        self.task = task
        self.options = options
        self.folder = options.folder
        self.executor = submitit_executor(options)
        self.poll_seconds = poll_seconds
        self.jobs: list[Any] = []

    def start(self, cells: Sequence[Cell]) -> list[_Task]:
        """Submit ``cells``; a handle per cell, in their order."""
        size = self.options.cells_per_task
        groups = [list(cells[first:first + size]) for first in range(0, len(cells), size)]
        handles = []
        for first in range(0, len(groups), self.options.array_max):
            array = groups[first:first + self.options.array_max]
            with self.executor.batch():
                jobs = [self.executor.submit(ClusterTask(self.task), group) for group in array]
            self.jobs += jobs
            handles += [_Task(job, cell, position, self.task, self.folder)
                        for job, group in zip(jobs, array) for position, cell in enumerate(group)]
        return handles

    def wait(self, handles: Sequence[Any], seconds: float | None) -> None:
        wait_for_any(handles, seconds, self.poll_seconds)

    def running(self, pending: Sequence[Cell]) -> list[str]:
        return [f"{len(pending)} tasks queued or running"]

    def close(self, cancel: bool) -> None:
        """On an interrupt (``cancel``): cancel the tasks not ended with ``cancel_on_interrupt``,
        else leave them running and say so."""
        left = [job for job in self.jobs if not job.done()] if cancel else []
        if left and self.options.cancel_on_interrupt:
            for job in left:
                job.cancel(check=False)
            print(f"cancelled {len(left)} cluster tasks", flush=True)
        elif left:
            print(f"{len(left)} cluster tasks carry on (cancel them with {option('cancel_on_interrupt')} next "
                  f"time, or scancel); run the same command again to collect their records", flush=True)


def check_cluster_options(values: Mapping[str, Any]) -> None:
    """Options of ``launcher`` ``slurm`` given with another launcher, a negative GPU count, or a
    stop margin not shorter than the task's time are a :class:`UserError`."""
    if values.get("launcher") != "slurm" and (values.get("partition") or values.get("gpus_per_task")):
        raise UserError(f"{option('partition')} and {option('gpus_per_task')} are options of "
                        f"{option('launcher', 'slurm')}")
    if values.get("gpus_per_task", 0) < 0:
        raise UserError(f"{option('gpus_per_task')} must be 0 or more, got {values['gpus_per_task']}")
    minutes, margin = values.get("time", 60), values.get("stop_margin", 300)
    if values.get("launcher", "processes") != "processes" and margin >= minutes * 60:
        raise UserError(f"{option('stop_margin', margin)} leaves no training time in {option('time', minutes)} "
                        f"({minutes * 60} s); give a longer {option('time')} or a shorter {option('stop_margin')}")


def cluster_launcher(values: Mapping[str, Any], folder: Path) -> Callable[[CellTask], Launcher] | None:
    """The launcher that option ``values`` (by name: ``launcher`` and :data:`CLUSTER_OPTIONS`) ask for, its task
    logs in ``folder``; None for ``processes`` (this machine). CPUs per task default to the threads of
    each of a run's data-parallel processes times their number."""
    if values.get("launcher", "processes") == "processes":
        return None
    cpus = values.get("cpus_per_task") or values.get("threads", 1) * values.get("nproc_per_node", 1)
    options = ClusterOptions(values["launcher"], folder, values.get("partition"), values.get("time", 60),
                             values.get("stop_margin", 300), values.get("gpus_per_task", 0), cpus,
                             values.get("array_parallelism", 64), values.get("array_max", 1000),
                             bool(values.get("cancel_on_interrupt")), values.get("cells_per_task", 1))
    return partial(SubmititLauncher, options=options)
