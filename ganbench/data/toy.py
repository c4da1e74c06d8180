"""The 2D Gaussian mixtures of the mode-collapse protocol (VEEGAN, Srivastava et al. 2017; PacGAN,
Lin et al. 2018).

- ``ring8``: 8 Gaussians with means evenly spaced on the unit circle, standard deviation 0.01.
- ``grid25``: 25 Gaussians with means at {-4, -2, 0, 2, 4}^2, standard deviation 0.05.

Each component has weight 1/K. Samples are float32 rows of shape (2,).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ganbench import seeding
from ganbench.data import BenchDataset, DataOptions


class GaussianMixture2D(BenchDataset):
    """An equal-weight mixture of isotropic 2D Gaussians.

    ``means``: (K, 2) float tensor; ``sigma``: the standard deviation of every component.
    """

    kind = "points"
    sample_shape = (2,)

    def __init__(self, name: str, means: torch.Tensor, sigma: float, source: str) -> None:
        self.name = name
        self.means = means.to(torch.float32)
        self.sigma = float(sigma)
        self.source = source

    def sample(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """``count`` samples, shape (count, 2): a uniformly chosen mean plus N(0, sigma^2 I) noise."""
        component = torch.randint(len(self.means), (count,), generator=generator)
        noise = torch.randn(count, 2, generator=generator)
        return self.means[component] + self.sigma * noise

    def batch(self, batch_size: int, seed: int, iteration: int) -> torch.Tensor:
        return self.sample(batch_size, seeding.generator(seed, seeding.DATA, iteration))

    def reference(self, count: int) -> torch.Tensor:
        return self.sample(count, seeding.generator(0, seeding.EVALUATION, 0))

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "modes": len(self.means),
            "sigma": self.sigma,
            "source": self.source,
        }


def ring8(options: DataOptions) -> GaussianMixture2D:
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    means = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return GaussianMixture2D("ring8", means, 0.01, "PacGAN (Lin et al. 2018), 2D-ring")


def grid25(options: DataOptions) -> GaussianMixture2D:
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    means = torch.cartesian_prod(axis, axis)
    return GaussianMixture2D("grid25", means, 0.05, "PacGAN (Lin et al. 2018), 2D-grid")
