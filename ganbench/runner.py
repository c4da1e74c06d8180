"""From a suite to records: plan the runs, train each on the Ignite trainer, evaluate, record.

A run's id is ``<variant>_<dataset>_seed<k>_<budget>_<hash>``, the hash covering the resolved
configuration (settings, iterations, evaluation, data split), so a re-run with other settings
never mistakes an old result for its own.
"""

from __future__ import annotations

import gc
import hashlib
import json
import shutil
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Engine, Events

from ganbench import seeding
from ganbench.data import BenchDataset, DataOptions, load_dataset
from ganbench.errors import UserError
from ganbench.metrics import EVALUATION_SETTINGS, EVALUATORS, EvaluationContext
from ganbench.models import VARIANTS
from ganbench.provenance import device_description, software, utc_now
from ganbench.results import ResultsStore, atomic_write_text
from ganbench.settings import resolve
from ganbench.suites import RunRequest, Suite
from ganbench.training import (
    History,
    IterationTimer,
    attach_checkpoints,
    attach_loss_history,
    attach_divergence_check,
    attach_progress_bar,
    attach_time_limit,
    create_gan_trainer,
    resume_from_checkpoint,
)

EVALUATION_SCOPE = "eval"


@dataclass(frozen=True)
class RunSpec:
    """One cell of a suite's matrix, fully resolved."""

    suite: str
    variant: str
    dataset: str
    seed: int
    budget: str
    iterations: int
    checkpoint_every: int
    max_seconds: float | None
    settings: Mapping[str, Any]
    evaluation: Mapping[str, Any]
    evaluators: tuple[str, ...]
    data: DataOptions

    def config(self) -> dict[str, Any]:
        """The JSON-able configuration stored in the record (and hashed into the run id)."""
        data = asdict(self.data)
        return {
            "variant": self.variant,
            "dataset": self.dataset,
            "seed": self.seed,
            "iterations": self.iterations,
            "max_seconds": self.max_seconds,
            "settings": dict(self.settings),
            "evaluation": dict(self.evaluation),
            "evaluators": list(self.evaluators),
            "data": {key: data[key] for key in ("split", "image_size")},
        }

    @property
    def run_id(self) -> str:
        return run_id_for(self.variant, self.dataset, self.seed, self.budget, self.config())

    @property
    def label(self) -> str:
        return f"{self.variant} {self.dataset} seed {self.seed}"

    def execute(self, store: ResultsStore, device: torch.device, progress: bool, restart: bool,
                keep_checkpoints: bool = False) -> dict[str, Any]:
        return execute_run(self, store, device, progress=progress, restart=restart, keep_checkpoints=keep_checkpoints)


