"""Memorisation checks against the training images, pure functions of feature matrices: the
authenticity AuthPct (Alaa et al. 2022) and the data-copying statistic C_T (Meehan et al. 2020),
as dgm-eval (Stein et al. 2023, ``dgm_eval/metrics/authpct.py`` and ``ct.py``) defines them, and
the generated samples nearest to a training image (for the report's side-by-side figure).

With features g (N, d) of the generated set, t (L, d) of the training images the generator saw
and p (M, d) of held-out real images (another split):

- ``authpct``: for each generated g_j, its nearest training image t_i (distance d_j); g_j is
  *authentic* when t_i's distance to its own nearest other training image is smaller than d_j
  (strictly). AuthPct = 100 x the share of authentic samples, in percent: a generator that copies
  its training images scores near 0; independent samples of the data's distribution score about 50
  or more (a fresh sample is rarely closer to a training image than that image's neighbour).
- ``ct``: the training features are reduced to their first 64 principal components when d > 64
  (fitted on t; p and g projected alike), cut into ``cells`` (3) cells by k-means on t; in each
  cell, the distances of the cell's generated and held-out samples to their nearest training image
  of the cell, L(g) and L(p), give the Mann-Whitney U of L(g) < L(p), z-scored under H0 with
  dgm-eval's continuity term: Z_U = (U - (n m / 2 - 0.5)) / sqrt(n m (n + m + 1) / 12). C_T is
  the mean of the cells' Z_U weighted by their share of held-out samples, over the cells holding
  more than tau = 20 / N of the generated samples. C_T << 0: generated samples lie closer to the
  training images than fresh data does (data copying); about 0: no copying; >> 0: underfitting.

The k-means differs from dgm-eval's in its random start only (scikit-learn's ``KMeans(3,
n_init=10)``, unseeded there): here scipy's ``kmeans2`` with k-means++ starts, 10 starts from the
run's seed, the one of least inertia kept, so the cells (and C_T) repeat for a seed.

Nearest-neighbour distances are computed ``block`` rows at a time on the features' device, so
memory stays ~ block x L floats at any N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.cluster.vq
import scipy.stats
import torch

from ganbench.metrics.feature_metrics import NEIGHBOUR_BLOCK, knn_radii, require_finite

CT_COMPONENTS = 64  # dgm-eval's PCA dimension for C_T
CT_CELLS = 3  # dgm-eval's k-means cells
CT_STARTS = 10  # k-means starts (scikit-learn's n_init=10 in dgm-eval)
CT_MIN_GENERATED = 20  # a cell counts when it holds more than 20 / N of the generated samples


@dataclass(frozen=True)
class Nearest:
    """For each generated row, its nearest training row: ``index`` (N,) int64 and ``distance`` (N,)."""

    index: torch.Tensor
    distance: torch.Tensor


def nearest_rows(queries: torch.Tensor, points: torch.Tensor, block: int = NEIGHBOUR_BLOCK) -> Nearest:
    """The nearest row of ``points`` (L, d) to every row of ``queries`` (N, d), Euclidean,
    ``block`` query rows at a time (memory ~ block x L distances) on the queries' device."""
    points = points.to(device=queries.device, dtype=queries.dtype)
    indices, distances = [], []
    for rows in queries.split(block):
        distance, index = torch.cdist(rows, points).min(dim=1)
        indices.append(index)
        distances.append(distance)
    return Nearest(torch.cat(indices), torch.cat(distances))


def authenticity(generated: torch.Tensor, training: torch.Tensor,
                 block: int = NEIGHBOUR_BLOCK) -> tuple[float, Nearest]:
    """AuthPct of generated features (N, d) against training features (L >= 2, d) (see the module
    doc), and each generated row's nearest training row.

    Returns:
        (AuthPct in percent, 0..100; the :class:`Nearest` training rows).
    """
    require_finite(generated, "generated")
    require_finite(training, "training")
    if len(training) < 2:
        raise ValueError(f"AuthPct needs at least 2 training feature rows, got {len(training)}")
    training = training.to(device=generated.device, dtype=generated.dtype)
    own = knn_radii(training, (1,), block)[1]  # each training row's distance to its nearest other one
    nearest = nearest_rows(generated, training, block)
    authentic = own[nearest.index] < nearest.distance
    return 100.0 * float(authentic.double().mean()), nearest


