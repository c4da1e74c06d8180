"""The comparisons of an output folder, per kind of run, as the LaTeX tables, the comparison
figures, the protocol cards and ``report.html`` show them.

A :class:`ComparisonTable` is one kind's :class:`~ganbench.report.tables.SummaryTable` (rows are
configurations, cells carry their values over seeds, the 95 % t-interval, the best marks and
the pairwise significance of headline metrics; see :mod:`ganbench.report.tables`), grouped as
the kind's report section says (``comparison_group``, ``comparison_pooled``: e.g. a style preset
over all its image pairs), with each row's records and the units of the records' data (points/s
for 2D points).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ganbench.columns import Column, speed_keys
from ganbench.report.sections import SECTIONS, ReportSection, by_kind
from ganbench.report.cells import Cell
from ganbench.report.display import power_note
from ganbench.report.keys import configuration, protocol_text
from ganbench.report.tables import SummaryRow, SummaryTable, summarize


@dataclass
class ComparisonTable:
    """One kind's summary: ``summary`` (its rows and significance), ``records`` per row (same
    order), ``columns`` as shown for the records' data (:meth:`Column.for_data`), ``speed``,
    the keys of the throughput columns, and ``over``, what its intervals run over. A kind whose
    rows were made under several protocol keys has one table per key: ``summary`` holds that key's
    rows, ``whole`` all of the kind's, ``part`` numbers the tables of one kind from 0."""

    kind: str
    summary: SummaryTable
    records: list[list[dict[str, Any]]]
    columns: list[Column]
    speed: set[str]
    data_kind: str | None = None
    over: str = "seeds"  # what the intervals run over (the section's ``intervals_over``)
    whole: SummaryTable | None = None
    part: int = 0

    @property
    def stem(self) -> str:
        """The kind, with the part's number from the second on (``gan``, ``gan_2``): file names."""
        return self.kind if self.part == 0 else f"{self.kind}_{self.part + 1}"

    @property
    def protocol(self) -> str:
        """The rows' protocol key as a line (:func:`~ganbench.report.keys.protocol_text`)."""
        return protocol_text(self.rows[0].protocol) if self.rows else ""

    @property
    def power(self) -> str:
        """:func:`~ganbench.report.display.power_note` of the table."""
        return power_note(self.summary)

    @property
    def rows(self) -> list[SummaryRow]:
        return self.summary.rows

    @property
    def group(self) -> tuple[str, ...]:
        return self.summary.group

    def cell(self, index: int, key: str) -> Cell | None:
        return self.rows[index].cells.get(key)

    def samples(self, index: int, column: Column) -> tuple[int, ...]:
        """The distinct sample counts N the row's values of ``column`` were computed on."""
        counts = self.rows[index].cells.get(column.samples_key) if column.samples_key else None
        return tuple(sorted({int(n) for n in counts.values})) if counts else ()

    def all_samples(self, column: Column) -> list[int]:
        return sorted({n for i in range(len(self.rows)) for n in self.samples(i, column)})

    def constant(self) -> dict[str, Any]:
        """Grouping keys and descriptions (e.g. the feature network) with one value over every
        row, shown once (in a caption) rather than on every row."""
        out = {key: self.rows[0].identity[key] for key in self.group
               if len({str(row.identity[key]) for row in self.rows}) == 1}
        for key in self.rows[0].descriptions:
            if len({row.descriptions.get(key, "") for row in self.rows}) == 1:
                out[key] = self.rows[0].descriptions[key]
        return out

    def varying(self) -> list[str]:
        """Grouping keys whose value differs between rows (the row labels); ``variant`` if none."""
        constant = self.constant()
        return [key for key in self.group if key not in constant] or ["variant"]

    def label(self, index: int) -> str:
        """A row's label, unique in the table: its varying keys' values joined by `` / ``, then
        the settings that tell it from rows of the same identity, e.g. ``dcgan [lr_d=0.001]``."""
        row = self.rows[index]
        text = " / ".join(str(row.identity[key]) for key in self.varying())
        return text + (f" [{row.settings_text}]" if row.settings else "")

    def title(self) -> str:
        """``<kind> runs, <constant grouping values>``, e.g. ``gan runs, toy, smoke``."""
        constant = self.constant()
        return ", ".join(dict.fromkeys([f"{self.kind} runs", *(str(constant[k]) for k in self.group if k in constant)]))

    def quality(self) -> list[Column]:
        return [c for c in self.columns if c.key not in self.speed]

    def headline(self) -> list[Column]:
        """The headline quality metrics (all quality metrics where a kind declares none)."""
        return [c for c in self.quality() if c.headline] or self.quality()

    def speed_columns(self) -> list[Column]:
        return [c for c in self.columns if c.key in self.speed]

    def values(self, index: int, key: str) -> tuple[float, ...]:
        cell = self.cell(index, key)
        return cell.values if cell else ()

    def interval(self, index: int, key: str) -> tuple[float, float, float] | None:
        """(mean, low, high) of a row's metric: the t-interval over seeds, clipped to the
        column's bounds; a single run (value, value, value), no bar: its bootstrap over generated
        samples is sampling error at N, not an interval over seeds, and is not drawn like one.
        None without a value."""
        cell = self.cell(index, key)
        if cell is None or cell.interval is None:
            return None
        if math.isfinite(cell.interval.low):
            low, high = cell.interval.low, cell.interval.high
            bounds = cell.column.bounds if cell.column is not None and cell.column.bounds else (None, None)
            low = low if bounds[0] is None else max(low, bounds[0])
            high = high if bounds[1] is None else min(high, bounds[1])
            return cell.mean, low, high
        return cell.mean, cell.mean, cell.mean