def run_id_for(variant: str, dataset: str, seed: int, budget: str, config: Mapping[str, Any]) -> str:
    """``<variant>_<dataset>_seed<k>_<budget>_<hash>``, the hash 8 hex digits of the SHA-256 of
    the run's JSON configuration."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=list).encode()).hexdigest()[:8]
    return f"{variant}_{dataset}_seed{seed}_{budget}_{digest}"


def check_request(request: RunRequest, budgets: Sequence[str]) -> None:
    """The checks every suite makes first: a known budget, positive seed count, length and time limit."""
    if request.budget not in budgets:
        raise UserError(f"unknown budget {request.budget!r}; choose one of: {', '.join(budgets)}")
    if request.seeds is not None and request.seeds < 1:
        raise UserError(f"--seeds must be a positive number of seeds, got {request.seeds}")
    if request.iterations is not None and request.iterations < 1:
        raise UserError(f"--iterations must be a positive number of iterations, got {request.iterations}")
    if request.time_limit is not None and request.time_limit <= 0:
        raise UserError(f"--time-limit must be a positive number of seconds, got {request.time_limit:g}")


def plan_runs(suite: Suite, request: RunRequest) -> list[RunSpec]:
    """Expand a GAN ``suite`` into run specs; every name and value is checked before anything runs.

    ``request.overrides`` maps a variant name, ``"eval"`` or ``"*"`` (every variant having the key)
    to ``{setting: text}`` (from ``--set``); ``request.iterations`` replaces the budget's length.
    """
    budget, seeds, iterations = request.budget, request.seeds, request.iterations
    check_request(request, list(suite.budgets))
    if request.content_images or request.style_images or request.vgg_weights:
        raise UserError(f"--content, --style and --vgg-weights are for style-transfer suites (--suite style), "
                        f"not the GAN suite {suite.name}")
    chosen_variants = list(request.variants or suite.variants)
    chosen_datasets = list(request.datasets or suite.datasets)
    overrides = dict(request.overrides)
    for name in chosen_variants:
        VARIANTS.get(name)
    for scope in overrides:
        if scope not in ("*", EVALUATION_SCOPE) and scope not in chosen_variants:
            raise UserError(
                f"--set {scope}.…: {scope!r} is not a variant of this run; use one of: "
                f"{', '.join(chosen_variants + [EVALUATION_SCOPE])}"
            )
    unscoped = dict(overrides.get("*", {}))
    for key in unscoped:
        if not any(key in VARIANTS.get(name).settings for name in chosen_variants):
            raise UserError(f"unknown setting {key!r} for variants {', '.join(chosen_variants)}; "
                            f"see `ganbench list --settings VARIANT`")
    plan = suite.budgets[budget]
    evaluation = resolve(EVALUATION_SETTINGS, EVALUATION_SCOPE, plan.evaluation, overrides.get(EVALUATION_SCOPE, {}))
    split = request.split or suite.data.get("split", "train")
    specs = []
    for variant_name in chosen_variants:
        variant = VARIANTS.get(variant_name)
        settings = variant_settings(suite, variant_name, budget, overrides)
        for dataset_name in chosen_datasets:
            data = DataOptions(data_root=request.data_root, split=split, download=request.download,
                               image_size=variant.image_size(settings))
            dataset = load_dataset(dataset_name, data)
            if dataset.kind not in variant.kinds:
                raise UserError(
                    f"variant {variant_name} cannot train on {dataset.kind} data ({dataset_name}); "
                    f"it handles {', '.join(variant.kinds)}"
                )
            evaluators = tuple(name for name in suite.evaluators if EVALUATORS.get(name).applies_to(dataset))
            for name in evaluators:
                check = getattr(EVALUATORS.get(name), "check", None)
                if check is not None:
                    check(dataset, evaluation, data)
            for seed in range(seeds or plan.seeds or suite.seeds):
                specs.append(
                    RunSpec(
                        suite=suite.name,
                        variant=variant_name,
                        dataset=dataset_name,
                        seed=seed,
                        budget=budget,
                        iterations=iterations or plan.iterations_for(variant_name),
                        checkpoint_every=plan.checkpoint_every,
                        max_seconds=request.time_limit or plan.max_seconds,
                        settings=settings,
                        evaluation=evaluation,
                        evaluators=evaluators,
                        data=data,
                    )
                )
    return specs


def variant_settings(suite: Suite, variant_name: str, budget: str,
                     overrides: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, Any]:
    """The settings a run of ``variant_name`` in ``suite`` at ``budget`` uses: the variant's
    defaults, then the suite's changes, the budget's, ``--set KEY=`` (where the variant has the
    key) and ``--set VARIANT.KEY=``."""
    variant = VARIANTS.get(variant_name)
    overrides = overrides or {}
    unscoped = {key: value for key, value in overrides.get("*", {}).items() if key in variant.settings}
    return resolve(variant.settings, variant_name, suite.settings.get(variant_name, {}),
                   suite.budgets[budget].settings.get(variant_name, {}), unscoped, overrides.get(variant_name, {}))


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when available, else CPU), ``cpu`` or ``cuda``; CUDA without a GPU is a UserError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but torch.cuda.is_available() is False; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}; use auto, cpu or cuda") from None


def execute_run(
    spec: RunSpec,
    store: ResultsStore,
    device: torch.device,
    progress: bool = True,
    restart: bool = False,
    keep_checkpoints: bool = False,
) -> dict[str, Any]:
    """Train and evaluate one run, write its artefacts and return its record (not yet stored).

    Resumes from the run's newest checkpoint unless ``restart``. A run whose losses become
    non-finite ends with status ``diverged``; any other exception ends it ``failed`` with the
    error, and the traceback in ``runs/<id>/error.txt``. Checkpoints only serve to resume, so a
    run that ended (finished or diverged) deletes them unless ``keep_checkpoints``.
    """
    identity = {"kind": "gan", "suite": spec.suite, "variant": spec.variant, "dataset": spec.dataset,
                "seed": spec.seed, "budget": spec.budget}

    def train(run_dir: Path, provenance: dict[str, Any]) -> dict[str, Any]:
        dataset = load_dataset(spec.dataset, spec.data)
        provenance["data"] = dataset.describe()
        return _train_and_evaluate(spec, dataset, device, run_dir, progress)

    return record_run(spec.run_id, identity, spec.config(), store, device, restart, keep_checkpoints, train)


def record_run(
    run_id: str,
    identity: Mapping[str, Any],
    config: Mapping[str, Any],
    store: ResultsStore,
    device: torch.device,
    restart: bool,
    keep_checkpoints: bool,
    work: Callable[[Path, dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """The record of one run of any suite: ``work(run_dir, provenance)`` does the run and returns
    the outcome (status, metrics, throughput, artifacts as paths, ...), adding what it learns to
    ``provenance``; this wraps it with identity, configuration, provenance and timings.

    ``restart`` deletes the run's checkpoints first; a run that ended (finished or diverged)
    deletes them afterwards unless ``keep_checkpoints``. An exception other than ``UserError`` or
    an interrupt ends the run ``failed``, with the traceback in ``runs/<id>/error.txt``.
    """
    run_dir = store.run_dir(run_id)
    checkpoint_dir = run_dir / "checkpoints"
    if restart and checkpoint_dir.exists():
        for stale in checkpoint_dir.glob("checkpoint_*.pt"):
            stale.unlink()
    # Engines, networks and their handlers form reference cycles; free the last run's now, so that
    # this run's peak memory (process RSS on a CPU) does not count them.
    gc.collect()
    started = utc_now()
    clock = time.perf_counter()
    record: dict[str, Any] = {
        "run_id": run_id,
        **identity,
        "config": dict(config),
        "provenance": {**software(), "device": device_description(device), "started_utc": started},
        "metrics": {},
        "throughput": {},
        "artifacts": {},
    }
    try:
        record.update(work(run_dir, record["provenance"]))
    except (KeyboardInterrupt, UserError):
        raise
    except Exception as error:  # noqa: BLE001 - one broken run must not stop the suite
        (run_dir / "error.txt").write_text(traceback.format_exc())
        record.update(status="failed", error=f"{type(error).__name__}: {error}")
        record["artifacts"]["error"] = str((run_dir / "error.txt").relative_to(store.root))
    record["provenance"]["finished_utc"] = utc_now()
    record["elapsed_seconds"] = time.perf_counter() - clock
    if record["status"] != "failed" and not keep_checkpoints:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    for name, path in list(record["artifacts"].items()):
        if isinstance(path, Path):
            record["artifacts"][name] = str(path.relative_to(store.root))
    return record


def _train_and_evaluate(
    spec: RunSpec,
    dataset: BenchDataset,
    device: torch.device,
    run_dir: Path,
    progress: bool,
) -> dict[str, Any]:
    variant = VARIANTS.get(spec.variant)
    torch.manual_seed(seeding.derive_seed(spec.seed, seeding.INIT))
    gan = variant.build(dict(spec.settings), dataset).to(device)
    training = create_gan_trainer(gan, dataset, spec.settings, spec.seed)
    engine = training.engine
    losses = attach_loss_history(engine, gan)
    attach_divergence_check(engine)
    timer = IterationTimer(device, warmup=min(5, spec.iterations // 4)).attach(engine)
    gan.attach(engine, spec.iterations)
    if spec.max_seconds is not None:
        attach_time_limit(engine, spec.max_seconds)
    context = EvaluationContext(gan, dataset, spec.data, spec.seed, device, run_dir, training, timer,
                                dict(spec.evaluation))
    quality = [name for name in spec.evaluators if name != "throughput"]
    metric_history = History()
    every = int(spec.evaluation.get("every", 0))
    if every and quality:

        @engine.on(Events.ITERATION_COMPLETED(every=every))
        def evaluate_during_training(engine: Engine) -> None:
            if engine.state.diverged_at is None:
                row = {"iteration": engine.state.iteration}
                for name in quality:
                    row.update(_numbers(EVALUATORS.get(name).evaluate(context)))
                metric_history.append(row)

    to_save = {"trainer": engine, "gan": gan, "losses": losses, "metric_history": metric_history,
               **{f"optimizer_{k}": v for k, v in training.optimizers.items()}}
    if progress:
        attach_progress_bar(engine, f"{spec.variant} {spec.dataset} seed {spec.seed}")
    resumed_from = run_with_checkpoints(engine, to_save, run_dir, spec.iterations, spec.checkpoint_every)

    atomic_write_text(run_dir / "losses.csv", losses.to_csv())
    artifacts: dict[str, Any] = {"losses": run_dir / "losses.csv"}
    outcome = engine_outcome(engine, spec.iterations, resumed_from, artifacts)
    if gan.schedule_summary():
        outcome["schedule"] = gan.schedule_summary()
    if outcome.get("status") == "diverged":
        return outcome
    metrics: dict[str, Any] = {}
    throughput: dict[str, Any] = {}
    for name in spec.evaluators:
        values = EVALUATORS.get(name).evaluate(context)
        (throughput if name == "throughput" else metrics).update(values)
    if metric_history.length and metric_history.columns["iteration"][-1] != engine.state.iteration:
        metric_history.append({"iteration": engine.state.iteration, **_numbers(metrics)})
    if metric_history.length:
        atomic_write_text(run_dir / "metric_history.csv", metric_history.to_csv())
        artifacts["metric_history"] = run_dir / "metric_history.csv"
    artifacts.update(context.artifacts)
    outcome.update(status="finished", metrics=metrics, throughput=throughput)
    return outcome


def run_with_checkpoints(
    engine: Engine, to_save: Mapping[str, Any], run_dir: Path, iterations: int, checkpoint_every: int
) -> int:
    """Run ``engine`` to ``iterations``, saving ``to_save`` in ``run_dir/checkpoints`` every
    ``checkpoint_every`` iterations (0: every tenth of the run) and resuming from the newest
    checkpoint there. Returns the iteration resumed from (0: a fresh start)."""
    checkpoint_dir = run_dir / "checkpoints"
    attach_checkpoints(engine, to_save, checkpoint_dir, checkpoint_every or max(1, iterations // 10))
    resumed_from = resume_from_checkpoint(to_save, checkpoint_dir)
    if resumed_from < iterations:
        engine.run(None, max_epochs=1, epoch_length=iterations)
    return resumed_from


def engine_outcome(engine: Engine, iterations: int, resumed_from: int, artifacts: dict[str, Any]) -> dict[str, Any]:
    """The record fields every run has once its engine stopped: iterations planned and done, where
    it resumed, its artifacts, and ``status="diverged"`` (with the iteration) or ``stopped_by``."""
    outcome: dict[str, Any] = {
        "iterations_planned": iterations,
        "iterations_done": engine.state.iteration,
        "resumed_from_iteration": resumed_from or None,
        "artifacts": artifacts,
    }
    if engine.state.diverged_at is not None:
        outcome.update(status="diverged", diverged_at=engine.state.diverged_at,
                       error=f"non-finite loss at iteration {engine.state.diverged_at}")
    elif getattr(engine.state, "stopped_by_time", False):
        outcome["stopped_by"] = "time_limit"
    return outcome


def _numbers(values: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
