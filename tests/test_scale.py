"""Evaluation at 50k: the blocked computations give the numbers the unblocked ones gave (on fixed
features, to float tolerance), and the FID bootstrap's cost is bounded at large N."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from ganbench.metrics.feature_metrics import bootstrap_resamples, fid_uncertainty, knn_radii, neighbourhood_metrics
from ganbench.stats import GaussianStatistics, fid_from_features, gaussian_statistics


def lenet_like(rows: int, dims: int, seed: int) -> np.ndarray:
    """ReLU features with some units that never fire: a singular covariance, as lenet's on MNIST."""
    features = np.maximum(np.random.default_rng(seed).standard_normal((rows, dims)) + 0.3, 0) * 2.0
    features[:, :3] = 0.0
    return features.astype(np.float32)


def test_blocked_covariance_equals_np_cov():
    features = lenet_like(1000, 20, 0)
    blocked = gaussian_statistics(features, block=37)
    assert np.allclose(blocked.mu, features.astype(np.float64).mean(axis=0), rtol=0, atol=1e-12)
    assert np.allclose(blocked.sigma, np.cov(features.astype(np.float64), rowvar=False), rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # sqrtm of the singular covariance, the old way
def test_the_eigendecomposition_square_root_equals_sqrtm_and_fid_is_unchanged():
    generated, reference = lenet_like(800, 24, 1), lenet_like(900, 24, 2)
    stats = gaussian_statistics(reference)
    old_root = np.real(scipy.linalg.sqrtm(stats.sigma))
    old_root = (old_root + old_root.T) / 2
    assert np.allclose(stats.sqrt_sigma, old_root, rtol=0, atol=1e-7 * np.abs(old_root).max())
    gen = gaussian_statistics(generated)
    eigenvalues = np.linalg.eigvalsh(old_root @ gen.sigma @ old_root)
    diff = gen.mu - stats.mu
    trace_root = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    old_fid = diff @ diff + np.trace(gen.sigma) + np.trace(stats.sigma) - 2 * trace_root
    assert fid_from_features(generated, stats) == pytest.approx(old_fid, rel=1e-9)
    assert isinstance(stats, GaussianStatistics)


def test_blocked_neighbourhood_metrics_equal_one_block():
    generated, reference = torch.from_numpy(lenet_like(700, 16, 3)), torch.from_numpy(lenet_like(600, 16, 4))
    whole = neighbourhood_metrics(generated, reference, 3, 5, block=10_000)
    assert neighbourhood_metrics(generated, reference, 3, 5, block=29) == whole
    # The radii of 13-row blocks agree to float rounding, not bit for bit: cdist's matrix product
    # rounds differently with the number of rows on some CPUs (AMD EPYC), and below 25 rows it
    # takes the direct path.
    radii = knn_radii(reference, (3, 5), block=10_000)
    assert all(torch.allclose(radius, knn_radii(reference, (3, 5), block=13)[k], rtol=1e-5, atol=1e-6)
               for k, radius in radii.items())


def test_the_bootstrap_keeps_200_resamples_on_lenet_and_bounds_them_at_2048_dimensions():
    assert bootstrap_resamples(200, 10_000, 84) == 200
    assert bootstrap_resamples(200, 10_000, 252) == 200  # Stacked MNIST: 3 x 84
    assert bootstrap_resamples(200, 10_000, 2048) == 20
    assert bootstrap_resamples(200, 50_000, 2048) == 20
    assert bootstrap_resamples(200, 600, 2048) == 20  # the 2,048 x 2,048 eigendecomposition counts too
    assert bootstrap_resamples(10, 50_000, 2048) == 10  # never more than asked
    features = torch.from_numpy(lenet_like(60, 8, 5))
    values = fid_uncertainty(features, features + 0.1, 200, 0, seed=0)
    assert values["fid_ci_resamples"] == 200 and "fid_ci_resamples_requested" not in values


def test_a_capped_bootstrap_records_what_was_asked(monkeypatch):
    from ganbench.metrics import feature_metrics

    monkeypatch.setattr(feature_metrics, "BOOTSTRAP_WORK", (60 + 4 * 8) * 8 * 8 * 30)
    features = torch.from_numpy(lenet_like(60, 8, 6))
    values = fid_uncertainty(features, features + 0.1, 200, 0, seed=0)
    assert values["fid_ci_resamples"] == 30 and values["fid_ci_resamples_requested"] == 200
