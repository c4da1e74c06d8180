"""Speed of the GAN trainer and the sampling engine (``pytest --benchmark-only``).

Each case times one unit of work on fixed inputs; pytest-benchmark reports min/mean/stddev and
compares against saved runs (``--benchmark-autosave``, ``--benchmark-compare``).
"""

from __future__ import annotations

import pytest
import torch

from ganbench.data import DataOptions, load_dataset
from ganbench.metrics.sampling import draw_samples
from ganbench.models import VARIANTS
from ganbench.settings import resolve
from ganbench.training import create_gan_trainer


def fc_on(dataset_name: str):
    variant = VARIANTS.get("fc")
    settings = resolve(variant.settings, "fc")
    dataset = load_dataset(dataset_name, DataOptions())
    torch.manual_seed(0)
    return variant.build(settings, dataset), dataset, settings


@pytest.mark.parametrize("dataset_name", ["grid25"])
def test_fc_training_iteration(benchmark, dataset_name):
    """One generator iteration (D step + G step) of PacGAN's 2D architecture at batch size 100."""
    gan, dataset, settings = fc_on(dataset_name)
    training = create_gan_trainer(gan, dataset, settings, seed=0)
    engine = training.engine
    engine.run(None, max_epochs=1, epoch_length=3)  # warm-up
    state = {"iteration": 3}

    def one_iteration():
        state["iteration"] += 1
        engine.state.iteration = state["iteration"]
        return training.step(engine, None)

    output = benchmark(one_iteration)
    assert set(output) == {"loss_d", "loss_g", "d_skipped"}


def test_fc_generation(benchmark):
    """2,500 samples through the sampling engine (the coverage protocol's sample count)."""
    gan, _, _ = fc_on("ring8")
    samples = benchmark(draw_samples, gan, 2500, 500, 0)
    assert samples.shape == (2500, 2)
