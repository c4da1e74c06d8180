"""One GAN run: build the variant, train it on the Ignite trainer with the shared handlers,
evaluate it on one shared sample set, and return its outcome for the record."""

from __future__ import annotations

import copy
import functools
import hashlib
import inspect
import json
import tempfile
from collections.abc import Hashable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import ignite.distributed as idist
import torch
from ignite.engine import Engine, Events
from torch import nn

from ganbench import seeding
from ganbench.cache import cache_dir
from ganbench.calibration import count_flops
from ganbench.data import DATASETS, BenchDataset, DataOptions, load_dataset
from ganbench.gan.losses import LOSSES
from ganbench.gan.model import GAN, VARIANTS
from ganbench.gan.sampling import GENERATION_BATCH, POINTS_BATCH, SampleSet
from ganbench.gan.trainer import GanTraining, create_gan_trainer
from ganbench.engines import EngineRun, RunCell
from ganbench.handlers import History, LossHistory, TrainingClock
from ganbench.metrics import EVALUATORS, EvaluationContext, evaluate
from ganbench.metrics.backbones import BACKBONES
from ganbench.registry import plugin_provenance
from ganbench.results import atomic_write_text
from ganbench.distributed import broadcast_module
from ganbench.execution import data_parallel
from ganbench.trackers import RunTrackers
from ganbench.runs import RunContext

KIND = "gan"
FLOP_SAMPLES = 8  # samples generated to count generation FLOPs (they scale with the count)
COUNT_BATCH = 2  # the batch a budget by GFLOP counts its runs' FLOPs at, before scaling to their batch


@dataclass(frozen=True)
class GanRun(RunCell):
    """One cell of a GAN suite's matrix, fully resolved: a variant trained on a dataset and
    evaluated by ``evaluators`` with the ``evaluation`` settings (the common fields are
    :class:`~ganbench.engines.RunCell`'s)."""

    kind: ClassVar[str] = KIND

    variant: str
    dataset: str
    evaluation: Mapping[str, Any]
    evaluators: tuple[str, ...]
    data: DataOptions
    gflop: float | None = None  # the training GFLOP of a budget by FLOPs (recorded; its iterations are in the config)

    @property
    def names(self) -> tuple[str, str]:
        return self.variant, self.dataset

    def kind_config(self) -> dict[str, Any]:
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

    def work(self, context: RunContext) -> dict[str, Any]:
        # the plugin entries the run uses, with their sources (kept out of the config: run ids)
        context.provenance.update(plugin_provenance([
            (VARIANTS, self.variant), (LOSSES, self.settings.get("loss")), (DATASETS, self.dataset),
            (BACKBONES, self.evaluation.get("backbone")), *((EVALUATORS, name) for name in self.evaluators)]))
        if self.execution.processes > 1:
            outcome, data = data_parallel(train_in_group, self.execution.processes, context.device,
                                          context.initializer, self, context.device, context.run_dir,
                                          timeout_minutes=self.execution.timeout_minutes)
            context.provenance["data"] = data
            return outcome
        dataset = load_dataset(self.dataset, self.data)
        context.provenance["data"] = dataset.describe()
        return train_and_evaluate(self, dataset, context.device, context.run_dir, context.progress)


