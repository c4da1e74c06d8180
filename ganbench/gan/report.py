"""The GAN kind's part of the report: loss curves per (variant, dataset, budget), for 2D data the
generated samples over the true modes, metrics during training, and the sample grids."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns

from ganbench.data import DataOptions, load_dataset
from ganbench.data.toy import GaussianMixture2D
from ganbench.gan.run import KIND
from ganbench.report.figures import plt, save_figure
from ganbench.report.tables import table_columns


def _groups(records: Sequence[dict[str, Any]]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault((record["variant"], record["dataset"], record["budget"]), []).append(record)
    return groups


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
    figure, axis = plt.subplots(figsize=(7, 3.6))
    sns.lineplot(data=data, x="iteration", y="loss", hue="network", style="seed", units=None, estimator=None,
                 ax=axis, linewidth=0.9)
    for phase in records[0].get("schedule") or []:  # e.g. ProGAN's growth: one line per phase start
        axis.axvline(phase["start_iteration"], color="grey", linewidth=0.6, linestyle=":")
        label = f"{phase['resolution']}px" + (" fade" if phase["phase"] == "fade-in" else "")
        axis.annotate(label, (phase["start_iteration"], 1.0), xycoords=("data", "axes fraction"), fontsize=6,
                      rotation=90, va="top", ha="right", color="grey")
    axis.set_title(title)
    return figure


def plot_points(records: Sequence[dict[str, Any]], root: Path, title: str) -> plt.Figure | None:
    """Generated 2D samples (one panel per seed) over the mixture means (red crosses)."""
    finished = [r for r in records if r.get("status") == "finished" and (r.get("artifacts") or {}).get("samples")
                and r["provenance"].get("data", {}).get("kind") == "points"]
    if not finished:
        return None
    mixture = load_dataset(finished[0]["dataset"], DataOptions())
    if not isinstance(mixture, GaussianMixture2D):
        return None
    means = mixture.means.numpy()
    figure, axes = plt.subplots(1, len(finished), figsize=(3.2 * len(finished), 3.3), squeeze=False)
    span = np.abs(means).max() * 1.5 + 0.5
    for axis, record in zip(axes[0], sorted(finished, key=lambda r: r["seed"])):
        points = np.load(root / record["artifacts"]["samples"], allow_pickle=False)
        sns.scatterplot(x=points[:, 0], y=points[:, 1], s=4, alpha=0.4, linewidth=0, ax=axis, color="tab:blue")
        axis.scatter(means[:, 0], means[:, 1], marker="x", color="tab:red", s=30)
        metrics = record["metrics"]
        axis.set_title(f"seed {record['seed']}: {metrics.get('modes_covered')}/{len(means)} modes, "
                       f"HQ {metrics.get('high_quality_fraction', 0):.2f}", fontsize=8)
        axis.set_xlim(-span, span)
        axis.set_ylim(-span, span)
        axis.set_aspect("equal")
    figure.suptitle(title, fontsize=10)
    return figure


def plot_gan_runs(records: Sequence[dict[str, Any]], root: Path) -> list[Path]:
    """Loss curves and 2D sample plots, one file per (variant, dataset, budget) of GAN runs."""
    written = []
    for (variant, dataset, budget), group in _groups(records).items():
        stem = f"{variant}_{dataset}_{budget}"
        for kind, make in (("losses", plot_losses), ("samples", plot_points)):
            figure = make(group, root, f"{variant} on {dataset} ({budget})")
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
    for (variant, dataset, budget), group in _groups(finished).items():
        history = metric_history(group, root)
        shown = [column for column in table_columns() if column.key in history]
        if not shown:
            continue
        figure, axes = plt.subplots(1, len(shown), figsize=(3.4 * len(shown), 3.0), squeeze=False)
        for axis, column in zip(axes[0], shown):
            sns.lineplot(data=history, x="iteration", y=column.key, hue="seed", marker="o", ax=axis, linewidth=1)
            axis.set_ylabel(column.header)
        figure.suptitle(f"{variant} on {dataset} ({budget}): metrics during training", fontsize=10)
        written.append(save_figure(figure, root / "plots" / f"curves_{variant}_{dataset}_{budget}.png"))
    return written


def sample_grids(records: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """(label, path) of the sample grid of the lowest finished seed per (variant, dataset, budget)."""
    chosen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for record in records:
        if record.get("status") != "finished" or "sample_grid" not in (record.get("artifacts") or {}):
            continue
        key = (record["variant"], record["dataset"], record["budget"])
        if key not in chosen or record["seed"] < chosen[key]["seed"]:
            chosen[key] = record
    return [(f"{v} on {d} ({b}), seed {r['seed']}", r["artifacts"]["sample_grid"]) for (v, d, b), r in chosen.items()]


class GanReport:
    """The GAN kind's report section (see :class:`ganbench.report.ReportSection`)."""

    kind = KIND
    columns = ()  # the evaluators declare the GAN tables' columns

    def plots(self, records: Sequence[dict[str, Any]], root: Path) -> list[Path]:
        return plot_gan_runs(records, root) + plot_metric_curves(records, root)

    def markdown(self, records: Sequence[dict[str, Any]], root: Path) -> list[str]:
        grids = sample_grids(records)
        if not grids:
            return []
        lines = ["## Samples", "", "64 samples from the same fixed latent vectors for every run (seed shown).", ""]
        return lines + [f"**{label}**\n\n![{label}]({path})\n" for label, path in grids]
