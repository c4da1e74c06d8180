"""The summary table as it is shown and written: the displayed tables, one per protocol key, with
their footnotes and power notes (Markdown, and what the LaTeX and HTML writers read), ``summary.csv``
and the significance table (``summary_significance.csv`` and its displayed form).

A significantly best entry of a headline column is shown in bold; a table whose seed counts cannot
reach significance says so (:func:`power_note`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ganbench.columns import Column, descriptions
from ganbench.report.cells import BOOTSTRAP_LABEL, cell_text, exact_text, is_shown
from ganbench.report.keys import named_column, protocol_text
from ganbench.report.tables import COMPARED, SummaryRow, SummaryTable
from ganbench.significance import ALPHA, BEST, EXACT_PERMUTATIONS, smallest_holm_p
from ganbench.stats import display_precision


def _protocol_value(table: SummaryTable, name: str) -> str:
    """The value of protocol field ``name`` shared by every row of ``table``; ``""`` if they differ."""
    values = {dict(row.protocol).get(name, "") for row in table.rows}
    return values.pop() if len(values) == 1 else ""


def samples_text(column: Column, table: SummaryTable) -> tuple[str, bool]:
    """What a metric computed on samples was measured with, where every row of ``table`` shares
    it: its evaluator's backbone, N and the reference count M, ``lenet, N = 5,000 vs M = 10,000``
    (``""`` for a metric without a ``samples_key``); and whether rows differ in N (each cell then
    names its own)."""
    if column.samples_key is None:
        return "", False
    counts = [row.cells[column.samples_key].mean for row in table.rows
              if is_shown(row.cells.get(column.key)) and column.samples_key in row.cells]
    distinct = {count for count in counts if count == count}
    if len(distinct) != 1:
        return "", bool(distinct)
    prefix = column.samples_key[: -len("_samples")]
    backbone = _protocol_value(table, f"{prefix} backbone")
    reference = _protocol_value(table, f"{prefix} M")
    parts = [backbone] if backbone else []
    parts.append(f"N = {distinct.pop():,.0f}" + (f" vs M = {reference}" if reference else ""))
    return ", ".join(parts), False


def _header(column: Column, table: SummaryTable) -> tuple[str, bool]:
    """The column's header, ``FID (lenet, N = 5,000 vs M = 10,000) ↓`` (:func:`samples_text`),
    and whether the cells must name their own N."""
    arrow = "" if column.higher_is_better is None else (" ↑" if column.higher_is_better else " ↓")
    text, per_cell = samples_text(column, table)
    named = named_column(column, (row.protocol for row in table.rows))
    return named.display_header + (f" ({text})" if text else "") + arrow, per_cell


def display_table(table: SummaryTable, bold: tuple[str, str] = ("**", "**")) -> pd.DataFrame:
    """The human table: the grouping keys, descriptions, ``settings`` (when rows of one identity
    differ), ``runs``, then a cell text per shown metric (↑/↓ say which way is better); a
    significantly best entry is wrapped in ``bold`` (Markdown ``**...**`` by default)."""
    out = pd.DataFrame(index=range(len(table.rows)))
    for key in table.group:
        out[key] = [row.identity[key] for row in table.rows]
    for key in _described(table):
        out[key] = [row.descriptions.get(key, "") for row in table.rows]
    if any(row.settings for row in table.rows):
        out["settings"] = [row.settings_text for row in table.rows]
    out["runs"] = [row.runs_text for row in table.rows]
    for column in table.columns:
        header, per_cell = _header(column, table)
        cells = []
        for row in table.rows:
            cell = row.cells.get(column.key)
            text = cell_text(cell, row.finished) if cell else "–"
            if per_cell and cell and cell.n and column.samples_key in row.cells:
                count = row.cells[column.samples_key].mean
                text = text if count != count else f"{text} (N = {count:,.0f})"
            if cell and cell.mark == BEST:
                text = f"{bold[0]}{text}{bold[1]}"
            cells.append(text)
        out[header] = cells
    return out


def _described(table: SummaryTable) -> list[str]:
    """The headers of the descriptions some row of ``table`` has, in their declared order."""
    return [d.header for d in descriptions() if any(d.header in row.descriptions for row in table.rows)]


def _words(keys: Iterable[str]) -> str:
    """``suite, variant and dataset``."""
    keys = list(keys)
    return keys[0] if len(keys) == 1 else f"{', '.join(keys[:-1])} and {keys[-1]}"


def power_note(table: SummaryTable) -> str:
    """Where no pair of rows of ``table`` can be significant at their seed counts, whatever the
    values: ``With 3 seeds per row and 4 rows, the smallest Holm-corrected p is 0.6: no difference
    can be significant.`` (:func:`~ganbench.significance.smallest_holm_p` of each family's headline
    metrics); ``""`` where some pair can, or nothing is compared."""
    families: dict[tuple, list[SummaryRow]] = {}
    for row in table.rows:
        families.setdefault(table.comparable(row), []).append(row)
    smallest, counts, sizes = math.inf, set(), set()
    for rows in families.values():
        for column in table.columns:
            if not column.headline:
                continue
            ns = [row.cells[column.key].n for row in rows if column.key in row.cells and row.cells[column.key].n]
            if len(ns) < 2:
                continue
            smallest = min(smallest, smallest_holm_p(ns))
            counts.update(ns)
            sizes.add(len(ns))
    if not math.isfinite(smallest) or smallest < ALPHA:
        return ""
    seeds = _range_text(counts)
    rows_text = _range_text(sizes)
    return (f"With {seeds} seed{'s' if max(counts) > 1 else ''} per row and {rows_text} rows, the smallest "
            f"Holm-corrected p is {smallest:.2g}: no difference can be significant.")


def _range_text(values: set[int]) -> str:
    return str(min(values)) if len(values) == 1 else f"{min(values)}–{max(values)}"


@dataclass(frozen=True)
class ShownTable:
    """One displayed table: the rows of one protocol key. ``title`` names the key
    (:func:`protocol_text`; ``""`` without one), ``frame`` is :func:`display_table`'s, ``power``
    :func:`power_note`'s sentence (or ``""``)."""

    title: str
    frame: pd.DataFrame
    power: str
    summary: SummaryTable

    def markdown(self) -> str:
        """The table in Markdown, after its protocol line and before its power note."""
        head = f"Protocol: {self.title}\n\n" if self.title else ""
        tail = f"\n\n{self.power}" if self.power else ""
        return head + self.frame.to_markdown(index=False, disable_numparse=True) + tail


