"""Tables, plots and the report of one output folder, all regenerated from ``records.jsonl``.

The report is kind-neutral: each kind contributes a :class:`~ganbench.report.sections.ReportSection`
(its plots, its part of ``report.md``, its table columns) and each evaluator its columns, through
the registries :data:`~ganbench.report.sections.SECTIONS` and :data:`ganbench.metrics.EVALUATORS`,
which :mod:`ganbench.builtins` fills.
"""

from __future__ import annotations

from pathlib import Path

import seaborn as sns

from ganbench.report.document import write_report
from ganbench.report.sections import SECTIONS, by_kind
from ganbench.report.tables import write_tables
from ganbench.results import ResultsStore


def write_outputs(store: ResultsStore) -> list[Path]:
    """Write summary.csv/.md/.tex, summary_significance.csv, plots/*.png (removing any other
    plots/*.png) and report.md; returns the paths written."""
    records = store.records()
    written = write_tables(records, store.root)
    sns.set_theme(style="whitegrid", context="paper")
    groups = by_kind(records)
    for kind, section in SECTIONS.items():
        written += section.plots(groups.get(kind, []), store.root)
    # A plot of an earlier layout (e.g. one configuration's, before a second joined its row) is
    # stale: plots/ holds only what these records give.
    for stale in sorted(set((store.root / "plots").glob("*.png")) - set(written)):
        stale.unlink()
    written.append(write_report(records, store.root, written))
    return written
