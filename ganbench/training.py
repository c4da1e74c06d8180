"""The Ignite GAN trainer: one step factory for every variant, and the handlers around it.

One Ignite iteration is one generator step preceded by ``n_critic`` discriminator steps:

1. for each of ``n_critic`` real batches: D sees the real batch (label 1) and a fresh generated
   batch (label 0, no gradient into G) and takes an Adam step on its loss, unless that loss is
   below ``d_skip_below`` (the step is then skipped and counted);
2. G generates a batch and is scored by D with D's parameters frozen (``requires_grad`` off),
   asking for label 1 (non-saturating for the ``ns`` loss), and takes an Adam step.

Everything else (loss history, budget, checkpoints and resume, divergence, timing, progress) is a
handler attached to ``Events``; state lives on ``engine.state`` or in the handler objects, which
are checkpointed with the models.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint, DiskSaver, ProgressBar

from ganbench import seeding
from ganbench.errors import UserError
from ganbench.losses import LOSSES, gradient_penalty, make_loss
from ganbench.settings import Setting

if TYPE_CHECKING:
    from ganbench.data import BenchDataset
    from ganbench.models import GAN

TRAINER_SETTINGS: dict[str, Setting] = {
    "batch_size": Setting(64, "real samples per discriminator step", minimum=1),
    "lr_g": Setting(2e-4, "Adam learning rate of G (TTUR: may differ from lr_d)", minimum=0, exclusive_minimum=True),
    "lr_d": Setting(2e-4, "Adam learning rate of D", minimum=0, exclusive_minimum=True),
    "beta1": Setting(0.5, "Adam beta1 of both optimisers", minimum=0, maximum=0.9999),
    "beta2": Setting(0.999, "Adam beta2 of both optimisers", minimum=0, maximum=0.9999),
    "n_critic": Setting(1, "D steps per G step (each on its own real batch)", minimum=1),
    "d_skip_below": Setting(
        None, "skip the D update while its loss is below this value (none: never skip)", kind="float", optional=True
    ),
    "loss": Setting("ns", "adversarial loss", choices=tuple(LOSSES.names())),
    "gp_weight": Setting(10.0, "gradient-penalty weight (loss wgan-gp only)", minimum=0),
    "drift": Setting(0.0, "drift penalty weight on E[D(x)^2] (loss wgan-gp only)", minimum=0),
}


@dataclass
class GanTraining:
    """The trainer engine with the objects a checkpoint must hold; ``step(engine, None)`` is its
    process function (one G iteration), exposed for benchmarks."""

    engine: Engine
    step: Callable[[Engine, None], dict[str, float]]
    gan: GAN
    optimizers: dict[str, torch.optim.Optimizer]
    images_per_iteration: int


def create_gan_trainer(gan: GAN, dataset: BenchDataset, settings: Mapping[str, Any], seed: int) -> GanTraining:
    """An Ignite engine whose iteration is ``n_critic`` D steps and one G step (see module doc).

    The engine runs with ``data=None``: each step draws its real batch from ``dataset.batch`` and
    its latents from generators seeded by (seed, iteration), so a resumed run draws what an
    uninterrupted one would. The step returns ``{"loss_d", "loss_g", "d_skipped"}`` (floats; loss_d
    is the mean over the D steps, d_skipped how many of them were skipped).
    """
    loss = make_loss(settings["loss"], settings["gp_weight"], settings["drift"])
    betas = (settings["beta1"], settings["beta2"])
    fused = gan.device.type in ("cpu", "cuda")  # one kernel per step: about 5x faster than foreach on a CPU
    optimizer_g = torch.optim.Adam(gan.generator.parameters(), lr=settings["lr_g"], betas=betas, fused=fused)
    optimizer_d = torch.optim.Adam(gan.discriminator.parameters(), lr=settings["lr_d"], betas=betas, fused=fused)
    batch_size, n_critic, skip_below = settings["batch_size"], settings["n_critic"], settings["d_skip_below"]

    def gan_step(engine: Engine, _: None) -> dict[str, float]:
        iteration = engine.state.iteration
        gan.train()
        latents = seeding.generator(seed, seeding.LATENT, iteration)
        mixing = seeding.generator(seed, seeding.PENALTY, iteration)
        reals = dataset.batch(batch_size * n_critic, seed, iteration).to(gan.device)

        d_losses, skipped = [], 0
        for real in reals.split(batch_size):
            real_input = gan.real_input(real)
            with torch.no_grad():
                fake_input = gan.generate(gan.sample_latent(real.shape[0], latents))
            loss_d = loss.discriminator(gan.discriminate(real_input), gan.discriminate(fake_input))
            if loss.gradient_penalty_weight > 0:
                penalty = gradient_penalty(gan.discriminate, real_input, fake_input, mixing)
                loss_d = loss_d + loss.gradient_penalty_weight * penalty
            value = loss_d.item()
            d_losses.append(value)
            if skip_below is not None and value < skip_below:
                skipped += 1
                continue
            optimizer_d.zero_grad(set_to_none=True)
            loss_d.backward()
            optimizer_d.step()

        gan.discriminator.requires_grad_(False)
        try:
            fake_input = gan.generate(gan.sample_latent(batch_size, latents))
            real_logits = gan.discriminate(real_input).detach() if loss.generator_needs_real else None
            loss_g = loss.generator(gan.discriminate(fake_input), real_logits)
            optimizer_g.zero_grad(set_to_none=True)
            loss_g.backward()
            optimizer_g.step()
        finally:
            gan.discriminator.requires_grad_(True)
        return {"loss_d": sum(d_losses) / len(d_losses), "loss_g": loss_g.item(), "d_skipped": float(skipped)}

    return GanTraining(Engine(gan_step), gan_step, gan, {"g": optimizer_g, "d": optimizer_d}, batch_size * n_critic)


class History:
    """Rows of numbers logged during training (losses per iteration, metrics every K iterations),
    kept by column and checkpointed with the run so a resumed run keeps its whole history."""

    def __init__(self) -> None:
        self.columns: dict[str, list[float]] = {}
        self.length = 0

    def append(self, row: Mapping[str, float]) -> None:
        """Add a row; a key not seen before becomes a new last column (NaN in earlier rows), so the
        columns keep the order their keys first came in, whatever the process's hash seed."""
        for key in row:
            if key not in self.columns:
                self.columns[key] = [math.nan] * self.length
        for key, column in self.columns.items():
            value = row.get(key)
            column.append(math.nan if value is None else float(value))
        self.length += 1

    def rows(self) -> list[dict[str, float]]:
        return [{key: column[i] for key, column in self.columns.items()} for i in range(self.length)]

    def to_csv(self) -> str:
        keys = list(self.columns)
        lines = [",".join(keys)] + [",".join(repr(self.columns[k][i]) for k in keys) for i in range(self.length)]
        return "\n".join(lines) + "\n"

    def state_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "length": self.length}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.columns = {key: list(values) for key, values in state["columns"].items()}
        self.length = int(state["length"])


