"""Speed of the fidelity evaluation (``pytest benchmarks --benchmark-only``).

Timed runs use 10,000 generated and 10,000 reference images (32x32 grey) on the lenet backbone
and the default settings (KID: 100 subsets of 1,000); the untimed default run
(``--benchmark-disable``) checks the same code on a tenth of the samples and of the KID subsets.
``img_per_second`` counts generated images. The Inception case times the path (torch-fidelity's
InceptionV3 at 299x299, random weights: the same arithmetic as the real ones) on 4 tiny images.
The uncached 10k evaluation is marked ``slow`` (``pytest benchmarks -m slow --benchmark-only``).

``test_fidelity_before_after`` (marker ``comparison``, left out of the gate) times the evaluation
as it was before the shared neighbour pass (:func:`previous_fidelity_from_features`: torch-fidelity's
own KID and precision/recall plus a separate density/coverage pass, kept here only to measure
against) and as it is now, interleaved in one process, and checks that they agree.
"""

from __future__ import annotations

import itertools
import statistics
import time

import pytest
import torch
from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_featuresdict_to_metric
from torch_fidelity.metric_prc import KEY_METRIC_PRECISION, KEY_METRIC_RECALL, prc_featuresdict_to_metric
from torch_fidelity.utils import extract_featuresdict_from_input_id_cached

from ganbench.calibration import count_flops
from ganbench.metrics import EVALUATION_SETTINGS
from ganbench.metrics.backbones import BACKBONES, WeightsFile, classifier_path
from ganbench.metrics.classifier import read_metadata, sha256_file
from ganbench.metrics.fidelity import (
    feature_extractor,
    fidelity_from_features,
    fidelity_of_images,
    inception_score_and_fid,
    metric_layers,
    torch_fidelity_options,
)
from ganbench.metrics.fidelity_inputs import FidelityInput
from ganbench.settings import resolve

SAMPLES = 10_000
LENET = BACKBONES.get("lenet")
INCEPTION = BACKBONES.get("inception")


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


def lenet_extractor(options, weights):
    fidelity_options = torch_fidelity_options(options, LENET, weights, cuda=False)
    layers = tuple(sorted(set(metric_layers(fidelity_options).values())))
    return feature_extractor(LENET.extractor, layers, str(weights.path), weights.sha256, False), fidelity_options


def test_lenet_features(benchmark, measure, lenet, options):
    """Penultimate features and logits of 2,048 images through torch-fidelity's extraction loop."""
    count = 2048
    extractor, fidelity_options = lenet_extractor(options, lenet)
    images = digit_like_images(count, 0)
    inputs = {**fidelity_options, "input1": FidelityInput(images, rgb=False)}
    flop = count_flops(lambda: extractor(images[:256])) * count / 256
    benchmark.extra_info.update(items_per_round=count, unit="img", gflop_per_round=flop / 1e9)
    features = measure(lambda: extract_featuresdict_from_input_id_cached(1, extractor, **inputs))
    assert features["features"].shape == (count, 84)


@pytest.mark.slow
def test_fidelity_evaluation_uncached(benchmark, measure, lenet, options):
    """A whole evaluation (FID, IS, KID, precision/recall, density/coverage) of N generated
    images against N reference images whose features are not cached yet."""
    count = sample_count(benchmark)
    generated, reference = digit_like_images(count, 1), digit_like_images(count, 2)
    fresh_names = (f"uncached-{round}" for round in itertools.count())
    benchmark.extra_info.update(items_per_round=count, unit="img")
    values = measure(
        lambda: fidelity_of_images(generated, reference, next(fresh_names), LENET, lenet, options, cuda=False),
        rounds=3,
    )
    assert values["fid"] > 0


def test_fidelity_evaluation_cached(benchmark, measure, lenet, options):
    """The same evaluation against a reference whose features, FID statistics, k-NN radii and
    KID reference sums are on disk (the second evaluation of a run, or any run after the first
    on that reference)."""
    count = sample_count(benchmark)
    generated, reference = digit_like_images(count, 1), digit_like_images(count, 2)
    fidelity_of_images(generated, reference, "cached", LENET, lenet, options, cuda=False)
    benchmark.extra_info.update(items_per_round=count, unit="img")
    values = measure(
        lambda: fidelity_of_images(generated, reference, "cached", LENET, lenet, options, cuda=False), rounds=3)
    assert values["fid"] > 0


@pytest.fixture(scope="module")
def random_inception(random_inception_weights):
    """torch-fidelity's InceptionV3 with its random initial weights (root conftest.py), as a weights file."""
    return WeightsFile(random_inception_weights, sha256_file(random_inception_weights))


def test_inception_evaluation(benchmark, measure, random_inception, monkeypatch, tmp_path):
    """A whole evaluation on the Inception backbone: 4 generated 32x32 RGB images (upsampled to
    299x299 by torch-fidelity) against 4 cached reference images; KID on 2 subsets of 3; no FID
    bootstrap (``fid_bootstrap=0``: each of its resamples costs a 2048x2048 covariance and
    eigendecomposition, about 1.5 s on one thread, which would make this case minutes long)."""
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path))
    options = resolve(EVALUATION_SETTINGS, "eval", {"backbone": "inception", "kid_subsets": 2, "fid_bootstrap": 0,
                                                    "kid_subset_size": 3, "pr_k": 2, "dc_k": 2, "is_splits": 2})
    generator = torch.Generator().manual_seed(0)
    generated, reference = (torch.randint(0, 256, (4, 3, 32, 32), generator=generator, dtype=torch.uint8)
                            for _ in range(2))
    fidelity_of_images(generated, reference, "inception", INCEPTION, random_inception, options, cuda=False)
    benchmark.extra_info.update(items_per_round=len(generated), unit="img")
    values = measure(lambda: fidelity_of_images(generated, reference, "inception", INCEPTION,
                                                           random_inception, options, cuda=False), rounds=3)
    assert values["fid"] >= 0


