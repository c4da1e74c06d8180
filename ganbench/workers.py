"""Worker processes on this machine (:class:`ProcessLauncher`, the launcher of the ``jobs`` option)
and the device each one uses (:func:`worker_device`).

Each worker is a spawned ``multiprocessing.Process`` with a pipe of its own: the command sends it
one cell at a time and waits on every worker's pipe and process sentinel at once
(``multiprocessing.connection.wait``), so a worker that dies without answering (the OOM killer's
SIGKILL, a segfault) is noticed at once: its cell is recorded ``failed`` with the signal named, a
fresh worker takes its place for the cells not yet started, and the other workers carry on with
theirs. (A ``multiprocessing.Pool`` waits for ever on such a worker's result; a
``concurrent.futures.ProcessPoolExecutor`` fails every pending cell and terminates the other
workers.)
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from typing import Any

import torch

from ganbench.tasks import CellTask, die_with_parent, record_failure
from ganbench.runs import Cell, CellOutcome


def worker_device(name: str, index: int, cuda_devices: int) -> str:
    """The device worker ``index`` (0-based) uses when the command was given device ``name``:
    ``auto`` and ``cuda`` go round robin over the ``cuda_devices`` visible CUDA devices (worker i
    on ``cuda:i mod cuda_devices``), so N workers on N GPUs use one each; any other name (``cpu``,
    ``cuda:1``, ``mps``) and ``auto`` without CUDA are kept as given.

    Args:
        name: the ``device`` option's value.
        index: the worker's number, 0 ... workers-1.
        cuda_devices: ``torch.cuda.device_count()`` (0 without CUDA).
    """
    if name in ("auto", "cuda") and cuda_devices > 0:
        return f"cuda:{index % cuda_devices}"
    return name


def _work(connection: Connection, task: CellTask) -> None:
    """A worker's life: ignore Ctrl-C (the command's to handle) and die with the command, then run
    the cells sent until ``None`` comes, answering ``("ok", outcome)`` or ``("error", exception)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    while True:
        cell = connection.recv()
        if cell is None:
            return
        try:
            answer: tuple[str, Any] = ("ok", task(cell))
        except Exception as error:  # noqa: BLE001 - sent to the command, which raises it
            answer = ("error", error)
        try:
            connection.send(answer)
        except Exception:  # noqa: BLE001 - an exception that cannot be pickled
            connection.send(("error", RuntimeError(f"{type(answer[1]).__name__}: {answer[1]}")))


@dataclass(eq=False)
class _Job:
    """One cell sent to the workers: ``done()`` and ``result()``, as a future has."""

    cell: Cell
    outcome: CellOutcome | None = None
    error: BaseException | None = None

    def done(self) -> bool:
        return self.outcome is not None or self.error is not None

    def result(self) -> CellOutcome:
        if self.error is not None:
            raise self.error
        assert self.outcome is not None
        return self.outcome


@dataclass(eq=False)
class _Worker:
    process: Any
    connection: Connection
    job: _Job | None = None


class ProcessLauncher:
    """``workers`` spawned worker processes on this machine, each on its device (:func:`worker_device`).

    Args:
        task: what each cell runs (its ``device`` is the option's value, resolved in the worker).
        workers: the most processes at once.
    """

    def __init__(self, task: CellTask, workers: int) -> None:
        self.task = task
        self.workers = workers
        self.context = multiprocessing.get_context("spawn")
        self.cuda_devices = torch.cuda.device_count() if torch.cuda.is_available() else 0
        self.started = 0
        self.live: list[_Worker] = []
        self.queue: deque[_Job] = deque()

    def _spawn(self) -> _Worker:
        ours, theirs = self.context.Pipe()
        task = replace(self.task, device=worker_device(self.task.device, self.started, self.cuda_devices))
        process = self.context.Process(target=_work, args=(theirs, task), daemon=True,
                                       name=f"ganbench worker {self.started}")
        process.start()
        theirs.close()
        self.started += 1
        worker = _Worker(process, ours)
        self.live.append(worker)
        return worker

    def _dispatch(self) -> None:
        """Give queued cells to idle workers, starting workers up to ``workers``; an idle worker
        that died meanwhile is dropped (its cell goes to another)."""
        while self.queue:
            idle = next((worker for worker in self.live if worker.job is None), None)
            if idle is None:
                if len(self.live) >= self.workers:
                    return
                idle = self._spawn()
            job = self.queue.popleft()
            try:
                idle.connection.send(job.cell)
            except OSError:  # a broken pipe: the worker is gone
                self.queue.appendleft(job)
                self.live.remove(idle)
                idle.connection.close()
                continue
            idle.job = job

    def start(self, cells: Sequence[Cell]) -> list[_Job]:
        jobs = [_Job(cell) for cell in cells]
        self.queue.extend(jobs)
        self._dispatch()
        return jobs

    def wait(self, handles: Sequence[Any], seconds: float | None) -> None:
        """Return once a worker answered or died, or after ``seconds`` (None: no limit)."""
        busy = [worker for worker in self.live if worker.job is not None]
        if not busy:  # only cells other processes hold are left: look again after ``seconds``
            time.sleep(seconds or 0.0)
            return
        ready = wait([worker.connection for worker in busy] + [worker.process.sentinel for worker in busy], seconds)
        for worker in busy:
            if worker.connection in ready or worker.process.sentinel in ready:
                self._collect(worker)
        self._dispatch()

    def _collect(self, worker: _Worker) -> None:
        """Take ``worker``'s answer, or record its cell failed when it died without one."""
        job = worker.job
        assert job is not None
        try:
            if worker.connection.poll():
                status, value = worker.connection.recv()
                worker.job = None
                if status == "ok":
                    job.outcome = value
                else:
                    job.error = value
                return
        except (EOFError, OSError):
            pass
        worker.process.join(timeout=5)
        code = worker.process.exitcode
        how = (f"was killed by {signal.Signals(-code).name}" if code is not None and code < 0
               else f"exited with status {code}")
        worker.job = None
        self.live.remove(worker)
        worker.connection.close()
        job.outcome = record_failure(job.cell, self.task.store, self.task.since,
                                     f"WorkerDied: the worker process (pid {worker.process.pid}) {how} while running "
                                     f"this cell (SIGKILL: often the out-of-memory killer)")

    def running(self, pending: Sequence[Cell]) -> list[str]:
        return [worker.job.cell.run.label for worker in self.live if worker.job is not None]

    def close(self, cancel: bool) -> None:
        for worker in self.live:
            if cancel:
                worker.process.terminate()
            else:
                try:
                    worker.connection.send(None)
                except OSError:
                    worker.process.terminate()
        for worker in self.live:
            worker.process.join()
            worker.connection.close()
        self.live = []
