"""``report.html``: one self-contained page per output folder, from jinja2 templates.

Everything is inside the file: figures as ``data:image/png;base64`` URIs, the style sheet and a
small table-sorting script inline; a Content-Security-Policy allows images from data URIs and
only that script (by its sha256), so the page loads nothing from the network and runs nothing
else. Every string from records, settings, file or folder names goes through jinja2's
autoescaping: a dataset named ``<script>...`` shows as text.

Sections: an overview, the comparison figures, the comparison tables (mean ± 95 % interval,
best marks, the significance of each metric's best), per-run figures (sample grids, losses,
the kinds' own plots), a protocol card per configuration and the "cite this result" block,
which is :func:`ganbench.citation.result_citation`, as ``ganbench cite DIR`` prints it.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

import ganbench
from ganbench.citation import citation_text, result_citation
from ganbench.columns import Column
from ganbench.report.cells import BOOTSTRAP_LABEL, cell_text, exact_text
from ganbench.report.comparisons import ComparisonTable, unit_groups
from ganbench.report.display import SIGNIFICANCE_NOTE, format_p, samples_text
from ganbench.report.keys import named_column
from ganbench.report.model import ReportModel
from ganbench.results import atomic_write_text
from ganbench.significance import BEST
from ganbench.stats import display_precision

TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The templates' environment: autoescaping on for every template, undefined names an error."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def data_uri(path: Path) -> str:
    """``path`` (a PNG) as a ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _figure(path: Path, caption: str) -> dict[str, str]:
    return {"uri": data_uri(path), "caption": caption}


def _caption(path: Path) -> str:
    """A plot's caption from its file name: ``losses_fc_ring8_quick`` -> ``losses: fc ring8 quick``."""
    what, _, rest = path.stem.partition("_")
    return f"{what.replace('-', ' ')}: {rest.replace('_', ' ')}" if rest else what


COMPARISON_CAPTIONS = {
    "compare": "Every configuration's runs (dots) and their mean with its 95 % interval, per headline metric",
    "speed": "Quality against training speed: mean and 95 % interval on both axes, per configuration",
    "history": "Metrics during training against images seen and wall time: mean over seeds with a 95 % t band",
}


def _at(value: float, half_width: float) -> str:
    """``value`` at the precision an interval of this half-width allows (exact when it is 0 or nan)."""
    if math.isfinite(half_width) and half_width > 0:
        return display_precision(value, half_width).split(" ± ")[0]
    return exact_text(value)


def _table(table: ComparisonTable) -> dict[str, Any]:
    """What the template shows of one comparison table: its title, caption, headers, rows of cells
    and significance pairs."""
    keys = table.varying()
    settings = any(row.settings for row in table.rows)
    rows = []
    for index, row in enumerate(table.rows):
        cells = [{"text": str(row.identity[key]), "sort": str(row.identity[key]), "cls": "", "title": ""}
                 for key in keys]
        if settings:
            cells.append({"text": row.settings_text, "sort": row.settings_text, "cls": "", "title": ""})
        cells.append({"text": row.runs_text, "sort": row.finished, "cls": "num", "title": ""})
        cells += [_metric_cell(table, index, column) for column in table.columns]
        rows.append(cells)
    title = f"{table.kind} runs by {', '.join(table.group)}" + (f" ({table.part + 1})" if table.part else "")
    return {"title": title, "caption": _table_caption(table), "headers": _table_headers(table, keys, settings),
            "rows": rows, "significance": _table_significance(table)}


def _table_headers(table: ComparisonTable, keys: Sequence[str], settings: bool) -> list[dict[str, str]]:
    """The column headers: the varying keys, ``settings`` where rows differ in them, ``runs``, the metrics."""
    headers = [{"text": key, "sub": "", "cls": "", "title": key} for key in keys]
    if settings:
        headers.append({"text": "settings", "sub": "", "cls": "",
                        "title": "what differs from rows of the same identity"})
    headers.append({"text": "runs", "sub": "", "cls": "num", "title": "finished / planned runs"})
    for column in table.columns:
        arrow = "" if column.higher_is_better is None else (" ↑" if column.higher_is_better else " ↓")
        sub = samples_text(column, table.summary)[0]
        named = named_column(column, (row.protocol for row in table.summary.rows))
        headers.append({"text": named.display_header + arrow, "sub": sub, "cls": "num",
                        "title": ("headline metric; " if column.headline else "") + (column.unit or column.header)})
    return headers


