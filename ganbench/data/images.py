"""Image datasets: the MNIST family and CIFAR-10 (a folder of the user's images: :mod:`ganbench.data.folder`).

All are held in memory as uint8 (N, C, H, W) at the size a variant asks for and handed out as
float batches in [-1, 1]. Real batches follow a fresh permutation every epoch, seeded by
(seed, epoch), so any iteration's batch can be recomputed (exact resume).

Files are looked up in torchvision's layout under the data root (the ``data_root`` option, else
``$GANBENCH_DATA``, else ``~/.cache/ganbench/data``): ``MNIST/raw/t10k-images-idx3-ubyte[.gz]``
and so on for FashionMNIST and KMNIST, ``cifar-10-batches-py/`` for CIFAR-10. Nothing is
downloaded unless the ``download`` option is given.

Every file read is checked (:mod:`ganbench.data.integrity`): a file torchvision knows by name
must have torchvision's MD5 (checked once, then cached), and every file must decompress and
parse (IDX: a size that agrees with the header; CIFAR-10: a pickled batch). A damaged file is
one ``UserError`` line naming the file, what is wrong and the fix (delete it, the ``download`` option).
"""

from __future__ import annotations

import gzip
import os
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ganbench import seeding
from ganbench.data import BenchDataset, DataOptions
from ganbench.data.integrity import DataFile, damaged, read_data_file
from ganbench.errors import UserError, option

SPLITS = ("train", "test")
DEFAULT_DATA_ROOT = Path("~/.cache/ganbench/data")


def data_root(options: DataOptions) -> Path:
    """The folder datasets are read from: the option, ``$GANBENCH_DATA``, or the cache default."""
    return Path(options.data_root or os.environ.get("GANBENCH_DATA") or DEFAULT_DATA_ROOT).expanduser()


class ImageDataset(BenchDataset):
    """Images in memory: ``images`` uint8 (N, C, H, W), ``labels`` int64 (N,) (-1 when unlabelled).

    ``batch`` and ``reference`` return float32 tensors in [-1, 1].
    """

    kind = "images"

    def __init__(self, name: str, images: torch.Tensor, labels: torch.Tensor, classes: int, provenance: dict[str, Any]):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError("images must be uint8 (N, C, H, W)")
        self.name = name
        self.images = images.contiguous()
        self.labels = labels
        self.num_classes = classes
        self.sample_shape = tuple(images.shape[1:])
        self.provenance = provenance
        self._permutations: dict[tuple[int, int], torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.images)

    @staticmethod
    def to_float(images: torch.Tensor) -> torch.Tensor:
        """uint8 [0, 255] -> float32 [-1, 1]."""
        return images.float().div_(127.5).sub_(1.0)

    def _permutation(self, seed: int, epoch: int) -> torch.Tensor:
        key = (seed, epoch)
        if key not in self._permutations:
            if len(self._permutations) > 2:
                self._permutations.pop(next(iter(self._permutations)))
            self._permutations[key] = torch.randperm(len(self), generator=seeding.generator(seed, seeding.DATA, epoch))
        return self._permutations[key]

    def batch_indices(self, batch_size: int, seed: int, iteration: int) -> torch.Tensor:
        """Indices of the batch of ``iteration`` (1-based): consecutive slices of per-epoch permutations."""
        start = (iteration - 1) * batch_size
        positions = torch.arange(start, start + batch_size)
        epochs = positions // len(self)
        indices = torch.empty(batch_size, dtype=torch.long)
        for epoch in epochs.unique().tolist():
            chosen = epochs == epoch
            indices[chosen] = self._permutation(seed, epoch)[positions[chosen] % len(self)]
        return indices

    def batch(self, batch_size: int, seed: int, iteration: int) -> torch.Tensor:
        return self.to_float(self.images[self.batch_indices(batch_size, seed, iteration)])

    def reference_indices(self, count: int) -> torch.Tensor:
        """The reference set: the whole split when ``count >= N``, else a fixed random subset
        (the same for every run, seed and variant, so reference statistics can be cached)."""
        if count >= len(self):
            return torch.arange(len(self))
        return torch.randperm(len(self), generator=seeding.generator(0, seeding.EVALUATION, 0))[:count]

    def reference(self, count: int) -> torch.Tensor:
        return self.to_float(self.images[self.reference_indices(count)])

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "size": len(self), "classes": self.num_classes, **self.provenance}


