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
from ganbench.distributed import rows_in_blocks
from ganbench.gan.model import count_parameters

if TYPE_CHECKING:
    from ganbench.gan.model import GAN

GENERATION_BATCH = 256  # images generated per batch
POINTS_BATCH = 500  # 2D points generated per batch


def create_sampler(gan: GAN, count: int, batch_size: int, seed: int, first_batch: int = 0) -> Engine:
    """An engine whose ``run()`` yields samples ``first_batch * batch_size`` .. ``count - 1`` of the
    evaluation's sequence in batches (batch i from latents seeded by (seed, "evaluation", i)); each
    iteration's output is a CPU tensor (n, *sample_shape). Attach Ignite metrics to it, or use
    :func:`draw_samples`.

    Run it with ``sampler.run(None, max_epochs=1, epoch_length=sampler.state.batches)``, as
    :func:`run_sampler` does.
    """

    def generate(engine: Engine, _: None) -> torch.Tensor:
        index = first_batch + engine.state.iteration - 1
        size = min(batch_size, count - index * batch_size)
        z = gan.sample_latent(size, seeding.generator(seed, seeding.EVALUATION, index))
        return gan.sample(z).float().cpu()

    sampler = Engine(generate)

    @sampler.on(Events.STARTED)
    def to_eval_mode(_: Engine) -> None:
        gan.eval()

    sampler.state.batches = math.ceil(count / batch_size) - first_batch
    return sampler


def run_sampler(sampler: Engine) -> None:
    with torch.no_grad():
        sampler.run(None, max_epochs=1, epoch_length=sampler.state.batches)


def draw_samples(gan: GAN, count: int, batch_size: int, seed: int, start: int = 0) -> torch.Tensor:
    """Generated samples ``start`` .. ``count - 1`` of the evaluation's sequence on the CPU:
    (count - start, *sample_shape); ``start`` is a multiple of ``batch_size``."""
    sampler = create_sampler(gan, count, batch_size, seed, start // batch_size)
    batches: list[torch.Tensor] = []
    sampler.add_event_handler(Events.ITERATION_COMPLETED, lambda engine: batches.append(engine.state.output))
    run_sampler(sampler)
    return torch.cat(batches)


class SampleSet:
    """The samples of one evaluation of ``gan`` (the evaluators' :class:`~ganbench.metrics.SampleSource`):
    drawn on first request for a count, in batches of ``batch_size``, then shared by every
    evaluator asking for that count (fidelity and classes both read ``eval.samples``).

    ``distributed``: every rank of the data-parallel group asks for the same counts, generates its
    run of the batches and receives the others' (:func:`~ganbench.distributed.rows_in_blocks`):
    the samples of a single process, each rank generating 1/world of them."""

    def __init__(self, gan: GAN, seed: int, batch_size: int, distributed: bool = False) -> None:
        self.gan = gan
        self.seed = seed
        self.batch_size = batch_size
        self.distributed = distributed
        self._drawn: dict[int, torch.Tensor] = {}

    def generated(self, count: int) -> torch.Tensor:
        if count not in self._drawn:
            if self.distributed:
                self._drawn[count] = rows_in_blocks(count, self.batch_size, lambda start, end: draw_samples(
                    self.gan, end, self.batch_size, self.seed, start))
            else:
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
