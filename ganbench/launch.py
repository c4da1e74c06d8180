"""Where and how the cells of a matrix run: :func:`run_suite` runs them one after another in this
process, in worker processes (:class:`~ganbench.workers.ProcessLauncher`), or through any
:class:`Launcher`, e.g. as cluster tasks (:mod:`ganbench.cluster`), with :class:`MatrixProgress`
showing the matrix.

Each cell runs only while its process holds the cell's claim in the store (see
:mod:`ganbench.results`), so any number of commands, workers or cluster tasks may share one output
folder: a cell claimed by another live process is waited for, not run twice, and a requeued or
duplicated task never trains a cell twice. The submitting command waits for its workers or tasks,
printing each cell's line as it ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from ganbench.errors import option
from ganbench.options import Option
from ganbench.provenance import utc_now
from ganbench.results import ResultsStore
from ganbench.runs import Cell, CellOutcome, PlannedRun, Suite, run_cell
from ganbench.tasks import CellTask
from ganbench.workers import ProcessLauncher

LAUNCHERS = ("processes", "local", "slurm")

LAUNCH_OPTIONS = (
    Option("out", "output folder (default: runs/SUITE-BUDGET)", parse=Path),
    Option("restart", "ignore checkpoints and re-run runs that did not finish", given="switch", default=False),
    Option("keep_checkpoints", "keep the checkpoints of runs that ended (by default only unfinished runs keep them)",
           given="switch", default=False),
    Option("progress", "show progress bars (default: when stderr is a terminal)", given="toggle"),
    Option("launcher", f"where cells run: processes (this machine, {option('jobs')} of them; default), slurm (one "
           "task per cell of a job array, through submitit; the command waits and writes the tables) or local "
           "(submitit's local executor: the slurm code path on this machine)", group="cluster", choices=LAUNCHERS,
           default="processes"),
)
"""The options of where and how cells run (:class:`LaunchOptions`; the cluster's are in :mod:`ganbench.cluster`)."""


class MatrixProgress:
    """The suite's tqdm bar (one step per cell of the matrix, its postfix the cells running now)
    above a serial run's own bar. Lines about cells go through ``tqdm.write`` so they print above
    the bars instead of tearing them; without a bar they are plain prints."""

    def __init__(self, total: int, suite: str, enabled: bool) -> None:
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=f"suite {suite}", unit="run", dynamic_ncols=True)

    def __enter__(self) -> MatrixProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def running(self, labels: Sequence[str]) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(", ".join(labels))

    def note(self, line: str) -> None:
        """A line that does not complete a cell."""
        if self.bar is None:
            print(line, flush=True)
        else:
            self.bar.write(line)

    def done(self, line: str) -> None:
        self.note(line)
        if self.bar is not None:
            self.bar.update(1)


class Launcher(Protocol):
    """Runs cells elsewhere: ``start(cells)`` submits them and returns a handle per cell (with
    ``done()`` and ``result()`` -> :class:`CellOutcome`, as a ``concurrent.futures.Future`` or a
    submitit job has); ``wait(handles, seconds)`` returns when one is done or the time is up;
    ``running(pending)`` names the cells running now, for the progress bar."""

    def start(self, cells: Sequence[Cell]) -> list[Any]: ...

    def wait(self, handles: Sequence[Any], seconds: float | None) -> None: ...

    def running(self, pending: Sequence[Cell]) -> list[str]: ...

    def close(self, cancel: bool) -> None: ...


def wait_for_any(handles: Sequence[Any], seconds: float | None, poll_seconds: float) -> None:
    """Return once one of ``handles`` (anything with ``done()``) is done, or after ``seconds``
    (None: no limit), checking every ``poll_seconds``: :meth:`Launcher.wait` for launchers whose
    handles cannot be waited on together."""
    deadline = None if seconds is None else time.monotonic() + seconds
    while not any(handle.done() for handle in handles):
        if deadline is not None and time.monotonic() >= deadline:
            return
        time.sleep(poll_seconds)


@dataclass(frozen=True)
class LaunchOptions:
    """How :func:`run_suite` runs a matrix's cells.

    ``progress``: draw the suite's bar (and a serial run's own). ``restart``: ignore checkpoints
    and re-run cells that did not end. ``keep_checkpoints``: keep those of runs that ended.
    ``jobs`` > 1: run the cells in that many spawned worker processes (their own bars off, the
    suite's bar naming the cells running). ``worker_init`` runs first in each worker, cluster task
    and data-parallel process (registering what runs need by name). ``poll_seconds``: how often a
    cell another process holds is looked at. ``launcher`` (given the task every cell runs) runs
    the cells elsewhere instead, e.g. :class:`SubmititLauncher`; its tasks resolve ``device_name``
    (default: the device given to :func:`run_suite`) where they run. ``summary_line(label,
    record)`` makes the line printed per cell (default: ``label: status``).
    """

    progress: bool = False
    restart: bool = False
    keep_checkpoints: bool = False
    jobs: int = 1
    worker_init: Callable[[], None] | None = None
    poll_seconds: float = 2.0
    launcher: Callable[[CellTask], Launcher] | None = None
    device_name: str | None = None
    summary_line: Callable[[str, dict[str, Any]], str] | None = None


