"""Speed of the GAN trainer and the sampling engine (``pytest --benchmark-only``).

Each case times one unit of work on fixed inputs; pytest-benchmark reports min/mean/stddev and
compares against saved runs (``--benchmark-autosave``, ``--benchmark-compare``).
"""

from __future__ import annotations

import pytest
import torch

from ganbench.data import DataOptions, load_dataset
from ganbench.gan.model import VARIANTS
from ganbench.gan.sampling import draw_samples
from ganbench.settings import resolve
from ganbench.gan.trainer import create_gan_trainer
from ganbench.runs import SUITES


def fc_on(dataset_name: str):
    variant = VARIANTS.get("fc")
    settings = resolve(variant.settings, "fc")
    dataset = load_dataset(dataset_name, DataOptions())
    torch.manual_seed(0)
    return variant.create(settings, dataset), dataset, settings


def time_iterations(benchmark, gan, dataset, settings) -> dict:
    """Times single trainer iterations (n_critic D steps + one G step) after 3 warm-up ones."""
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
    return output


@pytest.mark.parametrize("dataset_name", ["grid25"])
def test_fc_training_iteration(benchmark, dataset_name):
    """One generator iteration (D step + G step) of PacGAN's 2D architecture at batch size 100."""
    time_iterations(benchmark, *fc_on(dataset_name))


@pytest.mark.parametrize("variant_name", ["fc", "dcgan", "progan", "msggan"])
def test_image_variant_training_iteration(benchmark, variant_name, shared_data):
    """One iteration of each image variant with the ``mnist`` suite's ``quick`` settings, on the
    MNIST test split (ProGAN at its final 32x32 resolution, alpha 1); images/s = batch_size / time."""
    suite = SUITES.get("mnist")
    variant = VARIANTS.get(variant_name)
    settings = resolve(variant.settings, variant_name, suite.settings.get(variant_name, {}),
                       suite.budgets["quick"].settings.get(variant_name, {}))
    dataset = load_dataset("mnist", DataOptions(data_root=str(shared_data), split="test",
                                                image_size=variant.image_size(settings)))
    torch.manual_seed(0)
    time_iterations(benchmark, variant.create(settings, dataset), dataset, settings)


def test_fc_generation(benchmark):
    """2,500 samples through the sampling engine (the coverage protocol's sample count)."""
    gan, _, _ = fc_on("ring8")
    samples = benchmark(draw_samples, gan, 2500, 500, 0)
    assert samples.shape == (2500, 2)
