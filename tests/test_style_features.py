"""The VGG feature network: layer names, equality with torchvision's layers, pooling, and where
its weights come from (files these tests write: random weights of the right architecture)."""

import hashlib

import pytest
import torch
import torchvision
from torch import nn

from ganbench.errors import UserError
from ganbench.style.features import (
    check_layers,
    feature_network,
    hub_weights_path,
    layer_names,
    random_state,
    resolve_weights,
)

CPU = torch.device("cpu")


def test_layer_names_follow_the_papers_numbering():
    names = layer_names("vgg19")
    assert len(names) == len(torchvision.models.vgg19().features)
    # torchvision's features[21] and [22] are VGG-19's conv4_2 and relu4_2 (Gatys' content layer).
    assert (names[21], names[22]) == ("conv4_2", "relu4_2")
    assert [names.index(f"relu{block}_1") for block in range(1, 6)] == [1, 6, 11, 20, 29]
    assert layer_names("vgg16")[-1] == "pool5" and "conv5_4" not in layer_names("vgg16")


def test_unknown_layer_names_list_the_accepted_ones():
    check_layers("vgg19", ["relu4_2", "conv5_4"], "style.style_layers")
    with pytest.raises(UserError, match="VGG-16 has no layer 'conv5_4'; choose from: conv1_1, relu1_1,"):
        check_layers("vgg16", ["conv5_4"], "style.style_layers")


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_features_equal_torchvisions_layers_with_imagenet_normalisation(arch):
    weights = resolve_weights(arch, "random", None)
    network = feature_network(weights, "max", "relu5_1", CPU)
    reference = getattr(torchvision.models, arch)().features
    reference.load_state_dict(random_state(arch))
    image = torch.rand(1, 3, 32, 32)
    normalised = (image - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
        [0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    names = layer_names(arch)
    found = network(image, ["conv4_2", "relu5_1"])
    for layer in ("conv4_2", "relu5_1"):
        # conv4_2 is read before its ReLU: the extractor's ReLUs must not work in place.
        expected = reference[: names.index(layer) + 1](normalised.clone())
        assert torch.allclose(found[layer], expected, atol=1e-5)
    assert (found["conv4_2"] < 0).any()


def test_average_pooling_replaces_max_pooling_and_weights_are_frozen():
    weights = resolve_weights("vgg19", "random", None)
    network = feature_network(weights, "avg", "relu5_1", CPU)
    pools = [m for m in network.modules() if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d))]
    assert len(pools) == 4 and all(isinstance(m, nn.AvgPool2d) for m in pools)
    assert not any(p.requires_grad for p in network.parameters())
    assert list(dict(network.layers.named_children()))[-1] == "relu5_1"


def test_random_weights_are_the_same_network_every_time():
    again = random_state.__wrapped__("vgg16")  # drawn afresh, past the cache
    assert all(torch.equal(a, b) for a, b in zip(random_state("vgg16").values(), again.values()))


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory):
    """A torchvision-layout VGG-16 state dict (features.<i>.*, plus a classifier entry) of random weights."""
    path = tmp_path_factory.mktemp("weights") / "my-vgg16.pth"
    state = {f"features.{key}": value.clone() for key, value in random_state("vgg16").items()}
    state["classifier.0.bias"] = torch.zeros(4096)
    torch.save(state, path)
    return path


def test_missing_weights_name_every_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(UserError) as error:
        resolve_weights("vgg19", "imagenet", None)
    message = str(error.value)
    assert "\n" not in message
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth") in message
    assert "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth" in message
    assert "--vgg-weights PATH" in message and "--set style.weights=random" in message


def test_hub_cache_file_is_found_and_identified_by_its_hash(vgg16_file, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cached = hub_weights_path("vgg16")
    assert cached.name == "vgg16-397923af.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(vgg16_file.read_bytes())
    weights = resolve_weights("vgg16", "imagenet", None)
    assert weights.path == str(cached.resolve())
    assert weights.sha256 == hashlib.sha256(cached.read_bytes()).hexdigest()
    assert "ImageNet weights vgg16-397923af.pth" in weights.describe()


def test_vgg_weights_file_is_loaded_into_the_network(vgg16_file, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    weights = resolve_weights("vgg16", "imagenet", vgg16_file)
    network = feature_network(weights, "max", "conv1_1", CPU)
    assert torch.equal(network.layers.conv1_1.weight, random_state("vgg16")["0.weight"])
    # The file holds VGG-16, so a VGG-19 run looks in the (empty) hub cache and says why it fails.
    with pytest.raises(UserError, match="--vgg-weights holds the other VGG; none in the torch hub cache"):
        resolve_weights("vgg19", "imagenet", vgg16_file)


def test_bad_weight_files_and_contradictions_are_one_line_errors(tmp_path):
    wrong = tmp_path / "wrong.pth"
    torch.save({"features.0.weight": torch.zeros(3, 3, 3, 3)}, wrong)
    with pytest.raises(UserError, match="does not hold the features of torchvision's VGG-16 or VGG-19"):
        resolve_weights("vgg19", "imagenet", wrong)
    garbage = tmp_path / "garbage.pth"
    garbage.write_text("not a checkpoint")
    with pytest.raises(UserError, match="cannot read VGG weights"):
        resolve_weights("vgg19", "imagenet", garbage)
    with pytest.raises(UserError, match="is not a file"):
        resolve_weights("vgg19", "imagenet", tmp_path / "missing.pth")
    with pytest.raises(UserError, match="contradict"):
        resolve_weights("vgg19", "random", wrong)
