"""Figures that compare configurations (seaborn), kind-neutral, from :class:`ComparisonTable`.

- ``plots/compare_<kind>.png``: per quality metric a panel with every configuration's
  runs (dots) and its mean with the 95 % Student-t interval over runs (bar).
- ``plots/speed_<kind>.png``: the first quality metric against training speed (images
  or points per second; ms per step where a kind has no image rate), each configuration with its
  interval on both axes.
- ``plots/history_<kind>.png``: quality metrics evaluated during training against training
  images seen and against wall time, per configuration the mean over seeds with a 95 % t band
  (from each record's ``metric_history``, or the run's ``metric_history.csv``).

Every axis names its unit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns

from ganbench.columns import Column
from ganbench.report.comparisons import ComparisonTable
from ganbench.report.display import samples_text
from ganbench.report.figures import plt, save_figure
from ganbench.significance import BEST
from ganbench.stats import t_interval

SPEED_AXES = ("train_images_per_second", "ms_per_iteration")


def axis_label(column: Column, table: ComparisonTable | None = None) -> str:
    """``header (unit, backbone, N = ... vs M = ...)`` with an arrow for the better direction."""
    details = [column.unit] if column.unit and column.unit not in column.header else []
    text = samples_text(column, table.summary)[0] if table is not None else ""
    if text:
        details.append(text)
    arrow = "" if column.higher_is_better is None else (" ↑" if column.higher_is_better else " ↓")
    return column.header + arrow + (f" ({', '.join(details)})" if details else "")


def _palette(count: int) -> list:
    return sns.color_palette("tab10" if count <= 10 else "husl", count)


def error_bar(mean: float, low: float, high: float) -> list[list[float]]:
    """matplotlib's ``[[below], [above]]`` of an interval around ``mean``, never negative: a
    degenerate bootstrap interval (identical samples) may miss its mean by rounding."""
    return [[max(mean - low, 0.0)], [max(high - mean, 0.0)]]


def plot_metric_points(table: ComparisonTable) -> plt.Figure | None:
    """One panel per headline metric: configurations on the y axis, runs as dots, the mean and its
    95 % interval (t over seeds; a single run's bootstrap interval where recorded) as a point with
    a bar; the significantly best configuration's label in bold."""
    columns = table.headline()
    if not columns:
        return None
    labels = [table.label(i) for i in range(len(table.rows))]
    # Runs spread vertically by a fixed jitter (seeded: the figure is the same every time it is made).
    jitter = np.random.default_rng(0)
    rows = [{"configuration": labels[i], "metric": c.key, "value": v, "y": i + jitter.uniform(-0.15, 0.15)}
            for c in columns for i in range(len(labels)) for v in table.values(i, c.key)]
    data = pd.DataFrame(rows, columns=["configuration", "metric", "value", "y"])
    panels = min(3, len(columns))
    lines = math.ceil(len(columns) / panels)
    height = 0.4 * len(labels) + 1.6
    width = 4.3 if max(len(label) for label in labels) < 24 else 5.6
    figure, axes = plt.subplots(lines, panels, figsize=(width * panels, height * lines), squeeze=False,
                                layout="constrained")
    colours = dict(zip(labels, _palette(len(labels))))
    for axis, column in zip(axes.flat, columns):
        shown = data[data["metric"] == column.key]
        sns.scatterplot(data=shown, x="value", y="y", hue="configuration", palette=colours, s=14, alpha=0.45,
                        linewidth=0, legend=False, ax=axis)
        for index, label in enumerate(labels):
            interval = table.interval(index, column.key)
            if interval is None:
                continue
            mean, low, high = interval
            axis.errorbar(mean, index, xerr=error_bar(mean, low, high), fmt="o", color=colours[label],
                          markersize=6, markeredgecolor="black", markeredgewidth=0.6, capsize=3, linewidth=1.3,
                          zorder=3)
        axis.set_yticks(range(len(labels)), labels)
        axis.set_ylim(len(labels) - 0.5, -0.5)  # the first configuration on top
        axis.set_xlabel(axis_label(column, table), fontsize=8)
        axis.set_ylabel("")
        axis.tick_params(labelsize=7)
        for index, tick in enumerate(axis.get_yticklabels()):
            cell = table.cell(index, column.key)
            if cell is not None and cell.mark == BEST:
                tick.set_fontweight("bold")
    for axis in list(axes.flat)[len(columns):]:
        axis.set_visible(False)
    figure.suptitle(f"{table.title()}: each configuration's runs (dots) and mean with its 95 % t-interval over "
                    "seeds (bar; a single run: no bar); bold: significantly best", fontsize=9)
    return figure


def plot_quality_speed(table: ComparisonTable) -> plt.Figure | None:
    """The first headline metric (FID where measured) against training speed, a point per
    configuration with its 95 % intervals on both axes; ``None`` when either is missing."""
    quality = table.headline()
    speed = next((c for key in SPEED_AXES for c in table.speed_columns() if c.key == key), None)
    if not quality or speed is None:
        return None
    metric = next((c for c in quality if c.key == "fid"), quality[0])
    labels = [table.label(i) for i in range(len(table.rows))]
    colours = _palette(len(labels))
    figure, axis = plt.subplots(figsize=(7.2, 4.0), layout="constrained")
    for index, label in enumerate(labels):
        x, y = table.interval(index, speed.key), table.interval(index, metric.key)
        if x is None or y is None:
            continue
        axis.errorbar(x[0], y[0], xerr=error_bar(*x), yerr=error_bar(*y),
                      fmt="o", color=colours[index], capsize=3, markersize=6, label=label)
    axis.set_xlabel(axis_label(speed), fontsize=9)
    axis.set_ylabel(axis_label(metric, table), fontsize=9)
    axis.set_title(f"{table.title()}: {metric.header} against {speed.header} (mean, 95 % t over seeds)", fontsize=9)
    axis.legend(title="configuration", fontsize=7, title_fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return figure


def history(records: Sequence[dict[str, Any]], root: Path) -> pd.DataFrame:
    """The metrics logged during training by ``records``: a row per (run, evaluation) with
    ``seed``, ``iteration``, ``images_seen`` and, where logged, ``train_seconds``; from each record's
    ``metric_history`` (a list of rows) or its ``metric_history`` artifact (CSV). Without a logged
    ``images_seen``, it is ``iteration × batch size``. Empty when no run logged any."""
    frames = []
    for record in records:
        rows = record.get("metric_history")
        if isinstance(rows, dict):  # column-wise
            frame = pd.DataFrame(rows)
        elif isinstance(rows, list) and rows:
            frame = pd.DataFrame(rows)
        else:
            path = (record.get("artifacts") or {}).get("metric_history")
            if not path or not (root / path).is_file():
                continue
            frame = pd.read_csv(root / path)
        if frame.empty or "iteration" not in frame:
            continue
        if "images_seen" not in frame:
            batch = ((record.get("config") or {}).get("settings") or {}).get("batch_size")
            if not batch:
                continue
            frame["images_seen"] = frame["iteration"] * batch
        frames.append(frame.assign(seed=record.get("seed"), run_id=record.get("run_id")))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _band(frame: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Per evaluation (iteration): mean x, mean y and the 95 % t-interval of y over seeds."""
    rows = []
    for _, at in frame.groupby("iteration", sort=True):
        values = at[y].dropna().to_numpy(dtype=float)
        xs = at[x].dropna().to_numpy(dtype=float)
        if not len(values) or not len(xs):
            continue
        interval = t_interval(values)
        low, high = (interval.low, interval.high) if math.isfinite(interval.low) else (interval.mean, interval.mean)
        rows.append({"x": xs.mean(), "mean": interval.mean, "low": low, "high": high})
    return pd.DataFrame(rows)


def plot_history(table: ComparisonTable, root: Path) -> plt.Figure | None:
    """Rows: quality metrics in the history; columns: against images seen, against wall time
    (when the history has ``train_seconds``); a line and 95 % band per configuration."""
    histories = {i: history([r for r in records if r.get("status") == "finished"], root)
                 for i, records in enumerate(table.records)}
    histories = {i: h for i, h in histories.items() if not h.empty}
    if not histories:
        return None
    columns = [c for c in table.headline() if any(c.key in h for h in histories.values())]
    if not columns:
        return None
    axes_x = [("images_seen", f"training {'points' if table.data_kind == 'points' else 'images'} seen")]
    if any("train_seconds" in h for h in histories.values()):
        axes_x.append(("train_seconds", "training wall time (s, evaluations excluded)"))
    colours = _palette(len(table.rows))
    figure, axes = plt.subplots(len(columns), len(axes_x), figsize=(4.6 * len(axes_x), 2.9 * len(columns)),
                                squeeze=False, layout="constrained")
    for row, column in zip(axes, columns):
        for axis, (x, xlabel) in zip(row, axes_x):
            for index, frame in histories.items():
                if column.key not in frame or x not in frame:
                    continue
                band = _band(frame, x, column.key)
                if band.empty:
                    continue
                axis.plot(band["x"], band["mean"], marker="o", markersize=3, color=colours[index],
                          label=table.label(index), linewidth=1.2)
                axis.fill_between(band["x"], band["low"], band["high"], color=colours[index], alpha=0.2, linewidth=0)
            axis.set_xlabel(xlabel, fontsize=8)
            axis.set_ylabel(axis_label(column), fontsize=8)
            axis.tick_params(labelsize=7)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, title="configuration", loc="outside right upper", fontsize=7, title_fontsize=7)
    figure.suptitle(f"{table.title()}: metrics during training (mean over seeds, 95 % t band)", fontsize=9)
    return figure


def plot_comparisons(tables: Sequence[ComparisonTable], root: Path) -> list[Path]:
    """Write every comparison figure of ``tables`` under ``root / "plots"``; the paths written."""
    written = []
    for table in tables:
        for name, figure in (("compare", plot_metric_points(table)), ("speed", plot_quality_speed(table)),
                             ("history", plot_history(table, root))):
            if figure is not None:
                written.append(save_figure(figure, root / "plots" / f"{name}_{table.stem}.png"))
    return written

