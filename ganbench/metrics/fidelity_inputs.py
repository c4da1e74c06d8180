"""The images the fidelity evaluation reads: generated samples brought to the canonical size and
quantisation, the dataset's fixed reference subset, the ``Dataset`` wrapper torch-fidelity reads,
and the name the reference features are cached under (see :mod:`ganbench.metrics.fidelity`)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import torch
from torch.utils.data import Dataset

from ganbench.data import BenchDataset, DataOptions, load_dataset
from ganbench.data.images import ImageDataset, resize_images
from ganbench.data.stacked import StackedMNIST
from ganbench.errors import UserError
from ganbench.metrics import EvaluationContext
from ganbench.metrics.backbones import Backbone, WeightsFile
from ganbench.metrics.preprocessing import canonical_size, quantised_samples


def canonical_images(samples: torch.Tensor, size: int) -> torch.Tensor:
    """Generated float samples (N, C, h, w) in [-1, 1] -> uint8 (N, C, size, size), quantised as
    real images are and resized by the loader's rule (see module doc)."""
    quantised = samples.add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)
    return resize_images(quantised, size, pad_to_size=True)[0]


def generated_images(context: EvaluationContext, count: int, size: int, quantise: str = "uint8") -> torch.Tensor:
    """``count`` of the evaluation's shared samples as canonical images (count, C, size, size):
    uint8, or float in [0, 255] with ``quantise="float"`` (:mod:`ganbench.metrics.preprocessing`)."""
    samples = context.samples.generated(count)
    if quantise == "uint8":
        return canonical_images(samples, size)
    return canonical_size(quantised_samples(samples, quantise), size)


def reference_count(dataset: BenchDataset, requested: int) -> int:
    """How many reference samples a request gets: all of a smaller split."""
    return min(requested, len(dataset)) if isinstance(dataset, ImageDataset) else requested


def reference_set(dataset: BenchDataset, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The dataset's fixed reference subset: uint8 images (n, C, H, W) and labels (n,)."""
    if isinstance(dataset, StackedMNIST):
        return dataset.reference_images(count)
    if not isinstance(dataset, ImageDataset):
        raise TypeError(f"{dataset.name} is not an image dataset")
    indices = dataset.reference_indices(count)
    return dataset.images[indices], dataset.labels[indices]


def one_set(dataset: BenchDataset) -> bool:
    """Whether ``dataset`` has no train and test splits (a folder: split ``all``; a 2D mixture)."""
    return dataset.describe().get("split") not in ("train", "test")


def reference_split(context: EvaluationContext) -> str:
    """The split the real reference set is drawn from: ``eval.reference_split``, where ``trained``
    (the default) is the split the model trained on (``data_options.split``), as is every split
    of a dataset that is one set (a folder)."""
    chosen = context.options.get("reference_split", "trained")
    return context.data_options.split if chosen == "trained" or one_set(context.dataset) else chosen


def check_reference_split(dataset: BenchDataset, options: Mapping[str, Any], data: DataOptions) -> None:
    """Before training: ``eval.reference_split`` names a split of ``dataset`` that is on disk
    (``UserError`` naming the fix otherwise); a dataset that is one set (a folder) is its own
    reference."""
    chosen = options.get("reference_split", "trained")
    if chosen in ("trained", data.split) or one_set(dataset):
        return
    try:
        load_dataset(dataset.name, replace(data, split=chosen))
    except UserError as error:
        raise UserError(f"the reference split (eval.reference_split={chosen}) of {dataset.name} is not on disk: "
                        f"{error}; or compare with the split trained on: set eval.reference_split=trained") from None


def canonical_dataset(context: EvaluationContext) -> BenchDataset:
    """The run's dataset loaded from its source at the canonical size ``eval.image_size``, in its
    reference split (:func:`reference_split`)."""
    options: DataOptions = replace(context.data_options, image_size=context.options["image_size"],
                                   split=reference_split(context))
    return load_dataset(context.dataset.name, options)


class FidelityInput(Dataset):
    """uint8 images (N, C, H, W) as the ``torch.utils.data.Dataset`` torch-fidelity reads; grey
    images are repeated into 3 channels for RGB backbones."""

    def __init__(self, images: torch.Tensor, rgb: bool) -> None:
        self.images = images.expand(-1, 3, -1, -1) if rgb and images.shape[1] == 1 else images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index]


def reference_cache_name(backbone: Backbone, dataset: BenchDataset, count: int, size: int, weights: WeightsFile,
                         resize: str = "tf1") -> str:
    """torch-fidelity's cache name for the reference features: readable parts and a digest of
    everything they depend on (data description without its local path, count, size, weights and,
    for a backbone that ``resizes``, an ``eval.resize`` rule other than the default ``tf1``)."""
    description = {key: value for key, value in dataset.describe().items() if key != "root"}
    if isinstance(description.get("digits"), dict):
        description["digits"] = {key: value for key, value in description["digits"].items() if key != "root"}
    identity = json.dumps({"data": description, "count": count, "size": size, "backbone": backbone.name,
                           "rgb": backbone.rgb, "weights": weights.sha256,
                           **({"resize": resize} if backbone.resizes and resize != "tf1" else {})},
                          sort_keys=True, default=str)
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9_.]+", "_", dataset.name)[-40:]
    split = description.get("split", "all")
    return f"ganbench-{slug}-{split}-{size}px-n{count}-{backbone.name}-{weights.sha256[:12]}-{digest}"
