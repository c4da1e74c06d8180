"""The feature network of style transfer: torchvision's VGG-16/VGG-19 convolutional layers by name.

Layers are named as in Gatys et al. and Simonyan & Zisserman: ``conv<block>_<k>``, ``relu<block>_<k>``
and ``pool<block>`` (VGG-19's ``conv4_2`` is torchvision's ``features[21]``, ``relu4_2``
``features[22]``). Gatys et al. name Caffe blobs whose ReLU runs in place, so their ``conv4_2`` is
our ``relu4_2``. Inputs are RGB in [0, 1], normalised inside the network with the ImageNet mean
and standard deviation torchvision's weights were trained with.

Weights, in this order:

1. ``--vgg-weights PATH``: a torchvision VGG state dict (``features.<i>.weight`` / ``.bias``);
2. the file torchvision itself would download into the torch hub cache
   (``$TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth``, ``vgg16-397923af.pth``);
3. ``style.weights=random``, only when set explicitly: untrained weights, Kaiming normal with
   fan-in scaling (activations keep their scale from layer to layer, of the order of a trained
   VGG's, so the loss weights keep their meaning; torchvision's own fan-out initialisation shrinks
   them more than tenfold by relu4_2) and zero biases, drawn from a generator seeded by
   ``ganbench.seeding`` (seed 0, stream ``feature-network``): the same network for every run.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn
from torchvision.models import VGG16_Weights, VGG19_Weights, vgg

from ganbench import seeding
from ganbench.errors import UserError

# torchvision's configuration key and ImageNet weights of each architecture.
ARCHITECTURES = {"vgg16": ("D", VGG16_Weights.IMAGENET1K_V1), "vgg19": ("E", VGG19_Weights.IMAGENET1K_V1)}
TITLES = {"vgg16": "VGG-16", "vgg19": "VGG-19"}


def layer_names(arch: str) -> list[str]:
    """Names of the layers of ``torchvision.models.<arch>().features``, in order."""
    names, block, conv = [], 1, 0
    for entry in vgg.cfgs[ARCHITECTURES[arch][0]]:
        if entry == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 0
        else:
            conv += 1
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
    return names


def check_layers(arch: str, layers: Collection[str], setting: str) -> None:
    """``UserError`` naming the accepted layers when one of ``layers`` is not a layer of ``arch``."""
    known = layer_names(arch)
    unknown = [layer for layer in layers if layer not in known]
    if unknown:
        accepted = ", ".join(name for name in known if not name.startswith("pool"))
        raise UserError(f"bad value for {setting}: {TITLES[arch]} has no layer {unknown[0]!r}; choose from: {accepted}")


@dataclass(frozen=True)
class FeatureWeights:
    """Where the feature network's weights come from: ``kind`` is ``imagenet`` (with the file's
    path and SHA-256) or ``random``."""

    arch: str
    kind: str
    path: str | None = None
    sha256: str | None = None

    def describe(self) -> str:
        """A line for records, captions and PNG metadata, e.g. ``VGG-19, RANDOM weights (untrained)``."""
        if self.kind == "random":
            return f"{TITLES[self.arch]}, RANDOM weights (untrained; numbers not comparable to ImageNet weights)"
        return f"{TITLES[self.arch]}, ImageNet weights {Path(self.path or '').name} (sha256 {(self.sha256 or '')[:12]})"

    def identity(self) -> dict[str, str | None]:
        """What the run id depends on: architecture, kind and file hash (not the path)."""
        return {"arch": self.arch, "kind": self.kind, "sha256": self.sha256}


def hub_weights_path(arch: str) -> Path:
    """The file torchvision downloads ImageNet weights of ``arch`` to (the torch hub cache)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(ARCHITECTURES[arch][1].url).name


