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
(:func:`~ganbench.stats.display_precision`), clipped to the metric's range where it would cross
it (``0.96 [0.83, 1.00]``), as the exact value where every seed gave the same, scaled as its
column says (KID ×10³). A run whose value is undefined (``null`` in its record) is counted in the
cell, ``(n = 2 of 3; 1 undefined: no high-quality samples)``. A single-seed cell has no interval
over seeds: it shows the value alone, or with the run's own bootstrap interval over its N
generated samples with the reference fixed (metrics ``<key>_ci_low`` / ``<key>_ci_high``;
labelled as such, never drawn like an interval over seeds), or with the run's own spread (a
column's ``spread_key``, e.g. KID's standard deviation over its subsets).

Every row carries its *protocol key* (:func:`protocol_key`: budget, each evaluator's backbone,
weights, N, M and image size, the reference split): rows are compared, marked and shown under
one header only within one key. For each *headline* column
(:attr:`ganbench.columns.Column.headline`) the rows of a family (the rows that share every
grouping key but variant and budget, e.g. one suite and dataset, and the protocol key) are
compared pairwise (:func:`~ganbench.stats.pairwise`: a permutation test at every seed count,
Holm-corrected over the pairs of that family and metric), and the best entry is marked only
where it is significantly better than every other (:func:`~ganbench.stats.best_marks`) and has
no undefined run. A table whose seed counts cannot reach significance says so
(:func:`power_note`).

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
from decimal import Decimal
from typing import Any

import pandas as pd

