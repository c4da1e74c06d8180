"""Mode coverage on 2D Gaussian mixtures (the VEEGAN / PacGAN protocol).

Each generated point is assigned to its nearest mixture mean. With sigma the components' standard
deviation and K the number of modes:

- ``high_quality_fraction``: the share of points within 3 sigma (strictly) of their nearest mean;
- ``modes_covered``: the number of modes with at least one high-quality point;
- ``reverse_kl``: KL(P_gen || P_true) in nats as PacGAN and VEEGAN define it: P_gen is the
  histogram over modes of the *high-quality* points only (each counted at its nearest mode,
  normalised by the number of high-quality points) and P_true the uniform 1/K; empty modes
  contribute 0 (0 log 0 = 0). It is 0 for a perfectly balanced sampler and log K when every
  high-quality point falls on one mode; with no high-quality point it is undefined (None).
- ``reverse_kl_all``: the same KL over the nearest-mode assignments of *all* points (ganbench's
  earlier definition). The two agree for an exact and for a collapsed sampler and differ
  otherwise: a sampler with half its points sharp on one ring mode and half far from every mode,
  spread evenly over the modes' directions, has reverse_kl = log 8 = 2.08 (only the sharp half
  counts) but reverse_kl_all = 9/16 log(9/2) + 7/16 log(1/2) = 0.54.

PacGAN evaluates 2,500 generated samples; so does the ``toy`` suite.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from ignite.metrics import Metric

from ganbench.columns import Column
from ganbench.data import BenchDataset, DataOptions
from ganbench.data.toy import GaussianMixture2D
from ganbench.metrics import EvaluationContext
from ganbench.results import atomic_write_bytes

HIGH_QUALITY_SIGMAS = 3.0
BATCH = 500  # points assigned per update


def mode_statistics(points: torch.Tensor, means: torch.Tensor, sigma: float) -> dict[str, Any]:
    """Coverage numbers for ``points`` (N, 2) against ``means`` (K, 2) with std ``sigma``."""
    coverage = ModeCoverage(means, sigma)
    coverage.update(points)
    return coverage.compute()


class ModeCoverage(Metric):
    """Ignite metric: accumulates nearest-mode counts over batches of points (n, 2)."""

    def __init__(self, means: torch.Tensor, sigma: float) -> None:
        self.means = means.to(torch.float64)
        self.sigma = sigma
        super().__init__(device="cpu")

    def reset(self) -> None:
        self.assigned = torch.zeros(len(self.means), dtype=torch.long)
        self.high_quality = torch.zeros(len(self.means), dtype=torch.long)
        self.total = 0

    def update(self, points: torch.Tensor) -> None:
        distances = torch.cdist(points.to(torch.float64).reshape(-1, 2), self.means)
        nearest_distance, nearest = distances.min(dim=1)
        good = nearest_distance < HIGH_QUALITY_SIGMAS * self.sigma
        self.assigned += torch.bincount(nearest, minlength=len(self.means))
        self.high_quality += torch.bincount(nearest[good], minlength=len(self.means))
        self.total += len(points)

    def compute(self) -> dict[str, Any]:
        return {
            "modes_covered": int((self.high_quality > 0).sum()),
            "modes_total": len(self.means),
            "high_quality_fraction": float(self.high_quality.sum()) / max(self.total, 1),
            "reverse_kl": reverse_kl_to_uniform(self.high_quality),
            "reverse_kl_all": reverse_kl_to_uniform(self.assigned),
            "coverage_samples": self.total,
        }


def reverse_kl_to_uniform(counts: torch.Tensor) -> float | None:
    """KL(P || uniform) in nats of the histogram ``counts`` (K,) normalised to sum 1 (0 log 0 =
    0): 0 for equal counts, log K for one non-empty bin; None when every count is 0."""
    total = int(counts.sum())
    if total == 0:
        return None
    histogram = counts.double() / total
    nonzero = histogram[histogram > 0]
    return max(float((nonzero * torch.log(nonzero * len(counts))).sum()), 0.0)


class MixtureCoverage:
    name = "coverage"
    summary = ("modes_covered, high_quality_fraction, reverse_kl (high-quality points, as PacGAN) and reverse_kl_all "
               "on 2D Gaussian mixtures (PacGAN protocol)")
    section = "metrics"
    columns = (
        Column("modes_covered", "modes", True, 1, headline=True, samples_key="coverage_samples", unit="modes"),
        Column("high_quality_fraction", "high-quality", True, 3, headline=True,
               samples_key="coverage_samples", unit="fraction"),
        Column("reverse_kl", "reverse KL", False, 3, headline=True, samples_key="coverage_samples", unit="nats",
               undefined="no high-quality samples"),
    )

    def applies_to(self, dataset: BenchDataset) -> bool:
        return isinstance(dataset, GaussianMixture2D)

    def check(self, dataset: BenchDataset, options: Mapping[str, Any], data: DataOptions) -> None:
        """Nothing to provide: the mixture's means are known."""

    def evaluate(self, context: EvaluationContext) -> dict[str, Any]:
        mixture = context.dataset
        assert isinstance(mixture, GaussianMixture2D)
        points = context.samples.generated(int(context.options.get("samples", 2500)))
        metric = ModeCoverage(mixture.means, mixture.sigma)
        for batch in points.split(BATCH):
            metric.update(batch)
        # The points and the mixture's means (K, 2), for the report's plot of one over the other.
        for name, array in (("samples", points.numpy()), ("modes", mixture.means.numpy())):
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            atomic_write_bytes(context.run_dir / f"{name}.npy", buffer.getvalue())
            context.artifacts[name] = context.run_dir / f"{name}.npy"
        return metric.compute()
