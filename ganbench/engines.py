"""The run skeleton every kind fills in: the planned cell (:class:`RunCell`) and its engine run
(:class:`EngineRun`).

A kind's run cell (``GanRun``, ``StyleRun``) is a :class:`RunCell`: the fields every kind has
(suite, seed, budget, length, checkpoint interval, time limit, settings, :class:`Execution`),
from which this module makes the record's identity, the configuration with its execution, the
run id and the label; the kind adds its own fields, names its variant and dataset, gives its part
of the configuration and does the ``work``.

The work runs an Ignite engine through :class:`EngineRun`, which attaches what every kind's
engine has (loss history, divergence check, time limit, iteration timer, progress bar,
checkpoints with resume from the newest), runs it, writes ``losses.csv`` and gives the outcome
fields every record has (finished, diverged or stopped by the time limit). The kind builds the
engine and its own handlers, and evaluates the result.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import ignite.distributed as idist
import torch
from ignite.engine import Engine, Events

from ganbench.handlers import (
    Divergence,
    IterationTimer,
    LossHistory,
    TimeLimit,
    checkpointer,
    progress_bar,
    resume_from_checkpoint,
)
from ganbench.results import atomic_write_text
from ganbench.execution import Execution
from ganbench.preemption import StopOnRequest
from ganbench.runs import RunContext, run_id_for


@dataclass(frozen=True, kw_only=True)
class RunCell(ABC):
    """One cell of a suite's matrix, resolved and checked: the part every kind has (a
    :class:`~ganbench.runs.PlannedRun` once the kind adds :attr:`names`, :meth:`kind_config` and
    :meth:`work`). A kind's cell is a frozen dataclass deriving from this one, with ``kind`` its
    kind's name; these fields are keyword-only.

    Args:
        suite: the suite's name.
        seed: the run's seed.
        budget: the budget's name.
        iterations: the planned length (training iterations, optimiser steps).
        checkpoint_every: iterations between checkpoints (0: a tenth of the run).
        max_seconds: wall-time limit of the engine run (None: none).
        settings: the resolved settings of the variant or preset; ``diverge_above`` (when present)
            bounds the step's outputs (see :class:`~ganbench.handlers.Divergence`).
        execution: how the run computes; its configuration goes into :meth:`config`.
    """

    kind: ClassVar[str]

    suite: str
    seed: int
    budget: str
    iterations: int
    checkpoint_every: int
    max_seconds: float | None
    settings: Mapping[str, Any]
    execution: Execution = Execution()

    @property
    @abstractmethod
    def names(self) -> tuple[str, str]:
        """The run's (variant, dataset) as the record's identity and run id give them: a GAN
        variant and its dataset, a style preset and its ``<content>+<style>`` pair."""

    @abstractmethod
    def kind_config(self) -> dict[str, Any]:
        """The kind's part of :meth:`config`: everything that decides the numbers, as JSON-able values."""

    @abstractmethod
    def work(self, context: RunContext) -> dict[str, Any]:
        """Do the run in ``context.run_dir``; return its outcome (see :class:`~ganbench.runs.PlannedRun`)."""

    def config(self) -> dict[str, Any]:
        """The JSON-able configuration stored in the record and hashed into the run id:
        :meth:`kind_config`, then ``execution``."""
        return {**self.kind_config(), "execution": self.execution.config()}

    @property
    def run_id(self) -> str:
        variant, dataset = self.names
        return run_id_for(variant, dataset, self.seed, self.budget, self.config())

    @property
    def label(self) -> str:
        variant, dataset = self.names
        return f"{variant} {dataset} seed {self.seed}"

    @property
    def identity(self) -> dict[str, Any]:
        """The record's first fields: kind, suite, variant, dataset, seed and budget."""
        variant, dataset = self.names
        return {"kind": self.kind, "suite": self.suite, "variant": variant, "dataset": dataset, "seed": self.seed,
                "budget": self.budget}


