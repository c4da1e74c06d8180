"""Speed of the GAN trainer and the sampling engine (``pytest benchmarks --benchmark-only``).

Each case times one unit of work users wait for on fixed inputs, one torch thread (see
``benchmarks/conftest.py`` for the rates and calibrated times every case reports):

- one training iteration (``n_critic`` D steps and one G step) of each variant with the ``mnist``
  suite's ``quick`` settings on the MNIST test split (fc also on the 2D grid), ProGAN both at its
  final resolution (stable, alpha 1) and halfway through the fade-in to it; ``img_per_second`` =
  real images per iteration / median time, ``gflop_per_round`` from torch's flop counter;
- generation: 1,024 samples of each image variant (2,500 points of fc on ring8) through the
  sampling engine;
- the trainer's overhead: DCGAN (width 64, batch 64) on the Ignite trainer against a plain PyTorch
  loop doing the same math on the same networks and batches, in interleaved rounds.
"""

from __future__ import annotations

import copy
import statistics
import time

import pytest
import torch
import torch.nn.functional as F
from ignite.engine import Engine, Events

from ganbench.calibration import count_flops
from ganbench.data import DataOptions, load_dataset
from ganbench.gan.model import VARIANTS
from ganbench.gan.sampling import draw_samples
from ganbench.gan.trainer import create_gan_trainer
from ganbench.runs import SUITES
from ganbench.settings import resolve

WARMUP = 3


def fc_on(dataset_name: str):
    variant = VARIANTS.get("fc")
    settings = resolve(variant.settings, "fc")
    dataset = load_dataset(dataset_name, DataOptions())
    torch.manual_seed(0)
    return variant.create(settings, dataset), dataset, settings


def image_variant(variant_name: str, data_root, **overrides):
    """A variant with the mnist suite's quick settings (and ``overrides``) on the MNIST test split."""
    suite = SUITES.get("mnist")
    variant = VARIANTS.get(variant_name)
    settings = resolve(variant.settings, variant_name, suite.settings.get(variant_name, {}),
                       suite.budgets["quick"].settings.get(variant_name, {}), overrides)
    dataset = load_dataset("mnist", DataOptions(data_root=str(data_root), split="test",
                                                image_size=variant.image_size(settings)))
    torch.manual_seed(0)
    return variant.create(settings, dataset), dataset, settings


def time_iterations(benchmark, measure, gan, dataset, settings, fade_in: bool = False) -> dict:
    """Times single trainer iterations after ``WARMUP`` warm-up ones; ProGAN is held at its last
    resolution, stable (alpha 1) or halfway through its fade-in."""
    training = create_gan_trainer(gan, dataset, settings, seed=0)
    engine = training.engine
    if hasattr(gan, "sizes"):  # ProGAN: fix the phase instead of following the growth schedule

        @engine.on(Events.ITERATION_STARTED)
        def hold_phase(_):
            gan.level, gan.alpha = len(gan.sizes) - 1, 0.5 if fade_in else 1.0

    engine.run(None, max_epochs=1, epoch_length=WARMUP)
    state = {"iteration": WARMUP}

    def one_iteration():
        state["iteration"] += 1
        engine.state.iteration = state["iteration"]
        engine.fire_event(Events.ITERATION_STARTED)
        return training.step(engine, None)

    flop = count_flops(one_iteration)
    benchmark.extra_info.update(items_per_round=training.images_per_iteration, unit="img",
                                gflop_per_round=flop / 1e9)
    output = measure(one_iteration)
    assert set(output) == {"loss_d", "loss_g", "d_skipped"}
    return output


def test_fc_training_iteration(benchmark, measure):
    """One iteration (D step + G step) of PacGAN's 2D architecture at batch size 100 on grid25."""
    time_iterations(benchmark, measure, *fc_on("grid25"))


@pytest.mark.parametrize("variant_name", ["fc", "dcgan", "progan", "msggan"])
def test_image_variant_training_iteration(benchmark, measure, variant_name, shared_data):
    """One iteration of each image variant (ProGAN at its final 32x32 resolution, alpha 1)."""
    time_iterations(benchmark, measure, *image_variant(variant_name, shared_data))


def test_progan_fade_in_iteration(benchmark, measure, shared_data):
    """One ProGAN iteration fading in its final 32x32 resolution (alpha 0.5: both paths run)."""
    time_iterations(benchmark, measure, *image_variant("progan", shared_data), fade_in=True)


def time_generation(benchmark, measure, gan, count: int, batch: int) -> None:
    gan.eval()
    z = gan.sample_latent(batch, torch.Generator().manual_seed(0))
    flop = count_flops(lambda: gan.sample(z)) * count / batch
    benchmark.extra_info.update(items_per_round=count, unit="img", gflop_per_round=flop / 1e9)
    samples = measure(draw_samples, gan, count, batch, 0)
    assert len(samples) == count


def test_fc_generation(benchmark, measure):
    """2,500 points through the sampling engine (the coverage protocol's sample count)."""
    time_generation(benchmark, measure, fc_on("ring8")[0], 2500, 500)


@pytest.mark.parametrize("variant_name", ["fc", "dcgan", "progan", "msggan"])
def test_image_variant_generation(benchmark, measure, variant_name, shared_data):
    """1,024 images of each image variant in batches of 256 (ProGAN's EMA generator at 32x32)."""
    time_generation(benchmark, measure, image_variant(variant_name, shared_data)[0], 1024, 256)