def _metric_cell(table: ComparisonTable, index: int, column: Column) -> dict[str, Any]:
    """The cell of row ``index`` on ``column``: its text, sort key, class and tooltip."""
    row = table.rows[index]
    cell = table.cell(index, column.key)
    if cell is None or cell.interval is None:
        text = cell_text(cell, row.finished) if cell is not None else "–"
        return {"text": text, "sort": "", "cls": "num", "title": "no finished run has a value of this metric"}
    text = cell_text(cell, row.finished)
    samples = table.samples(index, column)
    if len(table.all_samples(column)) > 1 and samples:
        text += f" (N = {samples[0]:,})"
    interval = cell.interval
    spread = (f"95 % t-interval [{interval.low:.6g}, {interval.high:.6g}] over {interval.n} runs"
              if math.isfinite(interval.low) else "one run: no interval over seeds")
    best = cell.mark == BEST
    return {"text": text, "sort": repr(cell.mean), "cls": "num best" if best else "num",
            "title": spread + ("; significantly best" if best else "")}


def _table_caption(table: ComparisonTable) -> str:
    """What the table holds: the keys held constant, the protocol, what a cell is, the units, bold."""
    held = ", ".join(f"{key} {value}" for key, value in table.constant().items())
    return (f"{held}. Protocol: {table.protocol or 'not recorded'}. Mean ± half-width of the 95 % Student-t "
            f"interval over {table.over}, rounded to the interval's precision; [low, high]: that interval clipped to "
            "the metric's range; a value alone: equal in every run. A single run: its value, with its own "
            f"{BOOTSTRAP_LABEL} interval (over its N generated samples, reference fixed: sampling error at this N, "
            "not over seeds) or its spread (sd) where recorded; ↑ higher is better, ↓ lower. "
            + "".join(f"{', '.join(names)} in {unit}; " for unit, names in unit_groups(table.columns).items())
            + "Bold (shaded): significantly best on a headline metric "
            f"({', '.join(c.header for c in table.columns if c.headline) or 'none'}), Holm-corrected p < 0.05 "
            "(permutation tests) against every other row of this protocol. "
            + (f"{table.power} " if table.power else "") + "Click a header to sort.")


def _table_significance(table: ComparisonTable) -> list[dict[str, Any]]:
    """The table's significance pairs as the template lists them."""
    significance = []
    for item in table.summary.significance:
        pair = item.pair
        half = (pair.high - pair.low) / 2
        significance.append({
            "family": ", ".join(f"{k} {v}" for k, v in item.family.items()), "metric": item.column.display_header,
            "best": f"{pair.label_a} (n={item.n_a})", "other": f"{pair.label_b} (n={item.n_b})",
            "difference": pair.difference, "difference_text": _at(pair.difference, half),
            "interval_text": f"[{_at(pair.low, half)}, {_at(pair.high, half)}]" if math.isfinite(pair.low) else "–",
            "p_holm": pair.p_holm, "p_text": format_p(pair.p_holm), "test": pair.test,
            "significant": pair.significant})
    return significance


