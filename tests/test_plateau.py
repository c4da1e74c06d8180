"""The plateau rule (ganbench.plateau) on fixed metric histories."""

from __future__ import annotations

import math

import pytest
import scipy.stats

from ganbench.plateau import plateau_check


def histories(values_per_seed: list[list[float]], metric: str = "fid", step: int = 4800) -> list[list[dict]]:
    return [[{"images_seen": step * (i + 1), metric: value} for i, value in enumerate(values)]
            for values in values_per_seed]


def test_a_history_still_falling_beyond_its_intervals_has_not_plateaued():
    check = plateau_check(histories([[900, 500, 300], [880, 520, 310], [910, 490, 290]]), "fid")
    assert check.plateaued is False
    assert (check.previous_images, check.last_images, check.points, check.seeds) == (9600, 14400, 3, 3)
    assert check.previous == pytest.approx(503.3333333) and check.last == pytest.approx(300.0)
    assert "outside" in check.reason


def test_a_change_inside_both_intervals_is_a_plateau_and_the_bound_is_the_narrower_half_width():
    previous, last = [100.0, 104.0, 96.0], [99.0, 101.0, 97.0]
    check = plateau_check(histories([[p, q] for p, q in zip(previous, last)]), "fid")
    t = scipy.stats.t.ppf(0.975, 2)
    assert check.previous_half_width == pytest.approx(t * 4 / math.sqrt(3))
    assert check.last_half_width == pytest.approx(t * 2 / math.sqrt(3))
    assert check.plateaued is True and check.change == pytest.approx(-1.0)
    # a change just beyond the narrower half-width (the last point's) is not a plateau
    shifted = [q - check.last_half_width for q in last]
    assert plateau_check(histories([[p, q] for p, q in zip(previous, shifted)]), "fid").plateaued is False


@pytest.mark.parametrize(("values", "why"), [
    ([[300.0, 290.0]], "one seed"),
    ([[300.0], [310.0], [305.0]], "1 evaluation point"),
    ([[300.0, math.nan], [310.0, 300.0]], "undefined"),
])
def test_the_rule_is_undecided_without_two_points_two_seeds_or_defined_values(values, why):
    check = plateau_check(histories(values), "fid")
    assert check.plateaued is None and why in check.reason


def test_only_points_every_seed_reached_count_and_other_metrics_are_ignored():
    runs = histories([[500, 300, 299, 100], [505, 301, 300], [498, 299, 298]])
    for run in runs:
        run.append({"images_seen": 1, "recall": 0.5})  # another metric's point does not count for fid
    check = plateau_check(runs, "fid")
    assert (check.points, check.last_images) == (3, 14400)  # the 4th seed-0 point is not common
    assert check.plateaued is True


def test_the_module_docstring_examples_hold():
    import doctest

    import ganbench.plateau

    assert doctest.testmod(ganbench.plateau).failed == 0
