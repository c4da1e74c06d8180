"""How a number of the records is shown in tables: the columns evaluators and kinds declare."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """A metric shown in the tables: its key, header, whether higher is better, and its number
    format (``digits`` after the point with ``notation`` ``f``, significant digits with ``g``).

    ``samples_key`` names the metric holding the sample count the value was computed on (e.g.
    FID's N): shown in the header, ``FID (N=10,000)``, or in each cell when rows differ.
    """

    key: str
    header: str
    higher_is_better: bool | None
    digits: int = 3
    notation: str = "f"
    samples_key: str | None = None
