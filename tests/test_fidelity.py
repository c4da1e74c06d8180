"""Fidelity metrics on cases whose answers follow from the definitions, agreement with
torch-fidelity called directly, the reference-feature cache, and the canonical evaluation size."""

import math

import pytest
import torch
import torch_fidelity

from ganbench.data import DataOptions, load_dataset
from ganbench.gan.sampling import SampleSet
from ganbench.metrics import EVALUATION_SETTINGS, EvaluationContext
from ganbench.metrics.backbones import BACKBONES, LENET_EXTRACTOR, LeNetFeatureExtractor, WeightsFile, classifier_path
from ganbench.metrics.classifier import read_metadata
from ganbench.metrics import feature_metrics, fidelity
from ganbench.metrics.feature_metrics import density_coverage, fid_uncertainty
from ganbench.metrics.fidelity import Fidelity, fidelity_from_features, fidelity_of_images, torch_fidelity_options
from ganbench.metrics.fidelity_inputs import canonical_images
from ganbench.stats import fid_from_features
from ganbench.report.display import display_table
from ganbench.report.tables import summarize
from ganbench.settings import resolve

LENET = BACKBONES.get("lenet")


def settings(**overrides):
    return resolve(EVALUATION_SETTINGS, "eval", {"backbone": "lenet", **overrides})


def lenet_weights():
    """The shipped MNIST classifier."""
    path = classifier_path("mnist")
    return WeightsFile(path, read_metadata(path)["weights_sha256"])


def from_features(generated, reference, k=5, **overrides):
    """Every fidelity number of two (N, d) feature sets, with made-up logits for IS."""
    options = torch_fidelity_options(settings(**{"kid_subsets": 10, **overrides}), LENET, lenet_weights(), cuda=False)
    as_dict = lambda features: {"features": features.float(), "logits": features[:, :2].float()}  # noqa: E731
    return fidelity_from_features(as_dict(generated), as_dict(reference), None, None, options, k)


def test_identical_sets_give_density_k_plus_one_over_k_and_full_coverage():
    features = torch.randn(400, 8, generator=torch.Generator().manual_seed(0))
    for k in (1, 3, 5):
        values = density_coverage(features, features, k)
        # Each real sample's ball holds itself and its k nearest neighbours: (k + 1) M hits / (k M).
        assert values["density"] == pytest.approx((k + 1) / k)
        assert values["coverage"] == 1.0


def test_same_distribution_matches_the_expectations_of_naeem_et_al():
    generator = torch.Generator().manual_seed(1)
    real, fake, k = torch.randn(2000, 6, generator=generator), torch.randn(2000, 6, generator=generator), 5
    values = density_coverage(fake, real, k)
    # Naeem et al. 2020: E[density] = 1 and E[coverage] = 1 - prod_{i=1..k} (N - i) / (M + N - i).
    expected_coverage = 1 - math.prod((2000 - i) / (4000 - i) for i in range(1, k + 1))
    assert values["density"] == pytest.approx(1.0, abs=0.05)
    assert values["coverage"] == pytest.approx(expected_coverage, abs=0.015)


def test_density_and_coverage_by_hand():
    reference = torch.tensor([[0.0], [1.0], [3.0]])
    # k = 1 radii: 1 (to 1), 1 (to 0), 2 (to 1). Point 0.5 lies in the balls of 0 and 1; point 4.9 in
    # that of 3 (|4.9 - 3| = 1.9 <= 2); point 10 in none.
    values = density_coverage(torch.tensor([[0.5], [4.9], [10.0]]), reference, 1)
    assert values["density"] == pytest.approx(3 / 3)
    assert values["coverage"] == pytest.approx(3 / 3)
    values = density_coverage(torch.tensor([[10.0], [11.0]]), reference, 1)
    assert values == {"density": 0.0, "coverage": 0.0}