def run_suite(suite: Suite, runs: Sequence[PlannedRun] | Sequence[Cell], store: ResultsStore, device: torch.device,
              options: LaunchOptions = LaunchOptions()) -> list[dict[str, Any]]:
    """Execute every planned cell not already recorded (finished or diverged) in ``store``, each
    record stored as its run ends, and return the records this call made.

    The cells run here one after another, in ``options.jobs`` worker processes, or through
    ``options.launcher`` (see :class:`LaunchOptions`). Cells another process holds are waited for
    and reported when recorded; a claim whose holder died is taken over.

    Before any cell starts, the records are read and checked, the folders of the cells to do must
    be writable (else :class:`UserError`), and temporary files of killed ganbench processes of this
    machine are removed. A run that ended loses its checkpoints once its record is stored (unless
    ``keep_checkpoints``), so a kill at any moment leaves its checkpoints or its record. The store's
    ``records.jsonl`` is rewritten once, as the cells end (also on an interrupt).
    """
    cells = [item if isinstance(item, Cell) else Cell(item, index, len(runs)) for index, item in enumerate(runs)]
    since = utc_now()
    ended = store.ended_ids()
    for cell in cells:
        if cell.run.run_id not in ended or options.restart:
            store.check_run_folder(cell.run.run_id)
    store.remove_stale_temporaries()
    with MatrixProgress(len(cells), suite.name, options.progress) as matrix:
        loop = _SuiteLoop(cells, store, device, options, matrix, since)
        pending = []
        for cell in cells:
            if cell.run.run_id in ended and not options.restart:
                matrix.done(f"{loop.prefixes[cell.run.run_id]} {cell.run.label}: already in "
                            f"{store.records_path.name}, skipped")
            else:
                pending.append(cell)
        workers = min(options.jobs, len(pending))
        try:
            if options.launcher is not None and pending:
                loop.launched(pending, options.launcher(loop.task))
            elif workers > 1:
                loop.launched(pending, ProcessLauncher(loop.task, workers))
            else:
                loop.serially(pending)
        finally:
            store.export()
    return loop.done


class _SuiteLoop:
    """:func:`run_suite`'s state while cells run: the task each cell runs (``since``: UTC, when
    the suite started), the lines printed per cell, and the records made here (``done``)."""

    def __init__(self, cells: Sequence[Cell], store: ResultsStore, device: torch.device, options: LaunchOptions,
                 matrix: MatrixProgress, since: str) -> None:
        self.store = store
        self.device = device
        self.options = options
        self.matrix = matrix
        self.task = CellTask(store, options.device_name or str(device), options.restart, options.keep_checkpoints,
                             since, options.worker_init)
        self.prefixes = {cell.run.run_id: f"[{number}/{len(cells)}]" for number, cell in enumerate(cells, start=1)}
        self.done: list[dict[str, Any]] = []

    def describe(self, label: str, record: dict[str, Any]) -> str:
        if self.options.summary_line is not None:
            return self.options.summary_line(label, record)
        return f"{label}: {record['status']}"

    def report(self, cell: Cell, outcome: CellOutcome) -> bool:
        """Print a cell's line; False when another process holds it (it is waited for)."""
        prefix, label = self.prefixes[cell.run.run_id], cell.run.label
        if outcome.holder is not None:
            holder = outcome.holder
            self.matrix.note(f"{prefix} {label}: running in process {holder.get('pid')} on {holder.get('host')} "
                             f"(since {holder.get('started_utc')}); waiting for it")
            return False
        assert outcome.record is not None
        if outcome.ran_here:
            self.done.append(outcome.record)
            self.matrix.done(f"{prefix} {self.describe(label, outcome.record)}")
        elif outcome.skipped:
            self.matrix.done(f"{prefix} {label}: already in {self.store.records_path.name}, skipped")
        else:
            self.matrix.done(f"{prefix} {self.describe(label, outcome.record)} (run by another process)")
        return True

    def run_here(self, cell: Cell) -> CellOutcome:
        self.matrix.running([cell.run.label])
        task = self.task
        return run_cell(cell, self.store, self.device, self.options.progress, task.restart, task.keep_checkpoints,
                        task.since, task.initializer)

    def serially(self, pending: Sequence[Cell]) -> None:
        """Run the cells in this process, then those another process held once their claim is free."""
        waiting = [cell for cell in pending if not self.report(cell, self.run_here(cell))]
        while waiting:
            time.sleep(self.options.poll_seconds)
            for cell in list(waiting):
                if self.store.holder_of(cell.run.run_id) is None:
                    outcome = self.run_here(cell)
                    if outcome.holder is None:
                        self.report(cell, outcome)
                        waiting.remove(cell)

    def launched(self, pending: Sequence[Cell], launcher: Launcher) -> None:
        """Start every pending cell through ``launcher``, report each as it ends, and start again
        those another process held once their claim is free."""
        submitted: dict[int, tuple[Any, Cell]] = {}

        def start(cells: Sequence[Cell]) -> None:
            for handle, cell in zip(launcher.start(cells), cells):
                submitted[id(handle)] = (handle, cell)

        waiting: list[Cell] = []
        cancel = True
        try:
            start(pending)
            while submitted or waiting:
                self.matrix.running(launcher.running([cell for _, cell in submitted.values()]))
                launcher.wait([handle for handle, _ in submitted.values()],
                              self.options.poll_seconds if waiting else None)
                for key, (handle, cell) in list(submitted.items()):
                    if handle.done():
                        del submitted[key]
                        if not self.report(cell, handle.result()):
                            waiting.append(cell)
                free = [cell for cell in waiting if self.store.holder_of(cell.run.run_id) is None]
                if free:
                    waiting = [cell for cell in waiting if cell not in free]
                    start(free)
            cancel = False
        finally:
            launcher.close(cancel)
