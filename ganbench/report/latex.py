"""Paper-ready LaTeX tables (``summary.tex``) from the comparisons of an output folder.

Per kind of run two ``table`` environments, the quality metrics and the speed ones, each with
booktabs rules (``\\usepackage{booktabs}``; nothing else beyond LaTeX itself), right-aligned
number columns, a caption and a label. Grouping keys with one value over all rows (suite,
budget, ...) move into the caption. Each cell is the Markdown table's
(:func:`~ganbench.report.cells.cell_text`): ``mean $\\pm$ half-width`` of the Student-t 95 %
interval over seeds, shown no more precisely than that half-width allows; the header of a
metric computed on samples names its N, the caption the units, which follow the data (points/s
for 2D points). The best configuration of a headline metric is bold when significantly best
(Holm-corrected pairwise tests, as the Markdown table marks it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ganbench.columns import Column
from ganbench.report.comparisons import ComparisonTable, unit_groups
from ganbench.report.cells import BOOTSTRAP_LABEL, cell_text
from ganbench.report.display import samples_text
from ganbench.report.keys import named_column
from ganbench.results import atomic_write_text
from ganbench.significance import BEST

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            "<": r"\textless{}", ">": r"\textgreater{}"}


def escape(text: object) -> str:
    """``text`` with LaTeX's special characters escaped (``fc_ring8`` -> ``fc\\_ring8``)."""
    text = re.sub(r"[\\&%$#_{}~^<>]", lambda m: _SPECIAL[m.group()], str(text))
    return text.replace("×", r"$\times$").replace("²", r"$^2$").replace("³", r"$^3$")


def _number(text: str) -> str:
    """A displayed cell (``4,570 ± 180``, ``298.5 (N-sampling bootstrap [297.9, 299.3])``) as LaTeX:
    braced thousands separators, ``$\\pm$``, an en dash for no value."""
    return re.sub(r"(?<=\d),(?=\d{3})", "{,}", escape(text)).replace(" ± ", r" $\pm$ ").replace("–", "--")


def header(column: Column, table: ComparisonTable) -> str:
    """A metric's header: name and arrow (higher/lower better) and, for a metric computed on
    samples, below it its backbone, N and M (``lenet, N = 5,000 vs M = 10,000``;
    :func:`~ganbench.report.display.samples_text`), or ``N varies`` when rows differ, each cell
    then naming its own."""
    arrow = "" if column.higher_is_better is None else (r" $\uparrow$" if column.higher_is_better else r" $\downarrow$")
    named = named_column(column, (row.protocol for row in table.summary.rows))
    parts = [escape(named.display_header) + arrow]
    text, varies = samples_text(column, table.summary)
    if text or varies:
        parts.append(_number(text) if text else "N varies")
    return r"\begin{tabular}[b]{@{}r@{}}" + r"\\ ".join(parts) + r"\end{tabular}"


def units(columns: Sequence[Column]) -> str:
    """``Units: FID, KID squared feature distance; precision fraction.`` for the caption: the
    units of ``columns`` their headers do not already name, columns of one unit together."""
    by_unit = unit_groups(columns)
    if not by_unit:
        return ""
    return " Units: " + "; ".join(f"{escape(', '.join(names))} {escape(unit)}" for unit, names in by_unit.items()) + "."


def latex_cell(table: ComparisonTable, index: int, column: Column) -> str:
    """The cell as the Markdown table shows it (:func:`~ganbench.report.cells.cell_text`), in
    LaTeX, bold where significantly best, with its N where rows differ in N."""
    row = table.rows[index]
    cell = table.cell(index, column.key)
    if cell is None:
        return "--"
    text = _number(cell_text(cell, row.finished))
    samples = table.samples(index, column)
    if len(table.all_samples(column)) > 1 and samples:
        text += f" (N = {samples[0]:,})".replace(",", "{,}")
    return rf"\textbf{{{text}}}" if cell.mark == BEST else text


def latex_table(table: ComparisonTable, columns: Sequence[Column], what: str, label: str) -> str:
    """One ``table`` environment of ``columns`` (non-empty) for every row of ``table``."""
    keys = table.varying()
    constant = table.constant()
    settings = any(row.settings for row in table.rows)
    runs = {row.runs_text for row in table.rows}
    varying_runs = len(runs) > 1  # a runs column only where rows differ; else the caption says it
    spec = "l" * len(keys) + "l" * settings + "r" * varying_runs + "r" * len(columns)
    head = [escape(k) for k in keys] + ["settings"] * settings + ["runs"] * varying_runs
    head += [header(c, table) for c in columns]
    held = ", ".join(f"{escape(k)} {escape(v)}" for k, v in constant.items())
    each = f"; runs finished/planned: {escape(runs.pop())} each" if len(runs) == 1 else ""
    over = escape(table.over).replace("×", r"$\times$")
    caption = (f"{escape(what)} ({held}{each}). Protocol: {escape(table.protocol) or 'not recorded'}. "
               f"Mean $\\pm$ half-width of the 95\\,\\% Student-t interval over "
               f"{over}, rounded to the interval's precision; [low, high]: that interval clipped to the metric's "
               "range; a value alone: equal in every run. A single run: its value, with its own "
               f"{escape(BOOTSTRAP_LABEL)} interval (over its N generated samples, reference fixed: sampling error "
               "at this N, not over seeds) or its spread (sd) where recorded; $\\uparrow$ higher is better, "
               "$\\downarrow$ lower." + units(columns))
    if any(c.headline for c in columns):
        caption += (r" \textbf{Bold}: significantly best on a headline metric (" +
                    ", ".join(escape(c.header) for c in columns if c.headline) +
                    r"), Holm-corrected pairwise permutation tests, $p<0.05$ against every other row of this protocol.")
        if table.power:
            caption += " " + escape(table.power)
    lines = [r"\begin{table}[tbp]", r"\centering", r"\small", r"\setlength{\tabcolsep}{4pt}",
             rf"\caption{{{caption}}}", rf"\label{{{label}}}",
             rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(head) + r" \\", r"\midrule"]
    for index, row in enumerate(table.rows):
        cells = [escape(row.identity[k]) for k in keys] + [escape(row.settings_text)] * settings
        cells += [escape(row.runs_text)] * varying_runs + [latex_cell(table, index, c) for c in columns]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def latex_document(tables: Sequence[ComparisonTable]) -> str:
    """Every table of ``tables`` (quality, then speed), for ``\\input`` into a paper that loads
    ``booktabs``."""
    parts = ["% ganbench summary tables: \\usepackage{booktabs} in the preamble, then \\input this file.",
             ""]
    for table in tables:
        constant = table.constant()
        stem = "-".join(str(constant[k]) for k in ("suite", "budget") if k in constant) or table.kind
        stem = re.sub(r"[^A-Za-z0-9-]+", "-", stem)
        for columns, what, suffix in ((table.quality(), "Quality", "quality"),
                                      (table.speed_columns(), "Speed", "speed")):
            if columns:
                parts.append(latex_table(table, columns, f"{what} of the {table.kind} runs",
                                         f"tab:ganbench-{stem}-{table.stem}-{suffix}"))
    return "\n".join(parts)


def write_latex(tables: Sequence[ComparisonTable], root: Path) -> Path:
    path = root / "summary.tex"
    atomic_write_text(path, latex_document(tables))
    return path
