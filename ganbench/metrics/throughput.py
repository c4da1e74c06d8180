"""Throughput: how fast a variant trains and generates, and how much memory it needs.

- ``train_images_per_second``: real samples consumed per second of training (``batch_size *
  n_critic`` per iteration), over the iterations after a 5-iteration warm-up;
- ``ms_per_iteration`` (mean) and ``ms_per_iteration_median``: wall time of one G step with its
  D steps;
- ``generate_images_per_second``: samples per second from the sampling engine (batches of 256,
  the first batch not timed);
- ``peak_memory_mb``: peak resident set size of the process during training on the CPU (Linux
  VmHWM, reset at the start of each run), or peak allocated CUDA memory on a GPU (MiB);
- ``parameters_g`` and ``parameters_d``: parameter counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    )

    def applies_to(self, dataset: BenchDataset) -> bool:
        return True

    def check(self, dataset: BenchDataset, options: Mapping[str, Any], data: DataOptions) -> None:
        """Nothing to provide."""

    def evaluate(self, context: EvaluationContext) -> dict[str, Any]:
        return {
            **context.training,
            "generate_images_per_second": context.samples.generation_rate(
                int(context.options.get("throughput_samples", 2048))),
            **context.samples.parameter_counts(),
        }