def _overview(records: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    statuses = {s: sum(r.get("status") == s for r in records) for s in ("finished", "diverged", "failed")}
    provenance = [r.get("provenance") or {} for r in records]
    devices = {(p.get("device") or {}).get("gpu") or (p.get("device") or {}).get("cpu") for p in provenance} - {None}
    return [
        ("suite", ", ".join(dict.fromkeys(str(r.get("suite")) for r in records))),
        ("budget", ", ".join(dict.fromkeys(str(r.get("budget")) for r in records))),
        ("runs", f"{len(records)} ({', '.join(f'{n} {s}' for s, n in statuses.items() if n)})"),
        ("variants", str(len({r.get("variant") for r in records}))),
        ("datasets", str(len({r.get("dataset") for r in records}))),
        ("seeds", str(len({r.get("seed") for r in records}))),
        ("device", "; ".join(sorted(devices)) or "unknown"),
        ("ganbench", ", ".join(sorted({str(p.get("ganbench")) for p in provenance}))),
    ]


def sample_grids(records: Sequence[dict[str, Any]], root: Path, artifact: str = "sample_grid") -> list[dict[str, str]]:
    """Every finished run's ``artifact`` image (``sample_grid``, or ``closest_training``: the
    generated samples nearest to a training image above those images), any kind that writes one, as figures."""
    figures = []
    for record in sorted(records, key=lambda r: (str(r.get("variant")), str(r.get("dataset")), r.get("seed") or 0)):
        path = (record.get("artifacts") or {}).get(artifact)
        if record.get("status") == "finished" and path and (root / path).is_file():
            figures.append(_figure(root / path, f"{record.get('variant')} on {record.get('dataset')} "
                                                f"({record.get('budget')}), seed {record.get('seed')}"))
    return figures


def render_html(model: ReportModel, root: Path, comparison_plots: Sequence[Path],
                kind_plots: Mapping[str, Sequence[Path]]) -> str:
    """The page's HTML (see the module docstring) of ``model`` (possibly without records), with
    the comparison figures and each kind's figures written under ``root``."""
    records = model.records
    script = (TEMPLATES / "report.js").read_text(encoding="utf-8")
    script_hash = "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    suites = ", ".join(dict.fromkeys(str(r.get("suite")) for r in records)) or "no runs"
    budgets = ", ".join(dict.fromkeys(str(r.get("budget")) for r in records))
    started = min((r["provenance"]["started_utc"] for r in records if "provenance" in r), default="")
    finished = max((r["provenance"].get("finished_utc", "") for r in records if "provenance" in r), default="")
    galleries = []
    grids = sample_grids(records, root)
    if grids:
        galleries.append({"title": "Sample grids (64 samples from the same fixed latents for every run)",
                          "figures": grids, "cls": "grids"})
    closest = sample_grids(records, root, "closest_training")
    if closest:
        galleries.append({"title": "Memorisation: the generated samples nearest to a training image (top row, in "
                          "the backbone's feature space) above that training image (bottom row)",
                          "figures": closest, "cls": "grids"})
    for kind, paths in kind_plots.items():
        if paths:
            galleries.append({"title": f"{kind} runs: per-configuration figures",
                              "figures": [_figure(p, _caption(p)) for p in paths], "cls": "runs"})
    context = {
        "title": f"ganbench report: {suites}" + (f" ({budgets})" if budgets else ""),
        "subtitle": f"{len(records)} runs recorded between {started} and {finished}." if records
        else "No runs have been recorded in this folder yet.",
        "version": ganbench.__version__,
        "overview": _overview(records) if records else [],
        "explanation": "Numbers are means over the finished runs with the half-width of their 95 % Student-t "
                       "interval, shown no more precisely than that interval allows. The interval covers the "
                       "variability across seeds for this code, budget and machine.",
        "failures": [(r.get("run_id"), r.get("status"), r.get("error", "")) for r in records
                     if r.get("status") != "finished"],
        "comparison_figures": [_figure(p, f"{COMPARISON_CAPTIONS.get(p.stem.partition('_')[0], '')} "
                                          f"({p.stem.partition('_')[2]} runs)") for p in comparison_plots],
        "tables": [_table(t) for t in model.tables],
        "significance_note": SIGNIFICANCE_NOTE,
        "galleries": galleries,
        "cards": model.cards,
        "citation": result_citation(records) if records else citation_text(),
        "script": script,
        "script_hash": script_hash,
    }
    return environment().get_template("report.html.j2").render(context)


def write_html(model: ReportModel, root: Path, comparison_plots: Sequence[Path],
               kind_plots: Mapping[str, Sequence[Path]]) -> Path:
    path = root / "report.html"
    atomic_write_text(path, render_html(model, root, comparison_plots, kind_plots))
    return path