def resize_images(images: torch.Tensor, size: int | None, pad_to_size: bool) -> tuple[torch.Tensor, str]:
    """uint8 (N, C, h, w) -> uint8 (N, C, size, size), and how: ``none``, ``pad`` or ``bilinear``.

    ``pad_to_size``: pad with black borders when the image is smaller by an even margin (the
    MNIST family's 28 -> 32, as DCGAN-style models expect); otherwise resize bilinearly with
    antialiasing.
    """
    if size is None or images.shape[-1] == size and images.shape[-2] == size:
        return images, "none"
    height, width = images.shape[-2:]
    if pad_to_size and height == width and size > height and (size - height) % 2 == 0:
        margin = (size - height) // 2
        return F.pad(images, (margin, margin, margin, margin), value=0), "pad"
    out = []
    for chunk in images.split(2048):
        resized = F.interpolate(chunk.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out.append(resized.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out), "bilinear"


# --- the MNIST family (IDX files) ---


@dataclass(frozen=True)
class IdxSource:
    """A torchvision-layout IDX dataset: folder name and per-split image/label file stems."""

    folder: str
    title: str
    files: dict[str, tuple[str, str]]
    url: str


MNIST_LIKE = {
    "mnist": IdxSource("MNIST", "MNIST", {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                                           "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")},
                       "http://yann.lecun.com/exdb/mnist/"),
    "fashion-mnist": IdxSource("FashionMNIST", "Fashion-MNIST",
                               {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                                "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")},
                               "https://github.com/zalandoresearch/fashion-mnist"),
    "kmnist": IdxSource("KMNIST", "Kuzushiji-MNIST", {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                                                      "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")},
                        "https://github.com/rois-codh/kmnist"),
}

TORCHVISION_CLASSES = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}
MNIST_CLASSES = 10
GZIP_SIGNATURE = b"\x1f\x8b"
IDX_UNSIGNED_BYTE = 0x08


def gunzip(path: Path, data: bytes) -> bytes:
    """The decompressed content of ``data``, the bytes of the gzip file ``path``; a file that is
    empty, not gzip, truncated or corrupt raises ``UserError`` naming it and the fix."""
    if not data:
        raise damaged(path, "is empty (0 bytes)")
    if not data.startswith(GZIP_SIGNATURE):
        raise damaged(path, "is not a gzip file (it does not start with the gzip signature 1f 8b)")
    try:
        return gzip.decompress(data)
    except EOFError:
        raise damaged(path, f"is truncated (its gzip stream ends after {len(data):,} bytes, before the "
                            "end-of-stream marker)") from None
    except (gzip.BadGzipFile, zlib.error) as error:
        raise damaged(path, f"is corrupt (its gzip data does not decompress: {error})") from None


