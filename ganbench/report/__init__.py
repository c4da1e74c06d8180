"""Tables, plots and the report of one output folder, all regenerated from ``records.jsonl``.

The report is kind-neutral: each kind contributes a :class:`~ganbench.report.sections.ReportSection`
(its plots, its part of ``report.md``, its table columns) and each evaluator its columns, through
the registries :data:`~ganbench.report.sections.SECTIONS` and :data:`ganbench.metrics.EVALUATORS`,
which :mod:`ganbench.builtins` fills.
"""

from __future__ import annotations

from pathlib import Path

import seaborn as sns

from ganbench.report.comparison_figures import plot_comparisons
from ganbench.report.comparisons import comparison_tables
from ganbench.report.document import write_report
from ganbench.report.html import write_html
from ganbench.report.latex import write_latex
from ganbench.report.protocol import protocol_cards
from ganbench.report.sections import SECTIONS, by_kind
from ganbench.report.tables import write_tables
from ganbench.results import ResultsStore


def write_outputs(store: ResultsStore) -> list[Path]:
    """Write summary.csv/.md/.tex, summary_significance.csv, plots/*.png (removing any other
    plots/*.png), report.md and report.html; returns the paths written."""
    records = store.records()
    tables = comparison_tables(records)
    written = write_tables(records, store.root)
    written.append(write_latex(tables, store.root))
    sns.set_theme(style="whitegrid", context="paper")
    comparison_plots = plot_comparisons(tables, store.root)
    groups = by_kind(records)
    kind_plots = {kind: section.plots(groups.get(kind, []), store.root) for kind, section in SECTIONS.items()}
    written += comparison_plots + [path for paths in kind_plots.values() for path in paths]
    # A plot of an earlier layout (e.g. one configuration's, before a second joined its row) is
    # stale: plots/ holds only what these records give.
    for stale in sorted(set((store.root / "plots").glob("*.png")) - set(written)):
        stale.unlink()
    cards = protocol_cards(tables)
    written.append(write_report(records, store.root, written, cards))
    written.append(write_html(records, store.root, tables, comparison_plots, kind_plots, cards))
    return written