def principal_components(training: np.ndarray, components: int = CT_COMPONENTS) -> tuple[np.ndarray, np.ndarray]:
    """The mean (d,) and the first ``components`` principal axes (components, d) of ``training``
    (L, d), by the SVD of the centred rows (as scikit-learn's PCA; axes' signs do not matter to
    distances)."""
    mean = training.mean(axis=0)
    _, _, axes = np.linalg.svd(training - mean, full_matrices=False)
    return mean, axes[:components]


def kmeans_cells(training: np.ndarray, cells: int, seed: int, starts: int = CT_STARTS) -> np.ndarray:
    """Cell centres (cells, d): k-means on ``training`` (L, d) by scipy's ``kmeans2`` with k-means++
    starts, ``starts`` of them seeded from ``seed``, the one of least inertia kept."""
    best, best_inertia = None, np.inf
    for start in range(starts):
        centres, labels = scipy.cluster.vq.kmeans2(training, cells, minit="++", seed=seed * 1000 + start)
        inertia = float(((training - centres[labels]) ** 2).sum())
        if inertia < best_inertia:
            best, best_inertia = centres, inertia
    return best


def z_scored_u(generated_distances: np.ndarray, held_out_distances: np.ndarray) -> float:
    """Meehan et al.'s Z_U of one cell: the Mann-Whitney U of the generated samples' distances to
    the training set being smaller than the held-out samples', z-scored as dgm-eval does."""
    m, n = len(generated_distances), len(held_out_distances)
    u = scipy.stats.mannwhitneyu(generated_distances, held_out_distances, alternative="less").statistic
    return float((u - (n * m / 2 - 0.5)) / np.sqrt(n * m * (n + m + 1) / 12))


def ct_from_cells(generated: np.ndarray, generated_cells: np.ndarray, held_out: np.ndarray,
                  held_out_cells: np.ndarray, training: np.ndarray, training_cells: np.ndarray,
                  cells: int) -> float:
    """C_T of three feature sets (N, d), (M, d), (L, d) with their cell labels in 0..cells-1
    (see the module doc). Raises ``ValueError`` when a cell lacks held-out or training rows."""
    tau = CT_MIN_GENERATED / len(generated)
    weights, scores = [], []
    for cell in range(cells):
        g, p, t = (features[labels == cell] for features, labels in
                   ((generated, generated_cells), (held_out, held_out_cells), (training, training_cells)))
        if len(p) == 0 or len(t) == 0:
            raise ValueError(f"C_T cell {cell} holds no held-out or no training sample; use fewer cells")
        if len(g) / len(generated) <= tau:
            continue
        reference = torch.from_numpy(t)
        to_training = [nearest_rows(torch.from_numpy(rows), reference).distance.numpy() for rows in (g, p)]
        weights.append(len(p) / len(held_out))
        scores.append(z_scored_u(*to_training))
    if not weights:
        raise ValueError(f"no C_T cell holds more than {CT_MIN_GENERATED} generated samples")
    return float(np.dot(weights, scores) / np.sum(weights))


def data_copying(generated: torch.Tensor, held_out: torch.Tensor, training: torch.Tensor, seed: int,
                 cells: int = CT_CELLS) -> float:
    """C_T (Meehan et al. 2020, dgm-eval's protocol; see the module doc) of generated features
    (N, d) against training features (L, d) with held-out real features (M, d), in float64.

    Returns:
        C_T, a z-score: << 0 data copying, ~0 none, >> 0 underfitting.
    """
    for features, name in ((generated, "generated"), (held_out, "held-out"), (training, "training")):
        require_finite(features, name)
    g, p, t = (features.double().cpu().numpy() for features in (generated, held_out, training))
    if t.shape[1] > CT_COMPONENTS:
        mean, axes = principal_components(t)
        g, p, t = ((features - mean) @ axes.T for features in (g, p, t))
    centres = kmeans_cells(t, cells, seed)
    labels = [scipy.cluster.vq.vq(features, centres)[0] for features in (g, p, t)]
    return ct_from_cells(g, labels[0], p, labels[1], t, labels[2], cells)
