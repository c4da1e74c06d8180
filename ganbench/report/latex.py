"""Paper-ready LaTeX tables (``summary.tex``) from the comparisons of an output folder.

Per kind of run two ``table`` environments, the quality metrics and the speed ones, each with
booktabs rules (``\\usepackage{booktabs}``; nothing else beyond LaTeX itself), right-aligned number columns, a caption and a
label. Grouping keys with one value over all rows (suite, budget, ...) move into the caption.
Each cell is ``mean $\\pm$ half-width`` of the Student-t 95 % interval over seeds, shown no more
precisely than that half-width allows (:func:`~ganbench.report.statistics.display_precision`);
the header of a metric computed on samples names its N; units follow the data (points/s for 2D
points). The best configuration of a metric is bold when significantly best (Holm-corrected
pairwise tests), underlined when best but not significantly so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ganbench.columns import Column
from ganbench.report.comparisons import ComparisonTable
from ganbench.report.statistics import BEST, BEST_NOT_SIGNIFICANT, display_precision
from ganbench.results import atomic_write_text

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            "<": r"\textless{}", ">": r"\textgreater{}"}


def escape(text: object) -> str:
    """``text`` with LaTeX's special characters escaped (``fc_ring8`` -> ``fc\\_ring8``)."""
    return re.sub(r"[\\&%$#_{}~^<>]", lambda m: _SPECIAL[m.group()], str(text))


def _number(text: str) -> str:
    """A displayed number (``4,570 ± 180``) as LaTeX: thin-spaced thousands, ``$\\pm$``."""
    return text.replace(",", "{,}").replace(" ± ", r" $\pm$ ").replace("–", "--")


def header(column: Column, samples: Sequence[int]) -> str:
    """A metric's header: name, arrow (higher/lower better), the unit and, for a metric computed
    on samples, ``N=...`` (or ``N varies``)."""
    arrow = "" if column.higher_is_better is None else (r" $\uparrow$" if column.higher_is_better else r" $\downarrow$")
    parts = [escape(column.header) + arrow]
    details = []
    if column.unit and column.unit not in column.header:
        details.append(escape(column.unit))
    if column.samples_key:
        details.append(f"N={samples[0]:,}".replace(",", "{,}") if len(samples) == 1 else "N varies")
    if details:
        parts.append("(" + ", ".join(details) + ")")
    return r"\begin{tabular}[b]{@{}r@{}}" + r"\\ ".join(parts) + r"\end{tabular}"


def cell_text(table: ComparisonTable, index: int, column: Column) -> str:
    cell = table.cells[(index, column.key)]
    if cell.interval is None:
        return "--"
    text = _number(display_precision(cell.interval.mean, cell.interval.half_width))
    if len(cell.samples) > 1:
        text += f" (N={cell.samples[0]:,}".replace(",", "{,}") + ")"
    if cell.mark == BEST:
        return rf"\textbf{{{text}}}"
    if cell.mark == BEST_NOT_SIGNIFICANT:
        return rf"\underline{{{text}}}"
    return text


def latex_table(table: ComparisonTable, columns: Sequence[Column], what: str, label: str) -> str:
    """One ``table`` environment of ``columns`` (non-empty) for every configuration of ``table``."""
    keys = table.varying()
    constant = table.constant()
    seeds = {table.seeds(i) for i in range(len(table.configurations))}
    samples = {c.key: sorted({n for i in range(len(table.configurations))
                              for n in table.cells[(i, c.key)].samples}) for c in columns}
    spec = "l" * len(keys) + "r" + "r" * len(columns)
    head = [escape(k) for k in keys] + ["runs"] + [header(c, samples[c.key]) for c in columns]
    lines = [r"\begin{table}[tbp]", r"\centering", r"\small"]
    held = ", ".join(f"{escape(k)} {escape(v)}" for k, v in constant.items())
    runs = f"; runs finished/planned {escape(seeds.pop())} each" if len(seeds) == 1 else ""
    marks = any(table.cells[(i, c.key)].mark for i in range(len(table.configurations)) for c in columns)
    caption = (f"{escape(what)} ({held}{runs}). Mean $\\pm$ half-width of the 95\\,\\% Student-t interval over "
               "runs, rounded to the interval's precision; $\\uparrow$ higher is better, $\\downarrow$ lower.")
    if marks:
        caption += (r" \textbf{Bold}: best, significantly better than every other variant (Holm-corrected "
                    r"pairwise tests, $p<0.05$); \underline{underlined}: best, not significantly.")
    lines += [rf"\caption{{{caption}}}", rf"\label{{{label}}}", rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
              " & ".join(head) + r" \\", r"\midrule"]
    for index, configuration in enumerate(table.configurations):
        row = [escape(configuration.identity[k]) for k in keys] + [escape(table.seeds(index))]
        row += [cell_text(table, index, c) for c in columns]
        lines.append(" & ".join(row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def latex_document(tables: Sequence[ComparisonTable]) -> str:
    """Every table of ``tables`` (quality, then speed), for ``\\input`` into a paper that loads
    ``booktabs``."""
    parts = ["% ganbench summary tables: \\usepackage{booktabs} in the preamble, then \\input this file.",
             ""]
    for table in tables:
        constant = table.constant()
        stem = "-".join(escape(constant[k]) for k in ("suite", "budget") if k in constant) or table.kind
        stem = re.sub(r"[^A-Za-z0-9-]+", "-", stem)
        for columns, what, suffix in ((table.quality(), "Quality", "quality"), (table.speed_columns(), "Speed", "speed")):
            if columns:
                parts.append(latex_table(table, columns, f"{what} of the {table.kind} runs",
                                         f"tab:ganbench-{stem}-{table.kind}-{suffix}"))
    return "\n".join(parts)


def write_latex(tables: Sequence[ComparisonTable], root: Path) -> Path:
    path = root / "summary.tex"
    atomic_write_text(path, latex_document(tables))
    return path
