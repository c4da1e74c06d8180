"""The Ignite engine that draws generated samples for evaluation.

Batched, without gradients, with the model in eval mode, and with latents seeded by
(seed, "evaluation", batch index), so the same model always yields the same samples.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from ignite.engine import Engine, Events

from ganbench import seeding

if TYPE_CHECKING:
    from ganbench.models import GAN


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
