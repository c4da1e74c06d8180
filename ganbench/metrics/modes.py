"""Mode coverage of image GANs, read by the ``lenet`` classifier of the dataset's digits.

- ``classes`` (the MNIST family): the classifier's predicted class of each of ``eval.samples``
  generated images; ``classes_covered`` is the number of classes predicted at least once (of
  ``classes_total``) and ``class_kl`` is KL(P_gen || P_ref) in nats, P_gen the histogram of the
  predictions and P_ref that of the true labels of the reference set (``eval.reference_samples``):
  0 when the generator matches the reference class balance, -log P_ref(c) (about log 10 = 2.30)
  when it produces class c only.
- ``stacked`` (Stacked MNIST, the VEEGAN/PacGAN protocol): each channel of ``eval.stacked_samples``
  (26,000) generated images is classified, the three digits give the mode (0..999);
  ``modes_covered`` is the number of modes generated at least once (of ``modes_total`` = 1,000)
  and ``reverse_kl`` is KL(P_gen || uniform) in nats (0 for a perfectly balanced generator,
  log 1000 = 6.91 for one that always draws the same triple).

Images reach the classifier at the canonical size (see :mod:`ganbench.metrics.fidelity`). The
predictions are accumulated by an Ignite metric attached to the sampling engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from ignite.metrics import Metric

from ganbench.data import BenchDataset, DataOptions
from ganbench.data.images import MNIST_LIKE, ImageDataset
from ganbench.data.stacked import StackedMNIST
from ganbench.metrics import EvaluationContext, register_evaluator
from ganbench.metrics.backbones import BACKBONES, WeightsFile
from ganbench.metrics.classifier import LeNet, load_classifier, predict_modes
from ganbench.metrics.fidelity import canonical_images, reference_set
from ganbench.metrics.sampling import create_sampler, run_sampler
from ganbench.metrics.throughput import GENERATION_BATCH
from ganbench.report.tables import Column, register_column

CLASSIFIER_BACKBONE = "lenet"


def kl_divergence(counts: torch.Tensor, reference: torch.Tensor) -> float:
    """KL(P || Q) in nats between the histograms ``counts`` (P) and ``reference`` (Q), each
    normalised to sum 1; bins empty in P contribute 0 (0 log 0 = 0), a bin empty in Q but not in
    P makes it infinite."""
    p = counts.double() / counts.sum()
    q = reference.double() / reference.sum()
    present = p > 0
    return max(float((p[present] * (p[present] / q[present]).log()).sum()), 0.0)


class ModeHistogram(Metric):
    """Ignite metric: how often the classifier predicts each of ``modes`` modes (see
    :func:`~ganbench.metrics.classifier.predict_modes`) over batches of generated samples; the
    output transform turns the sampler's float samples into canonical uint8 images."""

    def __init__(self, classifier: LeNet, modes: int, size: int) -> None:
        self.classifier = classifier
        self.modes = modes
        super().__init__(output_transform=lambda samples: canonical_images(samples, size), device="cpu")

    def reset(self) -> None:
        self.counts = torch.zeros(self.modes, dtype=torch.long)

    def update(self, images: torch.Tensor) -> None:
        self.counts += torch.bincount(predict_modes(self.classifier, images), minlength=self.modes)

    def compute(self) -> torch.Tensor:
        return self.counts.clone()


class DigitModeCoverage:
    """What ``classes`` and ``stacked`` share: the lenet classifier of the dataset's digits and the
    histogram of its predictions over generated samples."""

    def check(self, dataset: BenchDataset, options: Mapping[str, Any], data: DataOptions) -> None:
        """Before training: the classifier for the dataset's digits exists."""
        BACKBONES.get(CLASSIFIER_BACKBONE).locate(dataset, options, data.download)

    def generated_counts(self, context: EvaluationContext, count: int) -> tuple[torch.Tensor, WeightsFile]:
        """Histogram (modes,) of the predicted modes of ``count`` samples of the run's generator,
        and the classifier's weights."""
        weights = BACKBONES.get(CLASSIFIER_BACKBONE).locate(context.dataset, context.options, False)
        modes = context.dataset.num_classes  # type: ignore[attr-defined]
        sampler = create_sampler(context.gan, count, GENERATION_BATCH, context.seed)
        ModeHistogram(load_classifier(weights.path), modes, context.options["image_size"]).attach(sampler, "modes")
        run_sampler(sampler)
        return sampler.state.metrics["modes"], weights


class ClassCoverage(DigitModeCoverage):
    name = "classes"
    summary = "classes_covered and class_kl (KL to the reference class balance) by the lenet classifier"

    def applies_to(self, dataset: BenchDataset) -> bool:
        return isinstance(dataset, ImageDataset) and dataset.name in MNIST_LIKE

    def evaluate(self, context: EvaluationContext) -> dict[str, Any]:
        count = context.options["samples"]
        counts, weights = self.generated_counts(context, count)
        labels = reference_set(context.dataset, context.options["reference_samples"])[1]
        return {
            "classes_covered": int((counts > 0).sum()),
            "classes_total": len(counts),
            "class_kl": kl_divergence(counts, torch.bincount(labels, minlength=len(counts))),
            "classes_samples": count,
            "classes_reference_samples": len(labels),
            "classes_backbone": CLASSIFIER_BACKBONE,
            "classes_weights_sha256": weights.sha256,
        }


class StackedCoverage(DigitModeCoverage):
    name = "stacked"
    summary = "Stacked MNIST modes_covered (of 1,000) and reverse_kl to uniform on 26,000 samples (PacGAN protocol)"

    def applies_to(self, dataset: BenchDataset) -> bool:
        return isinstance(dataset, StackedMNIST)

    def evaluate(self, context: EvaluationContext) -> dict[str, Any]:
        count = context.options["stacked_samples"]
        counts, weights = self.generated_counts(context, count)
        return {
            "modes_covered": int((counts > 0).sum()),
            "modes_total": len(counts),
            "reverse_kl": kl_divergence(counts, torch.ones_like(counts)),
            "coverage_samples": count,
            "stacked_backbone": CLASSIFIER_BACKBONE,
            "stacked_weights_sha256": weights.sha256,
        }


register_evaluator(ClassCoverage())
register_evaluator(StackedCoverage())
register_column(Column("classes_covered", "classes", True, 1))
register_column(Column("class_kl", "class KL", False, 3))
