"""Backbones by name: the feature extractors the fidelity metrics are computed with, and where
their weights come from. Nothing is ever downloaded unless the ``download`` option is given.

- ``inception``: torch-fidelity's ``inception-v3-compat``, the TensorFlow 2015 InceptionV3 weights
  that make FID and IS comparable with published numbers (pool3: 2,048 features; 1,008 logits).
  The weights file is the ``inception_weights`` option (``eval.inception_weights``), else
  ``weights-inception-2015-12-05-6726825d.pth`` in the torch hub cache
  (``$TORCH_HOME/hub/checkpoints``), where torch-fidelity itself puts it. Grey images are fed as
  three equal channels. Registered as ``ganbench-inception`` (:mod:`ganbench.metrics.inception`):
  torch-fidelity's extractor itself on the default protocol, and every other ``eval.resize`` and
  ``eval.quantise`` on its layers.
- ``lenet``: ganbench's MNIST-family classifier (:mod:`ganbench.metrics.classifier`), registered
  with torch-fidelity as ``ganbench-lenet``: 84 penultimate activations per channel for
  FID/KID/precision/recall/density/coverage, class log-probabilities for IS (for stacked digits,
  the joint log-probabilities of the 1,000 digit triples). Weights: ``eval.classifier_weights``,
  else ``ganbench/assets/lenet-DATASET.pt`` (shipped for MNIST), else the file
  the ``classifier train`` command writes to ``$GANBENCH_CACHE/classifiers``.

- ``dinov2`` and ``clip``: :mod:`ganbench.metrics.vit_backbones`.

Every record of a metric computed with a backbone carries its name and the sha256 of its weights.
"""

from __future__ import annotations

import copy
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

from ganbench.data import BenchDataset
from ganbench.data.images import MNIST_LIKE
from ganbench.data.stacked import StackedMNIST
from ganbench.cache import cache_dir
from ganbench.errors import UserError, command, option
from ganbench.metrics.classifier import INPUT_SIZE, load_classifier, read_metadata, sha256_bytes, sha256_file
from ganbench.registry import Registry
from ganbench.results import atomic_write_bytes

ASSETS = Path(__file__).resolve().parent.parent / "assets"
INCEPTION_FILE = URL_INCEPTION_V3.rsplit("/", 1)[1]
# torch hub's convention: the file name ends in the first 8 hex digits of the file's sha256.
INCEPTION_SHA256_PREFIX = INCEPTION_FILE.rsplit("-", 1)[1].split(".")[0]
INCEPTION_LOGITS = (1008, 2048)  # shape of fc.weight in torch-fidelity's inception-v3-compat
DOWNLOAD_TIMEOUT_SECONDS = 60
LENET_EXTRACTOR = "ganbench-lenet"


@dataclass(frozen=True)
class WeightsFile:
    """A backbone's weights: where they are and their sha256 (hex)."""

    path: Path
    sha256: str


@dataclass(frozen=True)
class Backbone:
    """A named feature extractor: its torch-fidelity name, whether grey images must be fed as
    RGB, and ``locate(dataset, eval options, download) -> WeightsFile`` (a ``UserError`` naming
    the fix when the weights are missing or do not fit the dataset). ``resizes``: its extractor
    takes uint8 or float images and the ``ganbench_resize`` keyword (``eval.resize``,
    :mod:`ganbench.metrics.preprocessing`); otherwise it reads uint8 images its own way (only
    ``eval.resize=tf1``, ``eval.quantise=uint8``) and records ``resize``: ``tf1`` for
    torch-fidelity's extractors, ``none`` for one that reads the canonical images as they are.
    ``logits``: it gives class logits, so the Inception Score means something (else no IS).
    ``feature_space``: the name FID and KID take on its features in the tables (``DINOv2``:
    FD-DINOv2, KID-DINOv2); empty keeps FID and KID."""

    name: str
    summary: str
    extractor: str
    rgb: bool
    locate: Callable[[BenchDataset, Mapping[str, Any], bool], WeightsFile]
    resizes: bool = False
    logits: bool = True
    resize: str = "tf1"
    feature_space: str = ""


BACKBONES: Registry[Backbone] = Registry("backbone")


# --- inception ---


