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

import time
from typing import TYPE_CHECKING, Any

from ignite.engine import Events

from ganbench.data import BenchDataset
from ganbench.metrics import EvaluationContext, register_evaluator
from ganbench.metrics.sampling import create_sampler, run_sampler
from ganbench.models import count_parameters

if TYPE_CHECKING:
    import torch

    from ganbench.training import IterationTimer

GENERATION_BATCH = 256


def generation_rate(context: EvaluationContext, count: int) -> float:
    """Generated samples per second over ``count`` samples, the first batch excluded."""
    sampler = create_sampler(context.gan, count + GENERATION_BATCH, GENERATION_BATCH, context.seed)
    marks: dict[str, float] = {}
    sampler.add_event_handler(Events.ITERATION_COMPLETED(once=1), lambda _: marks.setdefault("start", time.perf_counter()))
    run_sampler(sampler)
    if context.device.type == "cuda":
        import torch

        torch.cuda.synchronize(context.device)
    return count / (time.perf_counter() - marks["start"])


def memory_summary(timer: IterationTimer, device: torch.device) -> dict[str, Any]:
    """``peak_memory_mb`` (MiB, None when unknown) and ``peak_memory_kind`` of a timed run."""
    peak = timer.peak_memory_bytes
    return {
        "peak_memory_mb": None if peak is None else peak / 2**20,
        "peak_memory_kind": "cuda_max_allocated" if device.type == "cuda" else "process_peak_rss",
    }


class Throughput:
    name = "throughput"
    summary = "train images/s, ms per iteration, generation images/s, peak memory, parameter counts"

    def applies_to(self, dataset: BenchDataset) -> bool:
        return True

    def evaluate(self, context: EvaluationContext) -> dict[str, Any]:
        timing = context.timer.summary(context.training.images_per_iteration)
        return {
            **timing,
            "generate_images_per_second": generation_rate(context, int(context.options.get("throughput_samples", 2048))),
            **memory_summary(context.timer, context.device),
            "parameters_g": count_parameters(context.gan.generator),
            "parameters_d": count_parameters(context.gan.discriminator),
        }


register_evaluator(Throughput())