def read_idx(path: Path, data: bytes | None = None) -> np.ndarray:
    """An IDX file (gzipped when its name ends in ``.gz``) as a numpy array of its declared shape
    (uint8 data). ``data``: the file's bytes, when already read. A file that does not decompress,
    is not IDX of unsigned bytes, or whose size disagrees with its header raises ``UserError``."""
    if data is None:
        data = path.read_bytes()
    if path.suffix == ".gz":
        data = gunzip(path, data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != IDX_UNSIGNED_BYTE:
        raise damaged(path, f"is not an IDX file of unsigned bytes (it starts with {data[:4].hex(' ') or 'nothing'}, "
                            "not 00 00 08)")
    dims = data[3]
    header = 4 + 4 * dims
    if len(data) < header:
        raise damaged(path, f"is truncated (its IDX header declares {dims} dimensions, {header} bytes, but the "
                            f"file holds {len(data)})")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    payload = np.frombuffer(data, dtype=np.uint8, offset=header)
    expected = int(np.prod(shape))
    if payload.size < expected:
        raise damaged(path, f"is truncated ({payload.size:,} of {expected:,} bytes)")
    if payload.size > expected:
        raise damaged(path, f"has {payload.size - expected:,} bytes more than its IDX header declares "
                            f"(shape {'x'.join(map(str, shape))})")
    return payload.reshape(shape)


def read_checked_idx(path: Path, torchvision_class: str, title: str, dims: int) -> tuple[np.ndarray, str]:
    """The IDX file ``path`` parsed (an array of ``dims`` dimensions) and checked against
    torchvision's MD5 for its name, if any; also returns its MD5 (hex) for the provenance.

    The parse check comes first, so a truncated file is reported as truncated rather than as a
    checksum mismatch."""
    file = read_data_file(path)
    array = read_idx(path, file.data)
    if array.ndim != dims:
        what = "images (N, H, W)" if dims == 3 else "labels (N,)"
        raise damaged(path, f"holds an array of shape {'x'.join(map(str, array.shape))}, not {what}")
    file.check(torchvision_class, title)
    return array, file.md5


def _find(raw: Path, stem: str) -> Path | None:
    for candidate in (raw / stem, raw / f"{stem}.gz"):
        if candidate.exists():
            return candidate
    return None


def _download_torchvision(name: str, root: Path, split: str) -> None:
    import torchvision

    cls = getattr(torchvision.datasets, TORCHVISION_CLASSES[name])
    try:
        cls(str(root), train=split == "train", download=True)
    except Exception as error:  # noqa: BLE001 - network errors come in many types
        raise UserError(f"could not download {name} into {root} ({type(error).__name__}: {error}); check the network "
                        f"or place the files there yourself") from None


def load_idx_dataset(name: str, options: DataOptions) -> ImageDataset:
    source = MNIST_LIKE[name]
    if options.split not in SPLITS:
        raise UserError(f"unknown split {options.split!r}; choose one of: {', '.join(SPLITS)}")
    root = data_root(options)
    raw = root / source.folder / "raw"
    image_stem, label_stem = source.files[options.split]
    paths = [_find(raw, image_stem), _find(raw, label_stem)]
    if None in paths and options.download:
        _download_torchvision(name, root, options.split)
        paths = [_find(raw, image_stem), _find(raw, label_stem)]
    if None in paths:
        other = "test" if options.split == "train" else "train"
        other_there = all(_find(raw, stem) for stem in source.files[other])
        hint = f", or {option('split', other)} (those files are there)" if other_there else ""
        raise UserError(
            f"{source.title} {options.split} split not found in {raw} (expected {image_stem}[.gz] and "
            f"{label_stem}[.gz]); fix: {option('download')}, another {option('data_root', 'DIR')} "
            f"(or $GANBENCH_DATA){hint}"
        )
    image_path, label_path = paths
    torchvision_class = TORCHVISION_CLASSES[name]
    image_array, image_md5 = read_checked_idx(image_path, torchvision_class, source.title, dims=3)
    label_array, label_md5 = read_checked_idx(label_path, torchvision_class, source.title, dims=1)
    if label_array.size and label_array.max() >= MNIST_CLASSES:
        raise damaged(label_path, f"holds label {label_array.max()}, but {source.title} has classes "
                                  f"0..{MNIST_CLASSES - 1}")
    images = torch.from_numpy(image_array.copy()).unsqueeze(1)
    labels = torch.from_numpy(label_array.astype(np.int64))
    if len(images) != len(labels):
        raise UserError(f"{image_path} has {len(images)} images but {label_path} {len(labels)} labels; delete both "
                        f"and fetch them again with {option('download')} (or replace them with the originals)")
    images, how = resize_images(images, options.image_size, pad_to_size=True)
    provenance = {
        "split": options.split,
        "root": str(root),
        "files": {image_path.name: {"md5": image_md5}, label_path.name: {"md5": label_md5}},
        "source": source.url,
        "image_size": images.shape[-1],
        "resize": how,
    }
    return ImageDataset(name, images, labels, MNIST_CLASSES, provenance)


def mnist(options: DataOptions) -> ImageDataset:
    return load_idx_dataset("mnist", options)


def fashion_mnist(options: DataOptions) -> ImageDataset:
    return load_idx_dataset("fashion-mnist", options)


def kmnist(options: DataOptions) -> ImageDataset:
    return load_idx_dataset("kmnist", options)


# --- CIFAR-10 ---


CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
CIFAR_SIDE = 32
CIFAR_CLASSES = 10


def read_cifar_batch(file: DataFile) -> tuple[np.ndarray, list[int]]:
    """A CIFAR-10 batch file (a pickled dict) as images uint8 (N, 3, 32, 32) and N labels. Call
    after :meth:`DataFile.check`: only files with torchvision's MD5 are unpickled."""
    try:
        entry = pickle.loads(file.data, encoding="latin1")  # noqa: S301 - the MD5 was checked first
        data = np.asarray(entry["data"], dtype=np.uint8)
        labels = [int(label) for label in entry["labels"]]
    except Exception as error:  # noqa: BLE001 - a damaged pickle fails in many ways
        raise damaged(file.path, f"is not a CIFAR-10 batch ({type(error).__name__}: {error})") from None
    if data.ndim != 2 or data.shape[1] != 3 * CIFAR_SIDE**2 or len(labels) != len(data):
        raise damaged(file.path, f"is not a CIFAR-10 batch (data of shape {'x'.join(map(str, data.shape))} and "
                                 f"{len(labels)} labels, not N x {3 * CIFAR_SIDE**2} and N)")
    return data.reshape(-1, 3, CIFAR_SIDE, CIFAR_SIDE), labels


def cifar10(options: DataOptions) -> ImageDataset:
    if options.split not in SPLITS:
        raise UserError(f"unknown split {options.split!r}; choose one of: {', '.join(SPLITS)}")
    root = data_root(options)
    folder = root / CIFAR_FOLDER
    paths = [folder / name for name in CIFAR_FILES[options.split]]
    if not all(path.is_file() for path in paths) and options.download:
        import torchvision

        try:
            torchvision.datasets.CIFAR10(str(root), train=options.split == "train", download=True)
        except Exception as error:  # noqa: BLE001 - network errors come in many types
            raise UserError(f"could not download cifar10 into {root} ({type(error).__name__}: {error}); check the "
                            "network or place the files there yourself") from None
    if not all(path.is_file() for path in paths):
        expected = "data_batch_1..5" if options.split == "train" else "test_batch"
        raise UserError(
            f"CIFAR-10 not found in {folder} (expected {expected} for the {options.split} split); "
            f"fix: {option('download')}, or another {option('data_root', 'DIR')} (or $GANBENCH_DATA)"
        )
    batches, labels, files = [], [], {}
    for path in paths:
        file = read_data_file(path)
        file.check("CIFAR10", "CIFAR-10")
        data, batch_labels = read_cifar_batch(file)
        batches.append(data)
        labels += batch_labels
        files[path.name] = {"md5": file.md5}
    images = torch.from_numpy(np.concatenate(batches))
    images, how = resize_images(images, options.image_size, pad_to_size=False)
    provenance = {"split": options.split, "root": str(root), "files": files,
                  "source": "https://www.cs.toronto.edu/~kriz/cifar.html", "image_size": images.shape[-1],
                  "resize": how}
    return ImageDataset("cifar10", images, torch.tensor(labels, dtype=torch.long), CIFAR_CLASSES, provenance)
