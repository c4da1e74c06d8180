"""Tables, plots and the report of one output folder, all regenerated from ``records.jsonl``."""

from __future__ import annotations

from pathlib import Path

from ganbench.report.document import write_report
from ganbench.report.plots import write_plots
from ganbench.report.tables import write_tables
from ganbench.results import ResultsStore
from ganbench import metrics as _metrics  # noqa: F401  (its evaluators register their table columns)
from ganbench.style import report as _style_report  # noqa: F401  (registers the style columns and plots)


def write_outputs(store: ResultsStore) -> list[Path]:
    """Write summary.csv/.md/.tex, plots/*.png and report.md; returns the paths written."""
    records = store.records()
    written = write_tables(records, store.root)
    written += write_plots(records, store.root)
    written.append(write_report(records, store.root, written))
    return written
