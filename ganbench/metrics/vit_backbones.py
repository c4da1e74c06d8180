"""The ``dinov2`` and ``clip`` backbones: where their weights come from and the torch-fidelity
feature extractors that read them. Nothing is downloaded unless the ``download`` option is given.

- ``dinov2``: DINOv2 (Oquab et al. 2023), the CLS embedding of ``eval.dinov2_size`` (``s``, ``b``,
  ``l``, ``g``; default ``l``: ViT-L/14, 1,024 features, dgm-eval's default), computed by
  ganbench's own ViT (:mod:`ganbench.metrics.vit`) registered with torch-fidelity as
  ``ganbench-dinov2`` with torch-fidelity's preprocessing (resize to 224, ImageNet mean/std).
  Weights: ``eval.dinov2_weights``, else ``dinov2_vit{size}14_pretrain.pth`` in the torch hub cache
  (``$TORCH_HOME/hub/checkpoints``), where ``torch.hub.load("facebookresearch/dinov2", ...)`` puts it.
- ``clip``: the image embedding of OpenAI CLIP ``eval.clip_model`` (default ``vit-l-14-336px``,
  ViT-L/14@336px, 768 features, the CMMD paper's), by torch-fidelity's ``FeatureExtractorCLIP``
  (its model code, which reads the architecture from the TorchScript file's tensors) registered as
  ``ganbench-clip``. Weights: ``eval.clip_weights`` (OpenAI's TorchScript ``.pt``), else
  torch-fidelity's cached copy ``clip-{model}-{sha256}.pt`` in the torch hub cache.

Both feed grey images as three equal channels and resize by ``eval.resize``
(:mod:`ganbench.metrics.preprocessing`); with the default ``tf1`` on uint8 images the features
are torch-fidelity's ``dinov2-vit-*-14`` / ``clip-*`` extractors' own.
"""

from __future__ import annotations

import urllib.request
import warnings
import zipfile
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.feature_extractor_clip import MODEL_METADATA as CLIP_FILES
from torch_fidelity.feature_extractor_clip import MODEL_URLS as CLIP_URLS
from torch_fidelity.feature_extractor_clip import FeatureExtractorCLIP

from ganbench.data import BenchDataset
from ganbench.errors import UserError, option
from ganbench.metrics.backbones import DOWNLOAD_TIMEOUT_SECONDS, WeightsFile
from ganbench.metrics.classifier import sha256_bytes, sha256_file
from ganbench.metrics.preprocessing import backbone_resize
from ganbench.metrics.vit import OFFICIAL, architecture, dinov2_from_state_dict
from ganbench.results import atomic_write_bytes

DINOV2_EXTRACTOR = "ganbench-dinov2"
CLIP_EXTRACTOR = "ganbench-clip"
DINOV2_SIZES = ("s", "b", "l", "g")
DINOV2_INPUT = 224
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
CLIP_MODELS = tuple(name.removeprefix("clip-") for name in CLIP_URLS)


def dinov2_file(size: str) -> str:
    """The official checkpoint's file name, ``dinov2_vitl14_pretrain.pth`` for ``l``."""
    return f"dinov2_vit{size}14_pretrain.pth"


def dinov2_url(size: str) -> str:
    return f"https://dl.fbaipublicfiles.com/dinov2/dinov2_vit{size}14/{dinov2_file(size)}"


def clip_file(model: str) -> str:
    """torch-fidelity's name for CLIP ``model``'s file in the torch hub cache."""
    return f"clip-{model}-{CLIP_FILES['clip-' + model]['hash']}.pt"


