"""Statistics of the numbers a paper can rest on: intervals over seeds and over generated
samples, and numbers shown no more precisely than their uncertainty allows. Pure functions of
numbers; scipy.stats does the statistics. Neutral: the metrics (FID's bootstrap interval,
FID-infinity) and the report (intervals over seeds, display) both use it, and it imports neither.
The tests of differences between configurations are in :mod:`ganbench.significance`.

- :func:`t_interval`: Student-t confidence interval of a mean over seeds.
- :func:`bootstrap_interval` / :func:`fid_interval`: percentile bootstrap over the rows of a
  generated feature matrix, e.g. FID from features extracted once (no new forward passes).
- :func:`display_precision`: ``mean ± half-width`` with no digits below the interval's size.

What an interval over seeds covers: the variability of training (and evaluation) across seeds,
for this code, budget and hardware; a bootstrap over generated features covers only the
sampling of generated images for one trained model (the reference set and the feature extractor
are held fixed). Neither covers the other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import cached_property
from typing import Any

import numpy as np
import scipy.linalg
import scipy.stats


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval.

    - ``mean``: the point estimate: the mean over seeds (``method="t"``), or the statistic on
      the full, un-resampled data (``method="percentile bootstrap"``).
    - ``std``: the sample standard deviation over seeds (ddof = 1), or the standard deviation of
      the bootstrap replicates (the bootstrap standard error); nan where undefined (n = 1).
    - ``n``: the number of seeds, or of generated rows resampled.
    - ``low``, ``high``: the interval's bounds at ``confidence`` (nan where undefined).
    - ``method``: ``"t"``, ``"percentile bootstrap"`` or ``"bias-shifted percentile bootstrap"``.
    """

    mean: float
    std: float
    n: int
    low: float
    high: float
    method: str = "t"
    confidence: float = 0.95

    @property
    def half_width(self) -> float:
        """``(high - low) / 2``; for a percentile bootstrap interval, which need not be
        symmetric about ``mean``, the mean of its two arms. nan where the interval is."""
        return (self.high - self.low) / 2


def check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")


def finite_array(values: Sequence[float] | np.ndarray, name: str = "values") -> np.ndarray:
    """``values`` as a 1-D float64 array: not empty, every value finite (NaN is an error, never
    silently dropped: a diverged seed must be excluded by the caller, visibly)."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values: {array.tolist()}")
    return array


def t_interval(values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> Interval:
    """The Student-t confidence interval of the mean of ``values`` (one number per seed).

    ``mean ± t_{n-1, (1+confidence)/2} · std / sqrt(n)`` with the sample std (ddof = 1), as
    ``scipy.stats.t.interval(confidence, n - 1, loc=mean, scale=std / sqrt(n))``. Assumes the
    per-seed values are independent and roughly normal; with few seeds the t quantile is large
    (n = 3: 4.30 at 95 %), which is the honest price of few seeds.

    ``values``: shape (n,), n >= 1, all finite (NaN raises ValueError). n = 1 gives std, low
    and high nan. Zero spread gives ``low == high == mean``.
    """
    check_confidence(confidence)
    array = finite_array(values)
    n = int(array.size)
    mean = float(array.mean())
    if n == 1:
        return Interval(mean, math.nan, 1, math.nan, math.nan, "t", confidence)
    std = float(array.std(ddof=1))
    if std == 0:
        return Interval(mean, 0.0, n, mean, mean, "t", confidence)
    low, high = scipy.stats.t.interval(confidence, n - 1, loc=mean, scale=std / math.sqrt(n))
    return Interval(mean, std, n, float(low), float(high), "t", confidence)


# --- Fréchet distance of features and the bootstrap over generated rows ---------------------------


@dataclass(frozen=True, eq=False)
class GaussianStatistics:
    """Mean (D,) and covariance (D, D) (ddof = 1) of a feature matrix: the reference side of FID,
    computed once. Its matrix square root is computed on first use and kept."""

    mu: np.ndarray
    sigma: np.ndarray

    @cached_property
    def sqrt_sigma(self) -> np.ndarray:
        """``sigma^(1/2)``, the principal square root of the symmetric positive semi-definite
        covariance, from its eigendecomposition: V diag(sqrt(max(w, 0))) V^T. It equals
        ``scipy.linalg.sqrtm(sigma)`` to float tolerance (tested) and is about ten times faster
        at D = 2,048 (seconds instead of a minute on one CPU thread); negative round-off
        eigenvalues of a singular covariance are taken as 0."""
        eigenvalues, vectors = np.linalg.eigh(self.sigma)
        root = (vectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ vectors.T
        return (root + root.T) / 2


COVARIANCE_BLOCK = 8192  # rows per block of gaussian_statistics: memory ~ block x D float64 beside D x D


def gaussian_statistics(features: np.ndarray, block: int = COVARIANCE_BLOCK) -> GaussianStatistics:
    """Mean and covariance (ddof = 1, as ``np.cov`` and torch-fidelity) of ``features``, shape
    (N, D) with N >= 2, in float64: two passes over ``block`` rows at a time (the mean, then the
    sum of the centred rows' outer products), so memory stays ~ block x D + D x D at any N (50,000
    x 2,048 float32 features are never copied whole into float64). Equal to ``np.cov`` to float
    tolerance (tested)."""
    array = np.asarray(features)
    if array.ndim != 2 or array.shape[0] < 2:
        raise ValueError(f"features must have shape (N, D) with N >= 2, got {array.shape}")
    rows = array.shape[0]
    mean = sum(array[start:start + block].sum(axis=0, dtype=np.float64) for start in range(0, rows, block)) / rows
    scatter = np.zeros((array.shape[1], array.shape[1]))
    for start in range(0, rows, block):
        centred = array[start:start + block].astype(np.float64) - mean
        scatter += centred.T @ centred
    return GaussianStatistics(mean, scatter / (rows - 1))


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """The Fréchet distance of two Gaussians by the standard formula (Heusel et al. 2017, as
    pytorch-fid computes it): ``|mu1 - mu2|^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))``
    with ``scipy.linalg.sqrtm`` of the product, real part taken; if the root is not finite
    (near-singular product), ``1e-6 · I`` is added to both covariances first.

    ``mu*``: shape (D,); ``sigma*``: shape (D, D). Result >= 0 up to rounding.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shapes do not match: mu {mu1.shape}, {mu2.shape}; sigma {sigma1.shape}, {sigma2.shape}")
    root = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.all(np.isfinite(root)):
        offset = np.eye(mu1.size) * 1e-6
        root = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(np.real(root)))


