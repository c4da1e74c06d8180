"""The run lifecycle every kind of run shares: plan -> execute -> record.

This module knows nothing of GANs, style transfer or images. A *kind* (``ganbench.gan``,
``ganbench.style``) provides suites (:class:`Suite`) whose ``plan`` turns a :class:`RunRequest`
into :class:`PlannedRun` cells, every name and value checked before anything runs
(:func:`check_request` makes the checks every suite shares). :func:`run_cell` claims a cell in the
store and, unless it is recorded already, runs it through :func:`execute`, which wraps what the
cell's ``work`` returns into a record with identity, configuration, provenance and timings; the
record is stored as the cell ends. Engines of every kind run through
:class:`ganbench.engines.EngineRun` (checkpoints, resume and the outcome: finished, diverged or
stopped by the time limit).

A run's id is ``<variant>_<dataset>_seed<k>_<budget>_<hash>``, the hash covering its whole
configuration (its :class:`~ganbench.execution.Execution` included: thread count and precision
change the numbers), so a re-run with other settings never mistakes an old result for its own.

:func:`shard` takes a deterministic slice of a matrix, for schedulers that start one command per
slice; :func:`ganbench.launch.run_suite` runs the cells of a matrix.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from ganbench.budgets import BUDGETS, Budget
from ganbench.errors import UserError, command, option
from ganbench.execution import Execution
from ganbench.handlers import checkpoint_files
from ganbench.preemption import Preempted
from ganbench.provenance import device_description, load_average, software, utc_now
from ganbench.options import Option, OptionValueError
from ganbench.registry import Registry
from ganbench.records import FINAL_STATUSES
from ganbench.results import Claim, ResultsStore, atomic_write_text, file_safe
from ganbench.settings import parse_assignments


@dataclass(frozen=True)
class RunRequest:
    """What a front end asks of a suite; ``None`` means the suite's default.

    ``variants`` picks entries of the suite's first axis (GAN variants, style presets);
    ``overrides`` maps a scope (a variant, ``eval``, ``style``, ``*``) to ``{setting: text}`` from
    the ``set`` option. ``options`` holds the options only some kinds take (see
    :attr:`Suite.options`), keyed by option name (``datasets``, ``content``, ...): a suite refuses
    options it does not declare.
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
    options: tuple[Option, ...]  # the options of its kind, which its requests' ``options`` may carry

    def plan(self, request: RunRequest) -> list[PlannedRun]:
        """Every run of the matrix; raises ``UserError`` on any bad name or value, before anything runs."""

    def matrix(self) -> str:
        """One line describing the matrix, for ``ganbench list``."""

    def resolved_settings(self, scope: str, budget: str) -> tuple[Mapping[str, Any], dict[str, Any]]:
        """The schema and values of ``scope`` (a variant or preset, ``eval``, ``style``) that a run
        of this suite at ``budget`` uses, before any ``set`` option; ``UserError`` for an unknown scope."""


SUITES: Registry[Suite] = Registry("suite")
DEFAULT_SUITE = "toy"  # the suite a run names when it names none


def _shard_text(text: str) -> tuple[int, int]:
    """``I/N`` -> ``(I, N)``, with 1 <= I <= N."""
    number, _, count = text.partition("/")
    try:
        parsed = int(number), int(count)
    except ValueError:
        parsed = (0, 0)
    if not 1 <= parsed[0] <= parsed[1]:
        raise OptionValueError(f"invalid value {text!r}: give I/N with 1 <= I <= N, e.g. 1/4")
    return parsed


