"""Throughput: how fast a variant trains and generates, and how much memory it needs.

- ``train_images_per_second``: real samples consumed per second of training (``batch_size *
  n_critic`` per iteration), over the iterations after a 5-iteration warm-up;
- ``ms_per_iteration`` (mean) and ``ms_per_iteration_median``: wall time of one G step with its
  D steps;
- ``generate_images_per_second``: samples per second from the sampling engine (batches of 256,
  the first batch not timed);
- ``peak_memory_mb``: peak resident set size of the process during training on the CPU (Linux
  VmHWM, reset at the start of each run), or peak allocated CUDA memory on a GPU (MiB);
- ``parameters_g`` and ``parameters_d``: parameter counts;
- ``train_gflop_per_iteration`` and ``generate_gflop_per_sample``: floating-point work of one
  training iteration (D and G steps, forward and backward) and of one generated sample, counted
  by torch's flop counter (matmuls and convolutions; 2 per multiply-add), when the kind provides
  them; ``train_gflops`` and ``generate_gflops``: the GFLOP/s achieved (work / mean iteration
  time, work per sample * samples per second);
- ``calibrated_peak_gflops``: GFLOP/s of the fixed calibration kernel (an fp32 matmul and conv,
  :mod:`ganbench.calibration`) measured at evaluation time on the same threads, and
  ``train_peak_share`` / ``generate_peak_share``: the achieved GFLOP/s as a share of it;
- what the quality evaluators timed (``EvaluationContext.timings``), e.g. the fidelity
  evaluation's ``fidelity_seconds`` and ``fidelity_images_per_second`` (generated images through
  the backbone per second of feature extraction; the backbone is the record's ``fidelity_backbone``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ganbench.calibration import calibrated_peak_gflops
from ganbench.columns import Column
from ganbench.data import BenchDataset, DataOptions
from ganbench.metrics import EvaluationContext


class Throughput:
    name = "throughput"
    summary = "train images/s, ms per iteration, generation images/s, peak memory, parameter counts"
    section = "throughput"
    columns = (
        Column("train_images_per_second", "train img/s", True, 0, unit="images/s"),
        Column("ms_per_iteration", "ms/iter", False, 2, unit="ms"),
        Column("generate_images_per_second", "gen img/s", True, 0, unit="images/s"),
        Column("peak_memory_mb", "peak MiB", False, 0, unit="MiB"),
        Column("train_gflop_per_iteration", "GFLOP/iter", None, 3, notation="g"),
        Column("train_gflops", "train GFLOP/s", True, 2),
        Column("train_peak_share", "train/peak", True, 2),
    )

    def applies_to(self, dataset: BenchDataset) -> bool:
        return True

    def check(self, dataset: BenchDataset, options: Mapping[str, Any], data: DataOptions) -> None:
        """Nothing to provide."""

    def evaluate(self, context: EvaluationContext) -> dict[str, Any]:
        values = {
            **context.training,
            **context.timings,
            "generate_images_per_second": context.samples.generation_rate(
                int(context.options.get("throughput_samples", 2048))),
            **context.samples.parameter_counts(),
        }
        return {**values, **achieved_gflops(values)}


def achieved_gflops(values: Mapping[str, Any]) -> dict[str, float]:
    """Achieved GFLOP/s of training and generation and their shares of the calibrated peak, from
    the FLOP counts and rates in ``values`` (nothing when the kind gave no FLOP counts)."""
    if values.get("train_gflop_per_iteration") is None:
        return {}
    peak = calibrated_peak_gflops()
    achieved = {"calibrated_peak_gflops": peak}
    if values.get("ms_per_iteration"):
        achieved["train_gflops"] = values["train_gflop_per_iteration"] / (values["ms_per_iteration"] / 1000)
        achieved["train_peak_share"] = achieved["train_gflops"] / peak
    if values.get("generate_gflop_per_sample") is not None and values.get("generate_images_per_second"):
        achieved["generate_gflops"] = values["generate_gflop_per_sample"] * values["generate_images_per_second"]
        achieved["generate_peak_share"] = achieved["generate_gflops"] / peak
    return achieved