@lru_cache(maxsize=4)
def _file_sha256(path: Path, size: int, modified: float) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=4)
def _load_features(path: Path, size: int, modified: float) -> tuple[str, dict[str, torch.Tensor]]:
    """The architecture and ``features`` state dict (keys ``<i>.weight``) in a torchvision VGG file."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        state = {key.removeprefix("features."): value for key, value in loaded.items() if key.startswith("features.")}
    except Exception as error:  # noqa: BLE001 - any failure means the file is unusable
        raise UserError(f"cannot read VGG weights {path} ({type(error).__name__}); give a torchvision VGG-16 or "
                        f"VGG-19 state dict file") from None
    shapes = {key: value.shape for key, value in state.items()}
    for arch in ARCHITECTURES:
        if shapes == feature_shapes(arch):
            return arch, state
    raise UserError(f"{path} does not hold the features of torchvision's VGG-16 or VGG-19 (features.<i>.weight and "
                    f".bias of their shapes); give such a state dict file")


def _file_key(path: Path) -> tuple[Path, int, float]:
    stat = path.stat()
    return path.resolve(), stat.st_size, stat.st_mtime


def resolve_weights(arch: str, kind: str, path: Path | None) -> FeatureWeights:
    """The weights a run of ``arch`` uses (see the module doc); ``path`` (``--vgg-weights``) serves
    the architecture it holds, the other one looks in the hub cache. A missing file is one
    ``UserError`` line naming the fixes."""
    if kind == "random":
        if path is not None:
            raise UserError("--vgg-weights and style.weights=random contradict each other; drop one of them")
        return FeatureWeights(arch, "random")
    given = Path(path).expanduser() if path is not None else None
    if given is not None and not given.is_file():
        raise UserError(f"--vgg-weights {given} is not a file; give a torchvision VGG-16 or VGG-19 weights file")
    if given is not None and _load_features(*_file_key(given))[0] == arch:
        chosen = given
    else:
        chosen = hub_weights_path(arch)
        if not chosen.is_file():
            where = "--vgg-weights holds the other VGG; " if given is not None else ""
            raise UserError(
                f"no ImageNet weights for {TITLES[arch]} ({where}none in the torch hub cache): download "
                f"{ARCHITECTURES[arch][1].url} to {chosen} or pass --vgg-weights PATH, or opt in to untrained "
                f"weights with --set style.weights=random (numbers then not comparable)"
            )
        _load_features(*_file_key(chosen))
    return FeatureWeights(arch, "imagenet", str(chosen.resolve()), _file_sha256(*_file_key(chosen)))


class VGGFeatures(nn.Module):
    """VGG convolutional layers up to ``last`` by name, frozen, in eval mode.

    ``forward(image, layers)`` takes RGB (N, 3, H, W) in [0, 1] and returns {layer: (N, C, H', W')}.
    ReLUs are not in place (a conv layer's output stays what it was); ``pooling="avg"`` replaces
    max pooling by 2x2 average pooling, as Gatys et al. did.
    """

    def __init__(self, arch: str, pooling: str, state: dict[str, torch.Tensor], last: str) -> None:
        super().__init__()
        with torch.device("meta"):  # no memory, no initialisation: the weights come from ``state``
            torchvision_layers = vgg.make_layers(vgg.cfgs[ARCHITECTURES[arch][0]])
        torchvision_layers.load_state_dict(state, assign=True)
        names = layer_names(arch)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for name, layer in zip(names[: names.index(last) + 1], torchvision_layers):
            if isinstance(layer, nn.ReLU):
                layer = nn.ReLU(inplace=False)
            elif isinstance(layer, nn.MaxPool2d) and pooling == "avg":
                layer = nn.AvgPool2d(kernel_size=2, stride=2)
            layers[name] = layer
        self.layers = nn.Sequential(layers)
        transform = ARCHITECTURES[arch][1].transforms()
        self.register_buffer("mean", torch.tensor(transform.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(transform.std).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def forward(self, image: torch.Tensor, layers: Collection[str]) -> dict[str, torch.Tensor]:
        wanted = set(layers)
        found: dict[str, torch.Tensor] = {}
        x = (image - self.mean) / self.std
        for name, layer in self.layers.named_children():
            x = layer(x)
            if name in wanted:
                found[name] = x
                if len(found) == len(wanted):
                    break
        return found


@lru_cache(maxsize=2)
def random_state(arch: str) -> dict[str, torch.Tensor]:
    """Untrained VGG ``features`` weights (see the module doc), the same on every call."""
    generator = seeding.generator(0, seeding.FEATURE_NETWORK)
    state = {}
    for key, shape in feature_shapes(arch).items():
        state[key] = torch.empty(shape)
        if key.endswith(".weight"):
            nn.init.kaiming_normal_(state[key], mode="fan_in", nonlinearity="relu", generator=generator)
        else:
            nn.init.zeros_(state[key])
    return state


def feature_shapes(arch: str) -> dict[str, torch.Size]:
    """Parameter names and shapes of ``torchvision.models.<arch>().features`` (built on the meta device)."""
    with torch.device("meta"):
        layers = vgg.make_layers(vgg.cfgs[ARCHITECTURES[arch][0]])
    return {key: value.shape for key, value in layers.state_dict().items()}


def feature_network(weights: FeatureWeights, pooling: str, last: str, device: torch.device) -> VGGFeatures:
    """The frozen network with ``weights`` up to layer ``last`` (a name from :func:`layer_names`)."""
    if weights.kind == "random":
        state = random_state(weights.arch)
    else:
        state = _load_features(*_file_key(Path(weights.path or "")))[1]
    return VGGFeatures(weights.arch, pooling, state, last).to(device)
