"""Tests of differences between configurations a paper can rest on: the difference of two groups'
means with its interval and a permutation test's p-value, Holm's correction over a family of
pairs, and which entry, if any, is significantly best. Pure functions of numbers, neutral as
:mod:`ganbench.stats` (which holds the intervals and the display precision) is: the report uses
them, the metrics do not.

- :func:`compare`: difference of two groups' means with its Welch–Satterthwaite t-interval and a
  p-value from a permutation test (exact up to a size, random splits beyond), at every group size.
- :func:`holm`: Holm–Bonferroni step-down adjusted p-values.
- :func:`pairwise` / :func:`best_marks`: every pair of entries, Holm-corrected, and whether the
  best entry is significantly best.
- :func:`smallest_permutation_p` / :func:`smallest_holm_p`: the smallest p a number of seeds can
  reach, whatever the values.
"""

from __future__ import annotations

import inspect
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.stats

from ganbench.stats import check_confidence, finite_array

ALPHA = 0.05
# Permutation tests enumerate every split of the pooled values when there are at most this many;
# beyond, they draw this many random splits (seeded) and say so in the test's name.
EXACT_PERMUTATIONS = 100_000
# scipy >= 1.15 takes the generator as ``rng``, older releases as ``random_state``.
_RNG_KEYWORD = "rng" if "rng" in inspect.signature(scipy.stats.permutation_test).parameters else "random_state"


@dataclass(frozen=True)
class Comparison:
    """The comparison of groups a and b (e.g. a metric over seeds of two variants).

    - ``difference``: ``mean(a) - mean(b)``.
    - ``low``, ``high``: its Welch–Satterthwaite t-interval at ``confidence`` (nan when a group
      has a single value; equal to ``difference`` when both groups have zero spread).
    - ``df``: the Welch–Satterthwaite degrees of freedom (nan where undefined).
    - ``p_value``: two-sided, from ``test``: ``"exact permutation test"`` or
      ``"permutation test (R random splits, seed s)"``.
    - ``n_a``, ``n_b``: the group sizes.
    """

    difference: float
    low: float
    high: float
    df: float
    p_value: float
    test: str
    n_a: int
    n_b: int
    confidence: float = 0.95


def welch_df(a: np.ndarray, b: np.ndarray) -> float:
    """Welch–Satterthwaite degrees of freedom ``(va/na + vb/nb)^2 / ((va/na)^2/(na-1) +
    (vb/nb)^2/(nb-1))`` (sample variances, ddof = 1); nan when a group has fewer than 2 values or
    both have zero spread."""
    if a.size < 2 or b.size < 2:
        return math.nan
    qa, qb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    denominator = qa ** 2 / (a.size - 1) + qb ** 2 / (b.size - 1)
    return float((qa + qb) ** 2 / denominator) if denominator > 0 else math.nan


def smallest_permutation_p(n_a: int, n_b: int) -> float:
    """The smallest two-sided p-value an exact permutation test of the difference of means can
    give for groups of ``n_a`` and ``n_b`` values: ``2 / C(n_a + n_b, n_a)`` (the observed split
    and its mirror image the most extreme), capped at 1. 3 vs 3: 2/20 = 0.1; 4 vs 4: 2/70 ≈ 0.029;
    5 vs 5: 2/252 ≈ 0.0079."""
    return min(1.0, 2 / math.comb(n_a + n_b, n_a))


def smallest_holm_p(sizes: Sequence[int]) -> float:
    """The smallest Holm-adjusted p any pair of entries of these seed counts can reach, testing
    every pair (:func:`pairwise`) by the permutation test of :func:`compare`: ``m`` pairs times
    the smallest raw p of the pair with the most splits (Holm multiplies the smallest p by
    ``m``), capped at 1; 1 with fewer than two entries. 4 entries of 3 seeds: 6 · 0.1 = 0.6; of 4:
    6 · 2/70 ≈ 0.17; of 5: 6 · 2/252 ≈ 0.048, the fewest seeds at which 4 entries can be told apart
    at 0.05. Above :data:`EXACT_PERMUTATIONS` splits a random-split two-sided p is no smaller than
    ``2 / (EXACT_PERMUTATIONS + 1)``, so that bounds it there."""
    counts = sorted(sizes, reverse=True)
    if len(counts) < 2:
        return 1.0
    pairs = len(counts) * (len(counts) - 1) // 2
    n_a, n_b = counts[0], counts[1]
    smallest = smallest_permutation_p(n_a, n_b)
    if math.comb(n_a + n_b, n_a) > EXACT_PERMUTATIONS:
        smallest = max(smallest, 2 / (EXACT_PERMUTATIONS + 1))
    return min(1.0, pairs * smallest)


