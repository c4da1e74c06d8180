"""One cell of a summary table: one metric of one row, its values over the row's finished seeds,
their interval, and the text it is shown as.

Each cell holds the values over the finished seeds and their Student-t 95 % interval
(:func:`ganbench.stats.t_interval`); it is shown as ``mean ± half-width`` at the precision the
interval supports (:func:`~ganbench.stats.display_precision`), clipped to the metric's range where
it would cross it (``0.96 [0.83, 1.00]``), as the exact value where every seed gave the same,
scaled as its column says (KID ×10³). A run whose value is undefined (``null`` in its record) is
counted in the cell, ``(n = 2 of 3; 1 undefined: no high-quality samples)``. A single-seed cell
has no interval over seeds: it shows the value alone, or with the run's own bootstrap interval over
its N generated samples with the reference fixed (metrics ``<key>_ci_low`` / ``<key>_ci_high``;
labelled as such, never drawn like an interval over seeds), or with the run's own spread (a
column's ``spread_key``, e.g. KID's standard deviation over its subsets).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ganbench.columns import Column
from ganbench.stats import Interval, display_precision, t_interval

CONFIDENCE = 0.95
# A record's metric ``<key>_ci_low`` / ``<key>_ci_high``: the run's own interval of ``<key>``
# (a bootstrap over its generated samples), shown on single-seed rows.
CI_LOW, CI_HIGH = "_ci_low", "_ci_high"
BOOTSTRAP_LABEL = "N-sampling bootstrap"
# Values of several runs within this relative distance of each other are one value up to float
# rounding: float32 feature sums over thousands of images in another order move FID by about 1e-6
# of itself; runs that really differ (another seed, another subset) differ by far more.
ROUNDING = 1e-5


@dataclass(frozen=True)
class Cell:
    """One metric of one row.

    - ``key``: the metric's record key; ``values``: its value in each finished run with a finite
      value (record order); ``interval``: :func:`t_interval` of ``values`` at :data:`CONFIDENCE`
      (``mean``, ``std`` (ddof = 1), ``n``, ``low``, ``high``; nan where undefined, i.e. n = 1),
      ``None`` when there are no values.
    - ``run_interval``: for a single run, its own interval of the value (from the record's
      ``<key>_ci_low`` / ``<key>_ci_high``, a bootstrap over generated samples); else ``None``.
    - ``run_spread``: for a single run, its own standard deviation of the value (the column's
      ``spread_key``, e.g. ``kid_std``); else nan.
    - ``mark``: ``ganbench.significance.BEST`` when this entry is significantly the best of its
      family on a headline column, else ``""``.
    - ``undefined``: how many finished runs evaluated the metric and found it undefined (their
      record holds ``null``, e.g. reverse KL with no high-quality sample); not in ``values``.
    - ``column``: the declared column (its scale, bounds and reason for undefined values), if any.
    """

    key: str
    values: tuple[float, ...]
    interval: Interval | None
    run_interval: Interval | None = None
    run_spread: float = math.nan
    mark: str = ""
    undefined: int = 0
    column: Column | None = None

    @property
    def exact(self) -> bool:
        """Two or more values equal up to float rounding (within a relative :data:`ROUNDING`): the
        value has no spread to show. ``1.20 ± 0`` and ``6.690963456000001 ± 0.000000000000003`` are
        neither, nor is ``1.631430 ± 0.000005``: the same 5,000 images in another order, whose
        float32 feature sums differ in the last bits."""
        return self.n >= 2 and max(self.values) - min(self.values) <= ROUNDING * max(abs(v) for v in self.values)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return self.interval.mean if self.interval else math.nan

    @property
    def std(self) -> float:
        return self.interval.std if self.interval else math.nan

    @property
    def low(self) -> float:
        return self.interval.low if self.interval else math.nan

    @property
    def high(self) -> float:
        return self.interval.high if self.interval else math.nan


def is_shown(cell: Cell | None) -> bool:
    """Whether a cell has something to show: a value, or a run where it was undefined."""
    return cell is not None and (cell.n > 0 or cell.undefined > 0)


def _finite(values: Iterable[Any]) -> tuple[float, ...]:
    return tuple(float(v) for v in values if isinstance(v, float) and math.isfinite(v))


def make_cell(key: str, runs: Sequence[dict[str, Any]], column: Column | None) -> Cell:
    """The :class:`Cell` of metric ``key`` over ``runs`` (the flat rows of a row's finished runs),
    with a single run's own interval and spread where its record has them."""
    values = _finite(run.get(key) for run in runs)
    undefined = sum(1 for run in runs if key in run and isinstance(run[key], float) and math.isnan(run[key]))
    interval = t_interval(values, CONFIDENCE) if values else None
    run_interval, spread = None, math.nan
    if len(values) == 1:
        run = next(r for r in runs if r.get(key) == values[0])
        bounds = _finite([run.get(key + CI_LOW), run.get(key + CI_HIGH)])
        if len(bounds) == 2 and bounds[0] <= bounds[1]:
            run_interval = Interval(values[0], math.nan, 1, bounds[0], bounds[1], "bootstrap", CONFIDENCE)
        if column is not None and column.spread_key is not None:
            spread = run.get(column.spread_key, math.nan)
    return Cell(key, values, interval, run_interval, float(spread), undefined=undefined, column=column)


def _plain(value: float) -> str:
    """A value with no interval: an integer as such (``6``, ``1,024``), else 3 significant digits."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return display_precision(value, math.nan)


def exact_text(value: float, *others: float) -> str:
    """A value every run gave alike (no spread to show): an integer as such (``10``), else to the
    significant digits (at most 10) on which ``value`` and ``others`` (the other runs' values, equal
    up to rounding) agree, trailing zeros dropped (``6.690963456000001`` -> ``6.690963456``;
    1.6314302 and 1.6314347 -> ``1.63143``)."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15 and all(o == value for o in others):
        return f"{int(value):,}"
    for digits in range(10, 0, -1):
        shown = {f"{v:.{digits}g}" for v in (value, *others)}
        if len(shown) == 1:
            break
    return format(Decimal(f"{value:.{digits}g}"), ",f")


def _at_precision(value: float, half_width: float) -> str:
    """``value`` rounded as :func:`display_precision` rounds a mean with this half-width."""
    return display_precision(value, half_width).split(" ± ")[0]


def clipped(cell: Cell) -> tuple[float, float] | None:
    """The cell's t-interval clipped to its column's bounds, scaled as shown, where it crosses
    one (a fraction's interval above 1, a count's below 0); None where it lies within them."""
    column = cell.column
    if column is None or cell.interval is None or not math.isfinite(cell.low) or column.bounds is None:
        return None
    low_bound, high_bound = column.bounds
    low, high = cell.low, cell.high
    if (low_bound is None or low >= low_bound) and (high_bound is None or high <= high_bound):
        return None
    low = low if low_bound is None else max(low, low_bound)
    high = high if high_bound is None else min(high, high_bound)
    return low * column.scale, high * column.scale


def _count_text(cell: Cell, expected: int | None) -> str:
    """``(n = 2 of 3; 1 undefined: no high-quality samples)`` where fewer than ``expected`` runs
    have a value; ``""`` where all do."""
    if expected is None or (cell.n >= expected and not cell.undefined):
        return ""
    text = f"n = {cell.n} of {expected}"
    if cell.undefined:
        reason = cell.column.undefined if cell.column is not None else ""
        text += f"; {cell.undefined} undefined" + (f": {reason}" if reason else "")
    return f" ({text})"


def cell_text(cell: Cell, expected: int | None = None) -> str:
    """The displayed text of a cell, scaled by its column (KID ×10³):

    - two or more runs: ``mean ± half-width`` of the 95 % t-interval over seeds, at the precision
      the half-width allows (:func:`~ganbench.stats.display_precision`); where the interval
      crosses the column's bounds, ``mean [low, high]``, the interval clipped (:func:`clipped`);
      where every run gave the same value (up to float noise), that value, exact
      (:func:`exact_text`), with no ``± 0``;
    - one run: the value alone, or with the run's bootstrap interval over its N generated
      samples with the reference fixed (``298.5 (N-sampling bootstrap [297.9, 299.3])``, not an
      interval over seeds) or its own spread (``0.048 (sd 0.003)``) where the record has them;
    - no value: ``–``, or ``undefined`` where every run's value was undefined.

    Where fewer than ``expected`` runs have a value the count follows, with the undefined ones
    and why (:func:`_count_text`)."""
    if cell.interval is None:
        return ("undefined" if cell.undefined else "–") + (_count_text(cell, expected) if cell.undefined else "")
    scale = cell.column.scale if cell.column is not None else 1.0
    mean = cell.mean * scale
    if cell.n == 1:
        if cell.run_interval is not None and cell.run_interval.half_width > 0:
            hw = cell.run_interval.half_width * scale
            low, high = (_at_precision(bound * scale, hw) for bound in (cell.run_interval.low, cell.run_interval.high))
            text = f"{_at_precision(mean, hw)} ({BOOTSTRAP_LABEL} [{low}, {high}])"
        elif math.isfinite(cell.run_spread) and cell.run_spread > 0:
            value, spread = display_precision(mean, cell.run_spread * scale).split(" ± ")
            text = f"{value} (sd {spread})"
        else:
            text = _plain(mean)
    elif cell.exact:
        text = exact_text(mean, *(v * scale for v in cell.values))
    else:
        hw = cell.interval.half_width * scale
        bounds = clipped(cell)
        if bounds is None:
            text = display_precision(mean, hw)
        else:
            text = f"{_at_precision(mean, hw)} [{_at_precision(bounds[0], hw)}, {_at_precision(bounds[1], hw)}]"
    return text + _count_text(cell, expected)
