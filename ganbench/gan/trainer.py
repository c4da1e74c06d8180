"""The Ignite GAN trainer: one step factory for every variant, and the handlers around it.

One Ignite iteration is one generator step preceded by ``n_critic`` discriminator steps:

1. for each of ``n_critic`` real batches: D sees the real batch (label 1) and a fresh generated
   batch (label 0, no gradient into G) and takes an Adam step on its loss, unless that loss is
   below ``d_skip_below`` (the step is then skipped and counted);
2. G generates a batch and is scored by D with D's parameters frozen (``requires_grad`` off),
   asking for label 1 (non-saturating for the ``ns`` loss), and takes an Adam step.

Everything else (loss history, checkpoints and resume, divergence, timing, progress) is a handler
of :mod:`ganbench.handlers`, attached by :mod:`ganbench.gan.run`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ignite.distributed as idist
import torch
from ignite.engine import Engine

from ganbench import seeding
from ganbench.gan.losses import LOSSES, gradient_penalty, make_loss
from ganbench.execution import Execution, eager
from ganbench.settings import DIVERGE_ABOVE, Setting

if TYPE_CHECKING:
    from ganbench.data import BenchDataset
    from ganbench.gan.model import GAN

TRAINER_SETTINGS: dict[str, Setting] = {
    "batch_size": Setting(64, "real samples per discriminator step", minimum=1),
    "lr_g": Setting(2e-4, "Adam learning rate of G (TTUR: may differ from lr_d)", minimum=0, exclusive_minimum=True),
    "lr_d": Setting(2e-4, "Adam learning rate of D", minimum=0, exclusive_minimum=True),
    "beta1": Setting(0.5, "Adam beta1 of both optimisers", minimum=0, maximum=0.9999),
    "beta2": Setting(0.999, "Adam beta2 of both optimisers", minimum=0, maximum=0.9999),
    "n_critic": Setting(1, "D steps per G step (each on its own real batch)", minimum=1),
    "ema": Setting(False, "also keep an exponential moving average of G's weights and evaluate it beside the live G "
                   "(its metrics prefixed ema_; the headline metrics are the live G's)"),
    "ema_decay": Setting(0.999, "decay of G's moving average (warmed up as (1 + t) / (10 + t) while that is "
                         "smaller; ema only)", minimum=0, maximum=1),
    "d_skip_below": Setting(
        None, "skip the D update while its loss is below this value (none: never skip)", kind="float", optional=True
    ),
    "loss": Setting("ns", "adversarial loss", registry=LOSSES),
    "gp_weight": Setting(10.0, "gradient-penalty weight (loss wgan-gp only)", minimum=0),
    "drift": Setting(0.0, "drift penalty weight on E[D(x)^2] (loss wgan-gp only)", minimum=0),
    "diverge_above": DIVERGE_ABOVE,
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
    scaler: torch.amp.GradScaler | None = None


def _float(value: Any) -> Any:
    """A network input (a tensor, or a list of them for multi-scale variants) in float32."""
    if isinstance(value, torch.Tensor):
        return value.float()
    return type(value)(_float(part) for part in value)


def _channels_last(batch: torch.Tensor) -> torch.Tensor:
    return batch.contiguous(memory_format=torch.channels_last) if batch.dim() == 4 else batch


def create_gan_trainer(gan: GAN, dataset: BenchDataset, settings: Mapping[str, Any], seed: int,
                       execution: Execution | None = None, shard: tuple[int, int] = (0, 1)) -> GanTraining:
    """An Ignite engine whose iteration is ``n_critic`` D steps and one G step (see module doc).

    The engine runs with ``data=None``: each step draws its real batch from ``dataset.batch`` and
    its latents from generators seeded by (seed, iteration), so a resumed run draws what an
    uninterrupted one would. The step returns ``{"loss_d", "loss_g", "d_skipped"}`` (floats; loss_d
    is the mean over the D steps, d_skipped how many of them were skipped). The losses reach the
    host once per iteration, after the G step (a D loss is read earlier only to decide a skip when
    ``d_skip_below`` is set); the two random streams are two ``torch.Generator`` objects reseeded
    each iteration.

    ``execution`` (default fp32) sets the precision: under bf16 or fp16 the networks and losses run
    in autocast (fp16 with a gradient scaler, in the returned ``scaler``), the gradient penalty in
    fp32; with ``channels_last`` the real batches are NHWC (the caller converts the networks).

    ``shard`` = (rank, processes) makes this process one of a data-parallel group
    (``ignite.distributed``, see :func:`ganbench.execution.data_parallel`): ``batch_size`` stays the
    global batch, of which each process draws the same real batch and latents and takes its rank's
    slice (so the group sees what one process would); gradients are averaged over the group (one
    all-reduce of the flattened gradients per optimiser step) and so are the losses, which every
    process then holds alike and decides on alike (skips, divergence). Layers with batch statistics
    (the BatchNorm of fc's and DCGAN's networks, the minibatch standard deviation of ProGAN's and
    MSG-GAN's critics) see the rank's slice; WGAN-GP's mixing weights are drawn per rank.
    """
    step = GanStep(gan, dataset, settings, seed, execution or Execution(), shard)
    return GanTraining(Engine(step), step, gan, {"g": step.optimizer_g, "d": step.optimizer_d},
                       step.batch_size * step.n_critic, step.scaler)


class GanStep:
    """The process function of :func:`create_gan_trainer`'s engine, ``step(engine, None)``: one
    iteration, ``n_critic`` D steps (:meth:`discriminator_step`) and one G step
    (:meth:`generator_step`), with the optimisers, the loss and the two random streams it keeps."""

    def __init__(self, gan: GAN, dataset: BenchDataset, settings: Mapping[str, Any], seed: int,
                 execution: Execution, shard: tuple[int, int]) -> None:
        self.gan, self.dataset, self.seed, self.execution = gan, dataset, seed, execution
        self.scaler = execution.grad_scaler(gan.device)
        rank, self.processes = shard  # the suite checked that the batch splits evenly
        batch_size = settings["batch_size"]
        self.local = slice(rank * batch_size // self.processes, (rank + 1) * batch_size // self.processes)
        self.rank_streams = (rank,) if self.processes > 1 else ()  # a single process draws what it always drew
        self.loss = make_loss(settings["loss"], settings["gp_weight"], settings["drift"])
        betas = (settings["beta1"], settings["beta2"])
        fused = gan.device.type in ("cpu", "cuda")  # one kernel per step: about 5x faster than foreach on a CPU
        self.optimizer_g = torch.optim.Adam(gan.generator.parameters(), lr=settings["lr_g"], betas=betas, fused=fused)
        self.optimizer_d = torch.optim.Adam(gan.discriminator.parameters(), lr=settings["lr_d"], betas=betas,
                                            fused=fused)
        self.batch_size, self.n_critic, self.skip_below = batch_size, settings["n_critic"], settings["d_skip_below"]
        self.latents, self.mixing = torch.Generator(), torch.Generator()  # reseeded each iteration (module doc)
        self.penalty = self.loss.gradient_penalty_weight > 0

    def __call__(self, engine: Engine, _: None) -> dict[str, float]:
        iteration = engine.state.iteration
        self.gan.train()
        self.latents.manual_seed(seeding.derive_seed(self.seed, seeding.LATENT, iteration))
        if self.penalty:
            self.mixing.manual_seed(seeding.derive_seed(self.seed, seeding.PENALTY, iteration, *self.rank_streams))
        reals = self.dataset.batch(self.batch_size * self.n_critic, self.seed, iteration)
        d_losses, skipped = [], 0
        for real in reals.split(self.batch_size):
            loss_d, skip, real_input = self.discriminator_step(real)
            d_losses.append(loss_d)
            skipped += skip
        loss_g = self.generator_step(real_input)
        losses = _mean_over(torch.stack([*d_losses, loss_g]), self.processes)
        *values_d, value_g = losses.tolist()  # one host sync per iteration
        return {"loss_d": sum(values_d) / len(values_d), "loss_g": value_g, "d_skipped": float(skipped)}

    def backward_and_step(self, loss_value: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            loss_value.backward()
            _average_gradients(optimizer, self.processes)
            optimizer.step()
        else:
            self.scaler.scale(loss_value).backward()
            _average_gradients(optimizer, self.processes)
            self.scaler.step(optimizer)
            self.scaler.update()

    def discriminator_step(self, real: torch.Tensor) -> tuple[torch.Tensor, bool, Any]:
        """One D step on one real batch (of which this process takes its slice): D's loss
        (detached), whether the step was skipped (``d_skip_below``) and D's real input."""
        gan, loss, execution = self.gan, self.loss, self.execution
        real = real[self.local].to(gan.device)
        if execution.channels_last:
            real = _channels_last(real)
        with execution.autocast(gan.device):
            real_input = gan.real_input(real)
            with torch.no_grad():
                fake_input = gan.generate(gan.sample_latent(self.batch_size, self.latents)[self.local])
            loss_d = loss.discriminator(gan.discriminate(real_input), gan.discriminate(fake_input)).float()
        if self.penalty:
            with eager(gan.discriminator):  # a compiled D has no double backward (aot_autograd)
                loss_d = loss_d + loss.gradient_penalty_weight * gradient_penalty(
                    gan.discriminate, _float(real_input), _float(fake_input), self.mixing)
        detached = loss_d.detach()
        # the only per-step host sync (and all-reduce, so that every process skips alike)
        if self.skip_below is not None and _mean_over(detached, self.processes).item() < self.skip_below:
            return detached, True, real_input
        self.optimizer_d.zero_grad(set_to_none=True)
        self.backward_and_step(loss_d, self.optimizer_d)
        return detached, False, real_input

    def generator_step(self, real_input: Any) -> torch.Tensor:
        """One G step, D frozen (``real_input``: the last D step's, for losses that score the
        reals too); G's loss, detached."""
        gan = self.gan
        gan.discriminator.requires_grad_(False)
        try:
            with self.execution.autocast(gan.device):
                fake_input = gan.generate(gan.sample_latent(self.batch_size, self.latents)[self.local])
                real_logits = gan.discriminate(real_input).detach() if self.loss.generator_needs_real else None
                loss_g = self.loss.generator(gan.discriminate(fake_input), real_logits).float()
            self.optimizer_g.zero_grad(set_to_none=True)
            self.backward_and_step(loss_g, self.optimizer_g)
        finally:
            gan.discriminator.requires_grad_(True)
        return loss_g.detach()


def _mean_over(values: torch.Tensor, processes: int) -> torch.Tensor:
    """``values`` averaged over the data-parallel group (themselves in a single process)."""
    return values if processes == 1 else idist.all_reduce(values.clone()) / processes  # all_reduce works in place


def _average_gradients(optimizer: torch.optim.Optimizer, processes: int) -> None:
    """Replace the gradients of ``optimizer``'s parameters by their mean over the data-parallel
    group, in one all-reduce (DDP's result without its wrapper, which cannot follow a GAN step:
    two forwards of D per backward, D frozen for G's step)."""
    if processes == 1:
        return
    gradients = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    flat = idist.all_reduce(torch.cat([gradient.reshape(-1) for gradient in gradients])) / processes
    for gradient, mean in zip(gradients, flat.split([gradient.numel() for gradient in gradients])):
        gradient.copy_(mean.view_as(gradient))