def unit_groups(columns: Sequence[Column]) -> dict[str, list[str]]:
    """``{unit: [headers]}`` of ``columns`` whose header does not already name its unit (``ms/iter``
    names ms, ``train img/s`` images/s), for a caption's "Units: ..." line."""
    by_unit: dict[str, list[str]] = {}
    for column in columns:
        named = column.unit in column.header or column.unit.replace("images", "img") in column.header
        if column.unit and not named:
            by_unit.setdefault(column.unit, []).append(column.display_header)
    return by_unit


def data_kind(records: Sequence[dict[str, Any]]) -> str | None:
    """The records' ``provenance.data.kind`` when they all share one (``points``, ``images``)."""
    kinds = {((r.get("provenance") or {}).get("data") or {}).get("kind") for r in records}
    return kinds.pop() if len(kinds) == 1 else None


def _records_by_row(summary: SummaryTable, records: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Each row's records, matched as :func:`summarize` buckets them (identity and configuration)."""
    index = {(tuple(str(row.identity[k]) for k in summary.group), json.dumps(row.configuration, sort_keys=True,
                                                                             default=list)): i
             for i, row in enumerate(summary.rows)}
    out: list[list[dict[str, Any]]] = [[] for _ in summary.rows]
    for record in records:
        key = (tuple(str(record.get(k)) for k in summary.group),
               json.dumps(configuration(record, summary.pooled), sort_keys=True, default=list))
        if key in index:
            out[index[key]].append(record)
    return out


def comparison_table(kind: str, section: ReportSection, records: Sequence[dict[str, Any]]) -> list[ComparisonTable]:
    """The :class:`ComparisonTable` of one kind's ``records``, summarised by its section's
    ``comparison_group`` and ``comparison_pooled``, one per protocol key of its rows (compared
    only within each); none without rows."""
    whole = summarize(records, section.comparison_group, section.comparison_pooled)
    shown = data_kind(records)
    return [ComparisonTable(kind, summary, _records_by_row(summary, records),
                            [c.for_data(shown) for c in summary.columns], speed_keys(), shown, section.intervals_over,
                            whole, part)
            for part, summary in enumerate(whole.by_protocol()) if summary.rows]


def comparison_tables(records: Sequence[dict[str, Any]]) -> list[ComparisonTable]:
    """The :class:`ComparisonTable` s of every kind of run in ``records`` (in :data:`SECTIONS`
    order, each section's records being those it claims; a kind's tables in protocol order)."""
    return [table for kind, kind_records in by_kind(records).items() if kind_records
            for table in comparison_table(kind, SECTIONS.get(kind), kind_records)]
