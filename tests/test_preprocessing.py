"""The preprocessing protocol: each resize against the code it is named after (torch-fidelity's
TF1 bilinear, torch's bilinear, clean-fid's PIL bicubic), the quantisation of generated samples,
and the protocol in records' comparison keys and the backbone in metric names."""

import pytest
import torch
from torch.nn import functional as F
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

from ganbench.errors import UserError
from ganbench.metrics.backbones import BACKBONES
from ganbench.metrics.fidelity_inputs import canonical_images
from ganbench.metrics.preprocessing import (
    backbone_resize,
    canonical_size,
    preprocessing_protocol,
    quantised_samples,
)
from ganbench.report.keys import metric_header, protocol_key, protocol_text


def noise(count=2, size=28, channels=3):
    return torch.randint(0, 256, (count, channels, size, size), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(1))


def test_tf1_and_its_alias_are_torch_fidelitys_resize():
    x = noise()
    expected = interpolate_bilinear_2d_like_tensorflow1x(x.float(), size=(224, 224), align_corners=False)
    assert torch.equal(backbone_resize(x, 224, "tf1"), expected)
    assert torch.equal(backbone_resize(x, 224, "legacy_tensorflow"), expected)


def test_legacy_pytorch_is_torch_bilinear_without_antialiasing():
    x = noise()
    expected = F.interpolate(x.float(), size=(100, 100), mode="bilinear", align_corners=False).clamp(0, 255)
    assert torch.equal(backbone_resize(x, 100, "legacy_pytorch"), expected)
    assert not torch.allclose(backbone_resize(x, 100, "tf1"), expected, atol=0.5)


@pytest.mark.parametrize("size", [299, 20])
def test_clean_is_clean_fids_resize(size):
    """clean-fid's own ``clean`` resizer (PIL bicubic on float, per channel, clipped, not
    quantised) on each image, up and down; equal to float32 rounding (atol 1e-4 of 255)."""
    resize = pytest.importorskip("cleanfid.resize")
    x = noise()
    clean = resize.make_resizer("PIL", False, "bicubic", (size, size))
    expected = torch.stack([torch.from_numpy(clean(image.permute(1, 2, 0).numpy())).permute(2, 0, 1) for image in x])
    torch.testing.assert_close(backbone_resize(x, size, "clean"), expected, rtol=0, atol=1e-4)
    with pytest.raises(ValueError, match="unknown resize"):
        backbone_resize(x, size, "nearest")


def test_uint8_quantisation_is_what_ganbench_always_did_and_float_keeps_fractions():
    samples = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert torch.equal(canonical_size(quantised_samples(samples, "uint8"), 32), canonical_images(samples, 32))
    exact = canonical_size(quantised_samples(samples, "float"), 32)
    assert exact.dtype == torch.float32 and exact.shape == (4, 1, 32, 32)
    assert torch.equal(exact[:, :, :2], torch.zeros(4, 1, 2, 32))  # the MNIST family's black border
    inner = exact[:, :, 2:30, 2:30]
    torch.testing.assert_close(inner, (samples + 1) * 127.5)
    assert (inner != inner.round()).any()


def test_each_backbone_records_its_protocol_and_fixed_ones_refuse_others():
    defaults = {"resize": "tf1", "quantise": "uint8"}
    assert preprocessing_protocol(BACKBONES.get("inception"), defaults) == {"resize": "tf1", "quantise": "uint8"}
    assert preprocessing_protocol(BACKBONES.get("lenet"), defaults) == {"resize": "none", "quantise": "uint8"}
    clean = {"resize": "clean", "quantise": "float"}
    assert preprocessing_protocol(BACKBONES.get("dinov2"), clean) == clean
    assert preprocessing_protocol(BACKBONES.get("inception"), clean) == clean
    alias = {"resize": "legacy_tensorflow", "quantise": "uint8"}
    assert preprocessing_protocol(BACKBONES.get("clip"), alias) == defaults
    with pytest.raises(UserError, match=r"backbone lenet reads uint8 images with its own fixed resize \(none\)"):
        preprocessing_protocol(BACKBONES.get("lenet"), {"resize": "tf1", "quantise": "float"})


