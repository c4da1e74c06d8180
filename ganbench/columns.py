"""How a number of the records is shown in tables: the columns evaluators and kinds declare.

:data:`COLUMNS` holds each evaluator's and kind's declaration (a :class:`ColumnSet` named
``evaluator:<name>`` or ``kind:<name>``, filled by :mod:`ganbench.builtins`), so the report
reads which metrics to show, in which order, from here and never from the evaluators themselves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ganbench.registry import Registry


# The range of a value measured in a unit, (low, high), None for no bound: intervals are clipped to it.
UNIT_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "fraction": (0.0, 1.0), "index": (-1.0, 1.0), "nats": (0.0, None), "classes": (0.0, None), "modes": (0.0, None),
    "squared feature distance": (0.0, None), "ratio": (0.0, None), "images/s": (0.0, None), "ms": (0.0, None),
    "MiB": (0.0, None), "loss": (0.0, None), "steps": (0.0, None),
}


@dataclass(frozen=True)
class Column:
    """A metric shown in the tables: its key, header, whether higher is better, and its number
    format (``digits`` after the point with ``notation`` ``f``, significant digits with ``g``;
    used where a number has no uncertainty to set its precision, e.g. in a run's progress line).

    ``samples_key`` names the metric holding the sample count the value was computed on (e.g.
    FID's N): shown in the header, ``FID (lenet, N = 10,000 vs M = 10,000)``, or in each cell when rows differ.

    ``unit`` is what a value is measured in, shown on figure axes and in LaTeX headers, e.g.
    ``"images/s"``, ``"ms"``, ``"nats"``, ``"fraction"``; for 2D point data a per-sample unit reads
    ``points`` instead of ``images`` (:func:`for_data`).

    ``headline``: the metric a comparison of configurations rests on (its direction given by
    ``higher_is_better``, which must then be set): the summary marks its significantly best
    entry and ``summary_significance.csv`` tests every pair of configurations on it.

    ``spread_key`` names the metric holding a run's own spread of this value (e.g. ``kid_std``,
    KID's standard deviation over its subsets): a single-seed row shows it, ``0.048 (sd 0.003)``,
    and rounds the value to it.

    ``scale``: the tables show ``value × scale`` (KID ×10³, as papers print it; the header says
    so); the CSV keeps the recorded value. ``bounds``: the range a value can take, ``(low, high)``
    with None for unbounded, which intervals are clipped to; by default from the ``unit``
    (:data:`UNIT_BOUNDS`: a fraction lies in [0, 1], counts, nats, rates and distances are >= 0).
    ``undefined``: why a run's value can be undefined (its record holds ``null``), shown beside
    the count of such runs, e.g. ``"no high-quality samples"``.
    """

    key: str
    header: str
    higher_is_better: bool | None
    digits: int = 3
    notation: str = "f"
    samples_key: str | None = None
    headline: bool = False
    spread_key: str | None = None
    unit: str = ""
    scale: float = 1.0
    bounds: tuple[float | None, float | None] | None = None
    undefined: str = ""

    def __post_init__(self) -> None:
        if self.headline and self.higher_is_better is None:
            raise ValueError(f"headline column {self.key!r} needs a direction (higher_is_better)")
        if self.bounds is None:
            object.__setattr__(self, "bounds", UNIT_BOUNDS.get(self.unit, (None, None)))

    @property
    def display_header(self) -> str:
        """The header of the tables' scaled value: ``KID ×10³`` for ``scale=1e3``; else ``header``."""
        if self.scale == 1:
            return self.header
        exponent = math.log10(self.scale)
        if exponent == int(exponent):
            power = str(int(exponent)).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
            return f"{self.header} ×10{power}"
        return f"{self.header} ×{self.scale:g}"

    def for_data(self, data_kind: str | None) -> "Column":
        """This column as shown for records of ``data_kind`` (``provenance.data.kind``): for
        ``"points"`` (2D mixtures) images become points in the header and unit
        (``train img/s`` -> ``train points/s``, ``images/s`` -> ``points/s``)."""
        if data_kind != "points":
            return self
        return replace(self, header=self.header.replace("img/s", "points/s"),
                       unit=self.unit.replace("images", "points"))


@dataclass(frozen=True)
class Description:
    """A text a kind shows beside its numbers, one column of a row: its ``header`` and where
    each record holds it, ``path`` (keys from the record's top), e.g. the feature network a
    style run's numbers come from, ``("provenance", "feature_network", "description")``."""

    header: str
    path: tuple[str, ...]

    def read(self, record: Mapping[str, Any]) -> Any:
        """The record's value at ``path``; None where the record has none (or an empty one)."""
        value: Any = record
        for key in self.path:
            value = value.get(key) if isinstance(value, Mapping) else None
        return value or None


@dataclass(frozen=True)
class ColumnSet:
    """The table columns one evaluator or kind declares; ``speed``: they are throughput numbers
    (the record's ``throughput`` section), shown after every quality column; ``descriptions``:
    the texts shown beside them."""

    columns: tuple[Column, ...]
    speed: bool = False
    descriptions: tuple[Description, ...] = ()


COLUMNS: Registry[ColumnSet] = Registry("column set")


def table_columns() -> list[Column]:
    """The metrics the tables show, in order: the quality columns in the order their evaluators
    and kinds declared them, then the speed columns; a key shown once."""
    sets = [column_set for _, column_set in COLUMNS.items()]
    shown: dict[str, Column] = {}
    for column_set in [s for s in sets if not s.speed] + [s for s in sets if s.speed]:
        for column in column_set.columns:
            shown.setdefault(column.key, column)
    return list(shown.values())


def speed_keys() -> set[str]:
    """The keys of the declared speed columns."""
    return {column.key for _, column_set in COLUMNS.items() if column_set.speed for column in column_set.columns}


def descriptions() -> list[Description]:
    """The declared descriptions, one per header, in the order of their headers."""
    declared = {d.header: d for _, column_set in COLUMNS.items() for d in column_set.descriptions}
    return [declared[header] for header in sorted(declared)]
