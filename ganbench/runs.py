"""The run lifecycle every kind of run shares: plan -> execute -> record.

This module knows nothing of GANs, style transfer or images. A *kind* (``ganbench.gan``,
``ganbench.style``) provides suites (:class:`Suite`) whose ``plan`` turns a :class:`RunRequest`
into :class:`PlannedRun` cells, every name and value checked before anything runs; this module
checks the request's common fields, runs each cell (skipping those already recorded), wraps what
the cell's ``work`` returns into a record with identity, configuration, provenance and timings,
and stores it. Engines of every kind run through :func:`run_engine` (checkpoints and resume) and
end in :func:`engine_outcome` (finished, diverged or stopped by the time limit).

A run's id is ``<variant>_<dataset>_seed<k>_<budget>_<hash>``, the hash covering its whole
configuration, so a re-run with other settings never mistakes an old result for its own.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from ignite.engine import Engine, Events

from ganbench.budgets import Budget
from ganbench.errors import UserError
from ganbench.handlers import Divergence, TimeLimit, checkpoint_files, checkpointer, resume_from_checkpoint
from ganbench.provenance import device_description, software, utc_now
from ganbench.registry import Registry
from ganbench.results import FINAL_STATUSES, ResultsStore, atomic_write_text

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


class PlannedRun(Protocol):
    """One cell of a suite's matrix, resolved and checked, ready to execute."""

    identity: Mapping[str, Any]  # kind, suite, variant, dataset, seed, budget: the record's first fields

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
    the run's JSON configuration."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=list).encode()).hexdigest()[:8]
    return f"{variant}_{dataset}_seed{seed}_{budget}_{digest}"


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
    """What a run's ``work`` gets: its folder, device, whether to draw a progress bar, and the
    provenance it may add to (e.g. the data it loaded)."""

    run_dir: Path
    device: torch.device
    progress: bool
    provenance: dict[str, Any]


def execute(run: PlannedRun, store: ResultsStore, device: torch.device, progress: bool = False,
            restart: bool = False) -> dict[str, Any]:
    """Do one run and return its record (not yet stored): ``run.work`` wrapped with identity,
    configuration, provenance and timings.

    ``restart`` deletes the run's checkpoints first (the caller deletes those of a run that ended
    once its record is stored). An exception other than ``UserError`` or an interrupt ends the run
    ``failed``, with the traceback in ``runs/<id>/error.txt`` (noted in the record's ``error`` when
    that file cannot be written).
    """
    run_dir = store.run_dir(run.run_id)
    checkpoint_dir = run_dir / "checkpoints"
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
        "provenance": {**software(), "device": device_description(device), "started_utc": utc_now()},
        "metrics": {},
        "throughput": {},
        "artifacts": {},
    }
    try:
        record.update(run.work(RunContext(run_dir, device, progress, record["provenance"])))
    except (KeyboardInterrupt, UserError):
        raise
    except Exception as error:  # noqa: BLE001 - one broken run must not stop the suite
        record.update(status="failed", error=f"{type(error).__name__}: {error}")
        try:
            atomic_write_text(run_dir / "error.txt", traceback.format_exc())
            record["artifacts"]["error"] = str((run_dir / "error.txt").relative_to(store.root))
        except OSError as unwritable:
            record["error"] += f" (and {run_dir / 'error.txt'} could not be written: {unwritable.strerror or unwritable})"
    record["provenance"]["finished_utc"] = utc_now()
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


