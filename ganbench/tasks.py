"""What a process that runs cells for a command does: :class:`CellTask`, one cell's work in a
worker process or cluster task; :func:`record_failure`, the record of a cell whose process died;
:func:`die_with_parent`, a worker's tie to its command."""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass

from ganbench.execution import resolve_device
from ganbench.provenance import software, utc_now
from ganbench.results import Claim, ResultsStore
from ganbench.runs import Cell, CellOutcome, run_cell


@dataclass
class CellTask:
    """One cell's work as a worker process or cluster task does it: the initializer (registering
    what runs need by name), then :func:`run_cell` on the device named ``device`` (resolved where
    the task runs: a cluster's login node may have no GPU)."""

    store: ResultsStore
    device: str
    restart: bool
    keep_checkpoints: bool
    since: str
    initializer: Callable[[], None] | None = None

    def __call__(self, cell: Cell) -> CellOutcome:
        if self.initializer is not None:
            self.initializer()
        return run_cell(cell, self.store, resolve_device(self.device), False, self.restart, self.keep_checkpoints,
                        self.since, self.initializer)


def record_failure(cell: Cell, store: ResultsStore, since: str, error: str,
                   task: str | None = None) -> CellOutcome:
    """Record ``cell`` ``failed`` with ``error`` for a process that died running it (a worker
    killed by a signal, a cluster task that ended without a record), so the command can go on.

    The cell's claim is taken first: a dead worker's is stale (its process is gone), and a claim
    naming scheduler task ``task`` (see :class:`~ganbench.results.Claim`) is that finished task's.
    When another live process holds the claim, its holder is returned instead, and a record
    written since ``since`` (UTC, when the command started), e.g. just before the process died,
    is returned as it is. The checkpoints are kept: the next command resumes the run.
    """
    claim = store.claim(cell.run.run_id, dead=None if task is None else (lambda holder: holder.get("task") == task))
    if not isinstance(claim, Claim):
        return CellOutcome(holder=claim)
    with claim:
        existing = store.record_of(cell.run.run_id)
        if existing is not None and existing.get("provenance", {}).get("finished_utc", "") >= since:
            return CellOutcome(record=existing)
        now = utc_now()
        record = {"run_id": cell.run.run_id, **cell.run.identity, "config": cell.run.config(),
                  "provenance": {**software(), "started_utc": now, "finished_utc": now}, "metrics": {},
                  "throughput": {}, "artifacts": {}, "status": "failed", "error": error,
                  "cell": {"index": cell.index, "of": cell.size}}
        store.add(record)
    return CellOutcome(record=record, ran_here=True)


def die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its parent exits (a no-op elsewhere): a worker
    whose command is killed outright (SIGTERM, SIGKILL: no ``finally`` runs) goes with it, so no
    orphan keeps training a cell nobody waits for."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent was already gone before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)