def fid_from_features(generated: np.ndarray, reference: np.ndarray | GaussianStatistics) -> float:
    """FID of generated features (N, D) against reference features (M, D) or their precomputed
    :class:`GaussianStatistics` (pass those when calling repeatedly, e.g. in a bootstrap).

    Equal to :func:`frechet_distance` of the two feature sets' means and covariances; the trace
    of ``(S_g S_r)^(1/2)`` is computed as ``sum sqrt(eig(S_r^(1/2) S_g S_r^(1/2)))`` (the same
    eigenvalues, of a symmetric matrix) with ``S_r^(1/2)`` (:attr:`GaussianStatistics.sqrt_sigma`) once per
    reference, which is about five times faster per call than ``sqrtm`` of the product at D = 128
    (and free of its complex round-off). Result >= 0 up to rounding, in squared feature units.
    """
    stats = reference if isinstance(reference, GaussianStatistics) else gaussian_statistics(reference)
    gen = gaussian_statistics(generated)
    if gen.mu.shape != stats.mu.shape:
        raise ValueError(f"feature dimensions differ: generated {gen.mu.shape[0]}, reference {stats.mu.shape[0]}")
    root = stats.sqrt_sigma
    eigenvalues = np.linalg.eigvalsh(root @ gen.sigma @ root)
    trace_root = float(np.sqrt(np.clip(eigenvalues, 0, None)).sum())
    diff = gen.mu - stats.mu
    return float(diff @ diff + np.trace(gen.sigma) + np.trace(stats.sigma) - 2 * trace_root)


def bootstrap_interval(statistic: Callable[[np.ndarray, Any], float], generated: np.ndarray,
                       reference: Any = None, resamples: int = 200, confidence: float = 0.95,
                       seed: int = 0, shift_bias: bool = False) -> Interval:
    """Percentile bootstrap interval of ``statistic(generated, reference)`` over the rows of
    ``generated``.

    ``generated``: shape (N, ...) (e.g. (N, D) features of N generated images, extracted once);
    each of ``resamples`` replicates draws N row indices with replacement from
    ``numpy.random.default_rng(seed)`` and recomputes ``statistic(generated[indices],
    reference)``; ``reference`` is passed through unchanged (precompute what depends only on it,
    e.g. :func:`gaussian_statistics` for :func:`fid_from_features`). The interval is the
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the replicates
    (``np.quantile``, linear interpolation); ``mean`` is the statistic on the full data,
    ``std`` the replicates' standard deviation (ddof = 1), ``n`` = N. Same seed, same interval.

    It covers the sampling of generated images only, for one trained model, with the reference
    set fixed. For a biased statistic such as FID (biased upward, more so for fewer distinct
    rows) the replicates carry more bias than the point estimate (a resample holds about 63 %
    distinct rows), so the percentile interval sits high by about ``mean(replicates) -
    estimate``: measured at N = 5,000 on Gaussian features, D = 84 and 128, FID 0.77 and 1.54,
    the intervals were [1.10, 1.19] and [2.32, 2.46], wholly above the estimates. Its width
    (:attr:`Interval.half_width`, what :func:`display_precision` shows) is still the sampling
    spread. ``shift_bias=True`` subtracts that offset from both bounds (``method`` then reads
    ``"bias-shifted percentile bootstrap"``), an interval around the N-sample estimate.
    """
    check_confidence(confidence)
    if resamples < 2:
        raise ValueError(f"resamples must be at least 2, got {resamples}")
    data = np.asarray(generated)
    if data.ndim < 1 or data.shape[0] < 2:
        raise ValueError(f"generated must have at least 2 rows, got shape {data.shape}")
    n = int(data.shape[0])
    estimate = float(statistic(data, reference))
    rng = np.random.default_rng(seed)
    replicates = np.empty(resamples)
    for i in range(resamples):
        replicates[i] = statistic(data[rng.integers(0, n, size=n)], reference)
    if not np.all(np.isfinite(replicates)):
        raise ValueError("the statistic returned NaN or infinite values on bootstrap resamples")
    low, high = np.quantile(replicates, [(1 - confidence) / 2, (1 + confidence) / 2])
    method = "percentile bootstrap"
    if shift_bias:
        offset = float(replicates.mean()) - estimate
        low, high, method = low - offset, high - offset, "bias-shifted percentile bootstrap"
    return Interval(estimate, float(replicates.std(ddof=1)), n, float(low), float(high), method, confidence)


