"""Datasets by name: 2D Gaussian mixtures, the MNIST family, CIFAR-10, image folders, Stacked MNIST.

A dataset hands the trainer a real batch for any iteration (a pure function of seed and iteration,
so runs resume exactly) and the evaluators a reference set. Import this package to get
:data:`DATASETS` filled.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch

from ganbench.errors import UserError
from ganbench.registry import Registry


@dataclass(frozen=True)
class DataOptions:
    """Where and how to load data; the toy mixtures ignore all of it.

    ``image_size`` is the side length a variant asks for (None: the dataset's own size).
    """

    data_root: str | None = None
    split: str = "train"
    download: bool = False
    image_size: int | None = None


class BenchDataset(ABC):
    """A source of real samples for training and evaluation.

    ``kind`` is ``"points"`` (rows of ``sample_shape == (d,)``) or ``"images"``
    (``sample_shape == (C, H, W)``, float values in [-1, 1]).
    """

    name: str
    kind: str
    sample_shape: tuple[int, ...]

    @abstractmethod
    def batch(self, batch_size: int, seed: int, iteration: int) -> torch.Tensor:
        """The real batch for ``iteration`` (1-based): shape ``(batch_size, *sample_shape)``."""

    @abstractmethod
    def reference(self, count: int) -> torch.Tensor:
        """``count`` real samples to compare generated ones against: ``(count, *sample_shape)``;
        the same for every run (so reference statistics can be cached)."""

    def describe(self) -> dict[str, Any]:
        """What the record's provenance says about the data (name, split, size, source)."""
        return {"name": self.name, "kind": self.kind, "sample_shape": list(self.sample_shape)}


DatasetFactory = Callable[[DataOptions], BenchDataset]
DATASETS: Registry[DatasetFactory] = Registry("dataset")
DATASET_SUMMARIES: dict[str, str] = {
    "folder:PATH": "your own images: a folder (ImageFolder layout or flat), RGB, 64x64 by default",
}


def register_dataset(name: str, summary: str, factory: DatasetFactory) -> None:
    """Register ``factory(options) -> BenchDataset`` under ``name`` with a one-line summary."""
    DATASETS.add(name, factory)
    DATASET_SUMMARIES[name] = summary


# Loaders of datasets named by a prefix and a path (``folder:PATH``): ``loader(path, options)``.
DATASET_PREFIXES: Registry[Callable[[str, DataOptions], BenchDataset]] = Registry("dataset prefix")


@lru_cache(maxsize=4)
def load_dataset(name: str, options: DataOptions) -> BenchDataset:
    """The dataset registered as ``name`` (or ``PREFIX:PATH``, e.g. a folder of images); unknown names,
    missing files and damaged ones (see :mod:`ganbench.data.integrity`) raise ``UserError``. The last
    few loaded datasets are kept in memory."""
    for prefix, loader in DATASET_PREFIXES.items():
        if name.startswith(prefix):
            return loader(name[len(prefix):], options)
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}; choose one of: "
                        f"{', '.join([*DATASETS.names(), *(p + 'PATH' for p in DATASET_PREFIXES.names())])}")
    return DATASETS.get(name)(options)
