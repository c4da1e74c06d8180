"""The lenet classifier: its training command, held-out split, metadata and checksum, and the
shipped MNIST weights."""

import json

import pytest
import torch

from ganbench.cli import FLAGS, main
from ganbench.data import DataOptions, load_dataset
from ganbench.data.images import ImageDataset
from ganbench.errors import UserError
from ganbench.metrics import EVALUATION_SETTINGS
from ganbench.metrics.backbones import ASSETS, BACKBONES, classifier_path
from ganbench.metrics.classifier import (
    INPUT_SIZE,
    TrainingPlan,
    held_out_accuracy,
    load_classifier,
    predict_modes,
    read_metadata,
    sha256_bytes,
    sha256_file,
    shift_randomly,
    split_indices,
)
from ganbench.settings import resolve


@pytest.fixture(scope="module")
def trained(synthetic_mnist, tmp_path_factory):
    out = tmp_path_factory.mktemp("classifier") / "lenet.pt"
    code = main(["classifier", "train", "--dataset", "mnist", "--data-root", str(synthetic_mnist), "--out", str(out),
                 "--epochs", "8", "--held-out", "100", "--no-progress"])
    assert code == 0
    return out


def test_train_command_writes_weights_with_their_checksum_and_how_they_were_made(trained, synthetic_mnist):
    metadata = json.loads(trained.with_suffix(".json").read_text())
    assert metadata["weights_sha256"] == sha256_file(trained)
    assert (metadata["dataset"], metadata["data"]["split"], metadata["classes"]) == ("mnist", "train", 10)
    assert (metadata["train_samples"], metadata["held_out_samples"]) == (500, 100)
    assert metadata["plan"]["epochs"] == 8 and metadata["command"]  # the process's command line
    assert "root" not in metadata["data"]
    # The synthetic classes are squares at 10 places: easy, but only if training works.
    assert metadata["held_out_accuracy"] > 0.9
    assert read_metadata(trained)["held_out_accuracy"] == metadata["held_out_accuracy"]


def test_changed_weights_fail_their_checksum(trained, tmp_path):
    copy = tmp_path / "lenet.pt"
    copy.write_bytes(trained.read_bytes() + b"\0")
    copy.with_suffix(".json").write_text(trained.with_suffix(".json").read_text())
    with pytest.raises(UserError, match="sha256 .* not the .* recorded in lenet.json"):
        load_classifier(copy)


def test_held_out_part_is_fixed_and_never_trained_on():
    plan = TrainingPlan(held_out=100, seed=3)
    train, held = split_indices(600, plan)
    assert len(held) == 100 and len(train) == 500
    assert set(train.tolist()).isdisjoint(held.tolist())
    assert sorted(train.tolist() + held.tolist()) == list(range(600))
    assert torch.equal(held, split_indices(600, plan)[1])
    with pytest.raises(UserError, match="held_out must be between 1 and 599"):
        split_indices(600, TrainingPlan(held_out=600))


def test_random_shifts_move_the_whole_digit_at_most_max_shift_pixels():
    images = torch.zeros(50, 1, 32, 32, dtype=torch.uint8)
    images[:, :, 15, 16] = 255
    shifted = shift_randomly(images, 2, torch.Generator().manual_seed(0))
    rows, columns = (shifted[:, 0] == 255).nonzero()[:, 1:].T
    assert len(rows) == 50  # one bright pixel per image, nothing lost at this margin
    assert (rows - 15).abs().max() == 2 and (columns - 16).abs().max() == 2
    assert len({(r, c) for r, c in zip(rows.tolist(), columns.tolist())}) > 10


def test_shipped_mnist_classifier_is_intact_and_its_recorded_accuracy_reproduces(shared_data):
    path = classifier_path("mnist")
    assert path.parent == ASSETS and path.stat().st_size < 1_000_000
    metadata = read_metadata(path)  # checks the sha256
    assert metadata["held_out_accuracy"] >= 0.98
    dataset = load_dataset("mnist", DataOptions(data_root=str(shared_data), split=metadata["data"]["split"],
                                                image_size=INPUT_SIZE))
    assert isinstance(dataset, ImageDataset)
    _, held = split_indices(len(dataset), TrainingPlan(**metadata["plan"]))
    assert metadata["held_out_indices_sha256"] == sha256_bytes(held.sort().values.numpy().tobytes())
    accuracy = held_out_accuracy(load_classifier(path), dataset.images[held], dataset.labels[held], 1000)
    assert accuracy == pytest.approx(metadata["held_out_accuracy"], abs=1 / len(held))  # thread count may flip one


def test_a_dataset_without_a_classifier_names_the_command_that_trains_one(synthetic_mnist):
    dataset = load_dataset("mnist", DataOptions(data_root=str(synthetic_mnist), image_size=32))
    dataset = ImageDataset("fashion-mnist", dataset.images, dataset.labels, 10, {})
    options = resolve(EVALUATION_SETTINGS, "eval", {"backbone": "lenet"})
    with pytest.raises(UserError) as error:
        BACKBONES.get("lenet").locate(dataset, options, False)
    assert "train one with `ganbench classifier train --dataset fashion-mnist`" in error.value.render(FLAGS)
    with pytest.raises(UserError, match="lenet reads the MNIST family .* not cifar10"):
        BACKBONES.get("lenet").locate(ImageDataset("cifar10", dataset.images, dataset.labels, 10, {}), options, False)
    with pytest.raises(UserError, match="eval.image_size=32"):
        BACKBONES.get("lenet").locate(dataset, {**options, "image_size": 64}, False)


@pytest.mark.parametrize(("arguments", "message"), [
    (["--dataset", "cifar10"], "no classifier for dataset 'cifar10'; choose one of: mnist, fashion-mnist, kmnist"),
    (["--epochs", "0"], "--epochs must be a positive number of passes, got 0"),
])
def test_bad_classifier_arguments_are_one_error_line(arguments, message, capsys, tmp_path):
    assert main(["classifier", "train", *arguments, "--out", str(tmp_path / "c.pt")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error
    assert not (tmp_path / "c.pt").exists()


class ThresholdClassifier(torch.nn.Module):
    """Predicts class = the mean brightness of a channel in tenths (0..9)."""

    head = torch.nn.Linear(1, 10)

    def forward(self, images):
        level = (images.float().mean(dim=(1, 2, 3)) / 25.6).long().clamp(0, 9)
        return torch.nn.functional.one_hot(level, 10).float()


def test_modes_of_stacked_images_are_the_number_their_digits_spell():
    levels = torch.tensor([[1, 2, 3], [9, 0, 0], [0, 0, 7]])
    images = (levels[:, :, None, None] * 25.6 + 5).to(torch.uint8).expand(-1, -1, 32, 32)
    assert predict_modes(ThresholdClassifier(), images).tolist() == [123, 900, 7]
    assert predict_modes(ThresholdClassifier(), images[:, 1:2]).tolist() == [2, 0, 0]
