"""The fidelity numbers computed from feature matrices, without torch-fidelity's extraction: FID's
bootstrap interval and FID-infinity, KID with float64 kernels, and precision/recall/density/coverage
in one pass over the distances. Their definitions are in :mod:`ganbench.metrics.fidelity`, which
extracts the features, caches what depends on the reference alone, and calls these.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.linalg
import torch
from torch_fidelity.helpers import get_kwarg

from ganbench.stats import GaussianStatistics, fid_from_features, fid_interval, gaussian_statistics

NEIGHBOUR_BLOCK = 256  # reference rows per distance block: 256 x N float32 distances at a time (a quarter
# faster than 1,024 on a CPU at N = 10,000: the block stays in cache; the values do not depend on it)


def require_finite(features: torch.Tensor, which: str) -> None:
    """Raise ``ValueError`` naming how many rows of ``features`` (N, ...) hold NaN or infinity."""
    bad = int((~torch.isfinite(features.reshape(len(features), -1))).any(dim=1).sum())
    if bad:
        raise ValueError(f"{bad} of {len(features)} {which} feature rows are NaN or infinite; the metrics of these "
                         f"samples are undefined (check the generator's output for NaN)")


def fid_uncertainty(generated: torch.Tensor, reference: torch.Tensor, resamples: int, points: int,
                    seed: int) -> dict[str, Any]:
    """FID's bootstrap interval and FID-infinity from FID features of the generated (N, D) and
    reference (M, D) samples (see the module doc); ``resamples`` 0 or ``points`` 0 leaves that
    part out. Keys: ``fid_ci_low``, ``fid_ci_high``, ``fid_ci_method``, ``fid_ci_resamples`` (the
    resamples drawn, :func:`bootstrap_resamples`; ``fid_ci_resamples_requested`` when fewer than asked);
    ``fid_infinity``, ``fid_infinity_slope``, ``fid_infinity_points`` (or, where N is too small for
    the fit, :func:`fid_infinity_allowed`, ``fid_infinity_skipped`` saying why)."""
    require_finite(generated, "generated")
    require_finite(reference, "reference")
    features = generated.double().cpu().numpy()
    stats: GaussianStatistics = gaussian_statistics(reference.double().cpu().numpy())
    values: dict[str, Any] = {}
    with warnings.catch_warnings():
        # lenet's ReLU features have units that never fire on MNIST: the covariance is singular,
        # and scipy warns although its principal square root exists and is what FID needs.
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        if resamples:
            used = bootstrap_resamples(resamples, *features.shape)
            interval = fid_interval(features, stats, resamples=used, seed=seed, shift_bias=True)
            values.update(fid_ci_low=interval.low, fid_ci_high=interval.high, fid_ci_method=interval.method,
                          fid_ci_resamples=used)
            if used < resamples:
                values["fid_ci_resamples_requested"] = resamples
        if points and fid_infinity_allowed(*features.shape):
            values.update(fid_infinity_fit(features, stats, points, seed))
        elif points:
            values["fid_infinity_skipped"] = (f"N/5 = {len(features) // 5} samples do not exceed the "
                                              f"{features.shape[1]} feature dimensions; raise eval.samples")
    return values


BOOTSTRAP_WORK = 2e11  # (N + 4 D) x D^2 x resamples the FID bootstrap may cost: 200 at N = 10,000, D <= 252 fit
BOOTSTRAP_MIN_RESAMPLES = 20


def bootstrap_resamples(requested: int, samples: int, dimensions: int) -> int:
    """How many of the ``requested`` FID bootstrap resamples are drawn for ``samples`` (N) feature
    rows of ``dimensions`` (D): each costs a covariance (~N D^2 multiply-adds) and a D x D
    eigendecomposition (measured on one CPU thread at D = 2,048: as long as a covariance of 4 D
    rows), so about (N + 4 D) D^2; the count is cut to what ``BOOTSTRAP_WORK`` allows, but never
    below ``BOOTSTRAP_MIN_RESAMPLES`` (20; a 95 % percentile interval from fewer is mostly noise)
    nor above the request. Lenet's 84 (Stacked MNIST: 252) features keep 200 resamples up to N =
    10,000; Inception's 2,048 get 20 at any N (about 2 s each at N = 5,000 on one CPU thread)."""
    allowed = int(BOOTSTRAP_WORK // max((samples + 4 * dimensions) * dimensions * dimensions, 1))
    return min(requested, max(BOOTSTRAP_MIN_RESAMPLES, allowed))


def fid_infinity_allowed(samples: int, dimensions: int) -> bool:
    """Whether ``samples`` generated feature rows allow the FID-infinity fit: its smallest subset,
    ``samples // 5`` rows, must exceed the ``dimensions`` of the features, so that every fitted
    point has a covariance that can be of full rank (below that FID's bias is not the ~1/N of the
    fit's model)."""
    return samples // 5 > dimensions


def fid_infinity_fit(features: np.ndarray, reference: GaussianStatistics, points: int, seed: int) -> dict[str, Any]:
    """Chong & Forsyth's FID-infinity: FID of the first N rows of one seeded permutation of
    ``features`` (N_max, D) for ``points`` N evenly spaced from N_max // 5 to N_max, then the
    least-squares line FID = intercept + slope / N. Returns ``fid_infinity`` (the intercept),
    ``fid_infinity_slope`` and ``fid_infinity_points`` ([[N, FID], ...])."""
    order = np.random.default_rng(seed).permutation(len(features))
    counts = np.unique(np.linspace(max(2, len(features) // 5), len(features), points).round().astype(int))
    fids = np.array([fid_from_features(features[order[:n]], reference) for n in counts])
    slope, intercept = np.polyfit(1.0 / counts, fids, 1)
    return {"fid_infinity": float(intercept), "fid_infinity_slope": float(slope),
            "fid_infinity_points": [[int(n), float(f)] for n, f in zip(counts, fids)]}


def knn_radii(features: torch.Tensor, ks: tuple[int, ...], block: int = NEIGHBOUR_BLOCK) -> dict[int, torch.Tensor]:
    """For each k in ``ks``: the distance of every row of ``features`` (M, d) to its k-th nearest
    other row, (M,) tensors. Rows are taken ``block`` at a time (torch.cdist against the whole set,
    then the k_max + 1 smallest by topk: the row's own distance 0 comes first)."""
    largest = max(ks) + 1
    nearest = torch.cat([torch.cdist(rows, features).topk(largest, dim=1, largest=False).values
                         for rows in features.split(block)])
    return {k: nearest[:, k].contiguous() for k in ks}


def neighbourhood_metrics(generated: torch.Tensor, reference: torch.Tensor, pr_k: int, dc_k: int,
                          reference_radii: Mapping[int, torch.Tensor] | None = None,
                          block: int = NEIGHBOUR_BLOCK) -> dict[str, float]:
    """Precision, recall (Kynkaanniemi et al. 2019, k = ``pr_k``), density and coverage (Naeem et
    al. 2020, k = ``dc_k``) of generated features (N, d) against reference features (M, d), from
    one chunked pass over the generated-reference distances.

    precision = (1 / N) sum_j 1[exists i: ||g_j - r_i|| <= NND_pr_k(r_i)]; recall = (1 / M) sum_i
    1[exists j: ||r_i - g_j|| <= NND_pr_k(g_j)]; density = (1 / kN) sum_i sum_j 1[||g_j - r_i|| <=
    NND_dc_k(r_i)]; coverage = (1 / M) sum_i 1[min_j ||g_j - r_i|| <= NND_dc_k(r_i)]. NND_k(x) is
    the distance of x to its k-th nearest other member of its own set (:func:`knn_radii`).

    The M x N distances are computed once, ``block`` reference rows at a time (memory ~ block * N
    floats); precision and density read only the pairs inside the wider of the two balls (a
    sparse set: ~k per reference row for similar sets), and the reference radii come from the
    same kind of call on reference rows, so ties compare consistently (identical sets give
    density (k + 1) / k and coverage 1).
    ``reference_radii`` ({k: (M,)} for pr_k and dc_k, e.g. from the reference cache) skips the
    M x M distances. Values equal torch-fidelity's precision/recall up to float rounding of
    distances (its precision uses the transposed distance call). A row holding NaN or infinity
    raises ``ValueError`` (it would silently count as outside every ball).
    """
    require_finite(generated, "generated")
    require_finite(reference, "reference")
    if generated.dtype != reference.dtype:
        generated = generated.to(reference.dtype)
    if reference.device != generated.device:
        reference = reference.to(generated.device)
    generated_radii = knn_radii(generated, (pr_k,), block)[pr_k]
    if reference_radii is None:
        reference_radii = knn_radii(reference, (pr_k, dc_k), block)
    reference_radii = {k: radius.to(generated.device) for k, radius in reference_radii.items()}
    wide = max(pr_k, dc_k)  # the larger k's balls hold the smaller k's: one mask finds both's hits
    inside = covered = recalled = 0
    precise = torch.zeros(len(generated), dtype=torch.bool, device=generated.device)
    for rows, radius_pr, radius_dc, radius_wide in zip(
            reference.split(block), reference_radii[pr_k].split(block), reference_radii[dc_k].split(block),
            reference_radii[wide].split(block)):
        distances = torch.cdist(rows, generated)
        recalled += int((distances <= generated_radii).any(dim=1).count_nonzero())
        covered += int((distances.amin(dim=1) <= radius_dc).count_nonzero())
        row, column = (distances <= radius_wide[:, None]).nonzero(as_tuple=True)  # sparse: ~k hits per row
        hits = distances[row, column]
        inside += int((hits <= radius_dc[row]).count_nonzero())
        precise[column[hits <= radius_pr[row]]] = True
    return {"precision": float(precise.float().mean()), "recall": recalled / len(reference),
            "density": inside / (dc_k * len(generated)), "coverage": covered / len(reference)}


def density_coverage(generated: torch.Tensor, reference: torch.Tensor, k: int) -> dict[str, float]:
    """Density and coverage alone (k nearest neighbours), as :func:`neighbourhood_metrics` computes them."""
    values = neighbourhood_metrics(generated, reference, k, k)
    return {"density": values["density"], "coverage": values["coverage"]}


KID_KEYS = ("kid_subsets", "kid_subset_size", "rng_seed", "kid_kernel_poly_degree", "kid_kernel_poly_gamma",
            "kid_kernel_poly_coef0")


def kid_choices(generated_count: int, reference_count: int,
                fidelity_options: Mapping[str, Any]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The (generated, reference) index subsets of KID, drawn as torch-fidelity draws them
    (``numpy.random.RandomState(rng_seed)``, alternately, without replacement within a subset)."""
    size = get_kwarg("kid_subset_size", fidelity_options)
    rng = np.random.RandomState(get_kwarg("rng_seed", fidelity_options))
    return [(torch.from_numpy(rng.choice(generated_count, size, replace=False)),
             torch.from_numpy(rng.choice(reference_count, size, replace=False)))
            for _ in range(get_kwarg("kid_subsets", fidelity_options))]


def kernel_sum(x: torch.Tensor, y: torch.Tensor, fidelity_options: Mapping[str, Any],
               without_diagonal: bool = False) -> torch.Tensor:
    """Sum of KID's polynomial kernel (x.y * gamma + coef0)^degree over x (n, d) y (m, d)^T,
    without its diagonal if asked; gamma defaults to 1 / d. The kernel and its sum are float64
    whatever the features' dtype: KID is a small difference (~1e-2 on lenet features) of kernel
    means of ~4e3 per entry, so float32 kernels leave its 4th digit to the CPU's BLAS kernels
    (they differed by 1.7e-4 relative between an Intel Xeon and an AMD EPYC)."""
    gamma = get_kwarg("kid_kernel_poly_gamma", fidelity_options) or 1.0 / x.shape[1]
    values = torch.mm(x.double(), y.double().T).mul_(gamma).add_(get_kwarg("kid_kernel_poly_coef0", fidelity_options))
    values.pow_(get_kwarg("kid_kernel_poly_degree", fidelity_options))
    total = values.sum(dtype=torch.float64)
    return total - values.diagonal().sum(dtype=torch.float64) if without_diagonal else total


def kid_reference_sums(reference: torch.Tensor, generated_count: int,
                       fidelity_options: Mapping[str, Any]) -> torch.Tensor:
    """Per KID subset, the reference kernel's sum without its diagonal (subsets,) float64: what KID
    needs of the reference features (M, d), cacheable with them (it depends on the generated count
    only through the shared random stream)."""
    return torch.stack([kernel_sum(reference[ref], reference[ref], fidelity_options, True)
                        for _, ref in kid_choices(generated_count, len(reference), fidelity_options)])


def kid(generated: torch.Tensor, reference: torch.Tensor, fidelity_options: Mapping[str, Any],
        reference_sums: torch.Tensor | None = None) -> dict[str, float]:
    """``kid_mean`` / ``kid_std`` of generated (N, d) against reference (M, d) features as
    torch-fidelity's ``kid_features_to_metric`` defines them (same subsets, kernel and unbiased
    MMD^2 estimator), with float64 kernels (:func:`kernel_sum`): it equals torch-fidelity run on
    float64 features to 1e-6 relative on any CPU; torch-fidelity on float32 features computes its
    kernels in float32 and differs from both by its rounding, ~1e-3 relative on lenet features.
    ``reference_sums``: :func:`kid_reference_sums` of the same reference, e.g. from the cache."""
    size = get_kwarg("kid_subset_size", fidelity_options)
    if reference_sums is None:
        reference_sums = kid_reference_sums(reference, len(generated), fidelity_options)
    mmds = []
    for (gen, ref), sum_yy in zip(kid_choices(len(generated), len(reference), fidelity_options), reference_sums):
        x = generated[gen]
        mmd = ((kernel_sum(x, x, fidelity_options, True) + sum_yy) / (size * (size - 1))
               - 2 * kernel_sum(x, reference[ref], fidelity_options) / (size * size))
        mmds.append(float(mmd))
    values = np.array(mmds)
    return {"kid_mean": float(values.mean()), "kid_std": float(values.std())}
