"""The report of one output folder as data, computed once from its records.

:func:`build_model` reads the records once and computes every table the writers show: the
summary over all runs (``summary.csv``/``.md``, ``report.md``), each kind's comparison (LaTeX,
HTML, comparison figures, the kinds' sections), the protocol cards and the notes. The writers
(:mod:`~ganbench.report.tables`, :mod:`~ganbench.report.latex`, :mod:`~ganbench.report.document`,
:mod:`~ganbench.report.html`, :mod:`~ganbench.report.comparison_figures`) only read a
:class:`ReportModel`; none goes back to the records' store or summarises again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ganbench.report.comparisons import ComparisonTable, comparison_tables
from ganbench.report.protocol import Card, protocol_cards
from ganbench.report.sections import by_kind
from ganbench.report.display import ShownTable, display_significance, shown_tables, table_notes
from ganbench.report.tables import SummaryTable, summarize


@dataclass(frozen=True)
class ReportModel:
    """Everything the report shows, for the writers to read.

    - ``records``: every record of the folder, in matrix order.
    - ``kinds``: per registered report section (in :data:`~ganbench.report.sections.SECTIONS`
      order) the records it claims (possibly none).
    - ``summary``: the :class:`~ganbench.report.tables.SummaryTable` of every record by
      (suite, variant, dataset, budget); ``shown`` its display tables, one per protocol key
      (:class:`~ganbench.report.display.ShownTable`), ``notes`` its footnotes, ``significance``
      its display significance table.
    - ``tables``: one :class:`~ganbench.report.comparisons.ComparisonTable` per kind with runs
      and protocol key, grouped as the kind's section says; ``sections`` per kind with runs the
      summary of all of them (what its report section is given); ``cards`` the protocol card of
      every configuration.
    """

    records: tuple[dict[str, Any], ...]
    kinds: Mapping[str, tuple[dict[str, Any], ...]]
    summary: SummaryTable
    shown: tuple[ShownTable, ...]
    notes: tuple[str, ...]
    significance: pd.DataFrame
    tables: tuple[ComparisonTable, ...]
    sections: Mapping[str, SummaryTable]
    cards: tuple[Card, ...]

    def table(self, kind: str) -> ComparisonTable | None:
        """The first comparison of ``kind``'s runs (one per protocol key); None when it has none."""
        return next((table for table in self.tables if table.kind == kind), None)


def build_model(records: Sequence[dict[str, Any]]) -> ReportModel:
    """The :class:`ReportModel` of ``records`` (the folder's, in matrix order; may be empty)."""
    tables = tuple(comparison_tables(records))
    summary = summarize(records)
    sections = {}
    for table in tables:
        sections.setdefault(table.kind, table.whole)
    return ReportModel(records=tuple(records), kinds=by_kind(records), summary=summary,
                       shown=tuple(shown_tables(summary)), notes=tuple(table_notes(summary)),
                       significance=display_significance(summary), tables=tables, sections=sections,
                       cards=tuple(protocol_cards(tables)))