def gaussian_sample(mean, variances, count, generator):
    """``count`` points whose sample mean is ``mean`` and whose sample covariance (ddof 1) is
    diag(``variances``) exactly: standard normal draws, whitened, then scaled and shifted."""
    z = torch.randn(count, len(mean), generator=generator, dtype=torch.float64)
    z = z - z.mean(dim=0)
    whitening = torch.linalg.cholesky(torch.cov(z.T)).inverse().T
    return mean + (z @ whitening) * variances.sqrt()


def test_two_gaussians_have_the_closed_form_fid():
    generator = torch.Generator().manual_seed(2)
    mean_a, mean_b = torch.tensor([0.0, 1.0, 0.0, 2.0]), torch.tensor([1.0, 1.0, -1.0, 2.0])
    var_a, var_b = torch.tensor([1.0, 4.0, 0.25, 1.0]), torch.tensor([4.0, 1.0, 1.0, 1.0])
    a = gaussian_sample(mean_a.double(), var_a.double(), 1500, generator)
    b = gaussian_sample(mean_b.double(), var_b.double(), 1500, generator)
    # Diagonal covariances: FID = |mu_a - mu_b|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2 = 2 + (1 + 1 + 0.25) = 4.25.
    # rel 1e-5: the samples have these moments exactly (whitened in float64); from_features rounds
    # them to float32, and only that rounding separates the value from 4.25, on any CPU.
    assert from_features(a, b)["fid"] == pytest.approx(4.25, rel=1e-5)
    same = from_features(a, gaussian_sample(mean_a.double(), var_a.double(), 1500, generator))
    assert same["fid"] == pytest.approx(0.0, abs=1e-4)


