"""Data integrity: a damaged MNIST or CIFAR-10 file is one error line naming the file, what is wrong
and --download, with nothing written; intact files pass, hashed once (torchvision's MD5s, cached)."""

import gzip
import json
import pickle
import shutil

import numpy as np
import pytest
import torch

from ganbench.cli import FLAGS, main
from ganbench.data import DataOptions, integrity, load_dataset
from ganbench.errors import UserError, render

IMAGES = "t10k-images-idx3-ubyte.gz"
LABELS = "t10k-labels-idx1-ubyte.gz"
REAL_MD5 = {IMAGES: "9fb629c4189551a2d022fa330f9573f3", LABELS: "ec29112dd5afa0611ce80d1b7f02629c"}


@pytest.fixture
def mnist_copy(shared_data, tmp_path):
    """A writable copy of the real MNIST test split (gzipped IDX): the data root and its raw folder."""
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in (IMAGES, LABELS):
        shutil.copyfile(shared_data / "MNIST" / "raw" / name, raw / name)
    return tmp_path / "data", raw


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def randomise(path):
    """The same number of random bytes (seeded; they do not start with the gzip signature)."""
    data = np.random.default_rng(0).integers(0, 256, path.stat().st_size, dtype=np.uint8).tobytes()
    assert not data.startswith(b"\x1f\x8b")
    path.write_bytes(data)


def keep_two_bytes(path):
    path.write_bytes(path.read_bytes()[:2])


def change_one_pixel(path):
    """A valid gzipped IDX file of the right shape whose content is not the original's."""
    content = bytearray(gzip.decompress(path.read_bytes()))
    content[-1] ^= 0xFF
    path.write_bytes(gzip.compress(bytes(content)))


