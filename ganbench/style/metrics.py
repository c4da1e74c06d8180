"""Per-run numbers of style transfer beyond the losses: SSIM to the content image and convergence speed.

- ``ssim``: structural similarity (Wang et al. 2004) between the result and the content image,
  both RGB in [0, 1] at the run's size, Gaussian window 11 px, sigma 1.5, K1 0.01, K2 0.03, the
  mean over pixels and channels, borders reflect-padded; computed by ``ignite.metrics.SSIM`` on
  an evaluator engine.
- ``convergence_iterations``: optimiser steps after which the total loss stays within 1 % of its
  final value (:func:`iterations_to_converge`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from ignite.engine import Engine
from ignite.metrics import SSIM

CONVERGENCE_TOLERANCE = 0.01


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