def shown_tables(table: SummaryTable) -> list[ShownTable]:
    """The displayed tables of ``table``: one per protocol key (:meth:`SummaryTable.by_protocol`),
    each compared only within itself."""
    return [ShownTable(protocol_text(part.rows[0].protocol) if part.rows else "", display_table(part),
                       power_note(part), part) for part in table.by_protocol()]


def table_notes(table: SummaryTable, over: str = "seeds",
                tests: str = "summary_significance.csv, and report.md's Significance section") -> list[str]:
    """Footnotes saying what the cells are, for the Markdown table and report: ``over`` what the
    intervals run, and where the pairwise ``tests`` behind the bold marks are listed."""
    notes = [
        f"One row per configuration (every setting of its runs but the seed); `settings` lists what differs "
        f"between rows of the same {_words(table.group)}. One table per protocol (budget; each evaluator's "
        "backbone, its weights' sha256, N generated and M reference samples, the image size both are brought to, "
        "the resize to the backbone's input and the samples' quantisation; reference split): rows under different "
        "protocols are never compared, marked or headed together. FID and KID on a backbone other than "
        "Inception and lenet are named after it (FD-DINOv2, KID-CLIP).",
        f"Cells: `mean ± h`, h the half-width of the 95 % t-interval over {over} (Student t, n = the finished "
        "runs, `runs`), rounded to h's precision; `mean [low, high]`: that interval clipped to the metric's "
        "range (fractions to [0, 1]; counts, KL, FID and rates to ≥ 0) where it would cross it; a value "
        "without ± or brackets: every run gave that value (exact). ↑ higher is better, ↓ lower is better.",
        f"A single run has no interval over seeds: its value alone, or with `({BOOTSTRAP_LABEL} [low, high])`, "
        "the 95 % percentile bootstrap over its N generated samples with the reference set and the trained "
        "model fixed (the sampling error of this number at this N, not training variability across seeds, and "
        "not an interval around the infinite-sample FID), or `(sd s)`, its own standard deviation (KID, IS: over "
        "its subsets or splits).",
        "`(n = k of r; u undefined: why)`: k of the r finished runs have a value; u were evaluated and the "
        "metric was undefined for them (not averaged in; such a row is never marked best on that metric).",
    ]
    if any(column.scale != 1 for column in table.columns):
        notes.append("; ".join(f"{column.display_header}: the value × {column.scale:g}; unit of the value: "
                               f"{column.unit}" for column in table.columns if column.scale != 1) + ".")
    if any(column.headline for column in table.columns):
        headline = ", ".join(column.header for column in table.columns if column.headline)
        notes.append(f"Bold: significantly best of its {_words(k for k in table.group if k not in COMPARED)} "
                     f"and protocol on a headline metric ({headline}): Holm-corrected p < {ALPHA} from "
                     f"permutation tests against every other row ({tests}); no bold means no entry is "
                     "significantly best.")
    return notes