from ganbench.columns import Column, descriptions, table_columns
from ganbench.stats import (
    ALPHA,
    BEST,
    EXACT_PERMUTATIONS,
    Interval,
    PairRow,
    best_marks,
    display_precision,
    pairwise,
    smallest_holm_p,
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
            elif value is None:  # evaluated, but undefined for this run (e.g. reverse KL with no high-quality point)
                row[key] = math.nan
    return row


# --- Protocols ----------------------------------------------------------------------------------

# Per evaluator (the prefix of its ``<prefix>_samples`` metric): the metric suffixes whose values
# belong to its protocol, and their names in the key.
EVALUATOR_PROTOCOL = (("_backbone", "backbone"), ("_weights_sha256", "weights sha256"), ("_samples", "N"),
                      ("_reference_samples", "M"), ("_image_size", "image size"))


def _evaluators(metrics: Mapping[str, Any]) -> list[str]:
    """The prefixes of the metrics that state a sample count or a backbone (``fidelity``, ``stacked``)."""
    prefixes = set()
    for key in metrics:
        for suffix in ("_samples", "_backbone", "_weights_sha256"):
            if key.endswith(suffix) and not key.endswith("_reference_samples"):
                prefixes.add(key[: -len(suffix)])
    return sorted(prefixes)


def protocol_key(records: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    """What the numbers of ``records`` (one configuration's runs) were measured under, as
    ``((field, value), ...)`` in a fixed order; two rows are compared (tests, bold marks, one
    header) only when their keys are equal. Fields, each where the records have it: ``budget``;
    per evaluator ``<prefix>`` (one with a ``<prefix>_samples``, ``_backbone`` or
    ``_weights_sha256`` metric, e.g. ``fidelity``) its
    ``backbone``, ``weights sha256``, ``N`` (generated samples), ``M`` (reference samples) and
    ``image size`` (the canonical size both the generated and the reference images are brought
    to, by one rule, before the backbone: the evaluation's preprocessing) from the metrics; the
    ``reference split`` (``provenance.data.split``, else ``config.data.split``) and the ``feature
    network`` (a style run's, description and sha256). How a variant's *training* data were
    resized (``provenance.data.resize``) is the variant's, not the protocol's. Runs that disagree
    on a field give every distinct value, joined by ``; ``."""
    fields: dict[str, list[str]] = {}

    def add(name: str, value: Any) -> None:
        if value not in (None, "", {}):
            text = f"{value:,.0f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)
            fields.setdefault(name, [])
            if text not in fields[name]:
                fields[name].append(text)

    for record in records:
        add("budget", record.get("budget"))
    for record in records:
        metrics = record.get("metrics") or {}
        for prefix in _evaluators(metrics):
            for suffix, name in EVALUATOR_PROTOCOL:
                add(f"{prefix} {name}", metrics.get(prefix + suffix))
    for record in records:
        provenance = record.get("provenance") or {}
        data = provenance.get("data") or {}
        add("reference split", data.get("split") or ((record.get("config") or {}).get("data") or {}).get("split"))
        network = provenance.get("feature_network") or {}
        add("feature network",
            " sha256 ".join(str(v) for v in (network.get("description"), network.get("sha256")) if v))
    return tuple((name, "; ".join(values)) for name, values in fields.items())


def protocol_text(protocol: Sequence[tuple[str, str]]) -> str:
    """A protocol key as one line, evaluators with the same backbone, N, M and size together:
    ``budget equal; classes, fidelity: lenet (weights sha256 e69e4c6da47f), N = 5,000 vs M = 10,000,
    32 px; reference split test`` (sha256 cut to 12 hex digits)."""
    fields = dict(protocol)
    evaluators: dict[str, dict[str, str]] = {}
    plain: list[str] = []
    for name, value in protocol:
        prefix, _, field_name = name.partition(" ")
        if field_name in {label for _, label in EVALUATOR_PROTOCOL}:
            evaluators.setdefault(prefix, {})[field_name] = value
        else:
            plain.append(f"{name} {value}")
    described: dict[str, list[str]] = {}
    for prefix, values in evaluators.items():
        text = values.get("backbone", "")
        if values.get("weights sha256"):
            text += f" (weights sha256 {values['weights sha256'][:12]})"
        counts = (f"N = {values['N']}" if "N" in values else "") + (f" vs M = {values['M']}" if "M" in values else "")
        size = f"{values['image size']} px" if "image size" in values else ""
        text = ", ".join(part.strip() for part in (text, counts, size) if part.strip())
        described.setdefault(text, []).append(prefix)
    parts = plain[:1] if "budget" in fields else []
    parts += [f"{', '.join(prefixes)}: {text}" for text, prefixes in described.items()]
    parts += plain[1:] if "budget" in fields else plain
    return "; ".join(parts)


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
    - ``undefined``: how many finished runs evaluated the metric and found it undefined (their
      record holds ``null``, e.g. reverse KL with no high-quality sample); not in ``values``.
    - ``column``: the declared column (its scale, bounds and reason for undefined values), if any.
    """

    key: str
    values: tuple[float, ...]
    interval: Interval | None
    run_interval: Interval | None = None
    run_spread: float = math.nan
    mark: str = ""
    undefined: int = 0
    column: Column | None = None

    @property
    def exact(self) -> bool:
        """Two or more values equal up to float noise (relative 1e-9): the value is exact, it has
        no spread to show (``1.20 ± 0``, ``6.690963456000001 ± 0.000000000000003`` are neither)."""
        return self.n >= 2 and max(self.values) - min(self.values) <= 1e-9 * max(abs(v) for v in self.values)

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
    ``protocol`` (:func:`protocol_key` of its finished runs, else of all its runs),
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
    protocol: tuple[tuple[str, str], ...] = ()

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
    ``protocol``, the key both rows share (:func:`protocol_key`), and ``pair``, the
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
    protocol: tuple[tuple[str, str], ...] = ()


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

    def comparable(self, row: SummaryRow) -> tuple:
        """The rows with equal values here may be compared: the family and the protocol key."""
        return tuple(self.family(row).values()), row.protocol

    def protocols(self) -> list[tuple[tuple[str, str], ...]]:
        """The distinct protocol keys of the rows, in row order."""
        return list(dict.fromkeys(row.protocol for row in self.rows))

    def by_protocol(self) -> list["SummaryTable"]:
        """One table per protocol key (:meth:`protocols` order): its rows, the columns shown in
        them and the significance pairs of its key; one table (this one) when all rows share a key."""
        keys = self.protocols()
        if len(keys) <= 1:
            return [self]
        tables = []
        for key in keys:
            rows = [row for row in self.rows if row.protocol == key]
            columns = [column for column in self.columns if any(_shown(row.cells.get(column.key)) for row in rows)]
            tables.append(SummaryTable(self.group, rows, columns, self.keys,
                                       [item for item in self.significance if item.protocol == key], self.pooled))
        return tables


def _shown(cell: Cell | None) -> bool:
    """Whether a cell has something to show: a value, or a run where it was undefined."""
    return cell is not None and (cell.n > 0 or cell.undefined > 0)


def _finite(values: Iterable[Any]) -> tuple[float, ...]:
    return tuple(float(v) for v in values if isinstance(v, float) and math.isfinite(v))


def _cell(key: str, runs: Sequence[dict[str, Any]], column: Column | None) -> Cell:
    values = _finite(run.get(key) for run in runs)
    undefined = sum(1 for run in runs if key in run and isinstance(run[key], float) and math.isnan(run[key]))
    interval = t_interval(values, CONFIDENCE) if values else None
    run_interval, spread = None, math.nan
    if len(values) == 1:
        run = next(r for r in runs if r.get(key) == values[0])
        bounds = _finite([run.get(key + CI_LOW), run.get(key + CI_HIGH)])
        if len(bounds) == 2 and bounds[0] <= bounds[1]:
            run_interval = Interval(values[0], math.nan, 1, bounds[0], bounds[1], "bootstrap", CONFIDENCE)
        if column is not None and column.spread_key is not None:
            spread = run.get(column.spread_key, math.nan)
    return Cell(key, values, interval, run_interval, float(spread), undefined=undefined, column=column)


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
        families.setdefault(table.comparable(row), []).append(row)
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
    least two rows of two or more seeds (single-seed rows alone leave nothing to test). Rows
    are compared only under one protocol (:func:`protocol_key`: budget, backbone and its
    weights, N, M, image size, reference split, preprocessing): each key is a family of its own,
    and so is each sample count N of a metric that states one."""
    families: dict[tuple, list[SummaryRow]] = {}
    for row in table.rows:
        families.setdefault(table.comparable(row), []).append(row)
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
        table.significance.append(Significance(family, column, pair, a.n, b.n, a.mean, b.mean, samples,
                                               entries[0].protocol))
    for label, mark in best_marks(groups, bool(column.higher_is_better)).items():
        row = by_label[label]
        # A row with a run whose value is undefined is tested on its defined values but never marked
        # best: its worst seed is not in its mean (docs/comparisons.md, "Undefined values").
        if mark == BEST and row.cells[column.key].undefined == 0:
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
    buckets: dict[tuple, list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]] = {}
    for record, run in zip(records, flat):
        config = configuration(record, pooled)
        identity = tuple(run.get(key) for key in group)
        bucket = (identity, json.dumps(config, sort_keys=True, default=list))
        buckets.setdefault(bucket, []).append((run, config, record))
    first = {}  # configurations of one identity sit together, identities in the order records show them
    for identity, _ in buckets:
        first.setdefault(identity, len(first))
    rows = []
    for (identity, _), members in sorted(buckets.items(), key=lambda item: first[item[0][0]]):
        runs = [run for run, _, _ in members]
        finished = [run for run in runs if run.get("status") == "finished"]
        finished_records = [record for _, _, record in members if record.get("status") == "finished"]
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
            protocol=protocol_key(finished_records or [record for _, _, record in members]),
        ))
    columns = [column for column in shown.values() if any(_shown(row.cells.get(column.key)) for row in rows)]
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


