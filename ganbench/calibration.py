"""Machine calibration and FLOP counting, for figures comparable across machines and load.

- :func:`calibration_kernel`: a fixed fp32 workload (a 256^3 matmul and a 3x3 conv of
  (2, 64, 32, 32) to 64 channels, ``CALIBRATION_FLOP`` floating-point operations). Its median time
  over a few runs (:func:`calibration_seconds`) is the unit of the benchmarks' calibrated times,
  and ``CALIBRATION_FLOP`` / that time (:func:`calibrated_peak_gflops`) the machine's calibrated
  peak in GFLOP/s, on the threads torch uses at the time.
- :func:`count_flops`: floating-point operations of a call by torch's flop counter
  (``torch.utils.flop_counter.FlopCounterMode``: matmuls and convolutions, forward and backward;
  element-wise work and optimiser updates are not counted), 2 per multiply-add.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

MATMUL = 256  # (256 x 256) @ (256 x 256)
CONV = (2, 64, 32)  # batch, channels in = out, height = width; 3 x 3 kernel, padding 1
CALIBRATION_FLOP = 2 * MATMUL ** 3 + 2 * CONV[0] * CONV[1] * CONV[1] * 9 * CONV[2] * CONV[2]
CALIBRATION_REPEATS = 5


def calibration_kernel() -> float:
    """Seconds for one run of the fixed fp32 kernel (``CALIBRATION_FLOP`` flop) on fixed inputs."""
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(MATMUL, MATMUL, generator=generator), torch.randn(MATMUL, MATMUL, generator=generator)
    x = torch.randn(CONV[0], CONV[1], CONV[2], CONV[2], generator=generator)
    weight = torch.randn(CONV[1], CONV[1], 3, 3, generator=generator)
    start = time.perf_counter()
    torch.mm(a, b)
    torch.nn.functional.conv2d(x, weight, padding=1)
    return time.perf_counter() - start


def calibration_runs(repeats: int = CALIBRATION_REPEATS) -> list[float]:
    """``repeats`` timed runs of the kernel (seconds each) after one untimed run."""
    calibration_kernel()
    return [calibration_kernel() for _ in range(repeats)]


def calibration_seconds(repeats: int = CALIBRATION_REPEATS) -> float:
    """Median seconds of the calibration kernel over ``repeats`` runs."""
    return statistics.median(calibration_runs(repeats))


def calibrated_peak_gflops(seconds: float | None = None) -> float:
    """GFLOP/s the calibration kernel achieves (measured now unless ``seconds`` is given)."""
    return CALIBRATION_FLOP / (seconds if seconds is not None else calibration_seconds()) / 1e9


class _WholeProgram:
    """Stands in for the flop counter's module tracker: every count goes to the total only. The
    tracker's backward hooks fail under ``torch.autograd.grad`` (the gradient penalty's)."""

    parents = {"Global"}

    def __enter__(self) -> _WholeProgram:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def count_flops(function: Callable[[], Any]) -> int:
    """Floating-point operations of ``function()`` by torch's flop counter (see module doc), in
    total (no per-module breakdown); the call runs once, for real, so pass one whose effects do
    not matter."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _WholeProgram()
    with counter:
        function()
    return int(counter.get_total_flops())