def hub_checkpoint(name: str) -> Path:
    """``name`` in the torch hub checkpoints folder (``$TORCH_HOME/hub/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def download(url: str, path: Path, what: str, setting: str, sha256: str | None) -> None:
    """Fetch ``url`` into ``path`` (checked against ``sha256`` when known); network trouble is a
    ``UserError`` saying where to put the file by hand, and a wrong file saves nothing."""
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
            data = response.read()
    except OSError as error:
        raise UserError(f"could not download the {what} weights from {url} ({error}); put {path.name} into "
                        f"{path.parent} yourself or pass {option('set', f'eval.{setting}=PATH')}") from None
    if sha256 and sha256_bytes(data) != sha256:
        raise UserError(f"the file downloaded from {url} does not have the expected sha256 ({sha256[:12]}…); "
                        f"nothing was saved; try again or fetch it yourself")
    atomic_write_bytes(path, data)


def _weights_path(options: Mapping[str, Any], setting: str, cached: Path, url: str, what: str,
                  download_ok: bool, sha256: str | None) -> Path:
    """The explicit ``eval.<setting>`` file, else ``cached`` (fetched from ``url`` with ``download_ok``)."""
    explicit = options.get(setting)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise UserError(f"{option('set', f'eval.{setting}={path}')} is not a file; give the path of "
                            f"{cached.name} ({url})")
        return path
    if not cached.is_file():
        if not download_ok:
            raise UserError(f"the {what} weights are not here: put {cached.name} (from {url}) into {cached.parent}, "
                            f"or pass {option('set', f'eval.{setting}=PATH')}, or {option('download')} to fetch them")
        download(url, cached, what, setting, sha256)
    return cached


@lru_cache(maxsize=4)
def _check_dinov2(path: str, sha256: str, size: str) -> str:
    """The architecture of the DINOv2 checkpoint at ``path``, described; a ``UserError`` when it is
    none or an official one of another size than ``size``."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        shape = architecture(state)
    except Exception as error:  # noqa: BLE001 - any failure means the file is unusable
        raise UserError(f"{path} is not a DINOv2 ViT/14 checkpoint ({type(error).__name__}: {error}); give "
                        f"{dinov2_file(size)} ({dinov2_url(size)})") from None
    official = OFFICIAL.get(shape.width)
    if official and official[1] == shape.depth and official[0] != size:
        raise UserError(f"{path} holds DINOv2 ViT-{official[0].upper()}/14, not the ViT-{size.upper()}/14 of "
                        f"eval.dinov2_size={size}; set eval.dinov2_size={official[0]} or give {dinov2_file(size)}")
    return shape.describe()


def locate_dinov2(dataset: BenchDataset, options: Mapping[str, Any], download_ok: bool) -> WeightsFile:
    """``eval.dinov2_weights``, else the torch hub cache's ``dinov2_vit{size}14_pretrain.pth``."""
    size = options.get("dinov2_size", "l")
    path = _weights_path(options, "dinov2_weights", hub_checkpoint(dinov2_file(size)), dinov2_url(size),
                         f"DINOv2 ViT-{size.upper()}/14", download_ok, None)
    weights = WeightsFile(path, sha256_file(path))
    _check_dinov2(str(path), weights.sha256, size)
    return weights


def locate_clip(dataset: BenchDataset, options: Mapping[str, Any], download_ok: bool) -> WeightsFile:
    """``eval.clip_weights``, else torch-fidelity's cached ``clip-{model}-{sha256}.pt``."""
    model = options.get("clip_model", "vit-l-14-336px")
    name = f"clip-{model}"
    path = _weights_path(options, "clip_weights", hub_checkpoint(clip_file(model)), CLIP_URLS[name],
                         f"CLIP {model}", download_ok, CLIP_FILES[name]["hash"])
    try:
        names = zipfile.ZipFile(path).namelist() if zipfile.is_zipfile(path) else []
    except OSError:
        names = []
    if not any(entry.endswith("/data.pkl") for entry in names) or not any("/code/" in entry for entry in names):
        raise UserError(f"{path} is not a TorchScript CLIP model (OpenAI's .pt archive); give {clip_file(model)} "
                        f"({CLIP_URLS[name]})")
    return WeightsFile(path, sha256_file(path))


def _normalised(images: torch.Tensor, size: int, resize: str, mean: tuple[float, ...],
                std: tuple[float, ...]) -> torch.Tensor:
    """uint8 or float images (N, 3, H, W) in [0, 255] -> resized (``resize``) and normalised
    float32 (N, 3, size, size), as torch-fidelity's extractors do it."""
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"expected images (N, 3, H, W), got {tuple(images.shape)}")
    x = backbone_resize(images, size, resize)
    return torchvision.transforms.functional.normalize(x, [255 * m for m in mean], [255 * s for s in std])


