"""The Markdown and CSV outputs of one output folder, from its :class:`~ganbench.report.model.ReportModel`:
``summary.csv``, ``summary.md`` and ``summary_significance.csv`` (:func:`write_tables`) and
``report.md``, the comparison of variants with provenance and citation (:func:`write_report`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ganbench.citation import citation_text, result_citation
from ganbench.report.model import ReportModel
from ganbench.report.protocol import markdown as protocol_markdown
from ganbench.report.sections import SECTIONS
from ganbench.report.display import SIGNIFICANCE_NOTE, frame, significance_frame
from ganbench.results import atomic_write_text


def write_tables(model: ReportModel, root: Path) -> list[Path]:
    """summary.csv (all numbers), summary.md (the display table and its notes) and
    summary_significance.csv (the pairwise tests) of the model's summary; summary.tex is
    :mod:`ganbench.report.latex`'s."""
    paths = [root / "summary.csv", root / "summary.md", root / "summary_significance.csv"]
    atomic_write_text(paths[0], frame(model.summary).to_csv(index=False))
    atomic_write_text(paths[1], "\n\n".join(shown.markdown() for shown in model.shown) + "\n\n"
                      + "\n".join(f"- {n}" for n in model.notes) + "\n")
    atomic_write_text(paths[2], significance_frame(model.summary).to_csv(index=False))
    return paths


def write_report(model: ReportModel, root: Path, outputs: Sequence[Path]) -> Path:
    """``report.md``: the table, the kinds' sections, failures, plots (``outputs``' PNGs), a
    protocol card per configuration and the citation of this result (as ``ganbench cite DIR``
    prints it)."""
    records = model.records
    lines = ["# ganbench report", ""]
    if not records:
        lines.append("No runs have been recorded in this folder yet.")
    else:
        started = min(r["provenance"]["started_utc"] for r in records)
        finished = max(r["provenance"].get("finished_utc", "") for r in records)
        lines += [
            f"{len(records)} runs recorded between {started} and {finished}.",
            "",
            *(line for shown in model.shown for line in (shown.markdown(), "")),
            *(f"- {note}" for note in model.notes),
            "",
        ]
        if model.summary.significance:
            lines += ["## Significance", "", SIGNIFICANCE_NOTE, "",
                      model.significance.to_markdown(index=False, disable_numparse=True), ""]
        for kind, section in SECTIONS.items():
            if kind in model.sections:
                lines += section.markdown(model.kinds[kind], model.sections[kind], root)
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
        lines += protocol_markdown(model.cards)
    citation = result_citation(records) if records else citation_text()
    lines += ["## Citation", "", "```bibtex", citation.strip(), "```", ""]
    path = root / "report.md"
    atomic_write_text(path, "\n".join(lines))
    return path
