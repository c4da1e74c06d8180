"""One GAN run: build the variant, train it on the Ignite trainer with the shared handlers,
evaluate it on one shared sample set, and return its outcome for the record."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import ignite.distributed as idist
import torch
from ignite.engine import Engine, Events

from ganbench import seeding
from ganbench.calibration import count_flops
from ganbench.data import BenchDataset, DataOptions, load_dataset
from ganbench.gan.model import GAN, VARIANTS
from ganbench.gan.sampling import GENERATION_BATCH, POINTS_BATCH, SampleSet
from ganbench.gan.trainer import create_gan_trainer
from ganbench.handlers import Divergence, History, IterationTimer, LossHistory, TrainingClock, progress_bar
from ganbench.metrics import EVALUATORS, EvaluationContext
from ganbench.results import atomic_write_text
from ganbench.execution import Execution, data_parallel
from ganbench.runs import EngineRun, RunContext, run_id_for

KIND = "gan"
FLOP_SAMPLES = 8  # samples generated to count generation FLOPs (they scale with the count)


@dataclass(frozen=True)
class GanRun:
    """One cell of a GAN suite's matrix, fully resolved."""

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
    execution: Execution = Execution()

    @property
    def identity(self) -> dict[str, Any]:
        return {"kind": KIND, "suite": self.suite, "variant": self.variant, "dataset": self.dataset,
                "seed": self.seed, "budget": self.budget}

    def config(self) -> dict[str, Any]:
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
            "execution": self.execution.config(),
        }

    @property
    def run_id(self) -> str:
        return run_id_for(self.variant, self.dataset, self.seed, self.budget, self.config())

    @property
    def label(self) -> str:
        return f"{self.variant} {self.dataset} seed {self.seed}"

    def work(self, context: RunContext) -> dict[str, Any]:
        if self.execution.processes > 1:
            outcome, data = data_parallel(train_in_group, self.execution.processes, context.device,
                                          context.initializer, self, context.device, context.run_dir)
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
    processes) of a data-parallel group: every rank trains (see
    :func:`~ganbench.gan.trainer.create_gan_trainer`), only rank 0 checkpoints, evaluates and
    writes files; the others return an empty outcome once training ends."""
    rank = shard[0]
    variant = VARIANTS.get(run.variant)
    torch.manual_seed(seeding.derive_seed(run.seed, seeding.INIT))
    gan = variant.create(dict(run.settings), dataset).to(device)
    run.execution.prepare(gan, compiled=(gan.generator, gan.discriminator))
    training = create_gan_trainer(gan, dataset, run.settings, run.seed, run.execution, shard)
    engine = training.engine
    losses = loss_history(gan)
    engine.add_event_handler(Events.ITERATION_COMPLETED, losses)
    metric_history = History()
    clock = TrainingClock(device)
    timer = IterationTimer(device, warmup=min(5, run.iterations // 4))
    to_save = {"trainer": engine, "gan": gan, "losses": losses, "metric_history": metric_history,
               "training_clock": clock, "timer": timer,
               **{f"optimizer_{k}": v for k, v in training.optimizers.items()}}
    if training.scaler is not None:
        to_save["grad_scaler"] = training.scaler
    lifecycle = EngineRun(engine, to_save, run_dir, run.iterations, run.checkpoint_every, run.max_seconds,
                          Divergence(run.settings["diverge_above"]))
    timer.attach(engine)
    gan.attach(engine, run.iterations, training.optimizers)
    clock.attach(engine)  # after the variant's handlers (EMA), before evaluations and checkpoints
    per_iteration = training.images_per_iteration

    def compute_so_far(iteration: int) -> dict[str, float]:
        """Where the run stands: iteration, real images drawn so far and training seconds so far."""
        return {"iteration": iteration, "images_seen": iteration * per_iteration, "train_seconds": clock.seconds}

    artifacts: dict[str, Any] = {}

    def evaluation_now(training: Mapping[str, Any] | None = None, final: bool = True) -> EvaluationContext:
        """A context with a new sample set of the model as it is now, shared by every evaluator;
        evaluations during training (``final`` False) leave out FID's bootstrap and FID-infinity."""
        samples = SampleSet(gan, run.seed, POINTS_BATCH if dataset.kind == "points" else GENERATION_BATCH)
        options = dict(run.evaluation) if final else {**run.evaluation, "fid_bootstrap": 0, "fid_infinity": 0}
        return EvaluationContext(samples, dataset, run.data, run.seed, device, run_dir, options, training or {},
                                 artifacts)

    quality = [name for name in run.evaluators if EVALUATORS.get(name).section == "metrics"]
    every = int(run.evaluation.get("every", 0))
    if every and quality and rank == 0:

        def evaluate_during_training(engine: Engine) -> None:
            # the last iteration's evaluation is the final one, made after training
            if lifecycle.divergence.diverged_at is None and engine.state.iteration < run.iterations:
                row = compute_so_far(engine.state.iteration)
                row.update(_numbers(evaluate(quality, evaluation_now(final=False))))
                metric_history.append(row)

        engine.add_event_handler(Events.ITERATION_COMPLETED(every=every), evaluate_during_training)
    if progress:
        bar, transform = progress_bar(run.label, ("loss_d", "loss_g"))
        bar.attach(engine, output_transform=transform)
    lifecycle.run()
    if rank != 0:
        return {}

    atomic_write_text(run_dir / "losses.csv", losses.to_csv())
    artifacts["losses"] = run_dir / "losses.csv"
    outcome = lifecycle.outcome(artifacts)
    outcome["samples_from"] = gan.samples_from
    outcome["images_seen"] = engine.state.iteration * per_iteration
    outcome["train_seconds"] = clock.seconds
    if gan.schedule_summary():
        outcome["schedule"] = gan.schedule_summary()
    if outcome.get("status") == "diverged":
        return outcome
    context = evaluation_now({**timer.summary(training.images_per_iteration), **timer.memory_summary(),
                              **flop_counts(gan, dataset, run.settings, run.seed, engine.state.iteration)})
    sections: dict[str, dict[str, Any]] = {"metrics": {}, "throughput": {}}
    for name in run.evaluators:
        sections[EVALUATORS.get(name).section].update(EVALUATORS.get(name).evaluate(context))
    if metric_history.length and metric_history.columns["iteration"][-1] != engine.state.iteration:
        metric_history.append({**compute_so_far(engine.state.iteration), **_numbers(sections["metrics"])})
    if metric_history.length:
        atomic_write_text(run_dir / "metric_history.csv", metric_history.to_csv())
        artifacts["metric_history"] = run_dir / "metric_history.csv"
        outcome["metric_history"] = [{key: value for key, value in row.items() if value == value}
                                     for row in metric_history.rows()]
    outcome.update(status="finished", **sections)
    return outcome


def flop_counts(gan: GAN, dataset: BenchDataset, settings: Mapping[str, Any], seed: int,
                iteration: int) -> dict[str, float]:
    """GFLOP of one training iteration (the step at ``iteration``: its D and G steps, forward and
    backward) and of generating one sample, by torch's flop counter on a copy of the model with a
    trainer of its own and the random state restored, so the run itself is untouched."""
    model = copy.deepcopy(gan)
    training = create_gan_trainer(model, dataset, settings, seed)
    training.engine.state.iteration = max(iteration, 1)
    z = model.sample_latent(FLOP_SAMPLES, seeding.generator(seed, seeding.EVALUATION, 0))
    devices = [gan.device] if gan.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        step = count_flops(lambda: training.step(training.engine, None))
        model.eval()
        sample = count_flops(lambda: model.sample(z))
    return {"train_gflop_per_iteration": step / 1e9, "generate_gflop_per_sample": sample / FLOP_SAMPLES / 1e9}


def evaluate(names: list[str], context: EvaluationContext) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in names:
        values.update(EVALUATORS.get(name).evaluate(context))
    return values


def _numbers(values: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
