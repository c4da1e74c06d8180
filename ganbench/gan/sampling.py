"""Generated samples for evaluation: the Ignite engine that draws them, and :class:`SampleSet`,
the samples of one evaluation that every evaluator shares.

Batched, without gradients, with the model in eval mode, and with latents seeded by
(seed, "evaluation", batch index), so the same model always yields the same samples.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import torch
from ignite.engine import Engine, Events

from ganbench import seeding
from ganbench.gan.model import count_parameters

if TYPE_CHECKING:
    from ganbench.gan.model import GAN

GENERATION_BATCH = 256  # images generated per batch
POINTS_BATCH = 500  # 2D points generated per batch


def create_sampler(gan: GAN, count: int, batch_size: int, seed: int) -> Engine:
    """An engine whose ``run()`` yields ``count`` samples in batches; each iteration's output is a
    CPU tensor (n, *sample_shape). Attach Ignite metrics to it, or use :func:`draw_samples`.

    Run it with ``sampler.run(None, max_epochs=1, epoch_length=sampler.state.batches)``, as
    :func:`run_sampler` does.
    """

    def generate(engine: Engine, _: None) -> torch.Tensor:
        index = engine.state.iteration - 1
        size = min(batch_size, count - index * batch_size)
        z = gan.sample_latent(size, seeding.generator(seed, seeding.EVALUATION, index))
        return gan.sample(z).float().cpu()

    sampler = Engine(generate)

    @sampler.on(Events.STARTED)
    def to_eval_mode(_: Engine) -> None:
        gan.eval()

    sampler.state.batches = math.ceil(count / batch_size)
    return sampler


def run_sampler(sampler: Engine) -> None:
    with torch.no_grad():
        sampler.run(None, max_epochs=1, epoch_length=sampler.state.batches)


def draw_samples(gan: GAN, count: int, batch_size: int, seed: int) -> torch.Tensor:
    """``count`` generated samples on the CPU: (count, *sample_shape)."""
    sampler = create_sampler(gan, count, batch_size, seed)
    batches: list[torch.Tensor] = []
    sampler.add_event_handler(Events.ITERATION_COMPLETED, lambda engine: batches.append(engine.state.output))
    run_sampler(sampler)
    return torch.cat(batches)


class SampleSet:
    """The samples of one evaluation of ``gan`` (the evaluators' :class:`~ganbench.metrics.SampleSource`):
    drawn on first request for a count, in batches of ``batch_size``, then shared by every
    evaluator asking for that count (fidelity and classes both read ``eval.samples``)."""

    def __init__(self, gan: GAN, seed: int, batch_size: int) -> None:
        self.gan = gan
        self.seed = seed
        self.batch_size = batch_size
        self._drawn: dict[int, torch.Tensor] = {}

    def generated(self, count: int) -> torch.Tensor:
        if count not in self._drawn:
            self._drawn[count] = draw_samples(self.gan, count, self.batch_size, self.seed)
        return self._drawn[count]

    def scales(self, count: int) -> dict[int, torch.Tensor]:
        self.gan.eval()
        z = self.gan.sample_latent(count, seeding.generator(0, "grid"))
        return self.gan.sample_scales(z)

    def generation_rate(self, count: int) -> float:
        """Samples per second over ``count`` new samples in batches of :data:`GENERATION_BATCH`, the
        first batch not timed."""
        sampler = create_sampler(self.gan, count + GENERATION_BATCH, GENERATION_BATCH, self.seed)
        marks: dict[str, float] = {}
        sampler.add_event_handler(Events.ITERATION_COMPLETED(once=1),
                                  lambda _: marks.setdefault("start", time.perf_counter()))
        run_sampler(sampler)
        if self.gan.device.type == "cuda":
            torch.cuda.synchronize(self.gan.device)
        return count / (time.perf_counter() - marks["start"])

    def parameter_counts(self) -> dict[str, int]:
        return {"parameters_g": count_parameters(self.gan.generator),
                "parameters_d": count_parameters(self.gan.discriminator)}