REQUEST_OPTIONS = (
    Option("suite", f"suite name (default: {DEFAULT_SUITE}; see `{command('list', 'suites')}`)",
           default=DEFAULT_SUITE),
    Option("budget", "training length: smoke (seconds), quick (minutes on a CPU), equal (the CPU comparison at equal "
           "images: the same training images for every variant, 5 seeds), equal-flops (the same at equal training "
           "FLOPs), converged (equal, 33 times as long, meant to reach a plateau; for a GPU), standard (about an hour "
           "on a GPU), paper (published schedules); default: the suite's",
           choices=tuple(BUDGETS)),
    Option("iterations", "generator iterations per run, replacing the budget's", parse=int),
    Option("time_limit", "stop each run's training after this many seconds (recorded as stopped_by: time_limit)",
           parse=float, metavar="SECONDS"),
    Option("seeds", "number of seeds, 0..N-1 (default: the suite's)", parse=int),
    Option("variants", "comma-separated variants (default: the suite's)", given="list"),
    Option("set", f"override a setting, e.g. {option('set', 'dcgan.lr_d=1e-4')}, {option('set', 'n_critic=2')}, "
           f"{option('set', 'eval.samples=5000')}; repeatable (see `{command('list', settings='VARIANT')}`)",
           given="repeated", default=(), metavar="[VARIANT.]KEY=VALUE"),
    Option("data_root", "folder holding the datasets (default: $GANBENCH_DATA, else ~/.cache/ganbench/data)",
           group="data"),
    Option("download", "download missing datasets and Inception weights (needs network access)", group="data",
           given="switch", default=False),
    Option("inception_weights", "torch-fidelity's Inception weights file for the inception backbone (default: the "
           f"torch hub cache); same as {option('set', 'eval.inception_weights=PATH')}", group="data",
           metavar="PATH"),
    Option("shard", "run only shard I of N of the matrix (a fixed slice by run id), e.g. one per machine; join "
           f"the folders with `{command('merge')}`", group="cluster", parse=_shard_text, metavar="I/N"),
)
"""The options of every run request (:func:`request_from`) and of the slice of its matrix (:func:`shard`)."""


def kind_options() -> dict[str, tuple[str, Option]]:
    """The options the registered suites declare, by name: (the kind declaring it first, the option)."""
    declared: dict[str, tuple[str, Option]] = {}
    for _, suite in SUITES.items():
        for declaration in suite.options:
            declared.setdefault(declaration.name, (suite.kind, declaration))
    return declared


def request_from(values: Mapping[str, Any], budget: str, execution: Execution) -> RunRequest:
    """The request that option ``values`` (by name: :data:`REQUEST_OPTIONS` and every kind's)
    make at ``budget``: ``inception_weights`` becomes ``set eval.inception_weights``, a data root
    not given is ``$GANBENCH_DATA``, and the kinds' options given (not None, empty or their default)
    go to ``options``, for the suite to take or refuse."""
    assignments = list(values.get("set") or [])
    if values.get("inception_weights"):
        assignments.append(f"eval.inception_weights={Path(values['inception_weights']).expanduser().resolve()}")
    given = {name: values[name] for name, (_, declaration) in kind_options().items()
             if values.get(name) not in (None, [], ()) and values[name] != declaration.default}
    return RunRequest(
        budget=budget, seeds=values.get("seeds"), variants=values.get("variants"),
        overrides=parse_assignments(assignments), data_root=values.get("data_root") or os.environ.get("GANBENCH_DATA"),
        download=bool(values.get("download")), iterations=values.get("iterations"),
        time_limit=values.get("time_limit"), options=given, execution=execution,
    )


def check_request(suite: Suite, request: RunRequest) -> None:
    """The checks every suite makes first: a known budget, positive seed count, length and time
    limit, and only options of the suite's kind."""
    if request.budget not in suite.budgets:
        raise UserError(f"unknown budget {request.budget!r}; choose one of: {', '.join(suite.budgets)}")
    if request.seeds is not None and request.seeds < 1:
        raise UserError(f"{option('seeds')} must be a positive number of seeds, got {request.seeds}")
    if request.iterations is not None and request.iterations < 1:
        raise UserError(f"{option('iterations')} must be a positive number of iterations, got {request.iterations}")
    if request.time_limit is not None and request.time_limit <= 0:
        raise UserError(f"{option('time_limit')} must be a positive number of seconds, got {request.time_limit:g}")
    lists = {"variants": request.variants, **request.options}
    for name, values in lists.items():
        if isinstance(values, (list, tuple)):
            check_names(name, [str(value) for value in values])
    takes = [declaration.name for declaration in suite.options]
    foreign = [name for name in request.options if name not in takes]
    if foreign:
        owners = sorted({s.name for _, s in SUITES.items() if set(foreign) & {o.name for o in s.options}})
        raise UserError(f"{', '.join(map(option, foreign))} {'is' if len(foreign) == 1 else 'are'} not an option of "
                        f"suite {suite.name} ({suite.kind} runs) but of suites {', '.join(owners)}; suite "
                        f"{suite.name} takes: {', '.join(map(option, takes)) or 'no such options'}")