def test_a_collapsed_generator():
    reference = torch.randn(500, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    point = torch.full((8,), 10.0, dtype=torch.float64)  # far from every real sample
    values = from_features(point.repeat(500, 1), reference, kid_subset_size=250, kid_subsets=5)
    # FID: the covariance of G is 0, so FID = |c - mu_R|^2 + Tr(S_R).
    expected = float(((point - reference.mean(0)) ** 2).sum() + torch.cov(reference.T).trace())
    assert values["fid"] == pytest.approx(expected, rel=1e-5)
    assert values["precision"] == 0.0 and values["density"] == 0.0 and values["coverage"] == 0.0
    assert values["recall"] == 0.0


@pytest.mark.parametrize(("classes", "expected"), [(range(10), 10.0), ([7], 1.0)])
def test_one_hot_predictions_give_the_inception_score_of_their_class_balance(classes, expected):
    labels = torch.tensor(list(classes)).repeat(1000 // len(classes))
    logits = 100.0 * torch.nn.functional.one_hot(labels, 10).double()
    options = torch_fidelity_options(settings(is_splits=1, kid_subsets=2), LENET, lenet_weights(), cuda=False)
    features = {"features": torch.randn(len(labels), 4), "logits": logits}
    # H(y|x) = 0, so IS = exp(H(y)): 10 for balanced classes, 1 for a single class.
    assert fidelity_from_features(features, features, None, None, options, 5)["is_mean"] == pytest.approx(expected)


def test_lenet_logits_of_stacked_digits_are_joint_log_probabilities():
    extractor = LeNetFeatureExtractor(LENET_EXTRACTOR, ["features", "logits"],
                                      feature_extractor_weights_path=str(classifier_path("mnist")))
    images = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    features, joint = extractor(images)
    assert features.shape == (5, 3 * 84) and joint.shape == (5, 1000)
    single = [extractor(images[:, c:c + 1])[1] for c in range(3)]
    assert torch.allclose(joint[:, 123], single[0][:, 1] + single[1][:, 2] + single[2][:, 3], atol=1e-5)
    assert torch.allclose(joint.exp().sum(dim=1), torch.ones(5), atol=1e-4)


def images_pair(count=600):
    generator = torch.Generator().manual_seed(4)
    reference = torch.zeros(count, 1, 32, 32, dtype=torch.uint8)
    reference[:, :, 8:24, 8:24] = torch.randint(0, 256, (count, 1, 16, 16), generator=generator, dtype=torch.uint8)
    generated = torch.randint(0, 256, (count, 1, 32, 32), generator=generator, dtype=torch.uint8) // 2
    return generated, reference


@pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")  # torch-fidelity's default workers
def test_agrees_with_torch_fidelity_called_directly():
    generated, reference = images_pair()
    options = settings(kid_subset_size=200, kid_subsets=20)
    weights = lenet_weights()
    ours = fidelity_of_images(generated, reference, None, LENET, weights, options, cuda=False)

    class Images(torch.utils.data.Dataset):
        def __init__(self, images):
            self.images = images

        def __len__(self):
            return len(self.images)

        def __getitem__(self, index):
            return self.images[index]

    direct = torch_fidelity.calculate_metrics(
        input1=Images(generated), input2=Images(reference), isc=True, fid=True, kid=True, prc=True, cuda=False,
        feature_extractor=LENET_EXTRACTOR, feature_extractor_weights_path=str(weights.path), verbose=False,
        kid_subset_size=200, kid_subsets=20, cache=False,
    )
    pairs = {"fid": "frechet_inception_distance", "is_mean": "inception_score_mean", "is_std": "inception_score_std",
             "kid_mean": "kernel_inception_distance_mean", "kid_std": "kernel_inception_distance_std",
             "precision": "precision", "recall": "recall"}
    # FID and IS come from torch-fidelity's own functions on the same features, precision/recall
    # are counts of the same distance comparisons: 1e-5 leaves room for float32 feature extraction
    # in another batch order only. KID: torch-fidelity computes its kernels in float32, ganbench
    # in float64 (exact agreement on float64 features: test_kid_equals_torch_fidelity_on_float64_
    # features_to_1e_6), so they differ by torch-fidelity's rounding, measured up to 1.7e-4
    # relative on 10,000 lenet features; 1e-3 bounds it on an Intel Xeon and an AMD EPYC.
    for ours_key, theirs in pairs.items():
        rel = 1e-3 if ours_key.startswith("kid") else 1e-5
        assert ours[ours_key] == pytest.approx(direct[theirs], rel=rel, abs=1e-9), ours_key
    assert ours["fid"] > 1.0  # the two sets differ
    assert ours["fid_ci_low"] < ours["fid"] < ours["fid_ci_high"]  # the default bootstrap, 200 resamples
    assert ours["fid_ci_resamples"] == 200


def test_kid_equals_torch_fidelity_on_float64_features_to_1e_6():
    """KID on lenet-like features (84-d, non-negative, kernel entries ~4e3 as on lenet features,
    against a KID of ~1e-1, so the kernel sums cancel to 4-5 digits) equals torch-fidelity's
    ``kid_features_to_metric`` run on float64 features to 1e-6 relative,
    whether the features come as float32 or float64: the kernels are float64, so the value
    does not depend on the CPU's float32 matmul kernels (1.7e-4 relative between an Intel Xeon and an
    AMD EPYC with float32 kernels). 1e-6 leaves room only for float64 summation order."""
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    generator = torch.Generator().manual_seed(3)
    reference = torch.relu(torch.randn(2000, 84, generator=generator) * 2 + 3.8)
    generated = torch.relu(torch.randn(2000, 84, generator=generator) * 2 + 3.8) * 1.01
    options = torch_fidelity_options(settings(kid_subset_size=1000, kid_subsets=20), LENET, lenet_weights(),
                                     cuda=False)
    exact = kid_features_to_metric(generated.double(), reference.double(), **options)
    kernel_mean = float(((reference @ reference.T / 84 + 1) ** 3).mean())
    assert 3e3 < kernel_mean and abs(exact[KEY_METRIC_KID_MEAN]) < 1e-3 * kernel_mean
    for dtype in (torch.float32, torch.float64):
        ours = feature_metrics.kid(generated.to(dtype), reference.to(dtype), options)
        assert ours["kid_mean"] == pytest.approx(exact[KEY_METRIC_KID_MEAN], rel=1e-6), dtype
        assert ours["kid_std"] == pytest.approx(exact[KEY_METRIC_KID_STD], rel=1e-6), dtype


def test_second_evaluation_reads_reference_features_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path))
    images_seen = []
    forward = LeNetFeatureExtractor.forward
    monkeypatch.setattr(LeNetFeatureExtractor, "forward",
                        lambda self, images: images_seen.append(len(images)) or forward(self, images))
    generated, reference = images_pair(300)
    options = settings(kid_subset_size=100, kid_subsets=5)
    first = fidelity_of_images(generated, reference, "test-reference", LENET, lenet_weights(), options, cuda=False)
    assert sum(images_seen) == 600
    assert sorted(p.name.split("-features-")[-1] for p in (tmp_path / "fidelity").glob("*-features-*")) == \
        ["features.pt", "logits.pt"]
    kept = [p.name[len("test-reference-"):] for p in (tmp_path / "fidelity").glob("test-reference-*")]
    assert any(name.startswith("knn-radii-k3-k5") for name in kept), kept  # pr_k, dc_k
    assert any(name.startswith("kid-reference-sums-float64-n300-5-100-") for name in kept), kept
    images_seen.clear()
    second = fidelity_of_images(generated, reference, "test-reference", LENET, lenet_weights(), options, cuda=False)
    assert sum(images_seen) == 300  # the generated samples only
    assert second == first
    radii = feature_metrics.knn_radii
    for module in (fidelity, feature_metrics):  # the reference's radii (fidelity), the generated's
        monkeypatch.setattr(module, "knn_radii", lambda features, ks, *rest: (
            images_seen.append(("radii", len(features))), radii(features, ks, *rest))[1])
    images_seen.clear()
    fidelity_of_images(generated, reference, "test-reference", LENET, lenet_weights(), options, cuda=False)
    # the generated features and their radii only (the reference's come from the cache)
    assert sum(n for n in images_seen if isinstance(n, int)) == 300 and ("radii", 300) in images_seen
    assert len([n for n in images_seen if not isinstance(n, int)]) == 1


