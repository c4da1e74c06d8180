"""Has a configuration's metric history stopped moving? The plateau rule of converged comparisons.

A comparison is only worth citing when every compared configuration has finished improving. The
rule, applied per configuration (all seeds of one variant under one protocol) and per metric:

- Take the runs' ``metric_history`` (the periodic evaluations, each with ``images_seen``) and the
  last two evaluation points that every seed reached.
- At each of the two points, the 95 % Student-t interval of the mean over seeds
  (:func:`ganbench.stats.t_interval`).
- The history **plateaus** when each point's mean lies inside the other point's interval:
  ``|mean_last - mean_previous| <= min(h_last, h_previous)``, h the half-widths. A change smaller
  than what the seeds can resolve at either point is no evidence of further improvement.
- **Undecided** (``plateaued is None``) with fewer than two evaluation points or fewer than two
  seeds, or where a value is undefined: the rule needs an interval over seeds at two points.

The rule is deliberately one-sided in what it can claim: a plateau at 3 seeds with wide intervals
says "no change the seeds can resolve", not "converged to the optimum", and the report says so.

Examples:
    >>> runs = [[{"images_seen": 1000, "fid": 50.0 + s}, {"images_seen": 2000, "fid": 20.0 + s},
    ...          {"images_seen": 3000, "fid": 19.5 + s}] for s in (0.0, 1.0, 2.0)]
    >>> check = plateau_check(runs, "fid")
    >>> check.plateaued, check.previous_images, check.last_images
    (True, 2000, 3000)
    >>> plateau_check([r[:2] for r in runs], "fid").plateaued  # 50 -> 20: still falling
    False
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ganbench.stats import t_interval

IMAGES = "images_seen"  # the history's x axis: training images (or points) seen at the evaluation


@dataclass(frozen=True)
class PlateauCheck:
    """The plateau rule's verdict on one metric of one configuration.

    - ``metric``: the history key checked (e.g. ``fid``).
    - ``seeds``: runs whose histories were used; ``points``: evaluation points all of them reached.
    - ``previous_images``, ``last_images``: ``images_seen`` at the last two common points (0 when
      there are fewer than two).
    - ``previous``, ``last``: the mean over seeds there; ``previous_half_width``,
      ``last_half_width``: the half-widths of their 95 % t-intervals (nan with one seed).
    - ``plateaued``: True / False by the rule in the module docstring; None when undecided.
    - ``reason``: why, in words, for the report.
    """

    metric: str
    seeds: int
    points: int
    previous_images: int
    last_images: int
    previous: float
    last: float
    previous_half_width: float
    last_half_width: float
    plateaued: bool | None
    reason: str

    @property
    def change(self) -> float:
        """``last - previous`` (nan where either is)."""
        return self.last - self.previous


def _points(history: Sequence[Mapping[str, Any]], metric: str) -> dict[int, float]:
    """``images_seen -> value`` of one run's history at the evaluations that computed ``metric``; an
    undefined value there (None or non-finite) is kept as nan, so the point still counts as reached."""
    points: dict[int, float] = {}
    for entry in history:
        if IMAGES not in entry or metric not in entry:
            continue
        value = entry.get(metric)
        points[int(entry[IMAGES])] = float(value) if isinstance(value, (int, float)) else math.nan
    return points


def plateau_check(histories: Sequence[Sequence[Mapping[str, Any]]], metric: str) -> PlateauCheck:
    """Apply the plateau rule to ``metric`` over the ``histories`` of one configuration's seeds.

    Args:
        histories: one ``metric_history`` per seed (a list of evaluation dicts, each with
            ``images_seen`` and the metric), in any order.
        metric: the key to check, e.g. ``"fid"`` or ``"recall"``.

    Returns:
        A :class:`PlateauCheck`; ``plateaued`` is None when the rule cannot decide.
    """
    per_seed = [_points(history, metric) for history in histories]
    common = sorted(set.intersection(*(set(points) for points in per_seed))) if per_seed else []
    nan = math.nan
    if len(common) < 2:
        return PlateauCheck(metric, len(per_seed), len(common), 0, 0, nan, nan, nan, nan, None,
                            f"{len(common)} evaluation point(s) reached by every seed; the rule needs 2")
    previous_at, last_at = common[-2], common[-1]
    previous_values = [points[previous_at] for points in per_seed]
    last_values = [points[last_at] for points in per_seed]
    if not all(math.isfinite(v) for v in previous_values + last_values):
        return PlateauCheck(metric, len(per_seed), len(common), previous_at, last_at, nan, nan, nan, nan, None,
                            "undefined at one of the last two points for some seed")
    previous, last = t_interval(previous_values), t_interval(last_values)
    if len(per_seed) < 2:
        return PlateauCheck(metric, 1, len(common), previous_at, last_at, previous.mean, last.mean, nan, nan, None,
                            "one seed: no interval over seeds to judge the change by")
    change = abs(last.mean - previous.mean)
    allowed = min(previous.half_width, last.half_width)
    plateaued = change <= allowed
    verb = "within" if plateaued else "outside"
    return PlateauCheck(metric, len(per_seed), len(common), previous_at, last_at, previous.mean, last.mean,
                        previous.half_width, last.half_width, plateaued,
                        f"change {last.mean - previous.mean:+.4g} {verb} ± {allowed:.4g} (the narrower 95 % t "
                        f"half-width of the last two points)")
