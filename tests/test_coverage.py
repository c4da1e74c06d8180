"""Mode-coverage metrics on cases whose answers follow from the definitions."""

import math

import pytest
import torch

from ganbench.data import DataOptions, load_dataset
from ganbench.metrics.coverage import mode_statistics


@pytest.fixture(params=["ring8", "grid25"])
def mixture(request):
    return load_dataset(request.param, DataOptions())


def test_sampler_that_hits_one_mode(mixture):
    points = mixture.means[3].repeat(2500, 1) + 0.5 * mixture.sigma * torch.randn(2500, 2)
    stats = mode_statistics(points, mixture.means, mixture.sigma)
    assert stats["modes_covered"] == 1
    assert stats["high_quality_fraction"] == pytest.approx(1.0, abs=0.002)  # P(|N2| < 6 sigma') ~ 1
    modes = len(mixture.means)
    assert stats["reverse_kl"] == pytest.approx(math.log(modes), rel=1e-9)


def test_exact_sampler_covers_everything(mixture):
    points = mixture.sample(2500, torch.Generator().manual_seed(1))
    stats = mode_statistics(points, mixture.means, mixture.sigma)
    assert stats["modes_covered"] == len(mixture.means)
    # For an isotropic 2D Gaussian, P(||x - mu|| < 3 sigma) = 1 - exp(-9/2) = 0.98889.
    assert stats["high_quality_fraction"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    # The multinomial histogram of 2500 draws is close to uniform: KL ~ (K - 1) / (2N).
    assert stats["reverse_kl"] < 5 * (len(mixture.means) - 1) / (2 * 2500)


def test_hand_computed_histogram():
    means = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    points = torch.tensor([[0.0, 0.0], [0.2, 0.0], [10.0, 0.05], [4.0, 0.0]])  # sigma 0.1: 3 sigma = 0.3
    stats = mode_statistics(points, means, 0.1)
    # nearest modes: 0, 0, 1, 0 -> histogram (3/4, 1/4); high quality: the first three points.
    assert stats["modes_covered"] == 2
    assert stats["high_quality_fraction"] == pytest.approx(0.75)
    expected = 0.75 * math.log(0.75 * 2) + 0.25 * math.log(0.25 * 2)
    assert stats["reverse_kl_all"] == pytest.approx(expected)
    # high-quality points only: modes 0, 0, 1 -> (2/3, 1/3)
    assert stats["reverse_kl"] == pytest.approx(2 / 3 * math.log(4 / 3) + 1 / 3 * math.log(2 / 3))


def test_points_far_from_every_mode_are_not_high_quality():
    means = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    stats = mode_statistics(torch.full((10, 2), 0.5), means, 0.01)
    assert stats["modes_covered"] == 0
    assert stats["high_quality_fraction"] == 0.0


def test_mixture_definitions_follow_the_protocol():
    ring = load_dataset("ring8", DataOptions())
    assert torch.allclose(ring.means.norm(dim=1), torch.ones(8))
    assert ring.sigma == 0.01
    grid = load_dataset("grid25", DataOptions())
    assert sorted({float(v) for v in grid.means.flatten()}) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert len(grid.means) == 25 and grid.sigma == 0.05


def test_reverse_kl_counts_high_quality_samples_only():
    """PacGAN's and VEEGAN's reverse KL: the histogram of high-quality points over modes.

    Half the points sit sharply on ring8's mode 0; the other half lie at radius 0.5 (far from
    every mode: 3 sigma = 0.03), 1/16 of all points in the direction of each of the 8 modes, so
    each goes to that mode by nearest assignment. High-quality histogram: all on mode 0, KL = log 8.
    All points: mode 0 has 1/2 + 1/16 = 9/16, the others 1/16 each:
    KL = 9/16 log(9/16 * 8) + 7 * 1/16 log(1/16 * 8).
    """
    ring = load_dataset("ring8", DataOptions())
    sharp = ring.means[0].repeat(800, 1) + 0.1 * ring.sigma * torch.randn(
        800, 2, generator=torch.Generator().manual_seed(0))
    spread = (0.5 * ring.means).repeat(100, 1)
    stats = mode_statistics(torch.cat([sharp, spread]), ring.means, ring.sigma)
    assert stats["high_quality_fraction"] == pytest.approx(0.5)
    assert stats["modes_covered"] == 1
    assert stats["reverse_kl"] == pytest.approx(math.log(8), rel=1e-9)
    assert stats["reverse_kl_all"] == pytest.approx(9 / 16 * math.log(9 / 2) + 7 / 16 * math.log(1 / 2), rel=1e-9)
    assert stats["reverse_kl_all"] == pytest.approx(0.5428, abs=1e-4)


def test_reverse_kl_is_undefined_without_high_quality_samples():
    means = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    stats = mode_statistics(torch.full((10, 2), 0.5), means, 0.01)
    assert stats["reverse_kl"] is None
    assert stats["reverse_kl_all"] == pytest.approx(math.log(2))  # ties go to the first mode: one bin


def test_toy_budgets_follow_pacgan_but_quick():
    """standard and paper train fc as PacGAN's configs do (fjxmlzn/PacGAN, 2D*_GAN&PacGAN/config.py: 2-d
    latent, G 4 x 400, D 3 maxout layers of 200 with 5 pieces, Adam 1e-4 with beta1 0.8, batch 100; 400 epochs of
    1,000 batches); quick, the default job, trains 6,000 iterations at lr 1e-3, beta1 0.5, decayed linearly."""
    from ganbench.builtins import register_builtins
    from ganbench.gan.suite import variant_settings
    from ganbench.runs import SUITES

    register_builtins()
    toy = SUITES.get("toy")
    pacgan = {"latent_dim": 2, "g_widths": (400, 400, 400, 400), "d_widths": (200, 200, 200), "maxout_pieces": 5,
              "lr_g": 1e-4, "lr_d": 1e-4, "beta1": 0.8, "beta2": 0.999, "batch_size": 100, "n_critic": 1,
              "loss": "ns", "ema": False, "lr_decay": "none"}
    for budget, iterations in (("standard", 20_000), ("paper", 400_000)):
        settings = variant_settings(toy, "fc", budget)
        assert {key: settings[key] for key in pacgan} == pacgan, budget
        assert toy.iterations("fc", budget) == iterations
    quick = variant_settings(toy, "fc", "quick")
    assert {key: quick[key] for key in pacgan} == {**pacgan, "lr_g": 1e-3, "lr_d": 1e-3, "beta1": 0.5,
                                                   "lr_decay": "linear"}
    assert toy.default_budget == "quick" and toy.iterations("fc", "quick") == 6000
    assert all(toy.budgets[name].evaluation["samples"] == 2500 for name in ("quick", "standard", "paper"))