def attach_loss_history(engine: Engine, gan: GAN) -> History:
    """Log iteration, loss_d, loss_g, d_skipped and the variant's schedule values every iteration."""
    history = History()

    @engine.on(Events.ITERATION_COMPLETED)
    def record(engine: Engine) -> None:
        history.append({"iteration": engine.state.iteration, **engine.state.output, **gan.schedule_state()})

    return history


def attach_divergence_check(engine: Engine) -> None:
    """Stop the run, instead of raising, when a loss becomes NaN or infinite.

    Sets ``engine.state.diverged_at`` to the iteration (None while the losses are finite).
    """
    engine.state.diverged_at = None

    @engine.on(Events.ITERATION_COMPLETED)
    def check(engine: Engine) -> None:
        if not all(math.isfinite(value) for value in engine.state.output.values()):
            engine.state.diverged_at = engine.state.iteration
            engine.terminate()


def attach_time_limit(engine: Engine, seconds: float) -> None:
    """Stop after ``seconds`` of wall time in this session; sets ``engine.state.stopped_by_time``."""
    engine.state.stopped_by_time = False
    started = time.perf_counter()

    @engine.on(Events.ITERATION_COMPLETED)
    def check(engine: Engine) -> None:
        if time.perf_counter() - started > seconds:
            engine.state.stopped_by_time = True
            engine.terminate()


