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
    """Write summary.csv/.md/.tex, plots/*.png and report.md; returns the paths written."""
    records = store.records()
    written = write_tables(records, store.root)
    sns.set_theme(style="whitegrid", context="paper")
    groups = by_kind(records)
    for kind, section in SECTIONS.items():
        written += section.plots(groups.get(kind, []), store.root)
    written.append(write_report(records, store.root, written))
    return written
