"""The style kind's part of the report: per preset a content | style | result
grid and the loss curves, and a "By preset" table, regenerated from the records.

Grids and captions say which feature network and weights produced the numbers; with untrained
weights the grid's title says ``RANDOM weights`` and its file name ends in ``_random-weights``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


import pandas as pd
import seaborn as sns
from PIL import Image

from ganbench.columns import Description
from ganbench.report.figures import file_stem, plt, save_figure
from ganbench.report.display import SIGNIFICANCE_NOTE, display_significance, shown_tables, table_notes
from ganbench.report.tables import VARIANT_GROUP, SummaryTable
from ganbench.style.run import KIND

# The config keys naming a run's image pair, pooled in the "By preset" table.
POOLED = ("content", "style")
LOSS_PANELS = (("content_loss", "content loss"), ("style_loss", "style loss"), ("total_loss", "total (weighted)"))


def _feature_networks(records: Sequence[dict[str, Any]]) -> str:
    networks = [(record.get("provenance") or {}).get("feature_network", {}) for record in records]
    return "; ".join(sorted({network.get("description", "?") for network in networks}))


def _random_weights(records: Sequence[dict[str, Any]]) -> bool:
    return any((r.get("provenance") or {}).get("feature_network", {}).get("kind") == "random" for r in records)


def plot_grid(records: Sequence[dict[str, Any]], root: Path, title: str) -> plt.Figure | None:
    """One row per run: content | style | result images, with the feature network in the title."""
    shown = sorted((r for r in records if all((root / (r.get("artifacts") or {}).get(name, "")).is_file()
                                             for name in ("content", "style", "result"))),
                   key=lambda r: (r["dataset"], r["seed"]))
    if not shown:
        return None
    figure, axes = plt.subplots(len(shown), 3, figsize=(6.0, 2.1 * len(shown) + 0.5), squeeze=False,
                                layout="constrained")  # the title sits just above the first row
    for row, record in zip(axes, shown):
        content_name, style_name = record["dataset"].split("+", 1)
        captions = (content_name, style_name, f"result, seed {record['seed']} ({record['status']})")
        for axis, name, caption in zip(row, ("content", "style", "result"), captions):
            with Image.open(root / record["artifacts"][name]) as image:
                axis.imshow(image.convert("RGB"))
            axis.set_title(caption, fontsize=7)
            axis.set_axis_off()
    figure.suptitle(f"{title}\n{_feature_networks(shown)}", fontsize=8)
    return figure


def plot_style_losses(records: Sequence[dict[str, Any]], root: Path, title: str) -> plt.Figure | None:
    """Content, style and total loss against optimiser steps (log scale), one line per run."""
    frames = []
    for record in records:
        path = (record.get("artifacts") or {}).get("losses")
        if not path or not (root / path).is_file():
            continue
        losses = pd.read_csv(root / path)
        content_name, _, style_name = str(record["dataset"]).partition("+")
        frames.append(losses.assign(run=record["run_id"], content=content_name, style=style_name,
                                    seed=str(record["seed"])))
    if not frames:
        return None
    data = pd.concat(frames, ignore_index=True)
    # Colour names the content image, line style the style image: 3 x 3 pairs stay distinguishable
    # (nine hues of one palette did not).
    figure, axes = plt.subplots(1, len(LOSS_PANELS), figsize=(4.0 * len(LOSS_PANELS) + 1.4, 3.4),
                                layout="constrained")
    for axis, (column, label) in zip(axes, LOSS_PANELS):
        sns.lineplot(data=data, x="step", y=column, hue="content", style="style", units="run", estimator=None,
                     ax=axis, linewidth=1.0, palette="Dark2", legend=axis is axes[-1])
        axis.set_yscale("log")
        axis.set_xlabel("optimiser step")
        axis.set_ylabel(f"{label} (log scale)")
    if axes[-1].get_legend() is not None:
        sns.move_legend(axes[-1], "upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
    figure.suptitle(f"{title}\n{_feature_networks(records)}", fontsize=8)
    return figure


def plot_style_runs(records: Sequence[dict[str, Any]], root: Path) -> list[Path]:
    """Per (preset, budget) of style records: ``plots/style_grid_<preset>_<budget>[_random-weights].png``
    and ``plots/style_losses_<preset>_<budget>.png``."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault((record["variant"], record["budget"]), []).append(record)
    written = []
    for (preset, budget), group in groups.items():
        suffix = "_random-weights" if _random_weights(group) else ""
        grid = plot_grid(group, root, f"{preset} ({budget}): content | style | result")
        if grid is not None:
            written.append(save_figure(grid, root / "plots" / f"style_grid_{file_stem(preset, budget)}{suffix}.png"))
        curves = plot_style_losses(group, root, f"{preset} ({budget}): losses per optimiser step")
        if curves is not None:
            written.append(save_figure(curves, root / "plots" / f"style_losses_{file_stem(preset, budget)}.png"))
    return written


class StyleReport:
    """The style kind's report section (see :class:`ganbench.report.sections.ReportSection`)."""

    kind = KIND
    comparison_group = tuple(VARIANT_GROUP)  # a preset over all its content x style pairs
    comparison_pooled = POOLED
    intervals_over = "runs (image pairs × seeds)"
    # The feature network the numbers come from (its weights may be RANDOM).
    descriptions = (Description("feature network", ("provenance", "feature_network", "description")),)
    columns = ()  # the style evaluators (ganbench.style.metrics) declare the style tables' columns

    def claims(self, record: dict[str, Any]) -> bool:
        return record.get("kind") == KIND

    def plots(self, records: Sequence[dict[str, Any]], root: Path) -> list[Path]:
        return plot_style_runs(records, root)

    def markdown(self, records: Sequence[dict[str, Any]], summary: SummaryTable, root: Path) -> list[str]:
        """A "By preset" table per protocol (:func:`shown_tables`: presets measured with another
        feature network, budget or size never share a table): each preset over all its content x
        style pairs and seeds (its intervals over runs: the pairs and seeds together), the summary
        by :attr:`comparison_group`."""
        lines = [
            "## By preset",
            "",
            "Each preset over all its content × style pairs and seeds.",
            "",
            *(line for shown in shown_tables(summary) for line in (shown.markdown(), "")),
            *(f"- {note}" for note in table_notes(summary, self.intervals_over, "By preset: significance")),
            "",
        ]
        if summary.significance:
            lines += ["## By preset: significance", "", "Pairs of presets over their runs (image pairs × seeds). "
                      + SIGNIFICANCE_NOTE, "",
                      display_significance(summary).to_markdown(index=False), ""]
        return lines
