"""ganbench.stats and ganbench.significance against scipy and hand computations on fixed data."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.stats

from ganbench.significance import (
    BEST,
    BEST_NOT_SIGNIFICANT,
    EXACT_PERMUTATIONS,
    best_marks,
    compare,
    holm,
    pairwise,
    smallest_holm_p,
    smallest_permutation_p,
    welch_df,
)
from ganbench.stats import (
    GaussianStatistics,
    Interval,
    bootstrap_interval,
    display_precision,
    fid_from_features,
    fid_interval,
    format_interval,
    frechet_distance,
    gaussian_statistics,
    t_interval,
)

SEEDS = [0.712, 0.698, 0.731, 0.705, 0.689]


# --- t_interval -------------------------------------------------------------------------------------

@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_t_interval_matches_scipy(confidence):
    values = np.array(SEEDS)
    interval = t_interval(values, confidence)
    low, high = scipy.stats.t.interval(confidence, len(values) - 1, loc=values.mean(),
                                       scale=values.std(ddof=1) / math.sqrt(len(values)))
    assert interval.mean == pytest.approx(values.mean())
    assert interval.std == pytest.approx(values.std(ddof=1))
    assert (interval.n, interval.method, interval.confidence) == (5, "t", confidence)
    assert (interval.low, interval.high) == pytest.approx((low, high), rel=1e-12)
    assert interval.half_width == pytest.approx((high - low) / 2)


def test_t_interval_by_hand():
    # [1, 2, 3]: mean 2, std 1, t_{2, 0.975} = 4.302652729...; half-width 4.3027 / sqrt(3) = 2.4841
    interval = t_interval([1.0, 2.0, 3.0])
    assert interval.half_width == pytest.approx(4.302652729911275 / math.sqrt(3), rel=1e-9)


def test_t_interval_one_seed_and_zero_spread():
    one = t_interval([0.5])
    assert one.mean == 0.5 and one.n == 1
    assert math.isnan(one.std) and math.isnan(one.low) and math.isnan(one.high)
    flat = t_interval([3.0, 3.0, 3.0])
    assert (flat.std, flat.low, flat.high) == (0.0, 3.0, 3.0)


@pytest.mark.parametrize("values", [[1.0, math.nan, 2.0], [1.0, math.inf], [], [[1.0, 2.0]]])
def test_t_interval_rejects_nan_empty_and_matrices(values):
    with pytest.raises(ValueError):
        t_interval(values)


def test_t_interval_rejects_bad_confidence():
    with pytest.raises(ValueError):
        t_interval([1.0, 2.0], confidence=95)


# --- Welch comparison ---------------------------------------------------------------------------------

A = [0.712, 0.698, 0.731, 0.705, 0.689, 0.720]
B = [0.652, 0.690, 0.611, 0.701, 0.668]


def test_welch_comparison_matches_scipy_and_hand():
    a, b = np.array(A), np.array(B)
    result = compare(a, b)
    reference = scipy.stats.ttest_ind(a, b, equal_var=False)
    # p from the exact permutation test at every size (6 vs 5 seeds: 462 splits), never Welch's
    assert result.test == "exact permutation test"
    assert result.p_value == pytest.approx(doubled_one_sided_p(A, B))
    assert result.difference == pytest.approx(a.mean() - b.mean())
    # Welch–Satterthwaite by hand
    qa, qb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (qa + qb) ** 2 / (qa ** 2 / (len(a) - 1) + qb ** 2 / (len(b) - 1))
    assert result.df == pytest.approx(df, rel=1e-12)
    assert welch_df(a, b) == pytest.approx(df, rel=1e-12)
    half = scipy.stats.t.ppf(0.975, df) * math.sqrt(qa + qb)
    assert (result.low, result.high) == pytest.approx((result.difference - half, result.difference + half), rel=1e-12)
    if hasattr(reference, "confidence_interval"):  # scipy >= 1.11
        ci = reference.confidence_interval(0.95)
        assert (result.low, result.high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert (result.n_a, result.n_b) == (6, 5)


@pytest.mark.parametrize("size", [3, 4, 5, 6])
def test_one_test_family_at_every_seed_count(size):
    # The p-value comes from the exact permutation test at every group size: no switch to Welch's
    # t-test at 5 seeds, where the permutation test first gains the power to separate 4 variants.
    a, b = A[:size], B[:size] if size <= len(B) else B
    result = compare(a, b)
    assert result.test == "exact permutation test"
    assert result.p_value == pytest.approx(doubled_one_sided_p(a, b))


# --- Permutation test ---------------------------------------------------------------------------------

def exact_permutation_p(a, b):
    """Two-sided p by enumerating every split of the pooled values: the fraction of splits whose
    |difference of means| is at least the observed one."""
    pooled = list(a) + list(b)
    observed = abs(np.mean(a) - np.mean(b))
    count = total = 0
    for chosen in itertools.combinations(range(len(pooled)), len(a)):
        x = [pooled[i] for i in chosen]
        y = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        count += abs(np.mean(x) - np.mean(y)) >= observed - 1e-12
        total += 1
    return count / total, total


def test_permutation_p_by_enumeration():
    a, b = [1.0, 2.5, 3.1], [2.0, 4.2, 5.3]
    p, splits = exact_permutation_p(a, b)
    assert splits == 20
    # by hand: pooled sum 18.1, a split with sum S on side a differs by (2 S - 18.1) / 3; observed
    # S = 6.6, |d| = 1.633. At least as extreme: S <= 6.6 ({1, 2, 2.5} 5.5, {1, 2, 3.1} 6.1,
    # {1, 2.5, 3.1} 6.6) and their mirror images (S >= 11.5): 6 of 20
    assert p == pytest.approx(6 / 20)
    result = compare(a, b)
    assert result.test == "exact permutation test"
    assert result.p_value == pytest.approx(p)
    assert result.difference == pytest.approx(np.mean(a) - np.mean(b))


def test_permutation_with_three_seeds_cannot_reach_below_one_tenth():
    # the most extreme split possible: p = 2/20, never < 0.1, however far apart the groups are
    result = compare([1.0, 1.1, 1.2], [100.0, 100.1, 100.2])
    assert result.p_value == pytest.approx(0.1)
    assert smallest_permutation_p(3, 3) == pytest.approx(0.1)
    assert smallest_permutation_p(4, 4) == pytest.approx(2 / 70)
    assert smallest_permutation_p(1, 1) == 1.0


def doubled_one_sided_p(a, b):
    """scipy's two-sided p for unequal groups (whose null distribution need not be symmetric):
    twice the smaller one-sided fraction of splits, capped at 1."""
    pooled = np.array(list(a) + list(b))
    observed = np.mean(a) - np.mean(b)
    null = []
    for chosen in itertools.combinations(range(len(pooled)), len(a)):
        mask = np.isin(np.arange(len(pooled)), chosen)
        null.append(pooled[mask].mean() - pooled[~mask].mean())
    null = np.array(null)
    return min(1.0, 2 * min(np.mean(null >= observed - 1e-12), np.mean(null <= observed + 1e-12)))


@pytest.mark.parametrize("a, b", [([0.3, 0.5], [0.1, 0.2, 0.25, 0.9]), ([0.9], [0.1, 0.2, 0.3, 0.4]),
                                  ([0.1, 0.2, 0.3, 0.4], [0.25]),
                                  ([2.0, 3.0, 4.0, 9.0], [1.0, 1.5, 2.5, 3.5, 4.5, 5.0])])
def test_permutation_for_unequal_small_groups_and_single_values(a, b):
    result = compare(a, b)
    assert result.test == "exact permutation test"
    assert result.p_value == pytest.approx(doubled_one_sided_p(a, b))


def test_permutation_single_values():
    # 0.9 against four values: the observed split is the most extreme of 5 on its side: 2 * 1/5
    assert compare([0.9], [0.1, 0.2, 0.3, 0.4]).p_value == pytest.approx(0.4)
    single = compare([1.0], [2.0])
    assert single.p_value == 1.0
    assert math.isnan(single.low) and math.isnan(single.high) and math.isnan(single.df)


def test_constant_groups_fall_back_to_permutation():
    result = compare([1000.0] * 5, [990.0] * 5)
    assert result.test == "exact permutation test"
    assert result.p_value == pytest.approx(2 / 252)
    assert (result.low, result.high) == (10.0, 10.0)
    same = compare([7.0] * 5, [7.0] * 5)
    assert same.p_value == 1.0 and same.difference == 0.0


# --- Calling differences ------------------------------------------------------------------------------

def test_groups_from_one_distribution_are_not_called_different():
    rng = np.random.default_rng(1234)
    a, b = rng.normal(0.7, 0.02, 5), rng.normal(0.7, 0.02, 5)
    result = compare(a, b)
    assert result.test == "exact permutation test"
    assert result.p_value > 0.05
    assert result.low < 0 < result.high


def test_false_positive_rate_is_near_alpha():
    rng = np.random.default_rng(0)
    five = [compare(rng.normal(size=5), rng.normal(size=5)).p_value < 0.05 for _ in range(400)]
    four = [compare(rng.normal(size=4), rng.normal(size=4)).p_value < 0.05 for _ in range(200)]
    assert np.mean(five) < 0.09
    assert np.mean(four) < 0.09


def test_clearly_separated_groups_are_called_different():
    rng = np.random.default_rng(1234)
    a, b = rng.normal(0.80, 0.02, 5), rng.normal(0.60, 0.02, 5)
    result = compare(a, b)
    assert result.p_value == pytest.approx(2 / 252)  # the smallest an exact test of 5 vs 5 can give
    assert 0 < result.low < result.difference < result.high


def test_large_groups_use_seeded_random_splits():
    rng = np.random.default_rng(7)
    a, b = rng.normal(0.0, 1.0, 10), rng.normal(0.3, 1.0, 10)  # C(20, 10) = 184,756 splits > EXACT_PERMUTATIONS
    result = compare(a, b)
    assert result.test == f"permutation test ({EXACT_PERMUTATIONS:,} random splits, seed 0)"
    assert compare(a, b).p_value == result.p_value  # seeded: the same p every time
    exact = scipy.stats.permutation_test((a, b), lambda x, y, axis: x.mean(axis) - y.mean(axis), vectorized=True,
                                         n_resamples=math.inf, permutation_type="independent").pvalue
    assert result.p_value == pytest.approx(exact, abs=0.01)


@pytest.mark.parametrize("sizes, smallest", [([3, 3, 3, 3], 0.6), ([4, 4, 4, 4], 6 * 2 / 70),
                                              ([5, 5, 5, 5], 6 * 2 / 252), ([3, 3], 0.1), ([5], 1.0)])
def test_smallest_holm_p(sizes, smallest):
    assert smallest_holm_p(sizes) == pytest.approx(smallest)
    assert (smallest_holm_p([5] * 4) < 0.05) and smallest_holm_p([4] * 4) > 0.05


# --- Holm --------------------------------------------------------------------------------------------

def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3 * 0.01 = 0.03, 2 * 0.03 = 0.06, max(0.06, 1 * 0.04) = 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_holm_is_capped_monotone_and_in_input_order():
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm([0.04, 0.001, 0.02, 0.5]) == pytest.approx([0.08, 0.004, 0.06, 0.5])
    assert holm([0.2]) == pytest.approx([0.2])
    assert holm([]) == []
    p = np.random.default_rng(3).uniform(size=12)
    adjusted = np.array(holm(p))
    order = np.argsort(p)
    assert np.all(np.diff(adjusted[order]) >= 0) and np.all(adjusted >= p) and np.all(adjusted <= 1)


@pytest.mark.parametrize("p", [[0.1, math.nan], [1.2], [-0.1]])
def test_holm_rejects_invalid_p(p):
    with pytest.raises(ValueError):
        holm(p)


# --- pairwise and best_marks ---------------------------------------------------------------------------

def test_pairwise_rows_are_best_first_and_holm_corrected():
    groups = {"dcgan": [0.60, 0.62, 0.61, 0.59, 0.63], "wgan": [0.80, 0.81, 0.79, 0.82, 0.80],
              "lsgan": [0.61, 0.60, 0.64, 0.58, 0.62]}
    rows = pairwise(groups, higher_is_better=True)
    assert [(r.label_a, r.label_b) for r in rows] == [("wgan", "lsgan"), ("wgan", "dcgan"), ("lsgan", "dcgan")]
    raw = [compare(groups[r.label_a], groups[r.label_b]).p_value for r in rows]
    assert [r.p_value for r in rows] == pytest.approx(raw)
    assert [r.p_holm for r in rows] == pytest.approx(holm(raw))
    assert [r.significant for r in rows] == [True, True, False]
    assert all(r.difference > 0 for r in rows)
    lower = pairwise(groups, higher_is_better=False)
    assert lower[0].label_a == "dcgan" and lower[-1].label_b == "wgan"


def test_best_marks_significant_runner_up():
    groups = {"a": [10.0, 10.2, 9.9, 10.1, 10.0], "b": [12.0, 12.1, 11.8, 12.2, 11.9],
              "c": [15.0, 15.5, 14.8, 15.2, 15.1]}
    assert best_marks(groups, higher_is_better=False) == {"a": BEST}  # e.g. FID: lower is better
    assert best_marks(groups, higher_is_better=True) == {"c": BEST}


def test_best_marks_not_significant_runner_up():
    groups = {"a": [10.0, 10.2, 9.9, 10.1, 10.0], "b": [10.1, 10.3, 9.8, 10.2, 10.1],
              "c": [15.0, 15.5, 14.8, 15.2, 15.1]}
    assert best_marks(groups, higher_is_better=False) == {"a": BEST_NOT_SIGNIFICANT}


def test_best_marks_needs_every_pair_and_enough_seeds():
    # runner-up clearly behind, but a wide third entry cannot be told apart from the best
    wide = {"a": [10.0, 10.1, 9.9, 10.0, 10.05], "b": [12.0, 12.1, 11.9, 12.0, 12.05],
            "c": [5.0, 25.0, 1.0, 30.0, 8.0]}
    assert best_marks(wide, higher_is_better=False) == {"a": BEST_NOT_SIGNIFICANT}
    # three seeds each: a permutation test cannot go below p = 0.1, so never "best"
    three = {"a": [1.0, 1.1, 1.2], "b": [5.0, 5.1, 5.2]}
    assert best_marks(three, higher_is_better=True) == {"b": BEST_NOT_SIGNIFICANT}


def test_best_marks_ties_and_single_group():
    assert best_marks({"a": [1.0, 2.0], "b": [2.0, 1.0]}, True) == {"a": BEST_NOT_SIGNIFICANT,
                                                                    "b": BEST_NOT_SIGNIFICANT}
    assert best_marks({"a": [1.0, 2.0]}, True) == {}


# --- Fréchet distance and the bootstrap --------------------------------------------------------------

def closed_form_fid(mu1, s1, mu2, s2):
    """FID of two Gaussians with diagonal covariances (variances s1, s2)."""
    return float(np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2)))


def test_frechet_distance_closed_form_exact_statistics():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([0.5, 1.0, 0.0])
    s1, s2 = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 0.25])
    expected = closed_form_fid(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-10)
    stats = GaussianStatistics(mu2, np.diag(s2))
    assert frechet_distance(mu1, np.diag(s1), mu1, np.diag(s1)) == pytest.approx(0, abs=1e-10)
    assert stats.sqrt_sigma == pytest.approx(np.diag(np.sqrt(s2)))


def test_fid_from_features_matches_closed_form_on_large_samples():
    rng = np.random.default_rng(0)
    mu1, mu2 = np.array([0.0, 1.0, -2.0, 0.3]), np.array([0.5, 1.0, 0.0, 0.3])
    s1, s2 = np.array([1.0, 4.0, 0.25, 1.0]), np.array([2.0, 1.0, 0.25, 0.5])
    n = 200_000
    gen = mu1 + rng.standard_normal((n, 4)) * np.sqrt(s1)
    ref = mu2 + rng.standard_normal((n, 4)) * np.sqrt(s2)
    expected = closed_form_fid(mu1, s1, mu2, s2)  # 4.25 + 0.8284 + 1 + 0 + 0.0858 = 6.164
    assert fid_from_features(gen, ref) == pytest.approx(expected, rel=0.01)
    assert fid_from_features(gen, gaussian_statistics(ref)) == pytest.approx(fid_from_features(gen, ref), rel=1e-12)


def test_fid_from_features_equals_the_standard_sqrtm_formula():
    rng = np.random.default_rng(5)
    mixing = rng.normal(size=(16, 16))
    gen = rng.normal(size=(500, 16)) @ mixing + 0.3
    ref = rng.normal(size=(700, 16)) @ (mixing + 0.2 * rng.normal(size=(16, 16)))
    g, r = gaussian_statistics(gen), gaussian_statistics(ref)
    assert np.allclose(g.sigma, np.cov(gen, rowvar=False))
    assert fid_from_features(gen, r) == pytest.approx(frechet_distance(g.mu, g.sigma, r.mu, r.sigma), rel=1e-8)


def test_fid_from_features_rejects_mismatched_dimensions():
    with pytest.raises(ValueError):
        fid_from_features(np.zeros((10, 3)), np.ones((10, 4)))


def shifted_features(n, d=8, seed=0, shift=0.5):
    rng = np.random.default_rng(seed)
    return rng.normal(shift, 1.0, size=(n, d)), rng.normal(0.0, 1.0, size=(4000, d))


def test_bootstrap_interval_contains_the_estimate_and_is_reproducible():
    gen, ref = shifted_features(2000)
    interval = fid_interval(gen, ref, resamples=100, seed=7)
    assert isinstance(interval, Interval) and interval.method == "percentile bootstrap"
    assert interval.n == 2000
    assert interval.mean == pytest.approx(fid_from_features(gen, ref))
    assert interval.low < interval.mean < interval.high
    assert interval.std > 0
    again = fid_interval(gen, gaussian_statistics(ref), resamples=100, seed=7)
    assert (again.low, again.high, again.std) == (interval.low, interval.high, interval.std)
    other = fid_interval(gen, ref, resamples=100, seed=8)
    assert (other.low, other.high) != (interval.low, interval.high)


def test_bootstrap_of_fid_near_zero_sits_above_the_estimate_unless_shifted():
    # equal distributions: FID is all bias, and a resample (~63 % distinct rows) has more of it
    rng = np.random.default_rng(4)
    gen, ref = rng.normal(size=(1000, 16)), rng.normal(size=(4000, 16))
    plain = fid_interval(gen, ref, resamples=100)
    assert plain.mean < plain.low
    shifted = fid_interval(gen, ref, resamples=100, shift_bias=True)
    assert shifted.method == "bias-shifted percentile bootstrap"
    assert shifted.low < shifted.mean < shifted.high
    assert shifted.half_width == pytest.approx(plain.half_width)


def test_bootstrap_interval_narrows_with_more_samples():
    small = fid_interval(*shifted_features(500), resamples=100)
    large = fid_interval(*shifted_features(4000), resamples=100)
    assert large.half_width < small.half_width / 2  # ~ 1/sqrt(N): 1/sqrt(8) = 0.35


def test_bootstrap_interval_of_a_mean_matches_the_standard_error():
    values = np.random.default_rng(2).normal(3.0, 2.0, size=(3000, 1))
    interval = bootstrap_interval(lambda x, _: float(x.mean()), values, resamples=400, seed=1)
    assert interval.std == pytest.approx(values.std(ddof=1) / math.sqrt(3000), rel=0.15)
    assert interval.low < values.mean() < interval.high


def test_bootstrap_interval_rejects_too_few_resamples_or_rows():
    with pytest.raises(ValueError):
        bootstrap_interval(lambda x, _: 0.0, np.zeros((10, 2)), resamples=1)
    with pytest.raises(ValueError):
        bootstrap_interval(lambda x, _: 0.0, np.zeros((1, 2)))


# --- display_precision ---------------------------------------------------------------------------------

@pytest.mark.parametrize("mean, half_width, text", [
    (123.456, 2.3, "123 ± 2"),
    (0.012345, 0.00042, "0.0123 ± 0.0004"),
    (4570.9154, 179.27, "4,570 ± 180"),
    (0.7123, 0.0152, "0.712 ± 0.015"),   # leading digit 1: two significant digits
    (0.7123, 0.0252, "0.71 ± 0.03"),
    (12_345.678, 0.42, "12,345.7 ± 0.4"),
    (5.0, 0.96, "5.0 ± 1.0"),            # rounding carries to a leading 1: two digits
    (5.0, 0.196, "5.0 ± 0.2"),           # 0.20 has leading digit 2: one digit
    (-0.3, 2.0, "0 ± 2"),                # no "-0"
    (-12.34, 0.5, "-12.3 ± 0.5"),
    (0.125, 0.01, "0.125 ± 0.010"),
    (0.1249, 0.04, "0.12 ± 0.04"),
    (1000.0, 0.0, "1,000 ± 0"),
    (4570.9154, math.nan, "4,570"),
    (0.012345, math.nan, "0.0123"),
    (123_456.7, math.inf, "123,000"),
    (1.5, math.nan, "1.50"),
    (math.nan, 0.1, "–"),
])
def test_display_precision(mean, half_width, text):
    assert display_precision(mean, half_width) == text


def test_display_precision_rejects_negative_half_width_and_formats_intervals():
    with pytest.raises(ValueError):
        display_precision(1.0, -0.1)
    assert format_interval(Interval(123.456, 1.0, 3, 121.156, 125.756)) == "123 ± 2"
    assert format_interval(t_interval([0.5])) == "0.500"
