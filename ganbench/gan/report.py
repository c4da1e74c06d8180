"""The GAN kind's part of the report: loss curves per configuration, for 2D data the
generated samples over the true modes, metrics during training, the comparison at equal images
seen and equal training seconds and the sample grids."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns

from ganbench.columns import Column, Description, table_columns
from ganbench.gan.run import KIND
from ganbench.report.comparison_figures import axis_label
from ganbench.report.figures import file_stem, plt, save_figure
from ganbench.plateau import PlateauCheck, plateau_check
from ganbench.report.cells import Cell, cell_text
from ganbench.report.keys import (
    configuration,
    configuration_id,
    differing_settings,
    named_column,
    protocol_key,
    protocol_text,
)
from ganbench.report.tables import GROUP, SummaryTable
from ganbench.stats import display_precision, t_interval

# Metrics compared at equal images seen and training seconds, where a run's metric history has them.
HEADLINE_METRICS = ("fid", "recall", "reverse_kl", "modes_covered", "class_kl")
COMPUTE_AXES = {"images_seen": "images seen", "train_seconds": "training seconds"}
COMPUTE_POINTS = 4  # grid points where runs' evaluation points differ
PLATEAU_NOTE = (" Plateau: each of the last two points' means lies inside the other's 95 % t-interval over seeds "
                "(ganbench.plateau); it says the seeds resolve no further change, not that training converged "
                "to its best.")


def _groups(records: Sequence[dict[str, Any]]) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """Records by configuration: ``{file-name stem: (title, records)}``. The stem is
    ``VARIANT_DATASET_BUDGET``, with ``_<configuration id>`` added where one (variant, dataset,
    budget) has several configurations (e.g. runs with another ``--set``), so no plot mixes two
    configurations' runs; the title ``VARIANT on DATASET (BUDGET)`` then names the settings that
    differ, as the summary's ``settings`` column does."""
    groups: dict[tuple[str, str, str], dict[str, list[dict[str, Any]]]] = {}
    configs: dict[str, dict[str, Any]] = {}
    for record in records:
        config = configuration(record)
        key = configuration_id(config)
        configs[key] = config
        groups.setdefault((record["variant"], record["dataset"], record["budget"]), {}).setdefault(
            key, []).append(record)
    out = {}
    for (variant, dataset, budget), by_config in groups.items():
        title = f"{variant} on {dataset} ({budget})"
        if len(by_config) == 1:
            out[file_stem(variant, dataset, budget)] = (title, next(iter(by_config.values())))
            continue
        settings = differing_settings([configs[key] for key in by_config])
        for (key, group), differing in zip(by_config.items(), settings):
            text = ", ".join(f"{name}={value}" for name, value in differing.items())
            out[file_stem(variant, dataset, budget, key)] = (f"{title} [{text}]", group)
    return out


