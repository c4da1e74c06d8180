"""Evaluators by name: each turns what a run produced into numbers for its record.

Every evaluator declares in :class:`Evaluator` where its numbers go in the record (``section``)
and the table columns it adds; :func:`evaluate` runs a run's evaluators in order and collects
their numbers by section, for runs of every kind. An evaluator's ``evaluate`` takes the context
its kind's runs give. Runs that generate samples (GAN runs) give an :class:`EvaluationContext`
to their :class:`SampleEvaluator` evaluators: a :class:`SampleSource` (generated samples drawn
once per evaluation from fixed seeded latents, shared by every evaluator), the real data, the
evaluation settings and the training timings, never the model; these evaluators also say which
data they apply to and make a ``check`` when the runs are planned, before anything trains (e.g.
that a weights file exists). A kind whose runs produce something else defines its own context
beside its evaluators. :mod:`ganbench.builtins` registers the built-in ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch

from ganbench.columns import Column
from ganbench.errors import option
from ganbench.metrics.backbones import BACKBONES
from ganbench.metrics.preprocessing import QUANTISATIONS, RESIZE_ALIASES, RESIZES
from ganbench.metrics.vit_backbones import CLIP_MODELS, DINOV2_SIZES
from ganbench.registry import Registry
from ganbench.settings import Setting

if TYPE_CHECKING:
    from ganbench.data import BenchDataset, DataOptions


class SampleSource(Protocol):
    """The generated samples of the model under evaluation."""

    def generated(self, count: int) -> torch.Tensor:
        """``count`` samples (count, *sample_shape) on the CPU, floats (images in [-1, 1]), from
        latents seeded by the run's seed; drawn once per evaluation and count, then shared."""

    def scales(self, count: int) -> dict[int, torch.Tensor]:
        """``count`` samples from fixed latents (the same for every run of a latent size) at every
        output scale: {side length: (count, C, side, side)}."""

    def generation_rate(self, count: int) -> float:
        """Samples generated per second, timed over ``count`` new samples."""

    def parameter_counts(self) -> dict[str, int]:
        """Parameter counts of the model's networks, e.g. ``{"parameters_g": ..., "parameters_d": ...}``."""


@dataclass
class EvaluationContext:
    """What a :class:`SampleEvaluator` may use: the samples, the real data (and the options it was loaded with,
    to load it again at another size), the run's seed, device and folder, the training timings
    (``training``: ms per iteration, images/s, peak memory) and the evaluation settings
    (``options``, e.g. ``samples``). Files an evaluator writes into ``run_dir`` are named in
    ``artifacts`` so the record lists them. ``distributed``: every rank of a data-parallel group
    evaluates the quality evaluators together (the samples are the group's, see
    :class:`~ganbench.gan.sampling.SampleSet`); an evaluator may split its work among the ranks
    (:func:`~ganbench.distributed.rows_in_blocks`), and only rank 0's numbers and files are kept.
    Seconds and rates an evaluator measures go to ``timings``, which the ``throughput`` evaluator
    (evaluated after the quality ones) records under ``throughput``, so that the quality metrics
    stay a function of the samples alone."""

    samples: SampleSource
    dataset: BenchDataset
    data_options: DataOptions
    seed: int
    device: torch.device
    run_dir: Path
    options: dict[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Path] = field(default_factory=dict)
    distributed: bool = False
    timings: dict[str, float] = field(default_factory=dict)


class Evaluator(Protocol):
    """Numbers for a run's record from what the run produced (``context``, of the type the run's
    kind gives its evaluators)."""

    name: str
    summary: str
    section: str  # "metrics" (quality; a GAN run also evaluates them during training) or "throughput"
    columns: tuple[Column, ...]  # the table columns its numbers fill

    def evaluate(self, context: Any) -> dict[str, Any]: ...


class SampleEvaluator(Evaluator, Protocol):
    """An evaluator of a model's generated samples, given an :class:`EvaluationContext`."""

    def applies_to(self, dataset: BenchDataset) -> bool: ...

    def check(self, dataset: BenchDataset, options: Mapping[str, Any], data: DataOptions) -> None:
        """Before training: raise ``UserError`` naming the fix if the evaluation cannot run."""

    def evaluate(self, context: EvaluationContext) -> dict[str, Any]: ...


EVALUATORS: Registry[Evaluator] = Registry("evaluator")


def evaluate(names: Sequence[str], context: Any) -> dict[str, dict[str, Any]]:
    """The numbers of the evaluators ``names`` on ``context``, evaluated in that order, by record
    section: ``{"metrics": {...}, "throughput": {...}}`` (both present, each in evaluation order)."""
    sections: dict[str, dict[str, Any]] = {"metrics": {}, "throughput": {}}
    for name in names:
        evaluator = EVALUATORS.get(name)
        sections[evaluator.section].update(evaluator.evaluate(context))
    return sections