class DinoV2FeatureExtractor(FeatureExtractorBase):
    """torch-fidelity feature extractor ``ganbench-dinov2``: images (N, 3, H, W), uint8 or float
    in [0, 255] -> ``dinov2``, the normalised CLS token (N, width) of a DINOv2 checkpoint
    (``feature_extractor_weights_path``), after the ``ganbench_resize`` resize to 224 and ImageNet
    normalisation (torch-fidelity's ``dinov2-vit-*-14`` with ``tf1``)."""

    def __init__(self, name: str, features_list: list[str], feature_extractor_weights_path: str | None = None,
                 ganbench_resize: str = "tf1", **kwargs: Any) -> None:
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise UserError(f"feature extractor {name} needs feature_extractor_weights_path (a DINOv2 checkpoint)")
        state = torch.load(feature_extractor_weights_path, map_location="cpu", weights_only=True)
        self.model = dinov2_from_state_dict(state)
        self.resize = ganbench_resize
        self.requires_grad_(False)
        self.eval()

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return ("dinov2",)

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return {"isc": "dinov2", "fid": "dinov2", "kid": "dinov2", "prc": "dinov2"}[metric]

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> torch.Tensor:
        return torch.zeros(1, 3, DINOV2_INPUT, DINOV2_INPUT, dtype=torch.uint8)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = _normalised(images, DINOV2_INPUT, self.resize, IMAGENET_MEAN, IMAGENET_STD)
        return tuple({"dinov2": self.model(x).float()}[name] for name in self.features_list)


class ClipFeatureExtractor(FeatureExtractorCLIP):
    """torch-fidelity's CLIP extractor, registered as ``ganbench-clip``, over the TorchScript file
    ``feature_extractor_weights_path`` (any CLIP; the architecture is read from its tensors): images
    (N, 3, H, W), uint8 or float in [0, 255] -> ``clip``, the image embedding (N, embed_dim), after
    the ``ganbench_resize`` resize to the model's resolution and CLIP's normalisation."""

    def __init__(self, name: str, features_list: list[str], feature_extractor_weights_path: str | None = None,
                 ganbench_resize: str = "tf1", **kwargs: Any) -> None:
        if feature_extractor_weights_path is None:
            raise UserError(f"feature extractor {name} needs feature_extractor_weights_path (a CLIP .pt file)")
        with warnings.catch_warnings():  # torch.jit is deprecated; OpenAI's files are TorchScript archives
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            # torch-fidelity checks the name against its own; with a weights path it only reads the file
            super().__init__(next(iter(CLIP_URLS)), features_list,
                             feature_extractor_weights_path=feature_extractor_weights_path, verbose=False)
        self.name = name
        self.resize = ganbench_resize
        self.eval()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = _normalised(images, self.resolution, self.resize, CLIP_MEAN, CLIP_STD)
        features = self.model.visual(x.to(self.feature_extractor_internal_dtype)).float()
        return tuple({"clip": features}[name] for name in self.features_list)


def write_random_clip(path: Path, width: int = 64, layers: int = 2, patch: int = 16, resolution: int = 32,
                      embed_dim: int = 16, seed: int = 0) -> None:
    """A TorchScript file of OpenAI CLIP's layout with random weights (for tests and timings): a
    ViT image tower of ``layers`` blocks of ``width`` (``width // 64`` heads), ``patch`` px patches
    at ``resolution`` px, embedding ``embed_dim``; the text tower is only its ``text_projection``."""
    from torch_fidelity.feature_extractor_clip import VisionTransformer

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.visual = VisionTransformer(resolution, patch, width, layers, max(1, width // 64), embed_dim)
            self.text_projection = torch.nn.Parameter(torch.randn(width, embed_dim))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x @ self.text_projection

    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(Tiny()), str(path))