# The trainer's overhead against a plain loop ------------------------------------------------------

OVERHEAD_ROUNDS, OVERHEAD_ITERATIONS = 10, 12


def plain_loop(gan, dataset, settings, seed: int):
    """DCGAN's training iteration as a plain PyTorch loop: the trainer's math (non-saturating loss,
    fused Adam, D then G with D frozen) on the same batches, without an engine or handlers.
    Returns ``train(first, iterations)``."""
    betas = (settings["beta1"], settings["beta2"])
    optimizer_g = torch.optim.Adam(gan.generator.parameters(), lr=settings["lr_g"], betas=betas, fused=True)
    optimizer_d = torch.optim.Adam(gan.discriminator.parameters(), lr=settings["lr_d"], betas=betas, fused=True)
    batch_size = settings["batch_size"]
    latents = torch.Generator().manual_seed(seed)
    gan.train()

    def train(first: int, iterations: int) -> None:
        for iteration in range(first, first + iterations):
            one_iteration(iteration)

    def one_iteration(iteration: int) -> None:
        real = dataset.batch(batch_size, seed, iteration)
        with torch.no_grad():
            fake = gan.generator(torch.randn(batch_size, gan.latent_dim, generator=latents))
        real_logits, fake_logits = gan.discriminator(real).view(-1), gan.discriminator(fake).view(-1)
        loss_d = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                  + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        optimizer_d.zero_grad(set_to_none=True)
        loss_d.backward()
        optimizer_d.step()
        gan.discriminator.requires_grad_(False)
        fake_logits = gan.discriminator(gan.generator(torch.randn(batch_size, gan.latent_dim,
                                                                  generator=latents))).view(-1)
        loss_g = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
        optimizer_g.zero_grad(set_to_none=True)
        loss_g.backward()
        optimizer_g.step()
        gan.discriminator.requires_grad_(True)

    return train


@pytest.mark.comparison
def test_trainer_overhead_against_a_plain_loop(benchmark, measure, shared_data):
    """DCGAN width 64, batch 64: img/s of the Ignite trainer (``ganbench.gan.trainer`` with the
    handlers a run attaches) over img/s of :func:`plain_loop`, interleaved iteration by iteration.

    The trainer runs one round of warm-up and ``OVERHEAD_ROUNDS`` rounds of
    ``OVERHEAD_ITERATIONS`` iterations in one ``engine.run``, as a run does, and a handler runs one
    plain iteration beside each of its iterations (after it on even iterations, before it on odd
    ones, so neither always follows the other). Times are CPU seconds of the process (on a shared
    machine wall time swings with the other processes). A mark taken last at the end of every
    iteration splits the run; the trainer's time of an iteration is the time since the previous mark
    less the plain iteration's, so the engine's event dispatch and every handler count against it.

    extra_info: ``trainer_over_plain``, the median over iterations of plain seconds / trainer
    seconds (1.0: no overhead; the median, because a disturbance of the machine lands on one side of
    a pair); ``overall_ratio`` (all plain seconds over all trainer seconds) and ``round_ratios``
    (the same per round)."""
    from ganbench.gan.run import loss_history
    from ganbench.handlers import Divergence, IterationTimer

    gan, dataset, settings = image_variant("dcgan", shared_data, g_width=64, d_width=64, batch_size=64)
    plain = plain_loop(copy.deepcopy(gan), dataset, settings, 0)
    training = create_gan_trainer(gan, dataset, settings, seed=0)
    engine = training.engine
    engine.add_event_handler(Events.ITERATION_COMPLETED, loss_history(gan))
    engine.add_event_handler(Events.ITERATION_COMPLETED, Divergence())
    IterationTimer(torch.device("cpu"), warmup=0).attach(engine)
    rounds, iterations = (OVERHEAD_ROUNDS, OVERHEAD_ITERATIONS) if benchmark.enabled else (1, 2)  # untimed: a check
    plain_seconds, marks = [], [time.process_time()]

    def plain_iteration(engine: Engine) -> None:
        start = time.process_time()
        plain(engine.state.iteration, 1)
        plain_seconds.append(time.process_time() - start)

    engine.add_event_handler(Events.ITERATION_STARTED(event_filter=lambda _, i: i % 2 == 1), plain_iteration)
    engine.add_event_handler(Events.ITERATION_COMPLETED(event_filter=lambda _, i: i % 2 == 0), plain_iteration)
    engine.add_event_handler(Events.ITERATION_COMPLETED, lambda _: marks.append(time.process_time()))
    engine.run(None, max_epochs=1, epoch_length=iterations * (rounds + 1))
    trainer_seconds = [after - before - spent for before, after, spent in zip(marks, marks[1:], plain_seconds)]
    plain_timed, trainer_timed = plain_seconds[iterations:], trainer_seconds[iterations:]  # after the warm-up round
    per_round = [sum(plain_timed[r * iterations:(r + 1) * iterations])
                 / sum(trainer_timed[r * iterations:(r + 1) * iterations]) for r in range(rounds)]
    benchmark.extra_info.update(
        trainer_over_plain=statistics.median(p / t for p, t in zip(plain_timed, trainer_timed)),
        overall_ratio=sum(plain_timed) / sum(trainer_timed), round_ratios=per_round,
        items_per_round=iterations * settings["batch_size"], unit="img")
    measure(lambda: training.step(engine, None), rounds=3)