EVALUATION_SETTINGS: dict[str, Setting] = {
    "samples": Setting(2500, "generated samples per evaluation (coverage, fidelity)", minimum=1),
    "throughput_samples": Setting(2048, "generated samples timed for generate_images_per_second", minimum=1),
    "every": Setting(0, "also evaluate every K iterations during training (0: only at the end)", minimum=0),
    "backbone": Setting("inception", "feature extractor of the fidelity metrics: inception (torch-fidelity's "
                        "inception-v3-compat, comparable with papers), lenet (the MNIST-family classifier), dinov2 "
                        "(eval.dinov2_size) or clip (eval.clip_model)", registry=BACKBONES),
    "reference_samples": Setting(10_000, "real reference samples for fidelity and class balance (all of a smaller "
                                 "split)", minimum=2),
    "reference_split": Setting("trained", "split the real reference set (fidelity, class balance) is drawn from: "
                               "trained (the split the model trained on), train or test (the standard protocol: "
                               "train on train, compare with test)", choices=("trained", "train", "test")),
    "image_size": Setting(32, "side length generated and reference images are brought to for fidelity and "
                          "classifiers (padding 28 -> 32, else bilinear), so every variant is compared alike",
                          minimum=8),
    "is_splits": Setting(10, "Inception Score splits (IS is the mean and std over them)", minimum=1),
    "kid_subsets": Setting(100, "KID subsets (KID is the mean and std over them)", minimum=1),
    "kid_subset_size": Setting(1000, "samples per KID subset (<= samples and reference_samples)", minimum=2),
    "fid_bootstrap": Setting(200, "resamples of the per-run percentile bootstrap interval of FID over the generated "
                             "features (no new forward passes; bias-shifted to surround the N-sample FID); 0: none",
                             minimum=0),
    "fid_infinity": Setting(0, "points of Chong & Forsyth's FID-infinity fit: FID at that many N from samples/5 to "
                            "samples (nested random subsets), fitted linearly in 1/N, the intercept; 0: none",
                            minimum=0),
    "pr_k": Setting(3, "nearest neighbour k of precision/recall (Kynkaanniemi et al. 2019)", minimum=1),
    "dc_k": Setting(5, "nearest neighbour k of density/coverage (Naeem et al. 2020)", minimum=1),
    "stacked_samples": Setting(26_000, "generated samples for Stacked-MNIST mode coverage (PacGAN: 26,000)",
                               minimum=1),
    "feature_batch_size": Setting(256, "images per batch through the fidelity backbone", minimum=1),
    "cmmd": Setting(True, "CMMD (Jayasumana et al. 2024: Gaussian RBF MMD, sigma 10, x1000) on the backbone's "
                    "features"),
    "vendi": Setting(True, "Vendi score (Friedman & Dieng 2023: effective number of distinct samples, cosine "
                     "kernel) of the generated features"),
    "memorisation": Setting(False, "memorisation checks against the training split: AuthPct (Alaa et al. 2022), "
                            "C_T (Meehan et al. 2020) and the figure of the generated samples closest to a training "
                            "image"),
    "memorisation_samples": Setting(10_000, "training-split images the memorisation checks compare against (all "
                                    "of a smaller split); C_T's held-out set is as many of the other split", minimum=2),
    "ct_cells": Setting(3, "k-means cells of C_T on the training features (dgm-eval: 3)", minimum=1),
    "inception_weights": Setting(None, "torch-fidelity's Inception weights file (none: the torch hub cache); "
                                 f"also {option('inception_weights')}", kind="str", optional=True),
    "dinov2_size": Setting("l", "DINOv2 ViT/14 size of the dinov2 backbone: s, b, l (dgm-eval's default) or g",
                           choices=DINOV2_SIZES),
    "dinov2_weights": Setting(None, "DINOv2 checkpoint (dinov2_vit{size}14_pretrain.pth) of the dinov2 backbone "
                              "(none: the torch hub cache)", kind="str", optional=True),
    "clip_model": Setting("vit-l-14-336px", "OpenAI CLIP model of the clip backbone (default ViT-L/14@336px, the "
                          "CMMD paper's)", choices=CLIP_MODELS),
    "clip_weights": Setting(None, "OpenAI CLIP TorchScript file of the clip backbone (none: torch-fidelity's copy in "
                            "the torch hub cache)", kind="str", optional=True),
    "resize": Setting("tf1", "how images are resized to the backbone's input: tf1 (= legacy_tensorflow, "
                      "torch-fidelity's TF1-exact bilinear), legacy_pytorch (torch bilinear) or clean (clean-fid: PIL "
                      "bicubic on float); see docs/metrics.md", choices=(*RESIZES, *RESIZE_ALIASES)),
    "quantise": Setting("uint8", "generated samples before the backbone: uint8 (rounded as if saved to PNG) or "
                        "float (unrounded, clean-fid's treatment of a generator)", choices=QUANTISATIONS),
    "classifier_weights": Setting(None, "lenet classifier weights (none: the shipped or trained one for the "
                                  "dataset)", kind="str", optional=True),
}
