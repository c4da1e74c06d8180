"""How a number of the records is shown in tables: the columns evaluators and kinds declare."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Column:
    """A metric shown in the tables: its key, header, whether higher is better, and its number
    format (``digits`` after the point with ``notation`` ``f``, significant digits with ``g``;
    used where a number has no uncertainty to set its precision, e.g. in a run's progress line).

    ``samples_key`` names the metric holding the sample count the value was computed on (e.g.
    FID's N): shown in the header, ``FID (N=10,000)``, or in each cell when rows differ.

    ``unit`` is what a value is measured in, shown on figure axes and in LaTeX headers, e.g.
    ``"images/s"``, ``"ms"``, ``"nats"``, ``"fraction"``; for 2D point data a per-sample unit reads
    ``points`` instead of ``images`` (:func:`for_data`).

    ``headline``: the metric a comparison of configurations rests on (its direction given by
    ``higher_is_better``, which must then be set): the summary marks its significantly best
    entry and ``summary_significance.csv`` tests every pair of configurations on it.

    ``spread_key`` names the metric holding a run's own spread of this value (e.g. ``kid_std``,
    KID's standard deviation over its subsets): a single-seed row shows it, ``0.048 (sd 0.003)``,
    and rounds the value to it.
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

    def __post_init__(self) -> None:
        if self.headline and self.higher_is_better is None:
            raise ValueError(f"headline column {self.key!r} needs a direction (higher_is_better)")

    def for_data(self, data_kind: str | None) -> "Column":
        """This column as shown for records of ``data_kind`` (``provenance.data.kind``): for
        ``"points"`` (2D mixtures) images become points in the header and unit
        (``train img/s`` -> ``train points/s``, ``images/s`` -> ``points/s``)."""
        if data_kind != "points":
            return self
        return replace(self, header=self.header.replace("img/s", "points/s"),
                       unit=self.unit.replace("images", "points"))
