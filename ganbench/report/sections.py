"""How kinds contribute to the report: a :class:`ReportSection` per kind, in :data:`SECTIONS`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from ganbench.columns import Column
from ganbench.registry import Registry


class ReportSection(Protocol):
    """A kind's part of the report, given the records of that kind only."""

    kind: str
    columns: tuple[Column, ...]  # table columns of the kind's own metrics
    # The record keys a configuration of the comparisons shares (see ganbench.report.comparisons),
    # e.g. ("suite", "variant", "dataset", "budget"); a style preset pools all its image pairs.
    comparison_group: tuple[str, ...]
    # Top-level config keys pooled into one configuration (e.g. a style run's content and style).
    comparison_pooled: tuple[str, ...]

    def plots(self, records: Sequence[dict[str, Any]], root: Path) -> list[Path]:
        """Write the kind's figures under ``root / "plots"``; the paths written."""

    def markdown(self, records: Sequence[dict[str, Any]], root: Path) -> list[str]:
        """Lines of the kind's section of ``report.md`` (none: no section)."""


SECTIONS: Registry[ReportSection] = Registry("report section")


def by_kind(records: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Records grouped by their ``kind`` (records written before kinds existed are GAN runs)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record.get("kind", "gan"), []).append(record)
    return groups