class _QuietEngineErrors(logging.Filter):
    """Drops ignite's ``Engine run is terminating due to exception: ...`` log line: an interrupt
    ends in the command's own message, a failure in the run's record and ``error.txt``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "run is terminating due to exception" not in record.getMessage()


_QUIET_ENGINE_ERRORS = _QuietEngineErrors()


@dataclass
class EngineRun:
    """An engine run to its planned length with the handlers every kind's engine has, and the
    files and record fields it leaves; :meth:`of` makes one from a :class:`RunCell`.

    Made, it has attached to ``engine``, in this order: ``losses``, the divergence check, the time
    limit (with ``max_seconds``) and the iteration timer (:attr:`timer`); the handlers the kind
    attaches next run after these. :meth:`run` then attaches the progress bar and the
    checkpointer (last, so that a checkpoint holds the state after every handler of its
    iteration) with :class:`~ganbench.preemption.StopOnRequest` after it (a requested stop writes
    a checkpoint and ends the run there), resumes from the newest checkpoint and runs to
    ``iterations``; :meth:`write_losses` writes ``losses.csv`` and :meth:`outcome` gives the record's fields.

    Args:
        engine: the kind's engine: one iteration is one training or optimiser step, whose output
            is a dict of the step's numbers (its losses), each a float.
        losses: the step log, attached to ``ITERATION_COMPLETED`` here, checkpointed as
            ``losses`` and written by :meth:`write_losses`.
        state: what else a checkpoint holds, besides the engine (``trainer``), ``losses`` and the
            timer (``timer``): ``{name: object with state_dict/load_state_dict}``, e.g. the
            networks and optimisers.
        run_dir: the run's folder: checkpoints go to ``run_dir/checkpoints``, the log to
            ``run_dir/losses.csv``.
        device: where the engine computes (the timer synchronises CUDA and measures its memory).
        iterations: the planned length.
        checkpoint_every: iterations between checkpoints (0: a tenth of the run).
        max_seconds: wall-time limit in seconds (None: none); see :class:`~ganbench.handlers.TimeLimit`.
        divergence: stops the run when a number of the step's output is non-finite or too large.
        progress: the label and the step-output keys of the run's progress bar (None: no bar).
    """

    engine: Engine
    losses: LossHistory
    state: Mapping[str, Any]
    run_dir: Path
    device: torch.device
    iterations: int
    checkpoint_every: int = 0
    max_seconds: float | None = None
    divergence: Divergence = field(default_factory=Divergence)
    progress: tuple[str, Sequence[str]] | None = None
    timer: IterationTimer = field(init=False)
    time_limit: TimeLimit | None = field(init=False, default=None)
    resumed_from: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if _QUIET_ENGINE_ERRORS not in self.engine.logger.filters:
            self.engine.logger.addFilter(_QUIET_ENGINE_ERRORS)
        self.engine.add_event_handler(Events.ITERATION_COMPLETED, self.losses)
        self.engine.add_event_handler(Events.ITERATION_COMPLETED, self.divergence)
        if self.max_seconds is not None:
            self.time_limit = TimeLimit(self.max_seconds).attach(self.engine)
        self.timer = IterationTimer(self.device, warmup=min(5, self.iterations // 4)).attach(self.engine)

    @classmethod
    def of(cls, cell: RunCell, engine: Engine, losses: LossHistory, state: Mapping[str, Any], run_dir: Path,
           device: torch.device, progress: Sequence[str] | None = None) -> EngineRun:
        """The engine run of ``cell``: its length, checkpoint interval, time limit and
        ``diverge_above`` setting, the bar (when ``progress`` names the step outputs it shows)
        labelled with the cell's label; the other arguments as the class's."""
        return cls(engine, losses, state, run_dir, device, cell.iterations, cell.checkpoint_every, cell.max_seconds,
                   Divergence(cell.settings.get("diverge_above")),
                   None if progress is None else (cell.label, tuple(progress)))

    @property
    def to_save(self) -> dict[str, Any]:
        """What a checkpoint holds: ``trainer`` (the engine), ``losses``, ``timer`` and ``state``."""
        return {"trainer": self.engine, "losses": self.losses, "timer": self.timer, **self.state}

    def run(self) -> EngineRun:
        """Resume from the newest checkpoint and run to ``iterations``. In a data-parallel run
        (:func:`~ganbench.execution.data_parallel`) every process resumes from the same file and only
        rank 0 writes checkpoints."""
        if self.progress is not None:
            label, keys = self.progress
            bar, transform = progress_bar(label, tuple(keys))
            bar.attach(self.engine, output_transform=transform)
        directory = self.run_dir / "checkpoints"
        every = self.checkpoint_every or max(1, self.iterations // 10)
        to_save = self.to_save
        save = checkpointer(to_save, directory) if idist.get_rank() == 0 else None
        if save is not None:
            self.engine.add_event_handler(Events.ITERATION_COMPLETED(every=every), save)
        StopOnRequest(save).attach(self.engine)
        self.resumed_from = resume_from_checkpoint(to_save, directory)
        if self.resumed_from < self.iterations:
            self.engine.run(None, max_epochs=1, epoch_length=self.iterations)
        return self

    def write_losses(self) -> Path:
        """Write the step log to ``run_dir/losses.csv`` (one row per logged step, a column per
        key); its path."""
        path = self.run_dir / "losses.csv"
        atomic_write_text(path, self.losses.to_csv())
        return path

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
