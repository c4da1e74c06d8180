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

Images reach the classifier at the canonical size (see :mod:`ganbench.metrics.fidelity`),
from the evaluation's shared samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from ganbench.columns import Column
from ganbench.data import BenchDataset, DataOptions
from ganbench.data.images import MNIST_LIKE, ImageDataset
from ganbench.data.stacked import StackedMNIST
from ganbench.metrics import EvaluationContext
from ganbench.metrics.backbones import BACKBONES, WeightsFile
from ganbench.metrics.classifier import LeNet, load_classifier, predict_modes
from ganbench.metrics.fidelity_inputs import canonical_dataset, canonical_images, check_reference_split, reference_set

CLASSIFIER_BACKBONE = "lenet"


def kl_divergence(counts: torch.Tensor, reference: torch.Tensor) -> float:
    """KL(P || Q) in nats between the histograms ``counts`` (P) and ``reference`` (Q), each
    normalised to sum 1; bins empty in P contribute 0 (0 log 0 = 0), a bin empty in Q but not in
    P makes it infinite."""
    p = counts.double() / counts.sum()
    q = reference.double() / reference.sum()
    present = p > 0
    return max(float((p[present] * (p[present] / q[present]).log()).sum()), 0.0)


CLASSIFIED_PER_BATCH = 256


def mode_histogram(classifier: LeNet, samples: torch.Tensor, modes: int, size: int) -> torch.Tensor:
    """How often the classifier predicts each of ``modes`` modes (see
    :func:`~ganbench.metrics.classifier.predict_modes`) over generated float samples (N, C, H, W),
    brought to canonical uint8 images of side ``size`` and classified in batches: (modes,) counts."""
    counts = torch.zeros(modes, dtype=torch.long)
    for batch in samples.split(CLASSIFIED_PER_BATCH):
        counts += torch.bincount(predict_modes(classifier, canonical_images(batch, size)), minlength=modes)
    return counts


class DigitModeCoverage:
    """What ``classes`` and ``stacked`` share: the lenet classifier of the dataset's digits and the
    histogram of its predictions over generated samples."""

    def check(self, dataset: BenchDataset, options: Mapping[str, Any], data: DataOptions) -> None:
        """Before training: the classifier for the dataset's digits exists."""
        BACKBONES.get(CLASSIFIER_BACKBONE).locate(dataset, options, data.download)

    section = "metrics"

    def generated_counts(self, context: EvaluationContext, count: int) -> tuple[torch.Tensor, WeightsFile]:
        """Histogram (modes,) of the predicted modes of ``count`` of the evaluation's samples, and
        the classifier's weights."""
        weights = BACKBONES.get(CLASSIFIER_BACKBONE).locate(context.dataset, context.options, False)
        modes = context.dataset.num_classes  # type: ignore[attr-defined]
        counts = mode_histogram(load_classifier(weights.path), context.samples.generated(count), modes,
                                context.options["image_size"])
        return counts, weights


class ClassCoverage(DigitModeCoverage):
    name = "classes"
    summary = "classes_covered and class_kl (KL to the reference class balance) by the lenet classifier"
    columns = (Column("classes_covered", "classes", True, 1, headline=True,
                      samples_key="classes_samples", unit="classes"),
               Column("class_kl", "class KL", False, 3, headline=True, samples_key="classes_samples", unit="nats"))

    def applies_to(self, dataset: BenchDataset) -> bool:
        return isinstance(dataset, ImageDataset) and dataset.name in MNIST_LIKE

    def check(self, dataset: BenchDataset, options: Mapping[str, Any], data: DataOptions) -> None:
        """Before training: the classifier exists and ``eval.reference_split`` is on disk."""
        super().check(dataset, options, data)
        check_reference_split(dataset, options, data)

    def evaluate(self, context: EvaluationContext) -> dict[str, Any]:
        count = context.options["samples"]
        counts, weights = self.generated_counts(context, count)
        reference = canonical_dataset(context)
        labels = reference_set(reference, context.options["reference_samples"])[1]
        return {
            "classes_covered": int((counts > 0).sum()),
            "classes_total": len(counts),
            "class_kl": kl_divergence(counts, torch.bincount(labels, minlength=len(counts))),
            "classes_samples": count,
            "classes_reference_samples": len(labels),
            "classes_reference_split": reference.describe().get("split"),
            "classes_backbone": CLASSIFIER_BACKBONE,
            "classes_weights_sha256": weights.sha256,
        }


class StackedCoverage(DigitModeCoverage):
    name = "stacked"
    summary = "Stacked MNIST modes_covered (of 1,000) and reverse_kl to uniform on 26,000 samples (PacGAN protocol)"
    columns = (Column("modes_covered", "modes", True, 1, headline=True, samples_key="coverage_samples", unit="modes"),
               Column("reverse_kl", "reverse KL", False, 3, headline=True, samples_key="coverage_samples", unit="nats",
                      undefined="no mode counted"))

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