def test_canonical_images_quantise_like_the_loader_and_pad_28_to_32():
    real = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    as_generated = real.float() / 127.5 - 1.0  # what ImageDataset hands the trainer
    canonical = canonical_images(as_generated, 32)
    assert canonical.dtype == torch.uint8 and canonical.shape == (4, 1, 32, 32)
    assert torch.equal(canonical[:, :, 2:30, 2:30], real)
    assert canonical[:, :, :2].sum() == 0 and canonical[:, :, :, 30:].sum() == 0


def replay_context(gan, dataset, data_options, tmp_path, **overrides):
    return EvaluationContext(SampleSet(gan, 0, 256), dataset, data_options, 0, torch.device("cpu"), tmp_path,
                             settings(**overrides))


def test_fc_and_conv_sized_samples_of_the_reference_score_as_the_reference(shared_data, tmp_path, replay_gan):
    """A 28x28 generator (fc) and a 32x32 one (conv) replaying the real reference set both get FID
    ~0, precision = recall = coverage = 1: every variant is evaluated at the canonical 32x32."""
    overrides = {"samples": 1000, "reference_samples": 1000, "kid_subset_size": 500, "kid_subsets": 5}
    records = []
    for size in (None, 32):
        options = DataOptions(data_root=str(shared_data), split="test", image_size=size)
        dataset = load_dataset("mnist", options)
        reference = dataset.reference(1000)
        values = Fidelity().evaluate(replay_context(replay_gan(reference), dataset, options, tmp_path, **overrides))
        assert values["fid"] == pytest.approx(0.0, abs=0.01)
        assert values["precision"] == values["recall"] == values["coverage"] == 1.0
        assert values["density"] == pytest.approx(6 / 5, abs=0.01)
        assert (values["fidelity_samples"], values["fidelity_reference_samples"]) == (1000, 1000)
        assert values["fidelity_backbone"] == "lenet" and values["fidelity_image_size"] == 32
        assert values["fidelity_weights_sha256"] == lenet_weights().sha256
        records.append(values)
    assert records[0]["fid"] == pytest.approx(records[1]["fid"], abs=1e-6)


