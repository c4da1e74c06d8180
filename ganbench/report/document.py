"""``report.md``: the comparison of variants in one output folder, with provenance and citation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ganbench.citation import citation_text, result_citation
from ganbench.report.protocol import markdown as protocol_markdown
from ganbench.report.sections import SECTIONS, by_kind
from ganbench.report.tables import (
    SIGNIFICANCE_NOTE,
    display_significance,
    display_table,
    summarize,
    table_notes,
)
from ganbench.results import atomic_write_text


def write_report(records: Sequence[dict[str, Any]], root: Path, outputs: Sequence[Path],
                 cards: Sequence[tuple[str, list[tuple[str, str]]]] = ()) -> Path:
    """``report.md``: the table, the kinds' sections, failures, plots, a protocol card per
    configuration and the citation of this result (as ``ganbench cite DIR`` prints it)."""
    summary = summarize(records)
    lines = ["# ganbench report", ""]
    if not records:
        lines.append("No runs have been recorded in this folder yet.")
    else:
        started = min(r["provenance"]["started_utc"] for r in records)
        finished = max(r["provenance"].get("finished_utc", "") for r in records)
        lines += [
            f"{len(records)} runs recorded between {started} and {finished}.",
            "",
            display_table(summary).to_markdown(index=False),
            "",
            *(f"- {note}" for note in table_notes(summary)),
            "",
        ]
        if summary.significance:
            lines += ["## Significance", "", SIGNIFICANCE_NOTE, "",
                      display_significance(summary).to_markdown(index=False), ""]
        groups = by_kind(records)
        for kind, section in SECTIONS.items():
            if groups.get(kind):
                lines += section.markdown(groups[kind], root)
        failures = [r for r in records if r.get("status") != "finished"]
        if failures:
            lines += ["## Runs that did not finish", ""]
            lines += [f"- `{r['run_id']}`: {r['status']} — {r.get('error', '')}" for r in failures]
            lines.append("")
        plots = [p for p in outputs if p.suffix == ".png"]
        if plots:
            lines += ["## Plots", ""]
            lines += [f"![{p.stem}]({p.relative_to(root).as_posix()})" for p in plots]
            lines.append("")
        lines += protocol_markdown(cards)
    citation = result_citation(records) if records else citation_text()
    lines += ["## Citation", "", "```bibtex", citation.strip(), "```", ""]
    path = root / "report.md"
    atomic_write_text(path, "\n".join(lines))
    return path
