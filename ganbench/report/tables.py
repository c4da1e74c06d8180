"""Summary tables: one row per configuration, every number with its uncertainty over seeds, and the
significance of the differences between configurations.

A row is one *configuration*: the runs of one (suite, variant, dataset, budget) (:data:`GROUP`)
whose recorded ``config`` is the same in everything but the seed, so runs with other ``set``
values or ``iterations`` get their own row, never a share of another's mean. Rows of the same
(suite, variant, dataset, budget) show what differs between them in a ``settings`` column
(``lr_d=0.001``). Another grouping, e.g. :data:`VARIANT_GROUP` for a style preset over all its
image pairs, pools the config keys that name the pooled identity (``pooled``).

Only runs with status ``finished`` enter the numbers; the ``runs`` column says how many of the
planned seeds finished (e.g. ``2/3 (1 diverged)``). Each cell holds the values over the finished
seeds and their Student-t 95 % interval (:func:`ganbench.stats.t_interval`); it is
shown as ``mean ± half-width`` at the precision the interval supports
(:func:`~ganbench.stats.display_precision`). A single-seed cell has no interval over
seeds: it shows the value alone, or with the run's own bootstrap interval over its generated
samples (metrics ``<key>_ci_low`` / ``<key>_ci_high`` in the record), or with the run's own
spread (a column's ``spread_key``, e.g. KID's standard deviation over its subsets).

For each *headline* column (:attr:`ganbench.columns.Column.headline`) the rows of a family (the
rows that share every grouping key but variant and budget, e.g. one suite and dataset) are
compared pairwise (:func:`~ganbench.stats.pairwise`: Welch's t-test, or an exact
permutation test below 5 seeds a side, Holm-corrected over the pairs of that family and metric),
and the best entry is marked only where it is significantly better than every other
(:func:`~ganbench.stats.best_marks`).

The data structure, for renderers (Markdown, LaTeX, HTML): :func:`summarize` returns a
:class:`SummaryTable` of :class:`SummaryRow` (identity, configuration, settings that differ,
run counts, and a :class:`Cell` per metric) plus its :class:`Significance` pairs and footnotes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ganbench.columns import Column, descriptions, table_columns
from ganbench.stats import (
    ALPHA,
    BEST,
    Interval,
    PairRow,
    best_marks,
    display_precision,
    pairwise,
    t_interval,
)

GROUP = ["suite", "variant", "dataset", "budget"]
VARIANT_GROUP = ["suite", "variant", "budget"]
# The grouping keys that may differ between rows compared with each other; rows that share the
# other grouping keys (suite, dataset) form a family, compared pairwise.
COMPARED = ("variant", "budget")
CONFIDENCE = 0.95
# A record's metric ``<key>_ci_low`` / ``<key>_ci_high``: the run's own interval of ``<key>``
# (a bootstrap over its generated samples), shown on single-seed rows.
CI_LOW, CI_HIGH = "_ci_low", "_ci_high"
IDENTITY = ("suite", "variant", "dataset", "budget", "seed", "status", "run_id")


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """One flat row per record: identity columns, status, the declared descriptions it has
    (:func:`ganbench.columns.descriptions`, e.g. a style run's feature network, whose weights may
    be RANDOM, or which G a GAN run's samples come from), and every numeric metric/throughput value."""
    row = {key: record.get(key) for key in IDENTITY}
    for description in descriptions():
        value = description.read(record)
        if value:
            row[description.header] = value
    for section in ("metrics", "throughput"):
        for key, value in (record.get(section) or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                row[key] = float(value)
    return row


# --- Configurations -----------------------------------------------------------------------------


def _flat_config(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and value:
        for key in sorted(value):
            _flat_config(value[key], f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value


def configuration(record: Mapping[str, Any], pooled: Iterable[str] = ()) -> dict[str, Any]:
    """The record's ``config`` without its seed (and the top-level keys in ``pooled``), flattened
    to dotted keys in sorted order: ``{"settings.lr_d": 0.0002, "iterations": 3000, ...}``.
    Records written before configs were stored give ``{}``."""
    config = {key: value for key, value in (record.get("config") or {}).items()
              if key != "seed" and key not in set(pooled)}
    out: dict[str, Any] = {}
    _flat_config(config, "", out)
    out.pop("", None)
    return out


def setting_name(path: str) -> str:
    """The short name of a dotted config key, as the ``set`` option spells it where it can: a variant's or
    preset's ``settings.lr_d`` is ``lr_d``, ``evaluation.samples`` is ``eval.samples``."""
    head, _, tail = path.partition(".")
    if head == "settings" and tail:
        return tail
    if head == "evaluation" and tail:
        return f"eval.{tail}"
    return path


def setting_value(value: Any) -> str:
    """A config value as a short text: strings bare, the rest as compact JSON (``[256,512]``)."""
    if value is _MISSING:
        return "–"
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


_MISSING = object()


def configuration_id(config: Mapping[str, Any]) -> str:
    """8 hex digits of the SHA-256 of a configuration's JSON: the same for the same configuration."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=list).encode()).hexdigest()[:8]


# --- The table's data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One metric of one row.

    - ``key``: the metric's record key; ``values``: its value in each finished run with a finite
      value (record order); ``interval``: :func:`t_interval` of ``values`` at :data:`CONFIDENCE`
      (``mean``, ``std`` (ddof = 1), ``n``, ``low``, ``high``; nan where undefined, i.e. n = 1),
      ``None`` when there are no values.
    - ``run_interval``: for a single run, its own interval of the value (from the record's
      ``<key>_ci_low`` / ``<key>_ci_high``, a bootstrap over generated samples); else ``None``.
    - ``run_spread``: for a single run, its own standard deviation of the value (the column's
      ``spread_key``, e.g. ``kid_std``); else nan.
    - ``mark``: ``statistics.BEST`` when this entry is significantly the best of its family on a
      headline column, else ``""``.
    """

    key: str
    values: tuple[float, ...]
    interval: Interval | None
    run_interval: Interval | None = None
    run_spread: float = math.nan
    mark: str = ""

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return self.interval.mean if self.interval else math.nan

    @property
    def std(self) -> float:
        return self.interval.std if self.interval else math.nan

    @property
    def low(self) -> float:
        return self.interval.low if self.interval else math.nan

    @property
    def high(self) -> float:
        return self.interval.high if self.interval else math.nan


@dataclass
class SummaryRow:
    """One configuration: ``identity`` (the grouping keys' values), ``configuration`` (its flat
    config without the seed, see :func:`configuration`), ``settings`` (short name -> value text of
    the config keys that differ from the other rows of the same identity; empty when it is alone),
    ``descriptions`` (e.g. the feature network), run counts by status, the finished ``seeds``, a
    :class:`Cell` per numeric metric, and ``label``, unique within its family (the variant, with
    the budget and settings where needed to tell rows apart), used in the significance table."""

    identity: dict[str, Any]
    configuration: dict[str, Any]
    descriptions: dict[str, str]
    runs: int
    finished: int
    diverged: int
    failed: int
    seeds: tuple[int, ...]
    cells: dict[str, Cell]
    settings: dict[str, str] = field(default_factory=dict)
    label: str = ""

    @property
    def configuration_id(self) -> str:
        return configuration_id(self.configuration)

    @property
    def settings_text(self) -> str:
        """``lr_d=0.001, iterations=20``, or ``""``."""
        return ", ".join(f"{key}={value}" for key, value in self.settings.items())

    @property
    def runs_text(self) -> str:
        """``finished/planned`` with the diverged and failed counts: ``2/3 (1 diverged)``."""
        return (f"{self.finished}/{self.runs}" + (f" ({self.diverged} diverged)" if self.diverged else "")
                + (f" ({self.failed} failed)" if self.failed else ""))


@dataclass(frozen=True)
class Significance:
    """One pair of configurations of one family on one headline column: ``family`` (the shared
    grouping keys, e.g. ``{"suite": "toy", "dataset": "ring8"}``), the ``column``, the rows'
    labels (``pair.label_a`` ranks better), their seed counts and means, ``samples`` (the sample
    count both rows' values were computed on, for a column with a ``samples_key``; else nan),
    and ``pair``, the
    :class:`~ganbench.stats.PairRow` (difference a − b with its Welch 95 % interval,
    raw and Holm-adjusted p-values, the test, and whether it is significant at ``ALPHA``)."""

    family: dict[str, Any]
    column: Column
    pair: PairRow
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    samples: float = math.nan


@dataclass
class SummaryTable:
    """Everything a renderer needs: the grouping keys, the rows, the shown ``columns`` (those
    with a value in some row, in :func:`table_columns` order), every numeric metric key in
    ``keys`` (the CSV's), the pairwise ``significance`` of headline columns, and ``pooled``
    (the config keys pooled into a row)."""

    group: tuple[str, ...]
    rows: list[SummaryRow]
    columns: list[Column]
    keys: list[str]
    significance: list[Significance]
    pooled: tuple[str, ...] = ()

    def family(self, row: SummaryRow) -> dict[str, Any]:
        return {key: row.identity[key] for key in self.group if key not in COMPARED}


def _finite(values: Iterable[Any]) -> tuple[float, ...]:
    return tuple(float(v) for v in values if isinstance(v, float) and math.isfinite(v))


def _cell(key: str, runs: Sequence[dict[str, Any]], column: Column | None) -> Cell:
    values = _finite(run.get(key) for run in runs)
    interval = t_interval(values, CONFIDENCE) if values else None
    run_interval, spread = None, math.nan
    if len(values) == 1:
        run = next(r for r in runs if r.get(key) == values[0])
        bounds = _finite([run.get(key + CI_LOW), run.get(key + CI_HIGH)])
        if len(bounds) == 2 and bounds[0] <= bounds[1]:
            run_interval = Interval(values[0], math.nan, 1, bounds[0], bounds[1], "bootstrap", CONFIDENCE)
        if column is not None and column.spread_key is not None:
            spread = run.get(column.spread_key, math.nan)
    return Cell(key, values, interval, run_interval, float(spread))


def differing_settings(configurations: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """For each of several flat configurations (:func:`configuration`), the keys whose values
    differ among them: ``{short name: value text}`` (:func:`setting_name`, :func:`setting_value`;
    a key one configuration lacks shows ``–``)."""
    keys = sorted({key for config in configurations for key in config})
    differing = [key for key in keys
                 if len({json.dumps(config.get(key, "\0missing"), sort_keys=True) for config in configurations}) > 1]
    return [{setting_name(key): setting_value(config.get(key, _MISSING)) for key in differing}
            for config in configurations]


def _describe_differences(rows: Sequence[SummaryRow]) -> None:
    """Fill ``settings`` of rows that share an identity with the config keys that differ."""
    siblings: dict[tuple, list[SummaryRow]] = {}
    for row in rows:
        siblings.setdefault(tuple(row.identity.values()), []).append(row)
    for group in siblings.values():
        if len(group) > 1:
            for row, settings in zip(group, differing_settings([row.configuration for row in group])):
                row.settings = settings


def _label_rows(table: SummaryTable) -> None:
    """Give each row a label unique within its family: variant [(budget)] [settings]."""
    families: dict[tuple, list[SummaryRow]] = {}
    for row in table.rows:
        families.setdefault(tuple(table.family(row).values()), []).append(row)
    for rows in families.values():
        budgets = {row.identity.get("budget") for row in rows}
        for row in rows:
            label = str(row.identity.get("variant", ""))
            if len(budgets) > 1:
                label += f" ({row.identity.get('budget')})"
            if row.settings:
                label += f" [{row.settings_text}]"
            row.label = label
        counts: dict[str, int] = {}
        for row in rows:
            counts[row.label] = counts.get(row.label, 0) + 1
        for row in rows:
            if counts[row.label] > 1:
                row.label += f" #{row.configuration_id}"


def _samples(row: SummaryRow, column: Column) -> float:
    """The sample count of ``column``'s values in ``row`` (its ``samples_key`` mean), nan if none."""
    cell = row.cells.get(column.samples_key) if column.samples_key else None
    return cell.mean if cell is not None else math.nan


def _compare(table: SummaryTable) -> None:
    """Pairwise tests and best marks of every headline column within each family that has at
    least two rows of two or more seeds (single-seed rows alone leave nothing to test). A
    metric computed on a stated sample count (FID's N) is compared only between rows of the
    same N: each N is a family of its own."""
    families: dict[tuple, list[SummaryRow]] = {}
    for row in table.rows:
        families.setdefault(tuple(table.family(row).values()), []).append(row)
    for rows in families.values():
        family = table.family(rows[0])
        for column in table.columns:
            if not column.headline:
                continue
            by_count: dict[str, list[SummaryRow]] = {}
            for row in rows:
                if column.key in row.cells and row.cells[column.key].n >= 1:
                    by_count.setdefault(repr(_samples(row, column)), []).append(row)
            for entries in by_count.values():
                _compare_entries(table, family, column, entries)


def _compare_entries(table: SummaryTable, family: dict[str, Any], column: Column, entries: list[SummaryRow]) -> None:
    """One Holm family: every pair of ``entries`` on ``column``, and the best mark."""
    if sum(row.cells[column.key].n >= 2 for row in entries) < 2:
        return
    groups = {row.label: row.cells[column.key].values for row in entries}
    by_label = {row.label: row for row in entries}
    samples = _samples(entries[0], column)
    for pair in pairwise(groups, bool(column.higher_is_better), CONFIDENCE):
        a, b = by_label[pair.label_a].cells[column.key], by_label[pair.label_b].cells[column.key]
        table.significance.append(Significance(family, column, pair, a.n, b.n, a.mean, b.mean, samples))
    for label, mark in best_marks(groups, bool(column.higher_is_better)).items():
        if mark == BEST:
            row = by_label[label]
            row.cells[column.key] = dataclasses.replace(row.cells[column.key], mark=BEST)


def summarize(records: Sequence[dict[str, Any]], group: Sequence[str] = GROUP,
              pooled: Sequence[str] = ()) -> SummaryTable:
    """The :class:`SummaryTable` of ``records``: one row per distinct (``group`` keys,
    configuration), over the finished runs in it; rows in the order the records first show their
    ``group`` keys, the configurations of the same keys together in the order first shown.

    ``pooled``: top-level config keys left out of the configuration, e.g. a style run's
    ``content`` and ``style`` when rows pool every image pair of a preset; an identity key of
    :data:`GROUP` missing from ``group`` (e.g. ``dataset``) is pooled too.
    """
    group = tuple(group)
    pooled = tuple(pooled) + tuple(key for key in GROUP if key not in group)
    shown = {column.key: column for column in table_columns()}
    described = [description.header for description in descriptions()]
    flat = [flatten(record) for record in records]
    keys: list[str] = []
    for run in flat:
        for key in run:
            if key not in (*IDENTITY, *described) and key not in keys:
                keys.append(key)
    # A metric's interval bounds belong to its cell, not a column of their own.
    keys = [key for key in keys if not any(key.endswith(end) and key[: -len(end)] in keys for end in (CI_LOW, CI_HIGH))]
    buckets: dict[tuple, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for record, run in zip(records, flat):
        config = configuration(record, pooled)
        identity = tuple(run.get(key) for key in group)
        buckets.setdefault((identity, json.dumps(config, sort_keys=True, default=list)), []).append((run, config))
    first = {}  # configurations of one identity sit together, identities in the order records show them
    for identity, _ in buckets:
        first.setdefault(identity, len(first))
    rows = []
    for (identity, _), members in sorted(buckets.items(), key=lambda item: first[item[0][0]]):
        runs = [run for run, _ in members]
        finished = [run for run in runs if run.get("status") == "finished"]
        rows.append(SummaryRow(
            identity=dict(zip(group, identity)),
            configuration=members[0][1],
            descriptions={column: "; ".join(sorted({run[column] for run in runs if run.get(column)}))
                          for column in described if any(run.get(column) for run in runs)},
            runs=len(runs),
            finished=len(finished),
            diverged=sum(run.get("status") == "diverged" for run in runs),
            failed=sum(run.get("status") == "failed" for run in runs),
            seeds=tuple(run.get("seed") for run in finished),
            cells={key: _cell(key, finished, shown.get(key)) for key in keys},
        ))
    columns = [column for column in shown.values() if any(row.cells.get(column.key) and row.cells[column.key].n
                                                          for row in rows)]
    table = SummaryTable(group, rows, columns, keys, [], pooled)
    _describe_differences(rows)
    _label_rows(table)
    _compare(table)
    return table


# --- Renderers ----------------------------------------------------------------------------------


def _plain(value: float) -> str:
    """A value with no interval: an integer as such (``6``, ``1,024``), else 3 significant digits."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return display_precision(value, math.nan)


def _at_precision(value: float, half_width: float) -> str:
    """``value`` rounded as :func:`display_precision` rounds a mean with this half-width."""
    return display_precision(value, half_width).split(" ± ")[0]


def cell_text(cell: Cell, expected: int | None = None) -> str:
    """The displayed text of a cell: ``mean ± half-width`` of the 95 % t-interval over seeds;
    one seed: the value alone, with the run's bootstrap interval (``298.5 (bootstrap [297.9,
    299.3])``) or its own spread (``0.048 (sd 0.003)``) where the record has them; no value
    ``–``. ``(n=k)`` is added where fewer than ``expected`` runs had a value."""
    if cell.interval is None:
        return "–"
    mean = cell.mean
    if cell.n == 1:
        if cell.run_interval is not None and cell.run_interval.half_width > 0:
            hw = cell.run_interval.half_width
            text = (f"{_at_precision(mean, hw)} (bootstrap [{_at_precision(cell.run_interval.low, hw)}, "
                    f"{_at_precision(cell.run_interval.high, hw)}])")
        elif math.isfinite(cell.run_spread) and cell.run_spread > 0:
            value, spread = display_precision(mean, cell.run_spread).split(" ± ")
            text = f"{value} (sd {spread})"
        else:
            text = _plain(mean)
    elif cell.interval.half_width == 0:
        text = f"{_plain(mean)} ± 0"
    else:
        text = display_precision(mean, cell.interval.half_width)
    if expected is not None and cell.n < expected:
        text += f" (n={cell.n})"
    return text


def _header(column: Column, table: SummaryTable) -> tuple[str, bool]:
    """The column's header (with its sample count N when every row shares it) and whether the
    cells must name their own N."""
    arrow = "" if column.higher_is_better is None else (" ↑" if column.higher_is_better else " ↓")
    header = column.header
    per_cell = False
    if column.samples_key is not None:
        counts = [row.cells[column.samples_key].mean for row in table.rows
                  if row.cells.get(column.key) and row.cells[column.key].n and column.samples_key in row.cells]
        distinct = {count for count in counts if count == count}
        if len(distinct) == 1:
            header = f"{header} (N={distinct.pop():,.0f})"
        elif distinct:
            per_cell = True
    return header + arrow, per_cell


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
                text = text if count != count else f"{text} (N={count:,.0f})"
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


def table_notes(table: SummaryTable, over: str = "seeds",
                tests: str = "summary_significance.csv, and report.md's Significance section") -> list[str]:
    """Footnotes saying what the cells are, for the Markdown table and report: ``over`` what the
    intervals run, and where the pairwise ``tests`` behind the bold marks are listed."""
    notes = [
        f"One row per configuration (every setting of its runs but the seed); `settings` lists what differs "
        f"between rows of the same {_words(table.group)}. "
        f"Cells: mean ± half-width of the 95 % t-interval over {over}: Student t, n = the finished runs "
        "(`runs`); rounded to the interval's precision; ↑ higher is better, ↓ lower is better.",
        "A single run has no interval over seeds (n=1, no interval): its value alone, or with the run's own "
        "95 % bootstrap interval over its generated samples `(bootstrap [low, high])`, or its own spread "
        "`(sd s)` (KID, IS: standard deviation over its subsets or splits).",
    ]
    if any(column.headline for column in table.columns):
        headline = ", ".join(column.header for column in table.columns if column.headline)
        notes.append(f"Bold: significantly best of its {_words(k for k in table.group if k not in COMPARED)} "
                     f"on a headline metric ({headline}): Holm-corrected p < {ALPHA} against every other row "
                     f"({tests}); no bold means no entry is significantly best.")
    return notes


def frame(table: SummaryTable) -> pd.DataFrame:
    """``summary.csv``: per row the grouping keys, descriptions, ``settings``, ``configuration``
    (its id, see :func:`configuration_id`), ``seeds``, run counts, and per metric
    ``<key>_mean``, ``<key>_std`` (ddof = 1), ``<key>_n``, ``<key>_ci_low``, ``<key>_ci_high``
    (95 % t-interval over seeds), plus ``<key>_run_ci_low``/``_high`` where a single run carries its
    own interval and ``<key>_best`` (1 where significantly best) for headline columns."""
    headline = [column.key for column in table.columns if column.headline]
    with_run_interval = [key for key in table.keys if any(row.cells[key].run_interval for row in table.rows)]
    records = []
    for row in table.rows:
        out: dict[str, Any] = dict(row.identity)
        out.update({key: row.descriptions.get(key, "") for key in _described(table)})
        out["settings"] = row.settings_text
        out["configuration"] = row.configuration_id
        out["seeds"] = " ".join(str(seed) for seed in row.seeds)
        out.update(runs=row.runs, finished=row.finished, diverged=row.diverged, failed=row.failed)
        for key in table.keys:
            cell = row.cells[key]
            out.update({f"{key}_mean": cell.mean, f"{key}_std": cell.std, f"{key}_n": cell.n,
                        f"{key}_ci_low": cell.low, f"{key}_ci_high": cell.high})
            if key in with_run_interval:
                run = cell.run_interval
                out.update({f"{key}_run_ci_low": run.low if run else math.nan,
                            f"{key}_run_ci_high": run.high if run else math.nan})
            if key in headline:
                out[f"{key}_best"] = int(cell.mark == BEST)
        records.append(out)
    return pd.DataFrame(records)


SIGNIFICANCE_COLUMNS = ["metric", "samples", "better", "worse", "n_better", "n_worse", "mean_better", "mean_worse",
                        "difference", "ci_low", "ci_high", "p_value", "p_holm", "test", "significant"]


def significance_frame(table: SummaryTable) -> pd.DataFrame:
    """``summary_significance.csv``: one row per pair of configurations of a family on a headline
    metric: the family's keys, ``metric`` (its key), ``samples`` (the N it was computed on, where
    the metric states one; pairs are only formed at equal N), ``better``/``worse`` (row labels, ranked
    by mean in the metric's direction), their seed counts and means, ``difference`` (better −
    worse) with its 95 % Welch interval, the raw and Holm-adjusted p-values, the test, and
    ``significant`` (Holm-adjusted p < 0.05)."""
    family_keys = [key for key in table.group if key not in COMPARED]
    rows = []
    for item in table.significance:
        pair = item.pair
        rows.append({**{key: item.family[key] for key in family_keys}, "metric": item.column.key,
                     "samples": item.samples, "better": pair.label_a, "worse": pair.label_b, "n_better": item.n_a, "n_worse": item.n_b,
                     "mean_better": item.mean_a, "mean_worse": item.mean_b, "difference": pair.difference,
                     "ci_low": pair.low, "ci_high": pair.high, "p_value": pair.p_value, "p_holm": pair.p_holm,
                     "test": pair.test, "significant": pair.significant})
    return pd.DataFrame(rows, columns=[*family_keys, *SIGNIFICANCE_COLUMNS])


def format_p(p: float) -> str:
    """A p-value to two significant digits, ``<0.001`` below that."""
    return "<0.001" if p < 0.001 else f"{p:.2g}"


def display_significance(table: SummaryTable) -> pd.DataFrame:
    """The human significance table: family, metric, the better and worse configuration,
    their difference ± the half-width of its 95 % Welch interval, p, Holm-adjusted p, the test."""
    family_keys = [key for key in table.group if key not in COMPARED]
    rows = []
    for item in table.significance:
        pair = item.pair
        half = (pair.high - pair.low) / 2
        difference = display_precision(pair.difference, half) if math.isfinite(half) and half > 0 \
            else _plain(pair.difference)
        header, per_cell = _header(item.column, table)
        if per_cell and item.samples == item.samples:
            header += f" (N={item.samples:,.0f})"
        rows.append({**{key: item.family[key] for key in family_keys}, "metric": header,
                     "better": f"{pair.label_a} (n={item.n_a})", "worse": f"{pair.label_b} (n={item.n_b})",
                     "difference (95 % CI)": difference, "p": format_p(pair.p_value),
                     "p (Holm)": format_p(pair.p_holm), "significant": "yes" if pair.significant else "no",
                     "test": pair.test})
    return pd.DataFrame(rows)


SIGNIFICANCE_NOTE = (
    "Every pair of configurations of a family on each headline metric: difference of means (better − worse) ± "
    "the half-width of its 95 % Welch t-interval; p two-sided, from Welch's t-test with at least 5 seeds a side, "
    "else from an exact permutation test of the difference of means (3 vs 3 seeds cannot go below p = 0.1); "
    "Holm-corrected over the pairs of each family and metric (FID: of each N; values at different N are not "
    "compared); significant: Holm p < 0.05. Families where fewer "
    "than two configurations have two or more seeds are not tested."
)