def fid_interval(generated: np.ndarray, reference: np.ndarray | GaussianStatistics, resamples: int = 200,
                 confidence: float = 0.95, seed: int = 0, shift_bias: bool = False) -> Interval:
    """:func:`bootstrap_interval` of :func:`fid_from_features`, the reference statistics computed
    once. ``generated``: (N, D); ``reference``: (M, D) features or their
    :class:`GaussianStatistics`. 200 resamples at N = 5,000 took 5 to 7 s (D = 84 or 128) on a
    2-core CPU. See :func:`bootstrap_interval` for ``shift_bias``: FID's percentile interval
    sits above the estimate by the resampling's extra bias."""
    stats = reference if isinstance(reference, GaussianStatistics) else gaussian_statistics(reference)
    return bootstrap_interval(fid_from_features, generated, stats, resamples, confidence, seed, shift_bias)


# --- Display precision --------------------------------------------------------------------------


def _decimal(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def _format_decimal(value: Decimal) -> str:
    text = format(value, ",f")
    return text[1:] if text.startswith("-") and value == 0 else text


def _round_significant(value: float, digits: int) -> str:
    if value == 0:
        return "0"
    d = _decimal(value)
    with localcontext() as context:
        context.prec = max(28, digits + 2)
        rounded = d.quantize(Decimal(1).scaleb(d.adjusted() - digits + 1), rounding=ROUND_HALF_UP)
        if rounded.adjusted() > d.adjusted():  # 999.6 -> 1000: keep `digits` significant digits
            rounded = rounded.quantize(Decimal(1).scaleb(rounded.adjusted() - digits + 1), rounding=ROUND_HALF_UP)
    return _format_decimal(rounded)


def display_precision(mean: float, half_width: float) -> str:
    """``mean ± half_width`` with no digits below the interval's size.

    The half-width (e.g. of a 95 % interval, :attr:`Interval.half_width`) is rounded to two
    significant digits when its leading digit is 1, else to one (re-judged once if rounding
    carries: 0.96 -> 1.0, 0.196 -> 0.2); the mean is rounded to the same decimal place. Rounding
    is half-up on the shortest decimal representation of the float (0.125 -> 0.13).

    Thousands are separated by commas in both numbers, always (``4,570 ± 180``, ``1,000 ± 0``),
    as the summary tables do; the sign is ``±`` (the LaTeX writer turns it into ``$\\pm$``).

    Examples: (123.456, 2.3) -> ``123 ± 2``; (0.012345, 0.00042) -> ``0.0123 ± 0.0004``;
    (4570.9154, 179.27) -> ``4,570 ± 180``. A nan or infinite half-width (e.g. one seed) gives
    the mean alone to 3 significant digits (``4,570``); a zero half-width the mean to 3
    significant digits and ``± 0``; a nan mean ``–`` (as the tables). A negative half-width is
    an error.
    """
    if math.isnan(mean):
        return "–"
    if not math.isfinite(mean):
        return str(mean)
    if half_width < 0:
        raise ValueError(f"half_width must not be negative, got {half_width}")
    if not math.isfinite(half_width):
        return _round_significant(mean, 3)
    if half_width == 0:
        return f"{_round_significant(mean, 3)} ± 0"
    h = _decimal(half_width)
    with localcontext() as context:
        for _ in range(3):  # rounding can change the leading digit: judge the rounded value again
            leading = int(h.scaleb(-h.adjusted()))
            quantum = Decimal(1).scaleb(h.adjusted() - (2 if leading == 1 else 1) + 1)
            rounded = h.quantize(quantum, rounding=ROUND_HALF_UP)
            if (int(rounded.scaleb(-rounded.adjusted())) == 1) == (leading == 1):
                break
            h = rounded
        m = _decimal(mean)
        context.prec = max(28, m.adjusted() - quantum.adjusted() + 3)
        mean_rounded = m.quantize(quantum, rounding=ROUND_HALF_UP)
    return f"{_format_decimal(mean_rounded)} ± {_format_decimal(rounded)}"


def format_interval(interval: Interval) -> str:
    """:func:`display_precision` of an interval's ``mean`` and ``half_width``."""
    return display_precision(interval.mean, interval.half_width)