def _mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def _exact_permutation_p(x: np.ndarray, y: np.ndarray) -> float:
    """The exact two-sided permutation p of the difference of means, as scipy defines it
    (``scipy.stats.permutation_test``, two-sided: twice the smaller one-sided p, capped at 1,
    splits as extreme as the observed one counted within a relative tolerance), with every one of
    the ``C(n_a + n_b, n_a)`` splits enumerated at once (vectorised: 48,620 splits of 9 vs 9 in
    tens of milliseconds, where scipy's enumeration takes most of a second)."""
    pooled = np.concatenate([x, y])
    k, rest = x.size, y.size
    chosen = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(pooled.size), k)),
                         dtype=np.int64).reshape(-1, k)
    total = pooled.sum()
    sums = pooled[chosen].sum(axis=1)
    null = sums / k - (total - sums) / rest
    observed = null[0]  # combinations start with the observed split, x's own indices
    tolerance = max(abs(observed), float(np.abs(pooled).max())) * np.finfo(np.float64).eps * 100
    greater = np.mean(null >= observed - tolerance)
    less = np.mean(null <= observed + tolerance)
    return float(min(1.0, 2 * min(greater, less)))


def compare(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, confidence: float = 0.95,
            seed: int = 0) -> Comparison:
    """Compare the means of groups ``a`` (shape (n_a,)) and ``b`` (shape (n_b,)), all values
    finite, each group at least one value.

    Test: one family at every group size, a permutation test of the difference of means
    (``scipy.stats.permutation_test``, ``permutation_type="independent"``, two-sided, i.e. twice
    the smaller one-sided p, capped at 1). Every one of the ``C(n_a + n_b, n_a)`` splits is
    enumerated when there are at most :data:`EXACT_PERMUTATIONS` of them (up to 8 vs 8 seeds, or
    10 vs 7); beyond, that many random splits drawn from ``numpy.random.default_rng(seed)`` (the
    test's name says so and how many). No switch to a t-test at some size: the t-test's p and the
    permutation p of the same data differ, and a switch would make p jump with the seed count.

    Small groups cannot give small p-values, and this is reported as it is: with 3 values per
    group the smallest attainable p is 2/C(6, 3) = 2/20 = 0.1 (so no difference is ever
    "significant at 0.05"), with 4 per group 2/70 ≈ 0.029, with 5 per group 2/252 ≈ 0.0079 (see
    :func:`smallest_permutation_p` and, after Holm's correction, :func:`smallest_holm_p`).

    The interval of the difference is the Welch–Satterthwaite t-interval (it assumes roughly
    normal values, the p-value does not: with few seeds the two can disagree near the boundary).
    """
    check_confidence(confidence)
    x, y = finite_array(a, "a"), finite_array(b, "b")
    difference = float(x.mean() - y.mean())
    df = welch_df(x, y)
    se = math.sqrt(x.var(ddof=1) / x.size + y.var(ddof=1) / y.size) if min(x.size, y.size) >= 2 else math.nan
    if se == 0:
        low = high = difference
    elif math.isnan(df):
        low = high = math.nan
    else:
        half = float(scipy.stats.t.ppf((1 + confidence) / 2, df)) * se
        low, high = difference - half, difference + half
    splits = math.comb(x.size + y.size, x.size)
    if splits <= EXACT_PERMUTATIONS:
        p_value = _exact_permutation_p(x, y)
    else:
        result = scipy.stats.permutation_test((x, y), _mean_difference, permutation_type="independent",
                                              vectorized=True, n_resamples=EXACT_PERMUTATIONS,
                                              alternative="two-sided",
                                              **{_RNG_KEYWORD: np.random.default_rng(seed)})
        p_value = float(min(1.0, result.pvalue))
    test = "exact permutation test" if splits <= EXACT_PERMUTATIONS else \
        f"permutation test ({EXACT_PERMUTATIONS:,} random splits, seed {seed})"
    return Comparison(difference, low, high, df, p_value, test, int(x.size), int(y.size), confidence)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni step-down adjusted p-values, in the input order.

    With the m p-values sorted ascending, ``p_(1) <= ... <= p_(m)``, the adjusted value of
    ``p_(i)`` is ``max_{j <= i} min(1, (m - j + 1) p_(j))``: monotone in the sorted order and
    capped at 1. Rejecting where the adjusted p < alpha controls the family-wise error rate at
    alpha. ``p_values``: each in [0, 1] (NaN raises ValueError); empty gives [].
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values must be one-dimensional, got shape {p.shape}")
    if p.size and (not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1):
        raise ValueError(f"p-values must lie in [0, 1]: {p.tolist()}")
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted_sorted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return adjusted.tolist()