@dataclass
class IterationTimer:
    """Wall time of each iteration after ``warmup`` iterations (first-call overheads excluded),
    and the peak memory of the run: process peak RSS on CPU, max allocated on CUDA (bytes)."""

    device: torch.device
    warmup: int = 5
    seconds: list[float] = field(default_factory=list)
    peak_memory_bytes: int | None = None

    def attach(self, engine: Engine) -> IterationTimer:
        started = {"at": 0.0, "count": 0}
        reset_peak_memory(self.device)

        @engine.on(Events.ITERATION_STARTED)
        def start(engine: Engine) -> None:
            started["at"] = time.perf_counter()

        @engine.on(Events.ITERATION_COMPLETED)
        def stop(engine: Engine) -> None:
            started["count"] += 1
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            if started["count"] > self.warmup:
                self.seconds.append(time.perf_counter() - started["at"])

        @engine.on(Events.COMPLETED | Events.TERMINATE)
        def measure_memory(engine: Engine) -> None:
            self.peak_memory_bytes = peak_memory_bytes(self.device)

        return self

    def summary(self, images_per_iteration: int) -> dict[str, float | None]:
        """ms per iteration (mean, median) and real images consumed per second of training."""
        if not self.seconds:
            return {"ms_per_iteration": None, "ms_per_iteration_median": None, "train_images_per_second": None}
        mean = sum(self.seconds) / len(self.seconds)
        median = sorted(self.seconds)[len(self.seconds) // 2]
        return {
            "ms_per_iteration": 1000 * mean,
            "ms_per_iteration_median": 1000 * median,
            "train_images_per_second": images_per_iteration / mean,
            "timed_iterations": len(self.seconds),
        }


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak-memory window (CUDA allocator stats, or the Linux VmHWM of this process)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_memory_bytes(device: torch.device) -> int | None:
    """Peak memory since :func:`reset_peak_memory`: CUDA max allocated, or the process peak RSS."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def attach_checkpoints(engine: Engine, to_save: Mapping[str, Any], directory: Path, every: int) -> Checkpoint:
    """Save ``to_save`` every ``every`` iterations into ``directory`` (the newest one is kept)."""
    checkpoint = Checkpoint(
        to_save,
        DiskSaver(str(directory), require_empty=False, atomic=True),
        filename_prefix="",
        n_saved=1,
        global_step_transform=lambda engine, _: engine.state.iteration,
    )
    engine.add_event_handler(Events.ITERATION_COMPLETED(every=every), checkpoint)
    return checkpoint


def resume_from_checkpoint(to_load: Mapping[str, Any], directory: Path) -> int:
    """Load the newest checkpoint in ``directory`` into ``to_load``; the iteration it holds, or 0.

    A checkpoint that cannot be read raises :class:`UserError` naming the file and the fix.
    """
    files = sorted(directory.glob("checkpoint_*.pt"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    if not files:
        return 0
    newest = files[-1]
    try:
        state = torch.load(newest, map_location="cpu", weights_only=False)
        Checkpoint.load_objects(to_load, state)
    except Exception as error:  # noqa: BLE001 - any failure means the file is unusable
        raise UserError(
            f"cannot resume from checkpoint {newest} ({type(error).__name__}: {str(error).splitlines()[0][:120]}); "
            f"delete {directory} to restart this run, or run with --restart"
        ) from None
    return int(to_load["trainer"].state.iteration)


def attach_progress_bar(engine: Engine, description: str, keys: tuple[str, ...] = ("loss_d", "loss_g")) -> ProgressBar:
    """ignite's tqdm bar over the run's iterations, showing the step outputs named by ``keys``.

    The bar is removed when the run ends (``persist=False``: ignite passes it to tqdm as
    ``leave``), so the suite's own bar and summary lines stay readable.
    """
    bar = ProgressBar(persist=False, desc=description)
    bar.attach(engine, output_transform=lambda out: {key: out[key] for key in keys})
    return bar
