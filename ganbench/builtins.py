"""Every built-in suite, variant, dataset, evaluator, backbone and report section, registered in
one place (in the manner of torch-fidelity's ``registry.py``).

No other module registers anything as a side effect of being imported: a module defines its
things, and this one names them. Adding a GAN variant is a module in
:mod:`ganbench.gan.variants` (defining ``VARIANT``, which declares how it scales with the budgets)
and its name in :data:`VARIANT_MODULES`; adding an evaluator is a module in
:mod:`ganbench.metrics` and one line here. ``tests/test_architecture.py`` checks that nothing
else names them.

Layers (imports go down the list only; the shared layer never imports a kind):

- shared: :mod:`ganbench.runs` (plan -> execute -> record), :mod:`ganbench.handlers`,
  :mod:`ganbench.results`, :mod:`ganbench.data`, :mod:`ganbench.metrics`, :mod:`ganbench.report`;
- kinds, peers that never import each other: :mod:`ganbench.gan`, :mod:`ganbench.style`;
- this module, then :mod:`ganbench.cli`.
"""

from __future__ import annotations

import importlib

import torch_fidelity

from ganbench.columns import COLUMNS, ColumnSet
from ganbench.data import DATASET_PREFIXES, register_dataset
from ganbench.data import folder, images, stacked, toy
from ganbench.evaluation import EvaluationReport
from ganbench.gan import suites as gan_suites
from ganbench.gan.model import VARIANTS
from ganbench.gan.report import GanReport
from ganbench.metrics import EVALUATORS
from ganbench.metrics.backbones import (
    BACKBONES,
    LENET_EXTRACTOR,
    Backbone,
    LeNetFeatureExtractor,
    locate_inception,
    locate_lenet,
)
from ganbench.metrics.coverage import MixtureCoverage
from ganbench.metrics.fidelity import Fidelity
from ganbench.metrics.grid import SampleGrid
from ganbench.metrics.inception import INCEPTION_EXTRACTOR, InceptionFeatureExtractor
from ganbench.metrics.modes import ClassCoverage, StackedCoverage
from ganbench.metrics.throughput import Throughput
from ganbench.metrics.vit_backbones import (
    CLIP_EXTRACTOR,
    DINOV2_EXTRACTOR,
    ClipFeatureExtractor,
    DinoV2FeatureExtractor,
    locate_clip,
    locate_dinov2,
)
from ganbench.report.sections import SECTIONS
from ganbench.runs import SUITES
from ganbench.style import metrics as style_metrics
from ganbench.style.report import StyleReport
from ganbench.style.suite import STYLE

# The built-in GAN variants: one module of ganbench.gan.variants each, one line here each.
VARIANT_MODULES = (
    "fc",
    "dcgan",
    "progan",
    "msggan",
)


def register_builtins() -> None:
    """Fill the registries with the built-in entries; once per process (later calls do nothing)."""
    if "toy" in SUITES:
        return
    # Datasets (toy first: `ganbench list datasets` shows them in this order).
    register_dataset("ring8", "8 Gaussians on the unit circle, sigma 0.01 (VEEGAN/PacGAN 2D ring)", toy.ring8)
    register_dataset("grid25", "25 Gaussians at {-4,-2,0,2,4}^2, sigma 0.05 (VEEGAN/PacGAN 2D grid)", toy.grid25)
    register_dataset("mnist", "MNIST handwritten digits, 28x28 grey (32x32 padded for conv variants)", images.mnist)
    register_dataset("fashion-mnist", "Fashion-MNIST clothing images, 28x28 grey (32x32 padded for conv variants)",
                     images.fashion_mnist)
    register_dataset("kmnist", "Kuzushiji-MNIST cursive Japanese characters, 28x28 grey", images.kmnist)
    register_dataset("cifar10", "CIFAR-10, 32x32 colour, 10 classes", images.cifar10)
    register_dataset("stacked-mnist", "Stacked MNIST: 3 MNIST digits as RGB channels, 1,000 modes (VEEGAN/PacGAN)",
                     stacked.stacked_mnist)
    DATASET_PREFIXES.add("folder:", folder.load_folder)

    # GAN variants.
    for module in VARIANT_MODULES:
        variant = importlib.import_module(f"ganbench.gan.variants.{module}").VARIANT
        VARIANTS.add(variant.name, variant)

    # Backbones of the fidelity metrics.
    torch_fidelity.register_feature_extractor(LENET_EXTRACTOR, LeNetFeatureExtractor)
    BACKBONES.add("lenet", Backbone(
        "lenet", "ganbench's MNIST-family LeNet-5 classifier: 84 penultimate features per channel, class logits; "
        "fast on a CPU", LENET_EXTRACTOR, rgb=False, locate=locate_lenet, resize="none"))
    torch_fidelity.register_feature_extractor(INCEPTION_EXTRACTOR, InceptionFeatureExtractor)
    BACKBONES.add("inception", Backbone(
        "inception", "torch-fidelity inception-v3-compat (TF 2015 weights, comparable with papers): 2048 pool3 "
        "features, 1008 logits; 3-11 images/s on 2 CPU cores", INCEPTION_EXTRACTOR, rgb=True,
        locate=locate_inception, resizes=True))
    torch_fidelity.register_feature_extractor(DINOV2_EXTRACTOR, DinoV2FeatureExtractor)
    BACKBONES.add("dinov2", Backbone(
        "dinov2", "DINOv2 ViT/14 (eval.dinov2_size, default ViT-L/14 as dgm-eval): the CLS embedding (384-1,536 "
        "features); FD-DINOv2, KID, precision/recall on it", DINOV2_EXTRACTOR, rgb=True, locate=locate_dinov2,
        resizes=True, logits=False, feature_space="DINOv2"))
    torch_fidelity.register_feature_extractor(CLIP_EXTRACTOR, ClipFeatureExtractor)
    BACKBONES.add("clip", Backbone(
        "clip", "OpenAI CLIP image embedding (eval.clip_model, default ViT-L/14@336px as CMMD): FD-CLIP, KID, "
        "precision/recall on it", CLIP_EXTRACTOR, rgb=True, locate=locate_clip, resizes=True, logits=False,
        feature_space="CLIP"))

    # Evaluators; their table columns appear in this order (throughput's last).
    for evaluator in (MixtureCoverage(), SampleGrid(), Fidelity(), ClassCoverage(), StackedCoverage(), Throughput()):
        EVALUATORS.add(evaluator.name, evaluator)
    # Style transfer's, SSIM first: the style tables show SSIM, the losses, then the steps to converge.
    for evaluator in (style_metrics.ContentSimilarity(), style_metrics.FinalLosses(), style_metrics.Convergence(),
                      style_metrics.StyleThroughput()):
        EVALUATORS.add(evaluator.name, evaluator)
    for name, evaluator in EVALUATORS.items():  # the columns of the throughput section are speed columns
        COLUMNS.add(f"evaluator:{name}", ColumnSet(evaluator.columns, speed=evaluator.section != "metrics"))

    # Suites of every kind, and each kind's part of the report.
    for suite in (gan_suites.TOY, gan_suites.MNIST, gan_suites.FASHION, gan_suites.STACKED_MNIST, STYLE):
        SUITES.add(suite.name, suite)
    for section in (GanReport(), StyleReport(), EvaluationReport()):
        SECTIONS.add(section.kind, section)
        COLUMNS.add(f"kind:{section.kind}", ColumnSet(section.columns, descriptions=section.descriptions))