def test_the_fid_column_names_its_sample_count():
    def record(run_id, variant, samples):
        return {"run_id": run_id, "suite": "s", "variant": variant, "dataset": "mnist", "budget": "quick", "seed": 0,
                "status": "finished", "metrics": {"fid": 12.5, "fidelity_samples": samples}, "throughput": {}}

    table = display_table(summarize([record("a", "fc", 10_000), record("b", "dcgan", 10_000)]))
    assert "FID (N = 10,000) ↓" in table.columns
    table = display_table(summarize([record("a", "fc", 10_000), record("b", "dcgan", 5_000)]))
    assert list(table["FID ↓"]) == ["12.5 (N = 10,000)", "12.5 (N = 5,000)"]


def test_nan_features_are_one_clear_error_never_a_silent_number():
    reference = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    generated = reference.clone()
    generated[7, 2] = math.nan
    with pytest.raises(ValueError, match="1 of 50 generated feature rows are NaN or infinite"):
        density_coverage(generated, reference, 3)
    broken_reference = reference.clone()
    broken_reference[0, 0] = math.inf
    with pytest.raises(ValueError, match="1 of 50 reference feature rows"):
        density_coverage(reference, broken_reference, 3)
    with pytest.raises(ValueError, match="generated .* feature rows are NaN"):
        from_features(generated, reference)


def gaussian_features(count, dim, seed, shift=0.0):
    return torch.randn(count, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


def test_fid_bootstrap_interval_surrounds_the_n_sample_fid_and_is_seeded():
    generated, reference = gaussian_features(1000, 6, 1, shift=0.3), gaussian_features(4000, 6, 2)
    values = fid_uncertainty(generated, reference, resamples=100, points=0, seed=0)
    fid = fid_from_features(generated.numpy(), reference.numpy())
    assert values["fid_ci_low"] < fid < values["fid_ci_high"]
    assert values["fid_ci_method"] == "bias-shifted percentile bootstrap" and values["fid_ci_resamples"] == 100
    assert "fid_infinity" not in values
    # The spread of a 1,000-sample FID of a mean shift of 0.3 in 6 dimensions (FID ~ 0.54) is ~0.1.
    assert 0.05 < values["fid_ci_high"] - values["fid_ci_low"] < 0.5
    assert fid_uncertainty(generated, reference, 100, 0, seed=0) == values
    assert fid_uncertainty(generated, reference, 100, 0, seed=1) != values


def test_fid_infinity_removes_the_bias_of_finite_n():
    """Generated and reference features from one distribution: the true FID is 0, FID at N is
    biased upward by about (slope / N); the fit's intercept is near 0, far below FID at N."""
    dim = 16
    reference = gaussian_features(200_000, dim, 3)
    generated = gaussian_features(5000, dim, 4)
    values = fid_uncertainty(generated, reference, resamples=0, points=10, seed=0)
    points = values["fid_infinity_points"]
    assert [n for n, _ in points] == [1000, 1444, 1889, 2333, 2778, 3222, 3667, 4111, 4556, 5000]
    assert points[-1][1] == pytest.approx(fid_from_features(generated.numpy(), reference.numpy()))
    # Bias of FID at N for d-dimensional N(0, I): about (d + d (d + 1) / 4) / N = 84 / N, 0.017 at 5,000.
    assert points[0][1] > points[-1][1] > 0.01
    assert 50 < values["fid_infinity_slope"] < 120  # about 84
    assert abs(values["fid_infinity"]) < 0.3 * points[-1][1]
    assert "fid_ci_low" not in values
