"""Image datasets: IDX files in torchvision's layout, padding, epoch permutations, clear errors,
image folders, and the mnist/fashion suites end to end at the smoke budget."""

import gzip
import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganbench.cli import FLAGS, main
from ganbench.data import DataOptions, load_dataset
from ganbench.data.images import read_idx
from ganbench.errors import UserError


def write_idx(path, array, compress=True):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        with gzip.open(f"{path}.gz", "wb") as stream:
            stream.write(data)
    else:
        path.write_bytes(data)


@pytest.fixture
def tiny_fashion(tmp_path):
    """A 40-image Fashion-MNIST test split in torchvision's layout, uncompressed IDX (a ``.gz`` under
    torchvision's name must be torchvision's file, MD5 and all)."""
    rng = np.random.default_rng(0)
    raw = tmp_path / "FashionMNIST" / "raw"
    write_idx(raw / "t10k-images-idx3-ubyte", rng.integers(0, 256, (40, 28, 28)), compress=False)
    write_idx(raw / "t10k-labels-idx1-ubyte", rng.integers(0, 10, (40,)), compress=False)
    return tmp_path


def test_idx_reader_plain_and_gzip(tmp_path):
    array = np.arange(24).reshape(2, 3, 4)
    write_idx(tmp_path / "a", array, compress=False)
    write_idx(tmp_path / "b", array, compress=True)
    assert (read_idx(tmp_path / "a") == array).all()
    assert (read_idx(tmp_path / "b.gz") == array).all()
    (tmp_path / "c").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09abc")
    with pytest.raises(UserError, match="truncated"):
        read_idx(tmp_path / "c")


def test_mnist_test_split_padding_range_and_labels(shared_data):
    native = load_dataset("mnist", DataOptions(data_root=str(shared_data), split="test"))
    padded = load_dataset("mnist", DataOptions(data_root=str(shared_data), split="test", image_size=32))
    assert len(native) == 10_000 and native.sample_shape == (1, 28, 28) and padded.sample_shape == (1, 32, 32)
    assert torch.equal(padded.images[:, :, 2:30, 2:30], native.images)
    assert padded.images[:, :, :2].sum() == 0  # black border
    assert sorted(native.labels.unique().tolist()) == list(range(10))
    batch = padded.batch(16, seed=0, iteration=1)
    assert batch.shape == (16, 1, 32, 32) and batch.min() == -1 and batch.max() == 1
    described = padded.describe()
    assert described["split"] == "test" and described["resize"] == "pad"
    assert described["files"]["t10k-images-idx3-ubyte.gz"]["md5"] == "9fb629c4189551a2d022fa330f9573f3"


def test_batches_walk_a_fresh_permutation_each_epoch(tiny_fashion):
    data = load_dataset("fashion-mnist", DataOptions(data_root=str(tiny_fashion), split="test"))
    first_epoch = torch.cat([data.batch_indices(8, seed=1, iteration=i) for i in range(1, 6)])
    second_epoch = torch.cat([data.batch_indices(8, seed=1, iteration=i) for i in range(6, 11)])
    assert sorted(first_epoch.tolist()) == list(range(40)) == sorted(second_epoch.tolist())
    assert not torch.equal(first_epoch, second_epoch)
    assert torch.equal(data.batch(8, 1, 7), data.batch(8, 1, 7))  # a pure function of (seed, iteration)
    straddling = data.batch_indices(16, seed=1, iteration=3)  # positions 32..47 cross into epoch 1
    assert len(straddling) == 16


def test_missing_files_name_path_files_and_fixes(tmp_path, shared_data):
    with pytest.raises(UserError) as error:
        load_dataset("mnist", DataOptions(data_root=str(tmp_path), split="train"))
    message = error.value.render(FLAGS)  # as the command line shows it
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "train-images-idx3-ubyte" in message and "--download" in message and "--data-root" in message
    # A folder holding only the test split's files names the other split as a fix.
    only_test = tmp_path / "only-test" / "MNIST" / "raw"
    only_test.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (only_test / name).write_bytes((shared_data / "MNIST" / "raw" / name).read_bytes())
    with pytest.raises(UserError, match="or split=test \\(those files are there\\)"):
        load_dataset("mnist", DataOptions(data_root=str(tmp_path / "only-test"), split="train"))


# Images per class of MNIST's canonical training labels (LeCun et al.), digits 0..9.
MNIST_TRAIN_CLASS_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_shared_training_split_loads(shared_data):
    """``../shared/data`` holds MNIST's training split (images uncompressed): 60,000 images with
    the canonical labels, checked by their MD5 and by the canonical count of each digit."""
    train = load_dataset("mnist", DataOptions(data_root=str(shared_data), split="train", image_size=28))
    assert train.images.shape == (60_000, 1, 28, 28) and train.images.dtype == torch.uint8
    assert torch.bincount(train.labels, minlength=10).tolist() == MNIST_TRAIN_CLASS_COUNTS
    assert train.provenance["split"] == "train"
    assert train.provenance["files"]["train-labels-idx1-ubyte.gz"]["md5"] == "d53e105ee54ea40749a09fcbcd1e9432"
    assert train.provenance["files"]["train-images-idx3-ubyte"]["md5"] == "6bbc9ace898e44ae57da46a324031adb"
    test = load_dataset("mnist", DataOptions(data_root=str(shared_data), split="test", image_size=28))
    assert len(test.images) == 10_000