def exact_text(value: float) -> str:
    """A value every run gave alike (no spread to show): an integer as such (``10``), else to 10
    significant digits, trailing zeros dropped (``6.690963456000001`` -> ``6.690963456``)."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return format(Decimal(f"{value:.10g}"), ",f")


def _at_precision(value: float, half_width: float) -> str:
    """``value`` rounded as :func:`display_precision` rounds a mean with this half-width."""
    return display_precision(value, half_width).split(" ± ")[0]


BOOTSTRAP_LABEL = "N-sampling bootstrap"


def clipped(cell: Cell) -> tuple[float, float] | None:
    """The cell's t-interval clipped to its column's bounds, scaled as shown, where it crosses
    one (a fraction's interval above 1, a count's below 0); None where it lies within them."""
    column = cell.column
    if column is None or cell.interval is None or not math.isfinite(cell.low) or column.bounds is None:
        return None
    low_bound, high_bound = column.bounds
    low, high = cell.low, cell.high
    if (low_bound is None or low >= low_bound) and (high_bound is None or high <= high_bound):
        return None
    low = low if low_bound is None else max(low, low_bound)
    high = high if high_bound is None else min(high, high_bound)
    return low * column.scale, high * column.scale


def _count_text(cell: Cell, expected: int | None) -> str:
    """``(n = 2 of 3; 1 undefined: no high-quality samples)`` where fewer than ``expected`` runs
    have a value; ``""`` where all do."""
    if expected is None or (cell.n >= expected and not cell.undefined):
        return ""
    text = f"n = {cell.n} of {expected}"
    if cell.undefined:
        reason = cell.column.undefined if cell.column is not None else ""
        text += f"; {cell.undefined} undefined" + (f": {reason}" if reason else "")
    return f" ({text})"


def cell_text(cell: Cell, expected: int | None = None) -> str:
    """The displayed text of a cell, scaled by its column (KID ×10³):

    - two or more runs: ``mean ± half-width`` of the 95 % t-interval over seeds, at the precision
      the half-width allows (:func:`~ganbench.stats.display_precision`); where the interval
      crosses the column's bounds, ``mean [low, high]``, the interval clipped (:func:`clipped`);
      where every run gave the same value (up to float noise), that value, exact
      (:func:`exact_text`), with no ``± 0``;
    - one run: the value alone, or with the run's bootstrap interval over its N generated
      samples with the reference fixed (``298.5 (N-sampling bootstrap [297.9, 299.3])``, not an
      interval over seeds) or its own spread (``0.048 (sd 0.003)``) where the record has them;
    - no value: ``–``, or ``undefined`` where every run's value was undefined.

    Where fewer than ``expected`` runs have a value the count follows, with the undefined ones
    and why (:func:`_count_text`)."""
    if cell.interval is None:
        return ("undefined" if cell.undefined else "–") + (_count_text(cell, expected) if cell.undefined else "")
    scale = cell.column.scale if cell.column is not None else 1.0
    mean = cell.mean * scale
    if cell.n == 1:
        if cell.run_interval is not None and cell.run_interval.half_width > 0:
            hw = cell.run_interval.half_width * scale
            low, high = (_at_precision(bound * scale, hw) for bound in (cell.run_interval.low, cell.run_interval.high))
            text = f"{_at_precision(mean, hw)} ({BOOTSTRAP_LABEL} [{low}, {high}])"
        elif math.isfinite(cell.run_spread) and cell.run_spread > 0:
            value, spread = display_precision(mean, cell.run_spread * scale).split(" ± ")
            text = f"{value} (sd {spread})"
        else:
            text = _plain(mean)
    elif cell.exact:
        text = exact_text(mean)
    else:
        hw = cell.interval.half_width * scale
        bounds = clipped(cell)
        if bounds is None:
            text = display_precision(mean, hw)
        else:
            text = f"{_at_precision(mean, hw)} [{_at_precision(bounds[0], hw)}, {_at_precision(bounds[1], hw)}]"
    return text + _count_text(cell, expected)


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
              if _shown(row.cells.get(column.key)) and column.samples_key in row.cells]
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
    return column.display_header + (f" ({text})" if text else "") + arrow, per_cell


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
    can be significant.`` (:func:`~ganbench.stats.smallest_holm_p` of each family's headline
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
        "backbone, its weights' sha256, N generated and M reference samples, the image size both are brought to; "
        "reference split): rows under different protocols are never compared, marked or headed together.",
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