class _QuietEngineErrors(logging.Filter):
    """Drops ignite's ``Engine run is terminating due to exception: ...`` log line: an interrupt
    ends in the command's own message, a failure in the run's record and ``error.txt``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "run is terminating due to exception" not in record.getMessage()


_QUIET_ENGINE_ERRORS = _QuietEngineErrors()


@dataclass
class EngineRun:
    """An engine with the handlers every kind attaches: divergence check (``divergence``, e.g.
    ``Divergence(settings["diverge_above"])``), optional time limit, checkpoints of ``to_save``
    every ``checkpoint_every`` iterations (0: every tenth of the run) with resume from the newest.
    :meth:`run` runs it to ``iterations``."""

    engine: Engine
    to_save: dict[str, Any]
    run_dir: Path
    iterations: int
    checkpoint_every: int = 0
    max_seconds: float | None = None
    divergence: Divergence = field(default_factory=Divergence)
    time_limit: TimeLimit | None = None
    resumed_from: int = 0

    def __post_init__(self) -> None:
        if _QUIET_ENGINE_ERRORS not in self.engine.logger.filters:
            self.engine.logger.addFilter(_QUIET_ENGINE_ERRORS)
        self.engine.add_event_handler(Events.ITERATION_COMPLETED, self.divergence)
        if self.max_seconds is not None:
            self.time_limit = TimeLimit(self.max_seconds).attach(self.engine)

    def run(self) -> EngineRun:
        directory = self.run_dir / "checkpoints"
        every = self.checkpoint_every or max(1, self.iterations // 10)
        self.engine.add_event_handler(Events.ITERATION_COMPLETED(every=every), checkpointer(self.to_save, directory))
        self.resumed_from = resume_from_checkpoint(self.to_save, directory)
        if self.resumed_from < self.iterations:
            self.engine.run(None, max_epochs=1, epoch_length=self.iterations)
        return self

    def outcome(self, artifacts: dict[str, Any]) -> dict[str, Any]:
        """The record fields every run has once its engine stopped: iterations planned and done,
        where it resumed, its artifacts, and ``status="diverged"`` (with the iteration) or
        ``stopped_by``."""
        outcome: dict[str, Any] = {
            "iterations_planned": self.iterations,
            "iterations_done": self.engine.state.iteration,
            "resumed_from_iteration": self.resumed_from or None,
            "artifacts": artifacts,
        }
        if self.divergence.diverged_at is not None:
            outcome.update(status="diverged", diverged_at=self.divergence.diverged_at, error=self.divergence.reason)
        elif self.time_limit is not None and self.time_limit.reached:
            outcome["stopped_by"] = "time_limit"
        return outcome


class MatrixProgress:
    """The suite's tqdm bar (one step per run of the matrix) above each run's own bar. Lines about
    finished runs go through ``tqdm.write`` so they print above the bars instead of tearing them;
    without a bar they are plain prints."""

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

    def start(self, label: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(label)

    def done(self, line: str) -> None:
        if self.bar is None:
            print(line, flush=True)
            return
        self.bar.write(line)
        self.bar.update(1)


def run_suite(suite: Suite, runs: Sequence[PlannedRun], store: ResultsStore, device: torch.device,
              progress: bool, restart: bool = False, keep_checkpoints: bool = False,
              summary_line: Callable[[str, dict[str, Any]], str] | None = None) -> list[dict[str, Any]]:
    """Execute every planned run not already recorded (finished or diverged) in ``store``, store
    each record as it ends, and return the records of this call. ``summary_line(label, record)``
    makes the line printed per run. A run that ended loses its checkpoints once its record is
    stored (unless ``keep_checkpoints``), so a kill at any moment leaves either its checkpoints or
    its record. Before any run starts, the records are read and checked and
    the folders of the runs to do must be writable (else :class:`UserError`), and temporary files
    of killed ganbench processes are removed."""
    ended = store.ended_ids()
    for run in runs:
        if run.run_id not in ended or restart:
            store.check_run_folder(run.run_id)
    store.remove_stale_temporaries()
    done: list[dict[str, Any]] = []
    describe = summary_line or (lambda label, record: f"{label}: {record['status']}")
    with MatrixProgress(len(runs), suite.name, progress) as matrix:
        for index, run in enumerate(runs, start=1):
            prefix = f"[{index}/{len(runs)}]"
            checkpoints = store.root / "runs" / run.run_id / "checkpoints"
            if run.run_id in ended and not restart:
                if not keep_checkpoints:  # left by a process killed between storing the record and this
                    remove_checkpoints(checkpoints)
                matrix.done(f"{prefix} {run.label}: already in {store.records_path.name}, skipped")
                continue
            matrix.start(run.label)
            record = execute(run, store, device, progress, restart)
            store.add(record)
            if record["status"] in FINAL_STATUSES and not keep_checkpoints:
                remove_checkpoints(checkpoints)
            done.append(record)
            matrix.done(f"{prefix} {describe(run.label, record)}")
    return done
