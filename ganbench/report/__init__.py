"""Tables, plots and the report of one output folder, all regenerated from ``records.jsonl``.

The report is kind-neutral: each kind contributes a :class:`~ganbench.report.sections.ReportSection`
(its plots, its part of ``report.md``, which records are its own) and each evaluator and kind its
table columns, through the registries :data:`~ganbench.report.sections.SECTIONS` and
:data:`ganbench.columns.COLUMNS`, which :mod:`ganbench.builtins` fills. The report reads records
and column declarations only, never an evaluator or a dataset.
"""

from __future__ import annotations

from pathlib import Path

import seaborn as sns

from ganbench.report.comparison_figures import plot_comparisons
from ganbench.report.document import write_report, write_tables
from ganbench.report.html import write_html
from ganbench.report.latex import write_latex
from ganbench.report.model import build_model
from ganbench.report.sections import SECTIONS
from ganbench.results import ResultsStore


def write_outputs(store: ResultsStore) -> list[Path]:
    """Write summary.csv/.md/.tex, summary_significance.csv, plots/*.png (removing any other
    plots/*.png), report.md and report.html; returns the paths written. The records are read
    once and summarised once (:func:`~ganbench.report.model.build_model`); every writer reads
    that model."""
    model = build_model(store.records())
    root = store.root
    written = write_tables(model, root)
    written.append(write_latex(model.tables, root))
    sns.set_theme(style="whitegrid", context="paper")
    comparison_plots = plot_comparisons(model.tables, root)
    kind_plots = {kind: section.plots(model.kinds[kind], root) for kind, section in SECTIONS.items()}
    written += comparison_plots + [path for paths in kind_plots.values() for path in paths]
    # A plot of an earlier layout (e.g. one configuration's, before a second joined its row) is
    # stale: plots/ holds only what these records give.
    # (Not another writer's temporary file, a dotfile; and another writer may have removed it first.)
    for stale in sorted(set((root / "plots").glob("[!.]*.png")) - set(written)):
        stale.unlink(missing_ok=True)
    written.append(write_report(model, root, written))
    written.append(write_html(model, root, comparison_plots, kind_plots))
    return written
