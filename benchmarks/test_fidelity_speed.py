"""Speed of the fidelity evaluation on the lenet backbone (``pytest --benchmark-only``).

Timed runs use 10,000 generated and 10,000 reference images (32x32 grey) and the default
settings (KID: 100 subsets of 1,000); the untimed default run (``--benchmark-disable``) checks the
same code on a tenth of the samples and of the KID subsets.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from torch_fidelity.utils import extract_featuresdict_from_input_id_cached

from ganbench.metrics import EVALUATION_SETTINGS
from ganbench.metrics.backbones import BACKBONES, WeightsFile, classifier_path
from ganbench.metrics.classifier import read_metadata
from ganbench.metrics.fidelity import (
    FidelityInput,
    feature_extractor,
    fidelity_of_images,
    metric_layers,
    torch_fidelity_options,
)
from ganbench.settings import resolve

SAMPLES = 10_000
LENET = BACKBONES.get("lenet")


@pytest.fixture
def lenet():
    path = classifier_path("mnist")
    return WeightsFile(path, read_metadata(path)["weights_sha256"])


@pytest.fixture
def options(benchmark, monkeypatch, tmp_path):
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path))
    kid_subsets = EVALUATION_SETTINGS["kid_subsets"].default
    chosen = kid_subsets if benchmark.enabled else kid_subsets // 10
    return resolve(EVALUATION_SETTINGS, "eval", {"backbone": "lenet", "kid_subsets": chosen})


def digit_like_images(count: int, seed: int) -> torch.Tensor:
    """uint8 (count, 1, 32, 32): random strokes inside the 2-pixel black border of padded MNIST."""
    images = torch.zeros(count, 1, 32, 32, dtype=torch.uint8)
    noise = torch.rand(count, 1, 28, 28, generator=torch.Generator().manual_seed(seed))
    images[:, :, 2:30, 2:30] = (noise > 0.8).to(torch.uint8) * 255
    return images


def sample_count(benchmark) -> int:
    return SAMPLES if benchmark.enabled else SAMPLES // 10


def test_lenet_features(benchmark, lenet, options):
    """Penultimate features and logits of N images through torch-fidelity's extraction loop."""
    count = sample_count(benchmark)
    fidelity_options = torch_fidelity_options(options, LENET, lenet, cuda=False)
    layers = tuple(sorted(set(metric_layers(fidelity_options).values())))
    extractor = feature_extractor(LENET.extractor, layers, str(lenet.path), lenet.sha256, False)
    inputs = {**fidelity_options, "input1": FidelityInput(digit_like_images(count, 0), rgb=False)}
    features = benchmark(extract_featuresdict_from_input_id_cached, 1, extractor, **inputs)
    assert features["features"].shape == (count, 84)


def test_fidelity_evaluation_uncached(benchmark, lenet, options):
    """A whole evaluation (FID, IS, KID, precision/recall, density/coverage) of N generated
    images against N reference images whose features are not cached yet."""
    count = sample_count(benchmark)
    generated, reference = digit_like_images(count, 1), digit_like_images(count, 2)
    fresh_names = (f"uncached-{round}" for round in itertools.count())
    values = benchmark.pedantic(
        lambda: fidelity_of_images(generated, reference, next(fresh_names), LENET, lenet, options, cuda=False),
        rounds=3,
    )
    assert values["fid"] > 0


def test_fidelity_evaluation_cached(benchmark, lenet, options):
    """The same evaluation against a reference whose features are on disk (the second
    evaluation of a run, or any run after the first on that reference)."""
    count = sample_count(benchmark)
    generated, reference = digit_like_images(count, 1), digit_like_images(count, 2)
    fidelity_of_images(generated, reference, "cached", LENET, lenet, options, cuda=False)
    values = benchmark.pedantic(
        lambda: fidelity_of_images(generated, reference, "cached", LENET, lenet, options, cuda=False), rounds=3)
    assert values["fid"] > 0