def frame(table: SummaryTable) -> pd.DataFrame:
    """``summary.csv``: per row the grouping keys, descriptions, ``settings``, ``protocol``
    (:func:`protocol_text`), ``configuration``
    (its id, see :func:`configuration_id`), ``seeds``, run counts, and per metric
    ``<key>_mean``, ``<key>_std`` (ddof = 1), ``<key>_n``, ``<key>_ci_low``, ``<key>_ci_high``
    (95 % t-interval over seeds), plus ``<key>_run_ci_low``/``_high`` where a single run carries its
    own interval, ``<key>_undefined`` (runs whose value was undefined) where some row has one, and
    ``<key>_best`` (1 where significantly best) for headline columns. Numbers as recorded (KID not
    scaled)."""
    headline = [column.key for column in table.columns if column.headline]
    with_run_interval = [key for key in table.keys if any(row.cells[key].run_interval for row in table.rows)]
    with_undefined = [key for key in table.keys if any(row.cells[key].undefined for row in table.rows)]
    records = []
    for row in table.rows:
        out: dict[str, Any] = dict(row.identity)
        out.update({key: row.descriptions.get(key, "") for key in _described(table)})
        out["settings"] = row.settings_text
        out["protocol"] = protocol_text(row.protocol)
        out["configuration"] = row.configuration_id
        out["seeds"] = " ".join(str(seed) for seed in row.seeds)
        out.update(runs=row.runs, finished=row.finished, diverged=row.diverged, failed=row.failed)
        for key in table.keys:
            cell = row.cells[key]
            out.update({f"{key}_mean": cell.mean, f"{key}_std": cell.std, f"{key}_n": cell.n,
                        f"{key}_ci_low": cell.low, f"{key}_ci_high": cell.high})
            if key in with_undefined:
                out[f"{key}_undefined"] = cell.undefined
            if key in with_run_interval:
                run = cell.run_interval
                out.update({f"{key}_run_ci_low": run.low if run else math.nan,
                            f"{key}_run_ci_high": run.high if run else math.nan})
            if key in headline:
                out[f"{key}_best"] = int(cell.mark == BEST)
        records.append(out)
    return pd.DataFrame(records)


SIGNIFICANCE_COLUMNS = ["protocol", "metric", "samples", "better", "worse", "n_better", "n_worse", "mean_better",
                        "mean_worse", "difference", "ci_low", "ci_high", "p_value", "p_holm", "test", "significant"]


