"""Summary tables: one row per configuration, every number with its uncertainty over seeds, and the
significance of the differences between configurations.

A row is one *configuration*: the runs of one (suite, variant, dataset, budget) (:data:`GROUP`)
whose recorded ``config`` is the same in everything but the seed, so runs with other ``set``
values or ``iterations`` get their own row, never a share of another's mean. Rows of the same
(suite, variant, dataset, budget) show what differs between them in a ``settings`` column
(``lr_d=0.001``). Another grouping, e.g. :data:`VARIANT_GROUP` for a style preset over all its
image pairs, pools the config keys that name the pooled identity (``pooled``).

Only runs with status ``finished`` enter the numbers; the ``runs`` column says how many of the
planned seeds finished (e.g. ``2/3 (1 diverged)``). Each metric of a row is a
:class:`~ganbench.report.cells.Cell`: its values over the finished seeds and their Student-t 95 %
interval, shown as :mod:`ganbench.report.cells` says.

Every row carries its *protocol key* (:func:`~ganbench.report.keys.protocol_key`: budget, each
evaluator's backbone, weights, N, M and image size, the reference split): rows are compared,
marked and shown under one header only within one key. For each *headline* column
(:attr:`ganbench.columns.Column.headline`) the rows of a family (the rows that share every
grouping key but variant and budget, e.g. one suite and dataset, and the protocol key) are
compared pairwise (:func:`~ganbench.significance.pairwise`: a permutation test at every seed count,
Holm-corrected over the pairs of that family and metric), and the best entry is marked only
where it is significantly better than every other (:func:`~ganbench.significance.best_marks`) and
has no undefined run.

The data structure, for renderers (:mod:`ganbench.report.display`, Markdown, LaTeX, HTML):
:func:`summarize` returns a :class:`SummaryTable` of :class:`SummaryRow` (identity, configuration,
settings that differ, run counts, and a :class:`~ganbench.report.cells.Cell` per metric) plus its
:class:`Significance` pairs.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ganbench.columns import Column, descriptions, table_columns
from ganbench.report.cells import CI_HIGH, CI_LOW, CONFIDENCE, Cell, is_shown, make_cell
from ganbench.report.keys import configuration, configuration_id, differing_settings, protocol_key
from ganbench.significance import BEST, PairRow, best_marks, pairwise

GROUP = ["suite", "variant", "dataset", "budget"]
VARIANT_GROUP = ["suite", "variant", "budget"]
# The grouping keys that may differ between rows compared with each other; rows that share the
# other grouping keys (suite, dataset) form a family, compared pairwise.
COMPARED = ("variant", "budget")
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


# --- The table's data ---------------------------------------------------------------------------


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
    :class:`~ganbench.significance.PairRow` (difference a − b with its Welch 95 % interval,
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
            columns = [column for column in self.columns if any(is_shown(row.cells.get(column.key)) for row in rows)]
            tables.append(SummaryTable(self.group, rows, columns, self.keys,
                                       [item for item in self.significance if item.protocol == key], self.pooled))
        return tables


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
            cells={key: make_cell(key, finished, shown.get(key)) for key in keys},
            protocol=protocol_key(finished_records or [record for _, _, record in members]),
        ))
    columns = [column for column in shown.values() if any(is_shown(row.cells.get(column.key)) for row in rows)]
    table = SummaryTable(group, rows, columns, keys, [], pooled)
    _describe_differences(rows)
    _label_rows(table)
    _compare(table)
    return table