# Before and after the shared neighbour pass -------------------------------------------------------


def previous_density_coverage(generated, reference, k, block=1024):
    """Density and coverage as computed before the shared pass: its own M x M and M x N distances."""
    generated = generated.to(reference.dtype)
    inside, covered = 0, 0
    for rows in reference.split(block):
        radii = torch.cdist(rows, reference).kthvalue(k + 1, dim=1).values
        distances = torch.cdist(rows, generated)
        inside += int((distances <= radii[:, None]).sum())
        covered += int((distances.min(dim=1).values <= radii).sum())
    return {"density": inside / (k * len(generated)), "coverage": covered / len(reference)}


def previous_fidelity_from_features(generated, reference, extractor, reference_cache, fidelity_options, dc_k):
    """The evaluation from features as it was: torch-fidelity's KID and precision/recall, each with
    its own distances, and :func:`previous_density_coverage`."""
    layers = metric_layers(fidelity_options)
    options = dict(fidelity_options)
    kid = kid_featuresdict_to_metric(generated, reference, layers["kid"], **options)
    prc = prc_featuresdict_to_metric(generated, reference, layers["prc"], **options)
    return {**inception_score_and_fid(generated, reference, extractor, reference_cache, fidelity_options),
            "kid_mean": kid[KEY_METRIC_KID_MEAN], "kid_std": kid[KEY_METRIC_KID_STD],
            "precision": prc[KEY_METRIC_PRECISION], "recall": prc[KEY_METRIC_RECALL],
            **previous_density_coverage(generated[layers["prc"]], reference[layers["prc"]], dc_k)}


COMPARISON_ROUNDS = 3


@pytest.mark.comparison
def test_fidelity_before_after(benchmark, measure, lenet, options):
    """The whole lenet evaluation of N vs N before and after, ``COMPARISON_ROUNDS`` interleaved
    rounds each, reference features cached for both (what every evaluation after a reference's
    first one does) and, separately, the metrics from features alone. extra_info: the seconds of
    each round and the median ratios after / before (``whole_ratio``, ``from_features_ratio``)."""
    count = sample_count(benchmark)
    extractor, fidelity_options = lenet_extractor(options, lenet)
    generated, reference = digit_like_images(count, 1), digit_like_images(count, 2)
    inputs = {**fidelity_options, "input1": FidelityInput(generated, False), "input2": FidelityInput(reference, False),
              "input2_cache_name": "compare"}
    reference_features = extract_featuresdict_from_input_id_cached(2, extractor, **inputs)

    def whole(metrics):
        def evaluate():
            generated_features = extract_featuresdict_from_input_id_cached(1, extractor, **inputs)
            return metrics(generated_features, reference_features, extractor, "compare", fidelity_options,
                           options["dc_k"])
        return evaluate

    before, after = whole(previous_fidelity_from_features), whole(fidelity_from_features)
    after()  # fills the reference cache (features, FID statistics, radii, KID sums)
    generated_features = extract_featuresdict_from_input_id_cached(1, extractor, **inputs)
    seconds = {name: [] for name in ("whole_before", "whole_after", "features_before", "features_after")}
    values = {}

    def timed(name, function):
        start = time.perf_counter()
        values[name.split("_")[1]] = function()
        seconds[name].append(time.perf_counter() - start)

    for round_ in range(COMPARISON_ROUNDS):
        pairs = [("whole_before", before), ("whole_after", after),
                 ("features_before", lambda: previous_fidelity_from_features(
                     generated_features, reference_features, extractor, "compare", fidelity_options, options["dc_k"])),
                 ("features_after", lambda: fidelity_from_features(
                     generated_features, reference_features, extractor, "compare", fidelity_options,
                     options["dc_k"]))]
        for name, function in (pairs if round_ % 2 == 0 else pairs[::-1]):
            timed(name, function)
    # KID: torch-fidelity's float32 sums cancel badly on lenet features (values ~4e3 per kernel
    # entry, KID ~1e-2), so both are held against torch-fidelity run on float64 features.
    exact_kid = kid_featuresdict_to_metric({"features": generated_features["features"].double()},
                                           {"features": reference_features["features"].double()},
                                           "features", **fidelity_options)
    for key, value in values["before"].items():
        if key.startswith("kid"):
            exact = exact_kid[KEY_METRIC_KID_MEAN if key == "kid_mean" else KEY_METRIC_KID_STD]
            assert values["after"][key] == pytest.approx(exact, rel=1e-4, abs=1e-6), key
            assert value == pytest.approx(exact, rel=2e-2, abs=1e-3), key
        else:
            assert values["after"][key] == pytest.approx(value, rel=1e-6, abs=2 / count), key
    median = {name: statistics.median(times) for name, times in seconds.items()}
    benchmark.extra_info.update(
        seconds=seconds, items_per_round=count, unit="img",
        whole_ratio=median["whole_after"] / median["whole_before"],
        from_features_ratio=median["features_after"] / median["features_before"],
        values_before=values["before"], values_after=values["after"])
    measure(after, rounds=1, warmup=False)