def significance_frame(table: SummaryTable) -> pd.DataFrame:
    """``summary_significance.csv``: one row per pair of configurations of a family on a headline
    metric: the family's keys, ``protocol`` (the key both rows share, :func:`protocol_text`),
    ``metric`` (its key), ``samples`` (the N it was computed on, where
    the metric states one; pairs are only formed at equal N), ``better``/``worse`` (row labels, ranked
    by mean in the metric's direction), their seed counts and means, ``difference`` (better −
    worse) with its 95 % Welch interval, the raw and Holm-adjusted p-values, the test, and
    ``significant`` (Holm-adjusted p < 0.05)."""
    family_keys = [key for key in table.group if key not in COMPARED]
    rows = []
    for item in table.significance:
        pair = item.pair
        rows.append({**{key: item.family[key] for key in family_keys}, "protocol": protocol_text(item.protocol),
                     "metric": item.column.key,
                     "samples": item.samples, "better": pair.label_a, "worse": pair.label_b,
                     "n_better": item.n_a, "n_worse": item.n_b,
                     "mean_better": item.mean_a, "mean_worse": item.mean_b, "difference": pair.difference,
                     "ci_low": pair.low, "ci_high": pair.high, "p_value": pair.p_value, "p_holm": pair.p_holm,
                     "test": pair.test, "significant": pair.significant})
    return pd.DataFrame(rows, columns=[*family_keys, *SIGNIFICANCE_COLUMNS])


def format_p(p: float) -> str:
    """A p-value to two significant digits, ``<0.001`` below that."""
    return "<0.001" if p < 0.001 else f"{p:.2g}"


def display_significance(table: SummaryTable) -> pd.DataFrame:
    """The human significance table: family, metric (its header names the protocol's backbone, N
    and M), the better and worse configuration, their difference ± the half-width of its 95 %
    Welch t-interval, p, Holm-adjusted p, the test."""
    family_keys = [key for key in table.group if key not in COMPARED]
    rows = []
    parts = {part.rows[0].protocol: part for part in table.by_protocol() if part.rows}
    for item in table.significance:
        pair = item.pair
        scale = item.column.scale
        half = (pair.high - pair.low) / 2 * scale
        difference = display_precision(pair.difference * scale, half) if math.isfinite(half) and half > 0 \
            else exact_text(pair.difference * scale)
        header, per_cell = _header(item.column, parts.get(item.protocol, table))
        if per_cell and item.samples == item.samples:
            header += f" (N = {item.samples:,.0f})"
        rows.append({**{key: item.family[key] for key in family_keys}, "metric": header,
                     "better": f"{pair.label_a} (n={item.n_a})", "worse": f"{pair.label_b} (n={item.n_b})",
                     "difference ± 95 % Welch t": difference, "p": format_p(pair.p_value),
                     "p (Holm)": format_p(pair.p_holm), "significant": "yes" if pair.significant else "no",
                     "test": pair.test})
    return pd.DataFrame(rows)


SIGNIFICANCE_NOTE = (
    "Every pair of configurations of a family and protocol on each headline metric (rows under different "
    "protocols, e.g. another backbone, N, M or budget, are never paired): difference of means (better − worse) ± "
    "the half-width of its 95 % Welch t-interval (which assumes roughly normal values); p two-sided, from a "
    "permutation test of the difference of means at every seed count: exact (every split of the pooled values) "
    f"up to {EXACT_PERMUTATIONS:,} splits, else that many random splits, seeded, as the test column says. "
    "Small groups cannot reach small p: 3 vs 3 seeds no lower than 0.1, 4 vs 4 2/70 ≈ 0.029, 5 vs 5 "
    "2/252 ≈ 0.0079. Holm-corrected over the pairs of each family, protocol and metric; significant: Holm p < "
    "0.05. Families where fewer than two configurations have two or more seeds are not tested."
)