def test_image_folder_with_and_without_classes(tmp_path):
    for folder in ("flat", "classes/cats", "classes/dogs"):
        (tmp_path / folder).mkdir(parents=True)
    for i in range(3):
        colour = (40 * i, 100, 200)
        Image.new("RGB", (50, 40), colour).save(tmp_path / "flat" / f"{i}.png")
        Image.new("RGB", (30, 30), colour).save(tmp_path / "classes" / ("cats" if i else "dogs") / f"{i}.jpg")
    flat = load_dataset(f"folder:{tmp_path / 'flat'}", DataOptions(image_size=16))
    assert flat.images.shape == (3, 3, 16, 16) and flat.num_classes == 1
    classes = load_dataset(f"folder:{tmp_path / 'classes'}", DataOptions())
    assert classes.images.shape == (3, 3, 64, 64) and classes.num_classes == 2
    assert sorted(classes.labels.tolist()) == [0, 0, 1]  # cats (2 images) = 0, dogs = 1
    with pytest.raises(UserError, match="does not exist"):
        load_dataset(f"folder:{tmp_path / 'nope'}", DataOptions())
    (tmp_path / "flat" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="cannot read image .*broken.png"):
        load_dataset(f"folder:{tmp_path / 'flat'}", DataOptions(image_size=8))


def test_mnist_suite_smoke_on_the_shared_test_split(shared_data, tmp_path):
    out = tmp_path / "mnist"
    assert main(["run", "--suite", "mnist", "--budget", "smoke", "--data-root", str(shared_data), "--split", "test",
                 "--out", str(out), "--no-progress"]) == 0
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert [r["variant"] for r in records] == ["fc", "dcgan", "progan", "msggan"]
    for record in records:
        assert record["status"] == "finished"
        assert record["provenance"]["data"]["split"] == "test"
        assert (out / record["artifacts"]["sample_grid"]).exists()
    by_variant = {r["variant"]: r for r in records}
    assert set(by_variant["progan"]["artifacts"]) >= {"sample_grid_4px", "sample_grid_8px", "sample_grid_16px"}
    assert by_variant["progan"]["schedule"][-1]["resolution"] == 32
    assert by_variant["fc"]["provenance"]["data"]["sample_shape"] == [1, 28, 28]
    for record in records:  # every variant is scored at 32x32 on the shipped classifier
        assert record["metrics"]["fidelity_image_size"] == 32 and record["metrics"]["fid"] > 0
        assert record["metrics"]["fidelity_samples"] == 500  # smoke's N, enough for FID-infinity's fit on 84-d
        assert 1 <= record["metrics"]["classes_covered"] <= 10
    assert by_variant["dcgan"]["provenance"]["data"]["sample_shape"] == [1, 32, 32]
    with Image.open(out / by_variant["dcgan"]["artifacts"]["sample_grid"]) as grid:
        assert grid.size == (8 * 34 + 2, 8 * 34 + 2)  # 8x8 images of 32 px with 2 px padding


def test_fashion_suite_runs_on_a_tiny_idx_dataset(tiny_fashion, tmp_path, capsys):
    out = tmp_path / "fashion"
    arguments = ["run", "--suite", "fashion", "--budget", "smoke", "--variants", "dcgan", "--split", "test",
                 "--data-root", str(tiny_fashion), "--out", str(out), "--no-progress",
                 "--set", "eval.kid_subset_size=20"]
    # No Fashion-MNIST classifier ships with ganbench: the error names the command that trains one.
    assert main(arguments) == 2
    assert "ganbench classifier train --dataset fashion-mnist" in capsys.readouterr().err
    assert main(["classifier", "train", "--dataset", "fashion-mnist", "--split", "test", "--data-root",
                 str(tiny_fashion), "--epochs", "1", "--held-out", "10", "--no-progress"]) == 0
    assert main(arguments) == 0
    record = json.loads((out / "records.jsonl").read_text())
    assert record["dataset"] == "fashion-mnist" and record["status"] == "finished"
    assert record["metrics"]["fidelity_backbone"] == "lenet" and record["metrics"]["classes_total"] == 10


def test_fashion_without_data_is_one_clear_line(tmp_path, capsys):
    assert main(["run", "--suite", "fashion", "--budget", "smoke", "--data-root", str(tmp_path),
                 "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Fashion-MNIST train split not found" in error
    assert not (tmp_path / "out").exists()


def test_kmnist_reads_torchvision_layout_padded_to_32(tmp_path):
    rng = np.random.default_rng(1)
    raw = tmp_path / "KMNIST" / "raw"
    write_idx(raw / "t10k-images-idx3-ubyte", rng.integers(0, 256, (12, 28, 28)), compress=False)
    write_idx(raw / "t10k-labels-idx1-ubyte", np.arange(12) % 10, compress=False)
    dataset = load_dataset("kmnist", DataOptions(data_root=str(tmp_path), split="test", image_size=32))
    assert dataset.images.shape == (12, 1, 32, 32)
    assert dataset.labels.tolist() == [i % 10 for i in range(12)]


def test_cifar10_without_data_is_one_clear_line(tmp_path, capsys):
    with pytest.raises(UserError, match=r"CIFAR-10 not found in .*cifar-10-batches-py .* fix: download"):
        load_dataset("cifar10", DataOptions(data_root=str(tmp_path), split="test"))
