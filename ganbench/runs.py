"""The run lifecycle every kind of run shares: plan -> execute -> record.

This module knows nothing of GANs, style transfer or images. A *kind* (``ganbench.gan``,
``ganbench.style``) provides suites (:class:`Suite`) whose ``plan`` turns a :class:`RunRequest`
into :class:`PlannedRun` cells, every name and value checked before anything runs; this module
checks the request's common fields, runs each cell (skipping those already recorded), wraps what
the cell's ``work`` returns into a record with identity, configuration, provenance and timings,
and stores it. Engines of every kind run through :class:`ganbench.engines.EngineRun` (checkpoints, resume and
the outcome: finished, diverged or stopped by the time limit).

A run's id is ``<variant>_<dataset>_seed<k>_<budget>_<hash>``, the hash covering its whole
configuration (its :class:`Execution` included: thread count and precision change the numbers),
so a re-run with other settings never mistakes an old result for its own.

:func:`run_suite` runs the cells one after another in this process, or in ``jobs`` worker
processes; either way each cell runs only while this process holds its claim in the store (see
:mod:`ganbench.results`), so any number of commands may share one output folder: a cell claimed
by another live process is waited for, not run twice. :func:`shard` takes a deterministic slice
of a matrix, for schedulers that start one command per slice.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import hashlib
import json
import logging
import multiprocessing
import os
import signal
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import ignite.distributed as idist
import torch
from torch import nn

from ganbench.budgets import Budget
from ganbench.errors import UserError
from ganbench.handlers import checkpoint_files
from ganbench.provenance import device_description, load_average, software, utc_now
from ganbench.registry import Registry
from ganbench.results import FINAL_STATUSES, Claim, ResultsStore, atomic_write_text, file_safe

PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class Execution:
    """How a run computes, as opposed to what it computes; part of its configuration and run id
    because each of these changes the numbers (the thread count changes the order of floating-point
    sums, so a 1-thread and a 2-thread run of one seed differ).

    ``threads``: torch's intra-op threads in the process running the cell (1 by default, whatever
    ``--jobs``, so ``--jobs N`` reproduces a serial run). ``precision``: ``fp32``; ``bf16`` autocast
    (CPU and CUDA); ``fp16`` autocast with a gradient scaler (CUDA only). ``channels_last``: image
    networks and batches in NHWC memory format. ``compile``: the networks through ``torch.compile``.
    ``processes``: data-parallel processes training the run together (``--nproc-per-node``; see
    :func:`data_parallel`), each with ``threads`` threads; left out of :meth:`config` when 1, so the
    run ids of single-process runs are those they had before the setting existed.
    """

    threads: int = 1
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    processes: int = 1

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise UserError(f"--threads must be a positive number of threads, got {self.threads}")
        if self.precision not in PRECISIONS:
            raise UserError(f"unknown precision {self.precision!r}; choose one of: {', '.join(PRECISIONS)}")
        if self.processes < 1:
            raise UserError(f"--nproc-per-node must be a positive number of processes, got {self.processes}")

    def config(self) -> dict[str, Any]:
        config = asdict(self)
        if self.processes == 1:
            del config["processes"]
        return config

    def autocast(self, device: torch.device) -> Any:
        """A context that runs what it holds in ``precision`` on ``device`` (autocast; nothing for fp32)."""
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=torch.bfloat16 if self.precision == "bf16" else torch.float16)

    def grad_scaler(self, device: torch.device) -> torch.amp.GradScaler | None:
        """The gradient scaler fp16 needs (None for fp32 and bf16, whose range is fp32's)."""
        return torch.amp.GradScaler(device.type) if self.precision == "fp16" else None

    def check_device(self, device: torch.device) -> None:
        """fp16 on a device without CUDA is a :class:`UserError` naming the fix."""
        if self.precision == "fp16" and device.type != "cuda":
            raise UserError(f"--amp fp16 needs a CUDA device (its gradient scaler), not {device.type}; "
                            f"use --amp bf16")

    def prepare(self, module: nn.Module, compiled: Sequence[nn.Module] = ()) -> nn.Module:
        """``module`` in channels-last memory format, and ``compiled`` (default: ``module``) compiled
        by ``torch.compile``, as the settings ask; in place."""
        if self.channels_last:
            module.to(memory_format=torch.channels_last)
        if self.compile:
            for part in compiled or (module,):
                part.compile()
        return module

@dataclass(frozen=True)
class RunRequest:
    """What the command line asks of a suite; ``None`` means the suite's default.

    ``variants`` picks entries of the suite's first axis (GAN variants, style presets);
    ``overrides`` maps a scope (a variant, ``eval``, ``style``, ``*``) to ``{setting: text}`` from
    ``--set``. ``options`` holds the options only some kinds take, keyed by their command-line
    flag (``--datasets``, ``--content``, ...): a suite refuses flags it does not declare.
    """

    budget: str
    seeds: int | None = None
    variants: Sequence[str] | None = None
    overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    data_root: str | None = None
    download: bool = False
    iterations: int | None = None
    time_limit: float | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    execution: Execution = field(default_factory=Execution)


class PlannedRun(Protocol):
    """One cell of a suite's matrix, resolved and checked, ready to execute (and picklable, to
    execute in a worker process)."""

    identity: Mapping[str, Any]  # kind, suite, variant, dataset, seed, budget: the record's first fields
    execution: Execution  # stored in its config under "execution"

    @property
    def run_id(self) -> str: ...

    @property
    def label(self) -> str:
        """A short human name, e.g. ``dcgan mnist seed 0``."""

    def config(self) -> dict[str, Any]:
        """The JSON-able configuration stored in the record (and hashed into the run id)."""

    def work(self, context: RunContext) -> dict[str, Any]:
        """Do the run in ``context.run_dir``; return its outcome (status, metrics, throughput,
        artifacts as paths, ...), adding what it learns to ``context.provenance``."""


class Suite(Protocol):
    """A named matrix of runs of one kind."""

    name: str
    kind: str
    summary: str
    seeds: int
    budgets: Mapping[str, Budget]
    default_budget: str
    options: tuple[str, ...]  # the kind-specific command-line flags its requests may carry

    def plan(self, request: RunRequest) -> list[PlannedRun]:
        """Every run of the matrix; raises ``UserError`` on any bad name or value, before anything runs."""

    def matrix(self) -> str:
        """One line describing the matrix, for ``ganbench list``."""

    def resolved_settings(self, scope: str, budget: str) -> tuple[Mapping[str, Any], dict[str, Any]]:
        """The schema and values of ``scope`` (a variant or preset, ``eval``, ``style``) that a run
        of this suite at ``budget`` uses, before any ``--set``; ``UserError`` for an unknown scope."""


SUITES: Registry[Suite] = Registry("suite")


def check_request(suite: Suite, request: RunRequest) -> None:
    """The checks every suite makes first: a known budget, positive seed count, length and time
    limit, and only options of the suite's kind."""
    if request.budget not in suite.budgets:
        raise UserError(f"unknown budget {request.budget!r}; choose one of: {', '.join(suite.budgets)}")
    if request.seeds is not None and request.seeds < 1:
        raise UserError(f"--seeds must be a positive number of seeds, got {request.seeds}")
    if request.iterations is not None and request.iterations < 1:
        raise UserError(f"--iterations must be a positive number of iterations, got {request.iterations}")
    if request.time_limit is not None and request.time_limit <= 0:
        raise UserError(f"--time-limit must be a positive number of seconds, got {request.time_limit:g}")
    lists = {"--variants": request.variants, **request.options}
    for flag, values in lists.items():
        if isinstance(values, (list, tuple)):
            check_names(flag, [str(value) for value in values])
    foreign = [flag for flag in request.options if flag not in suite.options]
    if foreign:
        owners = sorted({s.name for _, s in SUITES.items() if set(foreign) & set(s.options)})
        raise UserError(f"{', '.join(foreign)} {'is' if len(foreign) == 1 else 'are'} not an option of suite "
                        f"{suite.name} ({suite.kind} runs) but of suites {', '.join(owners)}; suite {suite.name} "
                        f"takes: {', '.join(suite.options) or 'no such options'}")


def check_names(flag: str, names: Sequence[str]) -> None:
    """A list option (``--variants a,b``) must name something, with no empty name and none twice."""
    if not names or not all(names):
        raise UserError(f"{flag} has an empty name ({','.join(names) or 'nothing'}); give comma-separated names, "
                        f"e.g. {flag} a,b, or leave {flag} out for the suite's")
    twice = [name for index, name in enumerate(names) if name in names[:index]]
    if twice:
        raise UserError(f"{flag} names {twice[0]} twice; give each name once")


def run_id_for(variant: str, dataset: str, seed: int, budget: str, config: Mapping[str, Any]) -> str:
    """``<variant>_<dataset>_seed<k>_<budget>_<hash>``, the hash 8 hex digits of the SHA-256 of
    the run's JSON configuration. The id names the run's folder, so characters outside
    ``A-Z a-z 0-9 . _ + -`` (the slashes of a ``folder:PATH`` dataset) become ``-``: one folder
    under ``runs/``, where the store finds its record."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=list).encode()).hexdigest()[:8]
    return file_safe(f"{variant}_{dataset}_seed{seed}_{budget}_{digest}")


def available_devices() -> list[str]:
    """The devices this machine can run on: ``cpu``, then ``cuda:0`` ... ``cuda:N-1``, then ``mps``."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{index}" for index in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def resolve_device(name: str) -> torch.device:
    """``auto`` (the first CUDA device when there is one, else CPU), or one of
    :func:`available_devices` (``cuda`` meaning ``cuda:0``); anything else, including a device
    this machine lacks, is a :class:`UserError` naming those it has."""
    available = available_devices()
    if name == "auto":
        return torch.device(available[1] if len(available) > 1 and available[1].startswith("cuda") else "cpu")
    wanted = "cuda:0" if name == "cuda" else name
    if wanted not in available:
        raise UserError(f"--device {name} is not a device of this machine; it has: {', '.join(available)} "
                        "(or use --device auto)")
    return torch.device(wanted)


@dataclass
class RunContext:
    """What a run's ``work`` gets: its folder, device, whether to draw a progress bar, the
    provenance it may add to (e.g. the data it loaded), and the ``initializer`` a process it starts
    runs first (see :func:`data_parallel`)."""

    run_dir: Path
    device: torch.device
    progress: bool
    provenance: dict[str, Any]
    initializer: Callable[[], None] | None = None


def execute(run: PlannedRun, store: ResultsStore, device: torch.device, progress: bool = False,
            restart: bool = False, initializer: Callable[[], None] | None = None) -> dict[str, Any]:
    """Do one run and return its record (not yet stored): ``run.work`` wrapped with identity,
    configuration, provenance and timings.

    ``restart`` deletes the run's checkpoints first (the caller deletes those of a run that ended
    once its record is stored). ``initializer`` (registering what runs need by name) goes to the
    run's context, for processes the run starts. An exception other than ``UserError`` or an interrupt ends the run
    ``failed``, with the traceback in ``runs/<id>/error.txt`` (noted in the record's ``error`` when
    that file cannot be written).
    """
    run_dir = store.run_dir(run.run_id)
    checkpoint_dir = run_dir / "checkpoints"
    torch.set_num_threads(run.execution.threads)
    if restart:
        for stale in checkpoint_files(checkpoint_dir):
            stale.unlink()
    # Engines, networks and their handlers form reference cycles; free the last run's now, so that
    # this run's peak memory (process RSS on a CPU) does not count them.
    gc.collect()
    clock = time.perf_counter()
    record: dict[str, Any] = {
        "run_id": run.run_id,
        **run.identity,
        "config": run.config(),
        "provenance": {**software(), "device": device_description(device), "started_utc": utc_now(),
                       "load_start": load_average()},
        "metrics": {},
        "throughput": {},
        "artifacts": {},
    }
    try:
        record.update(run.work(RunContext(run_dir, device, progress, record["provenance"], initializer)))
    except (KeyboardInterrupt, UserError):
        raise
    except Exception as error:  # noqa: BLE001 - one broken run must not stop the suite
        record.update(status="failed", error=f"{type(error).__name__}: {error}")
        try:
            atomic_write_text(run_dir / "error.txt", traceback.format_exc())
            record["artifacts"]["error"] = str((run_dir / "error.txt").relative_to(store.root))
        except OSError as unwritable:
            record["error"] += f" (and {run_dir / 'error.txt'} could not be written: {unwritable.strerror or unwritable})"
    record["provenance"].update(finished_utc=utc_now(), load_end=load_average())
    record["elapsed_seconds"] = time.perf_counter() - clock
    for name, path in list(record["artifacts"].items()):
        if isinstance(path, Path):
            record["artifacts"][name] = str(path.relative_to(store.root))
    return record


def remove_checkpoints(directory: Path) -> None:
    """Delete the checkpoints ganbench wrote in ``directory``, and the folder when nothing else is
    left in it (a file ganbench did not write is kept)."""
    for path in checkpoint_files(directory):
        path.unlink(missing_ok=True)
    if directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()


def data_parallel(function: Callable[..., Any], processes: int, device: torch.device,
                  initializer: Callable[[], None] | None, *args: Any) -> Any:
    """``function(*args)`` in ``processes`` spawned processes of one ``ignite.distributed`` group
    (``idist.Parallel``: gloo on a CPU, nccl on CUDA, a free local port), returning rank 0's
    result. Each process runs ``initializer`` first; ``function`` finds its rank with
    ``idist.get_rank()`` and must make the same collective calls in every process. An exception in
    rank 0 is raised here; one in another rank stops the group (torch's spawn ends the other
    processes) and is raised as torch reports it."""
    if device.type == "cuda" and processes > torch.cuda.device_count():
        raise UserError(f"--nproc-per-node {processes} needs {processes} GPUs; this machine has "
                        f"{torch.cuda.device_count()}")
    results = torch.multiprocessing.get_context("spawn").SimpleQueue()
    logging.getLogger("ignite.distributed.launcher.Parallel").setLevel(logging.WARNING)  # its INFO lines: spawn details
    try:
        with idist.Parallel(backend="nccl" if device.type == "cuda" else "gloo", nproc_per_node=processes,
                            master_addr="127.0.0.1", master_port=_free_port()) as parallel:
            parallel.run(_data_parallel_process, function, initializer, results, *args)
    except Exception:
        if not results.empty():
            status, value = results.get()
            if status == "error":
                raise value from None
        raise
    if results.empty():
        raise RuntimeError(f"the {processes} data-parallel processes ended without rank 0's result")
    status, value = results.get()
    if status == "error":
        raise value
    return value


def _data_parallel_process(local_rank: int, function: Callable[..., Any], initializer: Callable[[], None] | None,
                           results: Any, *args: Any) -> None:
    if initializer is not None:
        initializer()
    try:
        value = function(*args)
    except Exception as error:
        if idist.get_rank() == 0:
            try:
                results.put(("error", error))
            except Exception:  # noqa: BLE001 - an exception that cannot be pickled
                results.put(("error", RuntimeError(f"{type(error).__name__}: {error}")))
        raise
    if idist.get_rank() == 0:
        results.put(("ok", value))


def _free_port() -> int:
    """A TCP port free on this machine now, for the process group's rendezvous."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


@dataclass(frozen=True)
class Cell:
    """A planned run and its place in the whole matrix (``index`` of ``size``, 0-based), which
    its record keeps so that ``records.jsonl`` lists runs in matrix order however they ended."""

    run: PlannedRun
    index: int
    size: int


def cells_of(runs: Sequence[PlannedRun]) -> list[Cell]:
    return [Cell(run, index, len(runs)) for index, run in enumerate(runs)]


def shard(cells: Sequence[Cell], number: int, count: int) -> list[Cell]:
    """Shard ``number`` of ``count`` (1-based): the cells at positions number-1, number-1+count, ...
    of the matrix sorted by run id, in matrix order. Every cell is in exactly one shard, shards
    differ in size by at most one, and the slice depends only on the run ids."""
    if count < 1 or not 1 <= number <= count:
        raise UserError(f"--shard {number}/{count}: give I/N with 1 <= I <= N, e.g. --shard 1/4")
    by_id = sorted(cells, key=lambda cell: cell.run.run_id)
    chosen = {cell.run.run_id for cell in by_id[number - 1::count]}
    return [cell for cell in cells if cell.run.run_id in chosen]


def default_jobs(device: torch.device) -> int:
    """Worker processes for ``--jobs auto``: ``$GANBENCH_JOBS`` if set; else one per usable core on a
    CPU (each cell on one thread: these models gain little from a second thread, and threads of
    processes sharing cores wait for each other); one on a GPU (cells share the device badly)."""
    if os.environ.get("GANBENCH_JOBS"):
        try:
            jobs = int(os.environ["GANBENCH_JOBS"])
        except ValueError:
            jobs = 0
        if jobs < 1:
            raise UserError(f"GANBENCH_JOBS must be a positive number of processes, got {os.environ['GANBENCH_JOBS']!r}")
        return jobs
    if device.type != "cpu":
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass(frozen=True)
class CellOutcome:
    """What became of a cell: its ``record`` (``ran_here`` when this process ran it, else another
    process recorded it while this command ran, or before: ``skipped``), or the ``holder`` of its
    live claim."""

    record: dict[str, Any] | None = None
    ran_here: bool = False
    skipped: bool = False
    holder: dict[str, Any] | None = None


def run_cell(cell: Cell, store: ResultsStore, device: torch.device, progress: bool, restart: bool,
             keep_checkpoints: bool, since: str, initializer: Callable[[], None] | None = None) -> CellOutcome:
    """Claim ``cell`` and, holding the claim, run it unless it needs no run: an ended record (not
    with ``restart``), or one written since ``since`` (UTC, when this command started) by another
    process. Returns without running when another live process holds the claim."""
    claim = store.claim(cell.run.run_id)
    checkpoints = store.root / "runs" / cell.run.run_id / "checkpoints"
    if not isinstance(claim, Claim):
        return CellOutcome(holder=claim)
    with claim:
        existing = store.record_of(cell.run.run_id)
        if existing is not None:
            finished = existing.get("provenance", {}).get("finished_utc", "")
            if finished >= since:
                return CellOutcome(record=existing)
            if existing.get("status") in FINAL_STATUSES and not restart:
                if not keep_checkpoints:  # left by a process killed between storing the record and this
                    remove_checkpoints(checkpoints)
                return CellOutcome(record=existing, skipped=True)
        record = execute(cell.run, store, device, progress, restart, initializer)
        record["cell"] = {"index": cell.index, "of": cell.size}
        store.add(record)
        if record["status"] in FINAL_STATUSES and not keep_checkpoints:
            remove_checkpoints(checkpoints)
    return CellOutcome(record=record, ran_here=True)


def run_suite(suite: Suite, runs: Sequence[PlannedRun] | Sequence[Cell], store: ResultsStore, device: torch.device,
              progress: bool, restart: bool = False, keep_checkpoints: bool = False,
              summary_line: Callable[[str, dict[str, Any]], str] | None = None, jobs: int = 1,
              worker_init: Callable[[], None] | None = None, poll_seconds: float = 2.0,
              launcher: Callable[[CellTask], Launcher] | None = None, device_name: str | None = None
              ) -> list[dict[str, Any]]:
    """Execute every planned cell not already recorded (finished or diverged) in ``store``, each
    record stored as its run ends, and return the records this call made. ``summary_line(label,
    record)`` makes the line printed per cell.

    ``jobs`` > 1 runs the cells in that many spawned worker processes (``worker_init`` runs first in
    each, and in the data-parallel processes of a run); their own progress bars are off, the suite's bar shows the cells running. ``launcher``
    (given the task every cell runs) runs them elsewhere instead, e.g. on a cluster through submitit;
    its tasks resolve ``device_name`` (default: ``device``) where they run. Cells another
    process holds are waited for (polling every ``poll_seconds``) and reported when recorded; a
    claim whose holder died is taken over.

    Before any cell starts, the records are read and checked, the folders of the cells to do must
    be writable (else :class:`UserError`), and temporary files of killed ganbench processes of this
    machine are removed. A run that ended loses its checkpoints once its record is stored (unless
    ``keep_checkpoints``), so a kill at any moment leaves its checkpoints or its record.
    """
    from ganbench.provenance import utc_now

    cells = [item if isinstance(item, Cell) else Cell(item, index, len(runs)) for index, item in enumerate(runs)]
    since = utc_now()
    ended = store.ended_ids()
    for cell in cells:
        if cell.run.run_id not in ended or restart:
            store.check_run_folder(cell.run.run_id)
    store.remove_stale_temporaries()
    done: list[dict[str, Any]] = []
    describe = summary_line or (lambda label, record: f"{label}: {record['status']}")
    prefixes = {cell.run.run_id: f"[{number}/{len(cells)}]" for number, cell in enumerate(cells, start=1)}
    pending = []
    with MatrixProgress(len(cells), suite.name, progress) as matrix:
        for cell in cells:
            if cell.run.run_id in ended and not restart:
                matrix.done(f"{prefixes[cell.run.run_id]} {cell.run.label}: already in {store.records_path.name}, skipped")
            else:
                pending.append(cell)

        def report(cell: Cell, outcome: CellOutcome) -> bool:
            """Print a cell's line; False when another process holds it (it is waited for)."""
            prefix, label = prefixes[cell.run.run_id], cell.run.label
            if outcome.holder is not None:
                holder = outcome.holder
                matrix.note(f"{prefix} {label}: running in process {holder.get('pid')} on {holder.get('host')} "
                            f"(since {holder.get('started_utc')}); waiting for it")
                return False
            assert outcome.record is not None
            if outcome.ran_here:
                done.append(outcome.record)
                matrix.done(f"{prefix} {describe(label, outcome.record)}")
            elif outcome.skipped:
                matrix.done(f"{prefix} {label}: already in {store.records_path.name}, skipped")
            else:
                matrix.done(f"{prefix} {describe(label, outcome.record)} (run by another process)")
            return True

        workers = min(jobs, len(pending))
        task = CellTask(store, device_name or str(device), restart, keep_checkpoints, since, worker_init)
        if launcher is not None and pending:
            _run_launched(pending, launcher(task), store, matrix, report, poll_seconds)
        elif workers > 1:
            _run_launched(pending, ProcessLauncher(task, workers), store, matrix, report, poll_seconds)
        else:
            _run_serially(pending, store, device, progress, restart, keep_checkpoints, since, matrix, report,
                          poll_seconds, worker_init)
    return done


def _run_serially(pending: list[Cell], store: ResultsStore, device: torch.device, progress: bool, restart: bool,
                  keep_checkpoints: bool, since: str, matrix: MatrixProgress,
                  report: Callable[[Cell, CellOutcome], bool], poll_seconds: float,
                  initializer: Callable[[], None] | None) -> None:
    waiting: list[Cell] = []
    for cell in pending:
        matrix.running([cell.run.label])
        if not report(cell, run_cell(cell, store, device, progress, restart, keep_checkpoints, since, initializer)):
            waiting.append(cell)
    while waiting:
        time.sleep(poll_seconds)
        for cell in list(waiting):
            if store.holder_of(cell.run.run_id) is None:
                matrix.running([cell.run.label])
                outcome = run_cell(cell, store, device, progress, restart, keep_checkpoints, since, initializer)
                if outcome.holder is None:
                    report(cell, outcome)
                    waiting.remove(cell)


class Launcher(Protocol):
    """Runs cells elsewhere: ``start(cells)`` submits them and returns a handle per cell (with
    ``done()`` and ``result()`` -> :class:`CellOutcome`, as a ``concurrent.futures.Future`` or a
    submitit job has); ``wait(handles, seconds)`` returns when one is done or the time is up;
    ``running(pending)`` names the cells running now, for the progress bar."""

    def start(self, cells: Sequence[Cell]) -> list[Any]: ...

    def wait(self, handles: Sequence[Any], seconds: float | None) -> None: ...

    def running(self, pending: Sequence[Cell]) -> list[str]: ...

    def close(self, cancel: bool) -> None: ...


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


class _Pending:
    """A ``multiprocessing`` result with the ``done()``/``result()`` of a future."""

    def __init__(self, result: Any) -> None:
        self._result = result

    def done(self) -> bool:
        return self._result.ready()

    def result(self) -> CellOutcome:
        return self._result.get()


def _ignore_interrupts() -> None:
    """A worker's start: Ctrl-C (sent to the whole process group) is the parent's to handle; it
    terminates the workers, whose cells resume from their checkpoints and whose claims, their
    processes gone, are taken over by the next command. A parent killed outright (SIGTERM,
    SIGKILL: no ``finally`` runs) takes its workers with it on Linux (``PR_SET_PDEATHSIG``), so
    no orphan keeps training a cell nobody waits for."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()


def _die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its parent exits (a no-op elsewhere)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent was already gone before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def wait_for_any(handles: Sequence[Any], seconds: float | None, poll_seconds: float) -> None:
    """Return once one of ``handles`` (anything with ``done()``) is done, or after ``seconds``
    (None: no limit), checking every ``poll_seconds``: :meth:`Launcher.wait` for launchers whose
    handles cannot be waited on together."""
    deadline = None if seconds is None else time.monotonic() + seconds
    while not any(handle.done() for handle in handles):
        if deadline is not None and time.monotonic() >= deadline:
            return
        time.sleep(poll_seconds)


class ProcessLauncher:
    """``workers`` spawned worker processes on this machine (a ``multiprocessing`` pool)."""

    def __init__(self, task: CellTask, workers: int, poll_seconds: float = 0.2) -> None:
        self.task = task
        self.workers = workers
        self.poll_seconds = poll_seconds
        self.pool = multiprocessing.get_context("spawn").Pool(workers, initializer=_ignore_interrupts)

    def start(self, cells: Sequence[Cell]) -> list[_Pending]:
        return [_Pending(self.pool.apply_async(self.task, (cell,))) for cell in cells]

    def wait(self, handles: Sequence[_Pending], seconds: float | None) -> None:
        wait_for_any(handles, seconds, self.poll_seconds)

    def running(self, pending: Sequence[Cell]) -> list[str]:
        # The pool starts cells in submission order: the first ``workers`` not done are running.
        return [cell.run.label for cell in pending[:self.workers]]

    def close(self, cancel: bool) -> None:
        if cancel:
            self.pool.terminate()
        else:
            self.pool.close()
        self.pool.join()


def _run_launched(pending: list[Cell], launcher: Launcher, store: ResultsStore, matrix: MatrixProgress,
                  report: Callable[[Cell, CellOutcome], bool], poll_seconds: float) -> None:
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
            matrix.running(launcher.running([cell for _, cell in submitted.values()]))
            launcher.wait([handle for handle, _ in submitted.values()], poll_seconds if waiting else None)
            for key, (handle, cell) in list(submitted.items()):
                if handle.done():
                    del submitted[key]
                    if not report(cell, handle.result()):
                        waiting.append(cell)
            free = [cell for cell in waiting if store.holder_of(cell.run.run_id) is None]
            if free:
                waiting = [cell for cell in waiting if cell not in free]
                start(free)
        cancel = False
    finally:
        launcher.close(cancel)