def train_in_group(run: GanRun, device: torch.device, run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """One process of a data-parallel run (``--nproc-per-node``, through
    :func:`ganbench.execution.data_parallel`): trains its slice of every batch with the group, and on
    rank 0 also evaluates and writes the run's files, returning the outcome and the data's
    description (the other ranks return None). On CUDA each process takes the GPU of its local
    rank. No progress bar: the suite's bar, in the parent, names the run."""
    rank, processes = idist.get_rank(), idist.get_world_size()
    torch.set_num_threads(run.execution.threads)
    if device.type == "cuda":
        device = torch.device("cuda", idist.get_local_rank())
        torch.cuda.set_device(device)
    dataset = load_dataset(run.dataset, run.data)
    outcome = train_and_evaluate(run, dataset, device, run_dir, False, shard=(rank, processes))
    return (outcome, dataset.describe()) if rank == 0 else None


def loss_history(gan: GAN) -> LossHistory:
    """Logs iteration, loss_d, loss_g, d_skipped and the variant's schedule values (attach to
    ``ITERATION_COMPLETED``)."""
    return LossHistory(lambda engine: {"iteration": engine.state.iteration, **engine.state.output,
                                       **gan.schedule_state()})


def train_and_evaluate(run: GanRun, dataset: BenchDataset, device: torch.device, run_dir: Path,
                       progress: bool, shard: tuple[int, int] = (0, 1)) -> dict[str, Any]:
    """Train ``run`` (resuming from its newest checkpoint in ``run_dir``), then evaluate it; a run
    whose losses become non-finite ends ``diverged`` without evaluation. ``shard`` = (rank,
    processes) of a data-parallel group: every rank starts from rank 0's weights and trains (see
    :func:`~ganbench.gan.trainer.create_gan_trainer`); every rank evaluates the quality evaluators,
    generating and extracting features of its share of the samples (:class:`RunEvaluation`); only
    rank 0 checkpoints, runs the other evaluators and writes files; the others return an empty
    outcome."""
    rank, processes = shard
    variant = VARIANTS.get(run.variant)
    torch.manual_seed(seeding.derive_seed(run.seed, seeding.INIT))
    gan = variant.create(dict(run.settings), dataset).to(device)
    if processes > 1:
        if run.execution.sync_batchnorm:
            nn.SyncBatchNorm.convert_sync_batchnorm(gan)
        broadcast_module(gan)
    run.execution.prepare(gan, compiled=(gan.generator, gan.discriminator))
    training = create_gan_trainer(gan, dataset, run.settings, run.seed, run.execution, shard)
    engine = training.engine
    clock = TrainingClock(device)
    scratch = tempfile.TemporaryDirectory(prefix="ganbench-rank-") if rank else None  # helpers' evaluation files
    evaluation = RunEvaluation(run, gan, dataset, device, Path(scratch.name) if scratch else run_dir, clock,
                               training.images_per_iteration, shard)
    state = {"gan": gan, "metric_history": evaluation.history, "training_clock": clock,
             **{f"optimizer_{k}": v for k, v in training.optimizers.items()}}
    if training.scaler is not None:
        state["grad_scaler"] = training.scaler
    lifecycle = EngineRun.of(run, engine, loss_history(gan), state, run_dir, device,
                             ("loss_d", "loss_g") if progress else None)
    gan.attach(engine, run.iterations, training.optimizers)
    clock.attach(engine)  # after the variant's handlers (EMA), before evaluations and checkpoints
    evaluation.attach(engine, lifecycle)
    if scratch is not None:
        lifecycle.run()
        with scratch:
            _help_evaluate(run, gan, dataset, engine, evaluation, lifecycle)
        return {}
    evaluation.trackers = RunTrackers(run.execution.trackers, run_dir, {
        "run_id": run.run_id, "label": run.label, "suite": run.suite, **run.identity, "config": run.config()})
    evaluation.trackers.attach(engine, ("loss_d", "loss_g"))
    outcome: dict[str, Any] = {"status": "failed"}
    try:
        lifecycle.run()
        outcome = _outcome(run, gan, dataset, training, lifecycle, evaluation)
    finally:
        evaluation.trackers.close(outcome)
    return outcome


def _outcome(run: GanRun, gan: GAN, dataset: BenchDataset, training: GanTraining, lifecycle: EngineRun,
             evaluation: RunEvaluation) -> dict[str, Any]:
    """Rank 0 of :func:`train_and_evaluate` once training ends: the losses file, the outcome, and the
    final evaluation unless the run diverged."""
    engine, clock = training.engine, evaluation.clock
    evaluation.artifacts["losses"] = lifecycle.write_losses()
    outcome = lifecycle.outcome(evaluation.artifacts)
    outcome["samples_from"] = gan.samples_from
    outcome["images_seen"] = engine.state.iteration * training.images_per_iteration
    outcome["train_seconds"] = clock.seconds
    if run.gflop is not None:
        outcome["gflop_budget"] = run.gflop
    if gan.schedule_summary():
        outcome["schedule"] = gan.schedule_summary()
    if outcome.get("status") == "diverged":
        return outcome
    timer = lifecycle.timer
    training_numbers = {**timer.summary(training.images_per_iteration), **timer.memory_summary(),
                        **flop_counts(gan, dataset, run.settings, run.seed, engine.state.iteration, run.iterations)}
    evaluation.final(engine.state.iteration, training_numbers, outcome)
    return outcome


def _help_evaluate(run: GanRun, gan: GAN, dataset: BenchDataset, engine: Engine, evaluation: RunEvaluation,
                   lifecycle: EngineRun) -> None:
    """A data-parallel rank above 0 after training: its part of the final evaluation, unless the
    run diverged (every rank holds the same losses, so they agree)."""
    if lifecycle.divergence.diverged_at is not None:
        return
    if run.execution.sync_batchnorm:  # rank 0's FLOP count runs SyncBatchNorm, a collective, on a copy
        flop_counts(gan, dataset, run.settings, run.seed, engine.state.iteration, run.iterations)
    evaluation.final(engine.state.iteration, {}, {})


class RunEvaluation:
    """The evaluations of one GAN run, each on a new sample set of its model as it is then, shared
    by every evaluator: the quality evaluators (section ``metrics``) every ``eval.every``
    iterations during training, into the metric ``history``, and every evaluator after it. Where
    an EMA of G is kept, the quality evaluators also run on samples of the EMA (same latents,
    evaluation settings and reference), their numbers added as ``ema_<key>`` and their files in
    ``run_dir/ema``. Evaluators add their files to ``artifacts`` (the EMA's to ``ema_artifacts``).

    ``shard`` = (rank, processes) of a data-parallel group: every rank evaluates the quality
    evaluators at the same moments on the group's samples (each generating its share, see
    :class:`~ganbench.gan.sampling.SampleSet`); rank 0 also runs the others."""

    def __init__(self, run: GanRun, gan: GAN, dataset: BenchDataset, device: torch.device, run_dir: Path,
                 clock: TrainingClock, images_per_iteration: int, shard: tuple[int, int] = (0, 1)) -> None:
        self.run, self.gan, self.dataset, self.device, self.run_dir = run, gan, dataset, device, run_dir
        self.clock, self.images_per_iteration = clock, images_per_iteration
        self.history = History()
        self.artifacts: dict[str, Any] = {}
        self.ema_artifacts: dict[str, Any] = {}
        self.quality = [name for name in run.evaluators if EVALUATORS.get(name).section == "metrics"]
        self.rank, self.distributed = shard[0], shard[1] > 1
        self.trackers: RunTrackers | None = None  # rank 0's, set once training starts

    def so_far(self, iteration: int) -> dict[str, float]:
        """Where the run stands: iteration, real images drawn so far and training seconds so far."""
        return {"iteration": iteration, "images_seen": iteration * self.images_per_iteration,
                "train_seconds": self.clock.seconds}

    def context(self, training: Mapping[str, Any] | None = None, final: bool = True,
                ema: bool = False) -> EvaluationContext:
        """A context with a new sample set of the model as it is now, shared by every evaluator;
        evaluations during training (``final`` False) leave out FID's bootstrap and FID-infinity.
        ``ema``: the context of the EMA of G, whose files go to ``run_dir/ema``."""
        run = self.run
        samples = SampleSet(self.gan, run.seed, POINTS_BATCH if self.dataset.kind == "points" else GENERATION_BATCH,
                            self.distributed)
        options = dict(run.evaluation) if final else {**run.evaluation, "fid_bootstrap": 0, "fid_infinity": 0}
        directory = self.run_dir / "ema" if ema else self.run_dir
        directory.mkdir(exist_ok=True)
        return EvaluationContext(samples, self.dataset, run.data, run.seed, self.device, directory, options,
                                 training or {}, self.ema_artifacts if ema else self.artifacts, self.distributed)

    def live_and_ema(self, names: list[str] | tuple[str, ...], training: Mapping[str, Any] | None = None,
                     final: bool = True) -> dict[str, dict[str, Any]]:
        """The evaluators ``names`` on samples of the live G; where an EMA of G is kept, also the
        quality evaluators on samples of the EMA, their numbers added to ``metrics`` as
        ``ema_<key>`` (the same latents, evaluation settings and reference)."""
        sections = evaluate(names, self.context(training, final))
        if self.gan.generator_ema is not None:
            with self.gan.sampling_ema():
                ema = evaluate([name for name in names if name in self.quality], self.context(final=final, ema=True))
            sections["metrics"].update({f"ema_{key}": value for key, value in ema["metrics"].items()})
        return sections

    def attach(self, engine: Engine, lifecycle: EngineRun) -> None:
        """Evaluate every ``eval.every`` iterations during training (not after the last one: the
        final evaluation, after training, is that one), unless the run has diverged; nothing where
        ``every`` is 0 or no quality evaluator runs."""
        every = int(self.run.evaluation.get("every", 0))
        if not every or not self.quality:
            return

        def evaluate_during_training(engine: Engine) -> None:
            if lifecycle.divergence.diverged_at is None and engine.state.iteration < self.run.iterations:
                row = self.so_far(engine.state.iteration)
                row.update(_numbers(self.live_and_ema(self.quality, final=False)["metrics"]))
                self.history.append(row)
                if self.trackers is not None:
                    self.trackers.metrics(row, engine.state.iteration)

        engine.add_event_handler(Events.ITERATION_COMPLETED(every=every), evaluate_during_training)

    def final(self, iteration: int, training: Mapping[str, Any], outcome: dict[str, Any]) -> None:
        """The evaluation after training (every evaluator; ``training``: the run's training
        numbers) into ``outcome``, which it marks ``finished``; the metric history, where there is
        one, ends with it and is written to ``metric_history.csv``."""
        sections = self.live_and_ema(self.quality if self.rank else self.run.evaluators, training)
        self.artifacts.update({f"ema_{name}": path for name, path in self.ema_artifacts.items()})
        if self.trackers is not None:
            self.trackers.metrics(sections["metrics"], iteration)
            self.trackers.images(self.artifacts, iteration)
        history = self.history
        if history.length and history.columns["iteration"][-1] != iteration:
            history.append({**self.so_far(iteration), **_numbers(sections["metrics"])})
        if history.length:
            atomic_write_text(self.run_dir / "metric_history.csv", history.to_csv())
            self.artifacts["metric_history"] = self.run_dir / "metric_history.csv"
            outcome["metric_history"] = [{key: value for key, value in row.items() if value == value}
                                         for row in history.rows()]
        outcome.update(status="finished", **sections)


def flop_counts(gan: GAN, dataset: BenchDataset, settings: Mapping[str, Any], seed: int,
                iteration: int, planned: int | None = None) -> dict[str, float]:
    """GFLOP of one training iteration (the step at ``iteration``: its D and G steps, forward and
    backward), of the first ``iteration`` iterations of a run planned for ``planned`` (default:
    ``iteration``; every
    iteration counted in its cost state, :func:`training_gflop`) and of generating one sample, by
    torch's flop counter on a copy of the model with a trainer of its own and the random state
    restored, so the run itself is untouched."""
    model = copy.deepcopy(gan)
    training = create_gan_trainer(model, dataset, settings, seed)
    training.engine.state.iteration = max(iteration, 1)
    z = model.sample_latent(FLOP_SAMPLES, seeding.generator(seed, seeding.EVALUATION, 0))
    devices = [gan.device] if gan.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        step = count_flops(lambda: training.step(training.engine, None))
        model.eval()
        sample = count_flops(lambda: model.sample(z))
        states = model.cost_states()
        costs = {states[0]: step / 1e9} if len(states) == 1 else state_gflops(model, training)
    return {"train_gflop_per_iteration": step / 1e9, "generate_gflop_per_sample": sample / FLOP_SAMPLES / 1e9,
            "train_gflop": training_gflop(model, costs, planned or iteration, iteration)}


def state_gflops(gan: GAN, training: GanTraining) -> dict[Hashable, float]:
    """GFLOP of one training iteration of ``training`` (a trainer of ``gan``) in each of
    ``gan``'s cost states (:meth:`~ganbench.gan.model.GAN.cost_states`); the steps are taken for
    real, so pass a copy whose weights do not matter. Leaves ``gan`` in its last cost state."""
    costs = {}
    training.engine.state.iteration = max(training.engine.state.iteration, 1)  # the step draws the iteration's batch
    for state in gan.cost_states():
        gan.enter_cost_state(state)
        costs[state] = count_flops(lambda: training.step(training.engine, None)) / 1e9
    return costs


def training_gflop(gan: GAN, costs: Mapping[Hashable, float], planned: int, done: int | None = None) -> float:
    """Training GFLOP of the first ``done`` iterations (default: all) of a run of ``gan`` planned
    for ``planned``: each cost state's iterations times its GFLOP per iteration (``costs``)."""
    return sum(count * costs[state] for state, count in gan.cost_groups(planned, done).items())


def iterations_for_gflop(gan: GAN, costs: Mapping[Hashable, float], gflop: float) -> int:
    """The number of iterations n >= 1 whose training GFLOP (:func:`training_gflop` of a run
    planned for n) comes nearest ``gflop``: within one iteration's GFLOP of it (within half of one
    where every iteration costs alike). Searched around ``gflop`` over the mean GFLOP of an
    iteration, where the schedule's share of each state has settled."""
    probe = 1_000_000
    estimate = max(1, round(gflop * probe / training_gflop(gan, costs, probe)))
    window = 2 * len(costs) + 2  # a schedule of k states moves by at most k iterations between states
    candidates = range(max(1, estimate - window), estimate + window + 1)
    return min(candidates, key=lambda n: (abs(training_gflop(gan, costs, n) - gflop), n))


_PLANNED_ITERATIONS: dict[str, int] = {}


def _code_digest(variant_name: str) -> str:
    """sha256 of what a FLOP count depends on besides the settings: the variant's module, the GAN
    kind's modules (trainer, losses, models) and the torch version."""
    module = inspect.getmodule(VARIANTS.get(variant_name).build)
    files = sorted(Path(__file__).parent.glob("*.py")) + ([Path(module.__file__)] if module and module.__file__ else [])
    return _files_digest(tuple(str(path) for path in files))


@functools.lru_cache(maxsize=None)
def _files_digest(paths: tuple[str, ...]) -> str:
    """sha256 of the torch version and the files at ``paths``, read once per process."""
    digest = hashlib.sha256(torch.__version__.encode())
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def planned_iterations_for_gflop(variant_name: str, settings: Mapping[str, Any], dataset: BenchDataset,
                                 gflop: float) -> int:
    """The iterations of a run of ``variant_name`` with ``settings`` on ``dataset`` (its sample
    shape) that train for ``gflop`` GFLOP (:func:`iterations_for_gflop`), counted on a model built
    on the CPU at a batch of :data:`COUNT_BATCH`, scaled to the run's batch, with the random state
    restored. Remembered per configuration for the process and on disk under
    ``$GANBENCH_CACHE/flops``, keyed by the configuration and :func:`_code_digest` (counting a
    ProGAN's growth phases takes tens of seconds; the count is a pure function of that key)."""
    key = json.dumps([variant_name, dict(settings), dataset.name, list(dataset.sample_shape), gflop,
                      _code_digest(variant_name)], sort_keys=True, default=str)
    cached = cache_dir("flops") / f"{hashlib.sha256(key.encode()).hexdigest()}.json"
    if key not in _PLANNED_ITERATIONS and cached.is_file():
        stored = json.loads(cached.read_text())
        if stored.get("key") == key:
            _PLANNED_ITERATIONS[key] = int(stored["iterations"])
    if key not in _PLANNED_ITERATIONS:
        # Counted at COUNT_BATCH and scaled to the batch: the counted work (matmuls, convolutions)
        # of the built-in variants is linear in the batch (tests/test_equal_flops.py checks it).
        small = {**settings, "batch_size": min(COUNT_BATCH, settings["batch_size"])}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            gan = VARIANTS.get(variant_name).create(dict(small), dataset)
            costs = state_gflops(gan, create_gan_trainer(gan, dataset, small, 0))
        scale = settings["batch_size"] / small["batch_size"]
        _PLANNED_ITERATIONS[key] = iterations_for_gflop(gan, {state: cost * scale for state, cost in costs.items()},
                                                        gflop)
        cached.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(cached, json.dumps({"key": key, "iterations": _PLANNED_ITERATIONS[key]}) + "\n")
    return _PLANNED_ITERATIONS[key]


def _numbers(values: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
