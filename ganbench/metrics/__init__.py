"""Evaluators by name. Each one turns a trained GAN into numbers for the run's record.

An evaluator is an object with ``name``, ``summary``, ``applies_to(dataset)`` and
``evaluate(context) -> dict``; the numbers it returns go under ``metrics`` in the record, except
those of ``throughput``, which go under ``throughput``. Generated samples come from the Ignite
sampling engine in :mod:`ganbench.metrics.sampling`. An evaluator that needs something the user
must provide (weights files) also has ``check(dataset, options, data_options)``, called when the
runs are planned, before anything trains; it raises ``UserError`` naming the fix.
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
    "backbone": Setting("inception", "feature extractor of the fidelity metrics: inception (torch-fidelity's "
                        "inception-v3-compat, comparable with papers) or lenet (the MNIST-family classifier)",
                        choices=("inception", "lenet")),
    "reference_samples": Setting(10_000, "real reference samples for fidelity and class balance (all of a smaller "
                                 "split)", minimum=2),
    "image_size": Setting(32, "side length generated and reference images are brought to for fidelity and "
                          "classifiers (padding 28 -> 32, else bilinear), so every variant is compared alike",
                          minimum=8),
    "is_splits": Setting(10, "Inception Score splits (IS is the mean and std over them)", minimum=1),
    "kid_subsets": Setting(100, "KID subsets (KID is the mean and std over them)", minimum=1),
    "kid_subset_size": Setting(1000, "samples per KID subset (<= samples and reference_samples)", minimum=2),
    "pr_k": Setting(3, "nearest neighbour k of precision/recall (Kynkaanniemi et al. 2019)", minimum=1),
    "dc_k": Setting(5, "nearest neighbour k of density/coverage (Naeem et al. 2020)", minimum=1),
    "stacked_samples": Setting(26_000, "generated samples for Stacked-MNIST mode coverage (PacGAN: 26,000)",
                               minimum=1),
    "feature_batch_size": Setting(64, "images per batch through the fidelity backbone", minimum=1),
    "inception_weights": Setting(None, "torch-fidelity's Inception weights file (none: the torch hub cache); "
                                 "also --inception-weights", kind="str", optional=True),
    "classifier_weights": Setting(None, "lenet classifier weights (none: the shipped or trained one for the "
                                  "dataset)", kind="str", optional=True),
}


def register_evaluator(evaluator: Evaluator) -> Evaluator:
    EVALUATORS.add(evaluator.name, evaluator)
    return evaluator


# (registers the evaluators)
from ganbench.metrics import coverage, grid, throughput, fidelity, modes  # noqa: E402,F401,I001