def inception_cache_path() -> Path:
    """Where torch-fidelity keeps its Inception weights: the torch hub checkpoints folder."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE


def download_inception(path: Path) -> None:
    """Fetch torch-fidelity's Inception weights into ``path`` (checked against the sha256 prefix
    in their name); network trouble is a ``UserError``, and no read waits longer than a minute."""
    try:
        with urllib.request.urlopen(URL_INCEPTION_V3, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
            data = response.read()
    except OSError as error:
        raise UserError(f"could not download the Inception weights from {URL_INCEPTION_V3} ({error}); put "
                        f"{INCEPTION_FILE} into {path.parent} yourself or pass "
                        f"{option('inception_weights', 'PATH')}") from None
    if not sha256_bytes(data).startswith(INCEPTION_SHA256_PREFIX):
        raise UserError(f"the file downloaded from {URL_INCEPTION_V3} does not have the expected sha256 "
                        f"({INCEPTION_SHA256_PREFIX}…); nothing was saved; try again or fetch it yourself")
    atomic_write_bytes(path, data)


@lru_cache(maxsize=4)
def _check_inception_state(path: str, sha256: str) -> None:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any failure means the file is unusable
        raise UserError(f"cannot read Inception weights {path} ({type(error).__name__}); give torch-fidelity's "
                        f"{INCEPTION_FILE} ({URL_INCEPTION_V3})") from None
    weight = state.get("fc.weight") if isinstance(state, dict) else None
    if not isinstance(weight, torch.Tensor) or tuple(weight.shape) != INCEPTION_LOGITS:
        raise UserError(f"{path} is not a state dict of torch-fidelity's inception-v3-compat (no fc.weight of shape "
                        f"{INCEPTION_LOGITS[0]}x{INCEPTION_LOGITS[1]}); give {INCEPTION_FILE} ({URL_INCEPTION_V3})")


def locate_inception(dataset: BenchDataset, options: Mapping[str, Any], download: bool) -> WeightsFile:
    """``eval.inception_weights``, else the torch hub cache (downloaded there with ``download``)."""
    explicit = options.get("inception_weights")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise UserError(f"{option('inception_weights', path)} is not a file; give the path of {INCEPTION_FILE} "
                            f"({URL_INCEPTION_V3})")
    else:
        path = inception_cache_path()
        if not path.is_file():
            if not download:
                raise UserError(
                    f"the Inception weights for FID/IS are not here: put {INCEPTION_FILE} (from {URL_INCEPTION_V3}) "
                    f"into {path.parent}, or pass {option('inception_weights', 'PATH')}, or {option('download')} to "
                    f"fetch them; for the MNIST family {option('set', 'eval.backbone=lenet')} needs no download"
                )
            download_inception(path)
    weights = WeightsFile(path, sha256_file(path))
    _check_inception_state(str(path), weights.sha256)
    return weights


# --- lenet ---


def digit_dataset(dataset: BenchDataset) -> str:
    """The MNIST-family dataset whose classifier reads ``dataset``'s channels."""
    return "mnist" if isinstance(dataset, StackedMNIST) else dataset.name


def classifier_path(dataset_name: str) -> Path:
    """Where the classifier for ``dataset_name`` is looked up: the shipped asset if there is one,
    else the file ``ganbench classifier train`` writes by default."""
    shipped = ASSETS / f"lenet-{dataset_name}.pt"
    return shipped if shipped.is_file() else cache_dir("classifiers") / f"lenet-{dataset_name}.pt"


def locate_lenet(dataset: BenchDataset, options: Mapping[str, Any], download: bool) -> WeightsFile:
    """``eval.classifier_weights``, else the classifier for the dataset's digits (see module doc)."""
    digits = digit_dataset(dataset)
    if digits not in MNIST_LIKE:
        raise UserError(f"backbone lenet reads the MNIST family ({', '.join(MNIST_LIKE)}, stacked-mnist), not "
                        f"{dataset.name}; use {option('set', 'eval.backbone=inception')}")
    if options.get("image_size", INPUT_SIZE) != INPUT_SIZE:
        raise UserError(f"backbone lenet reads {INPUT_SIZE}x{INPUT_SIZE} images; set eval.image_size={INPUT_SIZE}")
    explicit = options.get("classifier_weights")
    path = Path(explicit).expanduser() if explicit else classifier_path(digits)
    if not path.is_file():
        raise UserError(f"no lenet classifier for {digits} at {path}; train one with "
                        f"`{command('classifier train', dataset=digits)}` or give one with "
                        f"{option('set', 'eval.classifier_weights=PATH')}")
    metadata = read_metadata(path)
    if metadata.get("dataset") != digits:
        raise UserError(f"classifier {path} was trained on {metadata.get('dataset')}, not {digits}; give one "
                        f"trained on {digits} ({command('classifier train', dataset=digits)})")
    return WeightsFile(path, metadata["weights_sha256"])


class LeNetFeatureExtractor(FeatureExtractorBase):
    """torch-fidelity feature extractor over :class:`~ganbench.metrics.classifier.LeNet`.

    Input: uint8 (N, C, 32, 32). Features: ``features`` (N, 84 C), each channel's penultimate
    activations side by side; ``logits`` (N, 10^C), the joint class log-probabilities of the C
    channels read independently (C = 1: the classifier's log-softmax).
    """

    def __init__(self, name: str, features_list: list[str], feature_extractor_weights_path: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise UserError(f"feature extractor {name} needs feature_extractor_weights_path (a ganbench classifier)")
        self.classifier = copy.deepcopy(load_classifier(Path(feature_extractor_weights_path)))
        self.requires_grad_(False)
        self.eval()

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return "features", "logits"

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return {"isc": "logits", "fid": "features", "kid": "features", "prc": "features"}[metric]

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> torch.Tensor:
        return torch.zeros(1, 1, INPUT_SIZE, INPUT_SIZE, dtype=torch.uint8)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"{self.name} expects uint8 images (N, C, {INPUT_SIZE}, {INPUT_SIZE}), got "
                             f"{images.dtype} {tuple(images.shape)}")
        features, joint = [], None
        for channel in images.split(1, dim=1):
            channel_features, logits = self.classifier.features_and_logits(channel)
            features.append(channel_features)
            log_probabilities = logits.log_softmax(dim=1)
            joint = (log_probabilities if joint is None
                     else (joint[:, :, None] + log_probabilities[:, None, :]).flatten(1))
        provided = {"features": torch.cat(features, dim=1), "logits": joint}
        return tuple(provided[name] for name in self.features_list)