@dataclass(frozen=True)
class PairRow:
    """One pair of :func:`pairwise`: ``label_a`` ranks at or above ``label_b`` (by mean, in the
    better direction); ``difference = mean(a) - mean(b)`` (so it is negative when lower is
    better) with its interval ``low``, ``high``; ``p_value`` raw, ``p_holm`` Holm-adjusted over
    all pairs; ``significant``: ``p_holm < alpha``."""

    label_a: str
    label_b: str
    difference: float
    low: float
    high: float
    p_value: float
    p_holm: float
    test: str
    significant: bool


def ranking(groups: Mapping[str, Sequence[float]], higher_is_better: bool) -> list[str]:
    """The labels of ``groups`` ordered best mean first (ties keep the mapping's order)."""
    means = {label: float(finite_array(values, label).mean()) for label, values in groups.items()}
    return sorted(means, key=lambda label: -means[label] if higher_is_better else means[label])


def pairwise(groups: Mapping[str, Sequence[float]], higher_is_better: bool, confidence: float = 0.95,
             alpha: float = ALPHA) -> list[PairRow]:
    """Every pair of ``groups`` (label -> values, e.g. one metric over seeds per variant), each
    by :func:`compare`, p-values Holm-corrected over all ``k (k - 1) / 2`` pairs (one family).

    Rows run over the labels in :func:`ranking` order, best first: (1st, 2nd), (1st, 3rd), ...,
    (2nd, 3rd), ...; in each the better-ranked label is ``label_a``.
    """
    order = ranking(groups, higher_is_better)
    pairs = list(itertools.combinations(order, 2))
    comparisons = [compare(groups[a], groups[b], confidence) for a, b in pairs]
    adjusted = holm([c.p_value for c in comparisons])
    return [PairRow(a, b, c.difference, c.low, c.high, c.p_value, p, c.test, p < alpha)
            for (a, b), c, p in zip(pairs, comparisons, adjusted)]


BEST = "best"
BEST_NOT_SIGNIFICANT = "best (not significant)"


def best_marks(groups: Mapping[str, Sequence[float]], higher_is_better: bool,
               alpha: float = ALPHA) -> dict[str, str]:
    """Which entry to mark best: ``{label: "best"}`` when the entry with the best mean is
    significantly better (Holm-adjusted p < ``alpha`` in :func:`pairwise`) than the runner-up and
    every other entry, else ``{label: "best (not significant)"}``; entries tied on the best mean
    are all marked ``"best (not significant)"``. Fewer than two groups: ``{}`` (nothing to
    compare against).

    Requiring every pair (not only the runner-up's) matters under unequal spreads: a third
    entry with a lower mean but a wide spread may not be distinguishable from the best.
    """
    if len(groups) < 2:
        return {}
    order = ranking(groups, higher_is_better)
    means = {label: float(np.mean(groups[label])) for label in order}
    tied = [label for label in order if means[label] == means[order[0]]]
    if len(tied) > 1:
        return {label: BEST_NOT_SIGNIFICANT for label in tied}
    rows = pairwise(groups, higher_is_better, alpha=alpha)
    best = order[0]
    significant = all(row.significant for row in rows if row.label_a == best)
    return {best: BEST if significant else BEST_NOT_SIGNIFICANT}
