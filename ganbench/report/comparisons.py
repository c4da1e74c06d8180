"""The comparisons of an output folder, as the tables, figures and report show them.

A *configuration* is one row of a comparison: the runs sharing a kind's grouping keys (for GAN
runs ``suite, variant, dataset, budget``; a kind's report section may pool more widely, e.g. a
style preset over all its image pairs). Per configuration and metric a :class:`Cell` holds the
values of the finished runs (one per seed, or per run when pooled), their Student-t 95 %
interval (:func:`ganbench.report.statistics.t_interval`) and whether it is the best
configuration. "Best" is judged only among configurations that differ in ``variant`` alone
(same suite, dataset, budget), with :func:`~ganbench.report.statistics.best_marks`: Holm-corrected
pairwise tests, so ``best`` means significantly better than every other at alpha 0.05.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ganbench.columns import Column
from ganbench.report.sections import SECTIONS, by_kind
from ganbench.report.statistics import BEST, BEST_NOT_SIGNIFICANT, Interval, best_marks, pairwise, t_interval
from ganbench.report.tables import flatten, table_columns

# The key configurations are compared along; the other grouping keys must agree.
COMPARED = "variant"


@dataclass(frozen=True)
class Configuration:
    """The runs sharing one value of each grouping key (``identity``, in the group's order)."""

    identity: dict[str, Any]
    records: tuple[dict[str, Any], ...]

    @property
    def finished(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("status") == "finished"]


@dataclass(frozen=True)
class Cell:
    """One metric of one configuration: ``values`` of the finished runs (NaN-free), their
    t-interval (``None`` without values), the distinct sample counts N and reference counts M of
    the metric's evaluator, and ``mark``: ``""``, :data:`BEST` or :data:`BEST_NOT_SIGNIFICANT`."""

    values: tuple[float, ...]
    interval: Interval | None
    samples: tuple[int, ...] = ()
    mark: str = ""


@dataclass
class ComparisonTable:
    """The configurations of one kind of run, the metrics shown for them and their cells.

    ``columns`` are the table's metrics as shown for the records' data (see
    :meth:`Column.for_data`), quality metrics first, then ``speed`` ones; ``cells[(i, key)]`` is
    configuration ``i``'s cell of metric ``key``; ``significance`` the pairwise comparisons of
    each metric's best configuration with every other (Holm-corrected over all pairs)."""

    kind: str
    group: list[str]
    configurations: list[Configuration]
    columns: list[Column]
    speed: set[str]
    cells: dict[tuple[int, str], Cell]
    significance: list[dict[str, Any]] = field(default_factory=list)
    data_kind: str | None = None

    def constant(self) -> dict[str, Any]:
        """Grouping keys with one value over every configuration (shown once, e.g. in a caption)."""
        return {key: self.configurations[0].identity[key] for key in self.group
                if len({str(c.identity[key]) for c in self.configurations}) == 1}

    def title(self) -> str:
        """``<kind> runs, <constant keys' values>``, e.g. ``gan runs, toy, smoke``."""
        return ", ".join(dict.fromkeys([f"{self.kind} runs", *(str(v) for v in self.constant().values())]))

    def varying(self) -> list[str]:
        """Grouping keys whose value differs between configurations (the row labels)."""
        constant = self.constant()
        shown = [key for key in self.group if key not in constant]
        return shown or [COMPARED]

    def label(self, index: int) -> str:
        """A configuration's row label: its varying keys joined, e.g. ``dcgan / mnist``."""
        identity = self.configurations[index].identity
        return " / ".join(str(identity[key]) for key in self.varying())

    def quality(self) -> list[Column]:
        return [c for c in self.columns if c.key not in self.speed]

    def speed_columns(self) -> list[Column]:
        return [c for c in self.columns if c.key in self.speed]

    def seeds(self, index: int) -> str:
        """``finished/runs`` of a configuration, with diverged and failed counts."""
        records = self.configurations[index].records
        counts = {s: sum(r.get("status") == s for r in records) for s in ("finished", "diverged", "failed")}
        text = f"{counts['finished']}/{len(records)}"
        return text + "".join(f" ({counts[s]} {s})" for s in ("diverged", "failed") if counts[s])


def data_kind(records: Sequence[dict[str, Any]]) -> str | None:
    """The records' ``provenance.data.kind`` when they all share one (``points``, ``images``)."""
    kinds = {((r.get("provenance") or {}).get("data") or {}).get("kind") for r in records}
    return kinds.pop() if len(kinds) == 1 else None


def _speed_keys() -> set[str]:
    from ganbench.metrics import EVALUATORS

    return {c.key for _, e in EVALUATORS.items() if e.section == "throughput" for c in e.columns}


def _cell(rows: Sequence[dict[str, Any]], column: Column) -> Cell:
    values = tuple(float(row[column.key]) for row in rows
                   if isinstance(row.get(column.key), float) and math.isfinite(row[column.key]))
    samples = tuple(sorted({int(row[column.samples_key]) for row in rows
                            if column.samples_key and isinstance(row.get(column.samples_key), float)}))
    return Cell(values, t_interval(values) if values else None, samples)


def _mark_best(table: ComparisonTable) -> None:
    """Fill ``mark`` and ``significance`` within each set of configurations that differ in
    :data:`COMPARED` only."""
    within = [key for key in table.group if key != COMPARED]
    partitions: dict[tuple, list[int]] = {}
    for index, configuration in enumerate(table.configurations):
        partitions.setdefault(tuple(str(configuration.identity[k]) for k in within), []).append(index)
    for column in table.columns:
        if column.higher_is_better is None:
            continue
        for indices in partitions.values():
            groups = {table.label(i): table.cells[(i, column.key)].values for i in indices
                      if table.cells[(i, column.key)].values}
            if len(groups) < 2:
                continue
            marks = best_marks(groups, column.higher_is_better)
            if len(marks) == len(groups):  # every configuration tied: none is best
                continue
            index_of = {table.label(i): i for i in indices}
            for label, mark in marks.items():
                cell = table.cells[(index_of[label], column.key)]
                table.cells[(index_of[label], column.key)] = Cell(cell.values, cell.interval, cell.samples, mark)
            if list(marks.values()) == [BEST] or list(marks.values()) == [BEST_NOT_SIGNIFICANT]:
                best = next(iter(marks))
                for row in pairwise(groups, column.higher_is_better):
                    if row.label_a == best:
                        table.significance.append({
                            "metric": column.header, "key": column.key, "best": row.label_a, "other": row.label_b,
                            "difference": row.difference, "low": row.low, "high": row.high,
                            "p_holm": row.p_holm, "test": row.test, "significant": row.significant})


def comparison_tables(records: Sequence[dict[str, Any]]) -> list[ComparisonTable]:
    """One :class:`ComparisonTable` per kind of run in ``records`` (in :data:`SECTIONS` order),
    grouped by the kind's section's ``comparison_group``."""
    tables = []
    speed = _speed_keys()
    groups = by_kind(records)
    for kind, section in SECTIONS.items():
        kind_records = groups.get(kind)
        if not kind_records:
            continue
        group = list(section.comparison_group)
        configurations: dict[tuple, list[dict[str, Any]]] = {}
        for record in kind_records:
            configurations.setdefault(tuple(str(record.get(k)) for k in group), []).append(record)
        configs = [Configuration(dict(zip(group, (rs[0].get(k) for k in group))), tuple(rs))
                   for rs in configurations.values()]
        shown_kind = data_kind(kind_records)
        rows = {i: [flatten(r) for r in c.finished] for i, c in enumerate(configs)}
        columns, cells = [], {}
        for column in table_columns():
            column_cells = {(i, column.key): _cell(rows[i], column) for i in rows}
            if any(cell.values for cell in column_cells.values()):
                columns.append(column.for_data(shown_kind))
                cells.update(column_cells)
        table = ComparisonTable(kind, group, configs, columns, speed, cells, data_kind=shown_kind)
        _mark_best(table)
        tables.append(table)
    return tables
