"""Summary tables: one row per (suite, variant, dataset, budget), mean ± std over seeds (or per
another grouping, e.g. :data:`VARIANT_GROUP` for a style preset over all its image pairs).

Only runs with status ``finished`` enter the means; the ``runs`` column says how many of the
planned seeds finished (e.g. ``2/3 (1 diverged)``). The standard deviation is the sample one
(ddof = 1) and is left empty for a single seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ganbench.columns import Column
from ganbench.metrics import EVALUATORS
from ganbench.report.sections import SECTIONS
from ganbench.results import atomic_write_text

GROUP = ["suite", "variant", "dataset", "budget"]
VARIANT_GROUP = ["suite", "variant", "budget"]
# Descriptive columns carried into a group's row (the distinct values of its runs, joined), e.g.
# a style run's feature network, whose weights may be RANDOM.
DESCRIPTIONS = ["feature network"]


# Throughput columns come last; the others in the order their evaluators and kinds registered.
def table_columns() -> list[Column]:
    """The metrics the Markdown/LaTeX tables show, in order: each quality evaluator's columns,
    each kind's own (its report section's), then the throughput columns; a key shown once."""
    quality = [c for _, e in EVALUATORS.items() if e.section != "throughput" for c in e.columns]
    kinds = [c for _, section in SECTIONS.items() for c in section.columns]
    speed = [c for _, e in EVALUATORS.items() if e.section == "throughput" for c in e.columns]
    shown: dict[str, Column] = {}
    for column in (*quality, *kinds, *speed):
        shown.setdefault(column.key, column)
    return list(shown.values())


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """One flat row per record: identity columns, status, and every numeric metric/throughput value."""
    row = {key: record.get(key) for key in (*GROUP, "seed", "status", "run_id")}
    network = ((record.get("provenance") or {}).get("feature_network") or {}).get("description")
    if network:
        row["feature network"] = network
    for section in ("metrics", "throughput"):
        for key, value in (record.get(section) or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                row[key] = float(value)
    return row


def summarize(records: Sequence[dict[str, Any]], group: Sequence[str] = GROUP) -> pd.DataFrame:
    """Mean and std per ``group`` (identity keys of :data:`GROUP`) for every numeric value, over
    the finished runs in it: columns ``<key>_mean``, ``<key>_std``, plus ``runs``, ``finished``,
    ``diverged``, ``failed``."""
    group = list(group)
    frame = pd.DataFrame([flatten(record) for record in records])
    if frame.empty:
        return pd.DataFrame(columns=[*group, "runs", "finished", "diverged", "failed"])
    value_columns = [c for c in frame.columns if c not in (*GROUP, *DESCRIPTIONS, "seed", "status", "run_id")]
    rows = []
    for keys, runs in frame.groupby(group, sort=False, dropna=False):
        row: dict[str, Any] = dict(zip(group, keys))
        for column in DESCRIPTIONS:
            if column in runs:
                row[column] = "; ".join(sorted(runs[column].dropna().unique()))
        row["runs"] = len(runs)
        for status in ("finished", "diverged", "failed"):
            row[status] = int((runs["status"] == status).sum())
        finished = runs[runs["status"] == "finished"]
        for column in value_columns:
            values = finished[column].dropna()
            row[f"{column}_mean"] = values.mean() if len(values) else math.nan
            row[f"{column}_std"] = values.std(ddof=1) if len(values) > 1 else math.nan
            row[f"{column}_n"] = len(values)
        rows.append(row)
    return pd.DataFrame(rows)


def _format(mean: float, std: float, column: Column) -> str:
    if mean != mean:
        return "–"
    text = f"{mean:,.{column.digits}{column.notation}}"
    return text if std != std else f"{text} ± {std:,.{column.digits}{column.notation}}"


def display_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The human table: variant, dataset, runs, then ``mean ± std`` per shown metric (↑/↓ marks)."""
    out = pd.DataFrame()
    for key in (*GROUP, *DESCRIPTIONS):
        if key in summary:
            out[key] = summary[key]
    out["runs"] = [
        f"{r.finished}/{r.runs}" + (f" ({r.diverged} diverged)" if r.diverged else "") + (f" ({r.failed} failed)" if r.failed else "")
        for r in summary.itertuples()
    ]
    for column in table_columns():
        if f"{column.key}_mean" not in summary:
            continue
        arrow = "" if column.higher_is_better is None else (" ↑" if column.higher_is_better else " ↓")
        cells = [_format(mean, std, column)
                 for mean, std in zip(summary[f"{column.key}_mean"], summary[f"{column.key}_std"])]
        header = column.header
        if column.samples_key is not None and f"{column.samples_key}_mean" in summary:
            counts = summary[f"{column.samples_key}_mean"]
            shown = counts[summary[f"{column.key}_mean"].notna()].dropna().unique()
            if len(shown) == 1:
                header = f"{header} (N={shown[0]:,.0f})"
            else:
                cells = [cell if count != count else f"{cell} (N={count:,.0f})" for cell, count in zip(cells, counts)]
        out[header + arrow] = cells
    return out


def write_tables(records: Sequence[dict[str, Any]], root: Path) -> list[Path]:
    """summary.csv (all numbers) and summary.md (the display table); summary.tex is
    :mod:`ganbench.report.latex`'s."""
    summary = summarize(records)
    table = display_table(summary)
    paths = [root / "summary.csv", root / "summary.md"]
    atomic_write_text(paths[0], summary.to_csv(index=False))
    atomic_write_text(paths[1], table.to_markdown(index=False) + "\n")
    return paths