def check_names(name: str, names: Sequence[str]) -> None:
    """List option ``name`` (``variants``: ``a,b``) must name something, with no empty name and none twice."""
    if not names or not all(names):
        raise UserError(f"{option(name)} has an empty name ({','.join(names) or 'nothing'}); give comma-separated "
                        f"names, e.g. {option(name, 'a,b')}, or leave {option(name)} out for the suite's")
    twice = [given for index, given in enumerate(names) if given in names[:index]]
    if twice:
        raise UserError(f"{option(name)} names {twice[0]} twice; give each name once")


def run_id_for(variant: str, dataset: str, seed: int, budget: str, config: Mapping[str, Any]) -> str:
    """``<variant>_<dataset>_seed<k>_<budget>_<hash>``, the hash 8 hex digits of the SHA-256 of
    the run's JSON configuration. The id names the run's folder, so characters outside
    ``A-Z a-z 0-9 . _ + -`` (the slashes of a ``folder:PATH`` dataset) become ``-``: one folder
    under ``runs/``, where the store finds its record."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=list).encode()).hexdigest()[:8]
    return file_safe(f"{variant}_{dataset}_seed{seed}_{budget}_{digest}")


@dataclass
class RunContext:
    """What a run's ``work`` gets: its folder, device, whether to draw a progress bar, the
    provenance it may add to (e.g. the data it loaded), and the ``initializer`` a process it starts
    runs first (see :func:`ganbench.execution.data_parallel`)."""

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
    except (KeyboardInterrupt, Preempted, UserError):
        raise
    except Exception as error:  # noqa: BLE001 - one broken run must not stop the suite
        record.update(status="failed", error=f"{type(error).__name__}: {error}")
        try:
            atomic_write_text(run_dir / "error.txt", traceback.format_exc())
            record["artifacts"]["error"] = str((run_dir / "error.txt").relative_to(store.root))
        except OSError as unwritable:
            record["error"] += (f" (and {run_dir / 'error.txt'} could not be written: "
                                f"{unwritable.strerror or unwritable})")
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
        raise UserError(f"{option('shard', f'{number}/{count}')}: give I/N with 1 <= I <= N, "
                        f"e.g. {option('shard', '1/4')}")
    by_id = sorted(cells, key=lambda cell: cell.run.run_id)
    chosen = {cell.run.run_id for cell in by_id[number - 1::count]}
    return [cell for cell in cells if cell.run.run_id in chosen]


def use_device(device: torch.device) -> None:
    """Make ``device`` this process's current CUDA device (``torch.cuda.set_device``) when it is
    one, so that what is built on ``cuda`` without an index (torch-fidelity's feature extractor,
    CUDA streams) lands on it, not on ``cuda:0``; nothing for other devices."""
    if device.type == "cuda":
        torch.cuda.set_device(device)


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
    process. Returns without running when another live process holds the claim, or took it over
    while this one ran (its record is then not written). The device is made the current CUDA
    device first (:func:`use_device`), so that everything the run builds lands on it."""
    use_device(device)
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
        if not claim.held():  # taken over meanwhile (judged stale): the new holder's record counts
            return CellOutcome(holder=store.holder_of(cell.run.run_id) or {"age_seconds": 0.0})
        store.add(record)
        if record["status"] in FINAL_STATUSES and not keep_checkpoints:
            remove_checkpoints(checkpoints)
    return CellOutcome(record=record, ran_here=True)
