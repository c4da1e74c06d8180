"""The evaluators of style transfer: the result's losses, its SSIM to the content image, how fast
the loss converged, and the run's throughput; each turns a :class:`StyleEvaluation` into numbers
for the record (see :mod:`ganbench.metrics`).

- ``style-losses``: ``content_loss``, ``style_loss``, ``tv_loss`` and ``total_loss`` (weighted)
  of the result image, the final row of the loss history.
- ``ssim``: ``ssim``, the structural similarity (Wang et al. 2004) between the result and the
  content image, both RGB in [0, 1] at the run's size, Gaussian window 11 px, sigma 1.5, K1 0.01,
  K2 0.03, the mean over pixels and channels, borders reflect-padded; computed by
  ``ignite.metrics.SSIM`` on an evaluator engine.
- ``convergence``: ``convergence_iterations``, the optimiser steps after which the total loss
  stays within 1 % of its final value (:func:`iterations_to_converge`).
- ``style-throughput``: ms per optimiser step (mean, median, over the steps timed after the
  warm-up), closure evaluations per step, the run's peak memory and the feature network's
  parameter count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from ignite.engine import Engine
from ignite.metrics import SSIM

from ganbench.columns import Column
from ganbench.handlers import LossHistory

CONVERGENCE_TOLERANCE = 0.01


@dataclass
class StyleEvaluation:
    """What the style evaluators see of a run that has ended.

    Args:
        result: the optimised image, (1, 3, H, W) in [0, 1].
        content: the content image as the optimised image can hold it, (1, 3, H, W) in [0, 1].
        final_losses: the result's losses, ``{"content_loss", "style_loss", "tv_loss", "total_loss"}``.
        losses: the loss history: a row per optimiser step (the losses of the image the step
            started from, and the closure ``evaluations`` it made), then the result's row.
        training: the iteration timer's summaries: ``ms_per_iteration``,
            ``ms_per_iteration_median``, ``timed_iterations`` (absent when none was timed),
            ``peak_memory_mb`` and ``peak_memory_kind``.
        parameter_counts: ``{"parameters_feature_network": count}``.
    """

    result: torch.Tensor
    content: torch.Tensor
    final_losses: Mapping[str, float]
    losses: LossHistory
    training: Mapping[str, Any]
    parameter_counts: Mapping[str, int]


class FinalLosses:
    name = "style-losses"
    summary = "content, style, TV and total (weighted) loss of the result image"
    section = "metrics"
    columns = (
        Column("content_loss", "content loss", False, 3, "g", headline=True, unit="loss"),
        Column("style_loss", "style loss", False, 3, "g", headline=True, unit="loss"),
        Column("tv_loss", "TV loss", False, 3, "g", unit="loss"),
    )

    def evaluate(self, context: StyleEvaluation) -> dict[str, Any]:
        return dict(context.final_losses)


class ContentSimilarity:
    name = "ssim"
    summary = "SSIM of the result to the content image (11 px Gaussian window, ignite's SSIM)"
    section = "metrics"
    columns = (Column("ssim", "SSIM", True, 3, headline=True, unit="index"),)

    def evaluate(self, context: StyleEvaluation) -> dict[str, Any]:
        return {"ssim": structural_similarity(context.result, context.content)}


class Convergence:
    name = "convergence"
    summary = "optimiser steps after which the total loss stays within 1 % of its final value"
    section = "metrics"
    columns = (Column("convergence_iterations", "steps to 1 %", False, 0, unit="steps"),)

    def evaluate(self, context: StyleEvaluation) -> dict[str, Any]:
        return {"convergence_iterations": iterations_to_converge(context.losses.columns["total_loss"])}


class StyleThroughput:
    name = "style-throughput"
    summary = "ms per optimiser step, closure evaluations per step, peak memory, feature network parameters"
    section = "throughput"
    columns = ()  # its step time and peak memory fill the throughput evaluator's columns

    def evaluate(self, context: StyleEvaluation) -> dict[str, Any]:
        evaluations = context.losses.columns["evaluations"][:-1]  # the result's row made none
        return {
            "ms_per_iteration": context.training["ms_per_iteration"],
            "ms_per_iteration_median": context.training["ms_per_iteration_median"],
            "timed_iterations": context.training.get("timed_iterations", 0),
            "evaluations_per_iteration": sum(evaluations) / len(evaluations) if evaluations else None,
            "peak_memory_mb": context.training["peak_memory_mb"],
            "peak_memory_kind": context.training["peak_memory_kind"],
            **context.parameter_counts,
        }


def structural_similarity(result: torch.Tensor, content: torch.Tensor) -> float:
    """Mean SSIM of two image batches (N, 3, H, W) in [0, 1]; 1.0 for identical images."""
    evaluator = Engine(lambda engine, batch: batch)
    SSIM(data_range=1.0, device=result.device).attach(evaluator, "ssim")
    return float(evaluator.run([(result, content)]).metrics["ssim"])


def iterations_to_converge(totals: Sequence[float], tolerance: float = CONVERGENCE_TOLERANCE) -> int:
    """Optimiser steps after which the total loss stays within ``tolerance`` (relative) of its final value.

    ``totals[k]`` is the loss of the image after k steps (``totals[0]``: the initial image, the
    last: the result). Returns the smallest k with ``|totals[j] - totals[-1]| <= tolerance·|totals[-1]|``
    for every j >= k.

    >>> iterations_to_converge([10.0, 2.0, 1.009, 1.2, 1.005, 1.0])
    4
    """
    final = totals[-1]
    converged = len(totals) - 1
    for step in range(len(totals) - 1, -1, -1):
        if abs(totals[step] - final) > tolerance * abs(final):
            break
        converged = step
    return converged