SPACES = {"dinov2": "DINOv2", "clip": "CLIP", "vgg": "VGG-16"}


def record(backbone, resize, quantise):
    return {"budget": "smoke", "metrics": {"fidelity_samples": 100, "fidelity_backbone": backbone,
                                           "fidelity_resize": resize, "fidelity_quantise": quantise,
                                           **({"fidelity_feature_space": SPACES[backbone]} if backbone in SPACES
                                              else {})}}


def test_the_preprocessing_is_part_of_the_comparison_key():
    tf1, clean = protocol_key([record("dinov2", "tf1", "uint8")]), protocol_key([record("dinov2", "clean", "uint8")])
    floats = protocol_key([record("dinov2", "tf1", "float")])
    assert len({tf1, clean, floats}) == 3
    assert dict(clean)["fidelity resize"] == "clean" and dict(floats)["fidelity quantisation"] == "float"
    assert protocol_text(clean) == "budget smoke; fidelity: dinov2, N = 100, resize clean, uint8 samples"


def test_fid_and_kid_are_named_after_the_feature_space_a_backbone_records():
    def header(key, name, backbone):
        return metric_header(key, name, protocol_key([record(backbone, "tf1", "uint8")]))

    assert header("fid", "FID", "dinov2") == "FD-DINOv2" and header("kid_mean", "KID", "clip") == "KID-CLIP"
    assert header("fid_infinity", "FID∞", "dinov2") == "FD∞-DINOv2" and header("fid", "FID", "vgg") == "FD-VGG-16"
    assert header("fid", "FID", "inception") == "FID" and header("fid", "FID", "lenet") == "FID"
    assert header("precision", "precision", "dinov2") == "precision"
    mixed = protocol_key([record("dinov2", "tf1", "uint8"), record("clip", "tf1", "uint8")])
    assert metric_header("fid", "FID", mixed) == "FID"


class Described:
    name = "mnist"

    def describe(self):
        return {"split": "test", "root": "/anywhere"}


def test_cached_reference_features_are_kept_apart_by_resize_where_the_backbone_resizes():
    from ganbench.metrics.backbones import WeightsFile
    from ganbench.metrics.fidelity_inputs import reference_cache_name

    weights = WeightsFile(None, "ab" * 32)
    for name, apart in (("dinov2", True), ("lenet", False), ("inception", True)):
        backbone = BACKBONES.get(name)
        names = {reference_cache_name(backbone, Described(), 10, 32, weights, resize)
                 for resize in ("tf1", "clean")}
        assert len(names) == (2 if apart else 1)


def test_inception_is_torch_fidelitys_on_the_default_protocol_and_its_layers_on_the_others(random_inception_weights):
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    from ganbench.metrics.inception import InceptionFeatureExtractor

    layers = ["2048", "logits_unbiased", "logits"]
    path = str(random_inception_weights)
    reference = FeatureExtractorInceptionV3("inception-v3-compat", layers, feature_extractor_weights_path=path).eval()
    ours = InceptionFeatureExtractor("ganbench-inception", layers, feature_extractor_weights_path=path).eval()
    x = noise(count=2, size=32)
    with torch.no_grad():
        expected = reference(x)
        assert all(torch.equal(a, b) for a, b in zip(ours(x), expected))
        # float images take ganbench's path through the same layers: equal on integer values (random
        # weights give features of about 1e-5: compared relatively)
        for a, b in zip(ours(x.float()), expected):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-12)
        reference.features_list = ours.features_list = ["768", "logits"]
        for a, b in zip(ours(x.float()), reference(x)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-12)
        ours.resize = "clean"
        got, expected = ours(x)[0], reference(x)[0]
        assert (got - expected).abs().max() > 0.01 * expected.abs().max()
