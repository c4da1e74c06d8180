"""How kinds contribute to the report: a :class:`ReportSection` per kind, in :data:`SECTIONS`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from ganbench.columns import Column, Description
from ganbench.registry import Registry
from ganbench.report.tables import SummaryTable


class ReportSection(Protocol):
    """A kind's part of the report, given the records of that kind only."""

    kind: str
    columns: tuple[Column, ...]  # table columns of the kind's own metrics
    descriptions: tuple[Description, ...]  # texts shown beside the numbers, e.g. which G made the samples
    # The record keys a configuration of the comparisons shares (see ganbench.report.comparisons),
    # e.g. ("suite", "variant", "dataset", "budget"); a style preset pools all its image pairs.
    comparison_group: tuple[str, ...]
    # Top-level config keys pooled into one configuration (e.g. a style run's content and style).
    comparison_pooled: tuple[str, ...]
    # What a comparison row's intervals run over: "seeds", or e.g. "runs (image pairs × seeds)".
    intervals_over: str

    def claims(self, record: dict[str, Any]) -> bool:
        """Whether ``record`` is a run of this kind (by its ``kind``; a kind may also claim
        records written before records named their kind)."""

    def plots(self, records: Sequence[dict[str, Any]], root: Path) -> list[Path]:
        """Write the kind's figures under ``root / "plots"``; the paths written."""

    def markdown(self, records: Sequence[dict[str, Any]], summary: SummaryTable, root: Path) -> list[str]:
        """Lines of the kind's section of ``report.md`` (none: no section), given its records
        and their summary grouped as this section says (``comparison_group``, ``comparison_pooled``)."""


SECTIONS: Registry[ReportSection] = Registry("report section")


def by_kind(records: Sequence[dict[str, Any]]) -> dict[str, tuple[dict[str, Any], ...]]:
    """Per registered section, in :data:`SECTIONS` order, the records it claims (possibly none)."""
    return {kind: tuple(r for r in records if section.claims(r)) for kind, section in SECTIONS.items()}