def plot_losses(records: Sequence[dict[str, Any]], root: Path, title: str) -> plt.Figure | None:
    """G and D loss against iteration, one line per seed (a rolling mean over 1 % of the run)."""
    frames = []
    for record in records:
        path = (record.get("artifacts") or {}).get("losses")
        if not path or not (root / path).exists():
            continue
        losses = pd.read_csv(root / path)
        if losses.empty:
            continue
        window = max(1, len(losses) // 100)
        for column, network in (("loss_d", "D"), ("loss_g", "G")):
            frames.append(pd.DataFrame({
                "iteration": losses["iteration"],
                "loss": losses[column].rolling(window, min_periods=1).mean(),
                "network": network,
                "seed": str(record["seed"]),
            }))
    if not frames:
        return None
    data = pd.concat(frames, ignore_index=True)
    figure, axis = plt.subplots(figsize=(7.6, 3.8), layout="constrained")
    sns.lineplot(data=data, x="iteration", y="loss", hue="network", style="seed", units=None, estimator=None,
                 ax=axis, linewidth=0.9)
    schedule = records[0].get("schedule") or []
    for phase in schedule:  # e.g. ProGAN's growth: a dotted line per phase start
        axis.axvline(phase["start_iteration"], color="grey", linewidth=0.6, linestyle=":")
    if schedule:  # labelled on a second x axis above the plot, where no curve or legend can cover them
        top = axis.secondary_xaxis("top")
        top.set_xticks([phase["start_iteration"] for phase in schedule],
                       [f"{phase['resolution']}px" + (" fade-in" if phase["phase"] == "fade-in" else "")
                        for phase in schedule], rotation=40, ha="left", fontsize=6, color="dimgrey")
        top.tick_params(length=0, pad=1)
    # The legend sits outside the axes, right of them, so it covers neither a curve nor a phase label.
    sns.move_legend(axis, "upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, title_fontsize=7, frameon=False)
    axis.set_xlabel("generator iteration")
    axis.set_ylabel("loss (rolling mean over 1 % of the run)")
    axis.set_title(title + (": growth phases dotted" if schedule else ""))
    return figure


def modes_path(record: dict[str, Any]) -> str:
    """Where a run's mixture means (K, 2) are, relative to the output folder: its ``modes``
    artifact (the coverage evaluator's), or for records written before the artifact was named,
    ``modes.npy`` in its run folder."""
    return (record.get("artifacts") or {}).get("modes") or f"runs/{record['run_id']}/modes.npy"


def plot_points(records: Sequence[dict[str, Any]], root: Path, title: str) -> plt.Figure | None:
    """Generated 2D samples (one panel per seed) over the mixture means (red crosses), from each
    run's ``samples`` and modes (:func:`modes_path`); the report loads no dataset."""
    finished = [r for r in records if r.get("status") == "finished" and (r.get("artifacts") or {}).get("samples")
                and (root / modes_path(r)).is_file()]
    if not finished:
        return None
    means = np.load(root / modes_path(finished[0]), allow_pickle=False)
    figure, axes = plt.subplots(1, len(finished), figsize=(3.2 * len(finished) + 1.4, 3.6), squeeze=False,
                                layout="constrained")
    span = np.abs(means).max() * 1.5 + 0.5
    for axis, record in zip(axes[0], sorted(finished, key=lambda r: r["seed"])):
        points = np.load(root / record["artifacts"]["samples"], allow_pickle=False)
        sns.scatterplot(x=points[:, 0], y=points[:, 1], s=4, alpha=0.4, linewidth=0, ax=axis, color="tab:blue",
                        label=f"generated ({len(points):,})")
        axis.scatter(means[:, 0], means[:, 1], marker="x", color="tab:red", s=30, label="mode centre")
        metrics = record["metrics"]
        axis.set_title(f"seed {record['seed']}: {metrics.get('modes_covered')}/{len(means)} modes, "
                       f"HQ {metrics.get('high_quality_fraction', 0):.2f}", fontsize=8)
        axis.set_xlim(-span, span)
        axis.set_ylim(-span, span)
        axis.set_aspect("equal")
        axis.set_xlabel("x (data units)", fontsize=8)
        axis.set_ylabel("y (data units)", fontsize=8)
        axis.get_legend().remove()
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=7, markerscale=2, frameon=False)
    figure.suptitle(f"{title}: samples over the {len(means)} modes (HQ: fraction within 3 sigma of a mode)",
                    fontsize=9)
    return figure


def plot_gan_runs(records: Sequence[dict[str, Any]], root: Path) -> list[Path]:
    """Loss curves and 2D sample plots, one file per (variant, dataset, budget) of GAN runs."""
    written = []
    for stem, (title, group) in _groups(records).items():
        for kind, make in (("losses", plot_losses), ("samples", plot_points)):
            figure = make(group, root, title)
            if figure is not None:
                written.append(save_figure(figure, root / "plots" / f"{kind}_{stem}.png"))
    return written


def metric_history(records: Sequence[dict[str, Any]], root: Path) -> pd.DataFrame:
    """The ``metric_history.csv`` of ``records`` (written with ``--set eval.every=K``) stacked, with
    a ``seed`` column; empty when no run logged metrics during training."""
    frames = []
    for record in records:
        path = (record.get("artifacts") or {}).get("metric_history")
        if path and (root / path).exists():
            frames.append(pd.read_csv(root / path).assign(seed=str(record["seed"])))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def plot_metric_curves(records: Sequence[dict[str, Any]], root: Path) -> list[Path]:
    """Metrics against training iterations (e.g. FID): ``plots/curves_VARIANT_DATASET_BUDGET.png``
    with one panel per table metric in the history and one line per seed."""
    written = []
    finished = [r for r in records if r.get("status") == "finished"]
    for stem, (title, group) in _groups(finished).items():
        history = metric_history(group, root)
        shown = [column for column in table_columns() if column.key in history]
        if not shown:
            continue
        figure, axes = plt.subplots(1, len(shown), figsize=(3.4 * len(shown), 3.0), squeeze=False,
                                    layout="constrained")
        for axis, column in zip(axes[0], shown):
            sns.lineplot(data=history, x="iteration", y=column.key, hue="seed", marker="o", ax=axis, linewidth=1)
            axis.set_ylabel(axis_label(column))
            axis.set_xlabel("generator iteration")
        figure.suptitle(f"{title}: metrics during training", fontsize=10)
        written.append(save_figure(figure, root / "plots" / f"curves_{stem}.png"))
    return written


def sample_grids(records: Sequence[dict[str, Any]], artifact: str = "sample_grid") -> list[tuple[str, str]]:
    """(label, path) of the ``artifact`` image (``sample_grid`` or ``closest_training``) of the
    lowest finished seed per configuration."""
    shown = [r for r in records if r.get("status") == "finished" and artifact in (r.get("artifacts") or {})]
    grids = []
    for title, group in _groups(shown).values():
        record = min(group, key=lambda r: r["seed"])
        grids.append((f"{title}, seed {record['seed']}", record["artifacts"][artifact]))
    return grids


def run_histories(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The finished records whose ``metric_history`` holds ``images_seen`` and ``train_seconds``
    (runs evaluated during training, ``eval.every``)."""
    return [r for r in records if r.get("status") == "finished" and r.get("metric_history")
            and all(axis in r["metric_history"][0] for axis in COMPUTE_AXES)]


def value_at(history: Sequence[dict[str, float]], axis: str, metric: str, x: float,
             carry_forward: bool) -> tuple[float | None, bool]:
    """A run's ``metric`` at ``x`` on ``axis`` (``images_seen`` or ``train_seconds``): the value
    evaluated there, else interpolated linearly between the evaluations around it; before the
    first evaluation None; after the last, the last value if ``carry_forward`` (a run that ended
    sooner, flagged True) else None."""
    points = [(row[axis], row[metric]) for row in history if metric in row and axis in row]
    if not points or x < points[0][0]:
        return None, False
    if x > points[-1][0]:
        return (points[-1][1], True) if carry_forward else (None, False)
    xs, ys = zip(*points)
    return float(np.interp(x, xs, ys)), False


def compute_grid(histories: Sequence[Sequence[dict[str, float]]], axis: str) -> tuple[list[float], bool]:
    """Where to compare runs on ``axis``: the evaluation points every run shares (exact, False),
    else :data:`COMPUTE_POINTS` points evenly spaced up to the longest run's end (interpolated,
    True). For ``images_seen`` with shared points, the points; for ``train_seconds`` runs never
    share points, so always the even grid."""
    sets = [{row[axis] for row in history} for history in histories]
    common = set.intersection(*sets) if sets else set()
    if axis == "images_seen" and common:
        return sorted(common), False
    end = max(max(s) for s in sets)
    return [end * k / COMPUTE_POINTS for k in range(1, COMPUTE_POINTS + 1)], True


def _cell(values: list[float | None], carried: list[bool], column: Column | None) -> str:
    """The seeds' values at one point as the summary shows a cell (:func:`cell_text`: mean ± 95 %
    t half-width, clipped to the metric's bounds, exact values exact, scaled as its column says);
    '–' if a seed has no value there; † where some seed's run had ended before (its last value
    carried)."""
    if not values or any(v is None for v in values):
        return "–"
    finite = tuple(float(v) for v in values if v is not None and math.isfinite(v))
    cell = Cell(column.key if column else "", finite, t_interval(finite) if finite else None,
                undefined=len(values) - len(finite), column=column)
    return cell_text(cell, len(values)) + (" †" if any(carried) else "")


def plateau_text(check: PlateauCheck, column: Column | None) -> str:
    """The plateau rule's verdict as a table cell: ``yes (-1.2 within ± 3.1)``, ``no (-430 outside
    ± 320)`` or ``undecided: one seed ...``; changes scaled as the column shows values."""
    if check.plateaued is None:
        return f"undecided: {check.reason}"
    scale = column.scale if column is not None else 1.0
    allowed = min(check.previous_half_width, check.last_half_width) * scale
    change = display_precision(check.change * scale, allowed).split(" ± ")[0] if allowed > 0 else f"{check.change:+g}"
    change = change if change.startswith(("-", "+")) else "+" + change
    bound = display_precision(allowed, allowed).split(" ± ")[1] if allowed > 0 else "0"
    return f"{'yes' if check.plateaued else 'no'} ({change} {'within' if check.plateaued else 'outside'} ± {bound})"


def _protocol_groups(runs: Sequence[dict[str, Any]]) -> dict[tuple[tuple[str, str], ...],
                                                          list[tuple[str, list[dict[str, Any]]]]]:
    """The configurations of ``runs`` (``(title, records)`` as :func:`_groups` makes them) under each
    protocol (:func:`protocol_key`): configurations measured under different protocols never share
    a table."""
    by_protocol: dict[tuple[tuple[str, str], ...], list[tuple[str, list[dict[str, Any]]]]] = {}
    for title, group in _groups(runs).values():
        by_protocol.setdefault(protocol_key(group), []).append((title, group))
    return by_protocol


def _compute_table(configurations: Sequence[tuple[str, list[dict[str, Any]]]], metric: str, axis: str,
                   column: Column | None) -> tuple[list[str], bool]:
    """One Markdown table of ``metric`` on ``axis`` (a row per configuration, a column per grid
    point; at equal images seen also the plateau rule's verdict on the last two points) and
    whether its grid was interpolated."""
    runs = [record for _, group in configurations for record in group]
    grid, interpolated = compute_grid([r["metric_history"] for r in runs], axis)
    carry = axis == "train_seconds"
    unit = "images" if axis == "images_seen" else "s"
    plateau = axis == "images_seen"
    table = [f"| configuration | seeds | {' | '.join(f'{x:,.0f} {unit}' for x in grid)} |"
             + (" plateau (last two points) |" if plateau else ""),
             "| --- | ---: |" + " ---: |" * len(grid) + (" --- |" if plateau else "")]
    for title, group in configurations:
        cells = []
        for x in grid:
            pairs = [value_at(r["metric_history"], axis, metric, x, carry) for r in group]
            cells.append(_cell([v for v, _ in pairs], [c for _, c in pairs], column))
        if plateau:
            cells.append(plateau_text(plateau_check([r["metric_history"] for r in group], metric), column))
        table.append(f"| {title} | {len(group)} | {' | '.join(cells)} |")
    return table, interpolated


def _samples_header(column: Column | None, metric: str, protocol: tuple[tuple[str, str], ...]) -> str:
    """``FID (lenet, N = 5,000 vs M = 10,000)``: the column's header and what its evaluator
    measured with, from the runs' protocol key, as the summary's headers name it."""
    header = named_column(column, [protocol]).display_header if column is not None else metric
    if column is None or column.samples_key is None:
        return header
    prefix = column.samples_key[: -len("_samples")]
    fields = dict(protocol)
    parts = [fields[f"{prefix} backbone"]] if f"{prefix} backbone" in fields else []
    if f"{prefix} N" in fields:
        parts.append(f"N = {fields[f'{prefix} N']}" + (f" vs M = {fields[f'{prefix} M']}" if f"{prefix} M" in fields
                                                       else ""))
    return header + (f" ({', '.join(parts)})" if parts else "")


def equal_compute_tables(records: Sequence[dict[str, Any]]) -> list[str]:
    """Markdown: per dataset, protocol and headline metric in the runs' metric histories, one table
    at equal images seen (with the plateau rule's verdict, :mod:`ganbench.plateau`) and one at
    equal training seconds; a row per configuration (its title names the settings that differ
    where a variant, dataset and budget has several), a column per point, each cell as the summary
    shows it (mean ± 95 % t-interval half-width over seeds; n shown in the row)."""
    lines: list[str] = []
    by_dataset: dict[str, list[dict[str, Any]]] = {}
    for record in run_histories(records):
        by_dataset.setdefault(record["dataset"], []).append(record)
    columns = {c.key: c for c in table_columns()}
    for dataset, runs in by_dataset.items():
        metrics = [m for m in HEADLINE_METRICS if any(m in row for r in runs for row in r["metric_history"])]
        for protocol, configurations in _protocol_groups(runs).items():
            for metric in metrics:
                column = columns.get(metric)
                header = _samples_header(column, metric, protocol)
                for axis, axis_name in COMPUTE_AXES.items():
                    table, interpolated = _compute_table(configurations, metric, axis, column)
                    how = ("linearly interpolated between each run's evaluations" if interpolated
                           else "at evaluation points every run shares")
                    note = (" † : a seed's run had ended before that time; its final value is carried forward."
                            if axis == "train_seconds" else PLATEAU_NOTE)
                    lines += [f"### {header} on {dataset} at equal {axis_name}", "",
                              f"Protocol: {protocol_text(protocol)}.", "",
                              f"Mean ± half-width of the 95 % t-interval over seeds (clipped to the metric's range "
                              f"where it would cross it), {how}; – : no evaluation of every seed covers that "
                              f"point.{note}", "", *table, ""]
    return (["## At equal images seen and equal training seconds", "",
             "Each run's metrics evaluated during training (`eval.every`) against "
             "the real images it had drawn and its training seconds (evaluations excluded); record field "
             f"`metric_history`.{load_note(records)}", "", *lines] if lines else [])


def load_note(records: Sequence[dict[str, Any]]) -> str:
    """`` Machine load ...``: the range of the runs' 1-minute load averages at start and end
    (``provenance.load_start`` / ``load_end``), for reading the tables at equal seconds; empty
    where no record has them."""
    loads = [load[0] for r in records for key in ("load_start", "load_end")
             if (load := (r.get("provenance") or {}).get(key))]
    if not loads:
        return ""
    cpus = sorted({(r.get("provenance") or {}).get("device", {}).get("cpu_count") for r in records} - {None})
    return (f" Machine load (1-minute load average at the runs' starts and ends): {min(loads):.1f} to "
            f"{max(loads):.1f}" + (f" on {', '.join(map(str, cpus))} CPUs" if cpus else "")
            + "; training seconds compare only between runs under alike load.")


class GanReport:
    """The GAN kind's report section (see :class:`ganbench.report.ReportSection`)."""

    kind = KIND
    columns = ()  # the evaluators declare the GAN tables' columns
    descriptions = (Description("samples from", ("samples_from",)),)  # "ema 0.999" or "live"
    comparison_group = tuple(GROUP)
    comparison_pooled = ()
    intervals_over = "seeds"

    def claims(self, record: dict[str, Any]) -> bool:
        """GAN runs, and records written before records named their kind (all GAN runs)."""
        return record.get("kind", KIND) == KIND

    def plots(self, records: Sequence[dict[str, Any]], root: Path) -> list[Path]:
        return plot_gan_runs(records, root) + plot_metric_curves(records, root)

    def markdown(self, records: Sequence[dict[str, Any]], summary: SummaryTable, root: Path) -> list[str]:
        lines = equal_compute_tables(records)
        grids, closest = sample_grids(records), sample_grids(records, "closest_training")
        if grids:
            lines += ["## Samples", "", "64 samples from the same fixed latent vectors for every run (seed shown).", ""]
            lines += [f"**{label}**\n\n![{label}]({path})\n" for label, path in grids]
        if closest:
            lines += ["## Closest to the training images", "", "The generated samples nearest to a training image "
                      "in the backbone's feature space (top row, nearest first) above that training image (bottom "
                      "row); near-copies here, with a low AuthPct or a negative C_T, are memorisation.", ""]
            lines += [f"**{label}**\n\n![{label}: closest to training]({path})\n" for label, path in closest]
        return lines
