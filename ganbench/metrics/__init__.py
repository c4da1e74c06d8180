"""Evaluators by name. Each one turns a trained GAN into numbers for the run's record.

An evaluator is an object with ``name``, ``summary``, ``applies_to(dataset)`` and
``evaluate(context) -> dict``; the numbers it returns go under ``metrics`` in the record, except
those of ``throughput``, which go under ``throughput``. Generated samples come from the Ignite
sampling engine in :mod:`ganbench.metrics.sampling`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch

from ganbench.registry import Registry
from ganbench.settings import Setting

if TYPE_CHECKING:
    from ganbench.data import BenchDataset, DataOptions
    from ganbench.models import GAN
    from ganbench.training import GanTraining, IterationTimer


@dataclass
class EvaluationContext:
    """What an evaluator may use: the trained model, its data (and the options it was loaded
    with, to load it again at another size), the run's seed and folder, the trainer's timings and
    the suite's evaluation settings (e.g. ``samples``). Files an evaluator writes into ``run_dir``
    are named in ``artifacts`` so the record lists them."""

    gan: GAN
    dataset: BenchDataset
    data_options: DataOptions
    seed: int
    device: torch.device
    run_dir: Path
    training: GanTraining
    timer: IterationTimer
    options: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Path] = field(default_factory=dict)


class Evaluator(Protocol):
    name: str
    summary: str

    def applies_to(self, dataset: BenchDataset) -> bool: ...

    def evaluate(self, context: EvaluationContext) -> dict[str, Any]: ...


EVALUATORS: Registry[Evaluator] = Registry("evaluator")

EVALUATION_SETTINGS: dict[str, Setting] = {
    "samples": Setting(2500, "generated samples per evaluation (coverage, fidelity)", minimum=1),
    "throughput_samples": Setting(2048, "generated samples timed for generate_images_per_second", minimum=1),
    "every": Setting(0, "also evaluate every K iterations during training (0: only at the end)", minimum=0),
}


def register_evaluator(evaluator: Evaluator) -> Evaluator:
    EVALUATORS.add(evaluator.name, evaluator)
    return evaluator


from ganbench.metrics import coverage, grid, throughput  # noqa: E402,F401  (registers the evaluators)