CORRUPTIONS = {  # file, how it is damaged, what the error says about it
    "truncated": (IMAGES, truncate, "is truncated (its gzip stream ends after 824,438 bytes"),
    "random-bytes": (IMAGES, randomise, "is not a gzip file"),
    "two-byte-labels": (LABELS, keep_two_bytes, "is truncated (its gzip stream ends after 2 bytes"),
    "checksum-mismatch": (IMAGES, change_one_pixel, "is not the original MNIST file (md5 "),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_damaged_mnist_file_is_one_error_line_naming_it_and_download(corruption, mnist_copy, tmp_path, capsys):
    root, raw = mnist_copy
    name, damage, problem = CORRUPTIONS[corruption]
    damage(raw / name)
    out = tmp_path / "out"
    assert main(["run", "--suite", "mnist", "--data-root", str(root), "--split", "test", "--budget", "smoke",
                 "--out", str(out), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.endswith("\n")
    assert error.startswith(f"ganbench: error: {raw / name} {problem}")
    assert error.rstrip("\n").endswith(
        "; delete it and fetch it again with --download (or replace it with the original)")
    if corruption == "checksum-mismatch":
        assert f"torchvision's is {REAL_MD5[IMAGES]}" in error
    assert not out.exists()


def test_torchvision_lists_the_md5s_of_every_file_ganbench_reads():
    for class_name in ("MNIST", "FashionMNIST", "KMNIST"):
        known = integrity.torchvision_md5s(class_name)
        for split in ("train", "t10k"):
            assert {f"{split}-images-idx3-ubyte.gz", f"{split}-labels-idx1-ubyte.gz"} <= set(known)
    assert REAL_MD5.items() <= integrity.torchvision_md5s("MNIST").items()
    assert {f"data_batch_{i}" for i in range(1, 6)} | {"test_batch"} <= set(integrity.torchvision_md5s("CIFAR10"))
    assert integrity.torchvision_md5s("NoSuchDataset") == {}


def test_intact_files_pass_and_are_hashed_once(mnist_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    hashed = []
    real_md5_hex = integrity.md5_hex

    def counting_md5_hex(data):
        hashed.append(len(data))
        return real_md5_hex(data)

    monkeypatch.setattr(integrity, "md5_hex", counting_md5_hex)
    root, raw = mnist_copy
    options = DataOptions(data_root=str(root), split="test")
    load_dataset.cache_clear()
    first = load_dataset("mnist", options)
    assert len(first) == 10_000 and len(hashed) == 2
    assert first.describe()["files"] == {name: {"md5": md5} for name, md5 in REAL_MD5.items()}
    cache = json.loads((tmp_path / "cache" / integrity.CACHE_NAME).read_text())
    entry = cache["files"][str((raw / IMAGES).resolve())]
    assert entry == {"size": (raw / IMAGES).stat().st_size, "mtime_ns": (raw / IMAGES).stat().st_mtime_ns,
                     "md5": REAL_MD5[IMAGES]}

    load_dataset.cache_clear()  # a later load (another process, say): no file is hashed again
    second = load_dataset("mnist", options)
    assert len(hashed) == 2 and torch.equal(second.images, first.images)
    assert second.describe()["files"] == first.describe()["files"]

    randomise(raw / IMAGES)  # same size, new modification time: checked again
    load_dataset.cache_clear()
    with pytest.raises(UserError, match="is not a gzip file"):
        load_dataset("mnist", options)
    assert len(hashed) == 3


def test_an_unreadable_cache_is_ignored_and_rewritten(mnist_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / integrity.CACHE_NAME).write_text("{not json")
    root, _ = mnist_copy
    load_dataset.cache_clear()
    assert len(load_dataset("mnist", DataOptions(data_root=str(root), split="test"))) == 10_000
    assert len(json.loads((tmp_path / "cache" / integrity.CACHE_NAME).read_text())["files"]) == 2


def write_plain_idx(path, array, extra=b""):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + array.astype(np.uint8).tobytes() + extra)


@pytest.mark.parametrize(("damage", "problem"), [
    ("short", "is truncated (7,448 of 9,408 bytes)"),
    ("long", "has 5 bytes more than its IDX header declares (shape 12x28x28)"),
    ("flat", "holds an array of shape 9408, not images (N, H, W)"),
    ("magic", "is not an IDX file of unsigned bytes (it starts with 00 00 0d 03, not 00 00 08)"),
    ("label", "holds label 12, but Kuzushiji-MNIST has classes 0..9"),
])
def test_uncompressed_idx_files_are_parse_checked(damage, problem, tmp_path):
    """Uncompressed IDX files have no known checksum: only their header and size are checked."""
    raw = tmp_path / "KMNIST" / "raw"
    images = np.random.default_rng(1).integers(0, 256, (12, 28, 28))
    labels = np.arange(12) % 10
    if damage == "label":
        labels[3] = 12
    write_plain_idx(raw / "t10k-images-idx3-ubyte", images.reshape(-1) if damage == "flat" else images,
                    extra=b"\x00" * 5 if damage == "long" else b"")
    write_plain_idx(raw / "t10k-labels-idx1-ubyte", labels)
    path = raw / ("t10k-labels-idx1-ubyte" if damage == "label" else "t10k-images-idx3-ubyte")
    if damage == "short":
        path.write_bytes(path.read_bytes()[:-(2 * 28 * 28 + 392)])
    if damage == "magic":
        path.write_bytes(b"\x00\x00\x0d" + path.read_bytes()[3:])
    with pytest.raises(UserError) as error:
        load_dataset("kmnist", DataOptions(data_root=str(tmp_path), split="test"))
    assert error.value.render(FLAGS) == f"{path} {problem}; {render(integrity.FIX, FLAGS)}"


def write_cifar_batch(path, count, seed=0):
    rng = np.random.default_rng(seed)
    entry = {"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8), "labels": list(rng.integers(0, 10, count))}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(entry))
    return entry


def test_cifar10_batch_that_is_not_torchvisions_is_not_unpickled(tmp_path, monkeypatch):
    batch = tmp_path / "cifar-10-batches-py" / "test_batch"
    write_cifar_batch(batch, 8)
    monkeypatch.setattr(pickle, "loads", lambda *args, **kwargs: pytest.fail("unpickled a file of unknown content"))
    with pytest.raises(UserError) as error:
        load_dataset("cifar10", DataOptions(data_root=str(tmp_path), split="test"))
    message = error.value.render(FLAGS)
    assert message.startswith(f"{batch} is not the original CIFAR-10 file (md5 ")
    assert f"torchvision's is {integrity.torchvision_md5s('CIFAR10')['test_batch']}" in message
    assert message.endswith(render(integrity.FIX, FLAGS)) and "\n" not in message


def test_cifar10_batches_with_known_md5s_load_and_bad_pickles_are_one_line(tmp_path, monkeypatch):
    folder = tmp_path / "cifar-10-batches-py"
    entry = write_cifar_batch(folder / "test_batch", 8)
    known = {"test_batch": integrity.md5_hex((folder / "test_batch").read_bytes())}
    monkeypatch.setattr(integrity, "torchvision_md5s", lambda class_name: known)
    dataset = load_dataset("cifar10", DataOptions(data_root=str(tmp_path), split="test"))
    assert dataset.images.shape == (8, 3, 32, 32) and dataset.sample_shape == (3, 32, 32)
    assert torch.equal(dataset.images.reshape(8, -1), torch.from_numpy(entry["data"]))
    assert dataset.labels.tolist() == [int(label) for label in entry["labels"]]
    assert dataset.describe()["files"] == {"test_batch": {"md5": known["test_batch"]}}

    (folder / "test_batch").write_bytes(b"not a pickle")
    known["test_batch"] = integrity.md5_hex(b"not a pickle")
    load_dataset.cache_clear()
    with pytest.raises(UserError,
                       match=r"test_batch is not a CIFAR-10 batch \(UnpicklingError: .*fetch it again with download"):
        load_dataset("cifar10", DataOptions(data_root=str(tmp_path), split="test"))
