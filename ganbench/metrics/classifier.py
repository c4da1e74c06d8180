"""The digit classifier behind the ``lenet`` backbone, the ``classes`` and the ``stacked`` metrics.

:class:`LeNet` is LeNet-5's layout (LeCun et al. 1998: two 5x5 convolutions with 2x2 pooling, then
fully connected layers of 120 and 84 units) with ReLU, max pooling and 16/32 channels. It reads
one grey channel at 32x32, the size LeNet-5 read MNIST at (28x28 digits padded by 2 pixels), the
canonical evaluation size of the MNIST family. Its 84 penultimate activations are the ``lenet``
features for FID, KID, precision/recall and density/coverage; its 10 logits feed the Inception
Score and the class predictions (cf. the LeNet features of Binkowski et al. 2018).

The ``classifier train`` command trains one on an Ignite engine: a fixed seeded part
of the chosen split is held out and never trained on, the rest is trained on with random shifts
of up to ``max_shift`` pixels, and the held-out accuracy is measured at the end (no early
stopping: the held-out part plays no role in training). The weights go to ``PATH.pt`` and
everything about how they were made, with their sha256, to ``PATH.json``.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from ignite.engine import Engine, Events, create_supervised_evaluator
from ignite.metrics import Accuracy
from torch import nn

from ganbench import seeding
from ganbench.data.images import ImageDataset
from ganbench.errors import UserError, command, option
from ganbench.provenance import software, utc_now
from ganbench.results import atomic_write_bytes, atomic_write_text

ARCHITECTURE = "lenet5-relu-maxpool-16-32-120-84"
INPUT_SIZE = 32
CLASSIFIER_STREAM = "classifier"


class LeNet(nn.Module):
    """uint8 grey digits (N, 1, 32, 32) -> features (N, 84) (after ReLU) and logits (N, classes).

    Pixels are mapped to [-1, 1] (``x / 127.5 - 1``), the range the GANs generate in.
    """

    feature_size = 84

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2),    # 32 -> 28 -> 14
            nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),   # 14 -> 10 -> 5
            nn.Flatten(),
            nn.Linear(32 * 5 * 5, 120), nn.ReLU(),
            nn.Linear(120, self.feature_size), nn.ReLU(),
        )
        self.head = nn.Linear(self.feature_size, classes)

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``images`` uint8 (N, 1, 32, 32) -> (features (N, 84), logits (N, classes)), float32."""
        features = self.body(ImageDataset.to_float(images))
        return features, self.head(features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits (N, classes) for uint8 images (N, 1, 32, 32)."""
        return self.features_and_logits(images)[1]


@dataclass(frozen=True)
class TrainingPlan:
    """How a classifier is trained: ``held_out`` samples of the split are set aside (the first
    ``held_out`` of a permutation seeded by (seed, "classifier")); the rest is trained on for
    ``epochs`` passes in batches of ``batch_size`` with Adam at ``learning_rate`` and random shifts
    of up to ``max_shift`` pixels (zero padding)."""

    epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 1e-3
    held_out: int = 2000
    max_shift: int = 2
    seed: int = 0


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@lru_cache(maxsize=16)
def _sha256_of(path: str, size: int, modified_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    """The sha256 of a file (hex), remembered per (path, size, modification time)."""
    stat = path.stat()
    return _sha256_of(str(path), stat.st_size, stat.st_mtime_ns)


def split_indices(count: int, plan: TrainingPlan) -> tuple[torch.Tensor, torch.Tensor]:
    """(training indices, held-out indices) of a split of ``count`` samples."""
    if not 0 < plan.held_out < count:
        raise UserError(f"{option('held_out')} must be between 1 and {count - 1} (the split has {count} samples), "
                        f"got {plan.held_out}")
    order = torch.randperm(count, generator=seeding.generator(plan.seed, CLASSIFIER_STREAM, 0))
    return order[plan.held_out:], order[: plan.held_out]


def shift_randomly(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each image of uint8 (N, 1, H, W) moved by its own random offset in [-max_shift, max_shift]
    pixels along each axis; uncovered pixels are 0 (black)."""
    if max_shift == 0:
        return images
    count, _, height, width = images.shape
    padded = F.pad(images[:, 0], (max_shift, max_shift, max_shift, max_shift))
    offsets = torch.randint(0, 2 * max_shift + 1, (count, 2), generator=generator)
    rows = offsets[:, 0, None, None] + torch.arange(height)[None, :, None]  # (N, H, 1)
    columns = offsets[:, 1, None, None] + torch.arange(width)[None, None, :]  # (N, 1, W)
    return padded[torch.arange(count)[:, None, None], rows, columns].unsqueeze(1)


def held_out_accuracy(model: LeNet, images: torch.Tensor, labels: torch.Tensor, batch_size: int) -> float:
    """Top-1 accuracy of ``model`` on uint8 ``images`` (N, 1, 32, 32), from an Ignite evaluator."""
    evaluator = create_supervised_evaluator(model, metrics={"accuracy": Accuracy()})
    batches = list(zip(images.split(batch_size), labels.split(batch_size)))
    model.eval()
    evaluator.run(batches)
    return float(evaluator.state.metrics["accuracy"])


def train_classifier(dataset: ImageDataset, plan: TrainingPlan, progress: bool = False) -> tuple[LeNet, dict[str, Any]]:
    """Train a :class:`LeNet` on ``dataset`` (uint8 (N, 1, 32, 32), labels 0..classes-1) following
    ``plan``; returns the model (eval mode, CPU) and the facts of its training (accuracies in [0, 1])."""
    if dataset.sample_shape != (1, INPUT_SIZE, INPUT_SIZE):
        raise UserError(f"the lenet classifier reads grey {INPUT_SIZE}x{INPUT_SIZE} images; {dataset.name} has "
                        f"samples of shape {dataset.sample_shape}")
    train_indices, held_indices = split_indices(len(dataset), plan)
    training_set = ImageDataset(dataset.name, dataset.images[train_indices], dataset.labels[train_indices],
                                dataset.num_classes, dataset.provenance)
    torch.manual_seed(seeding.derive_seed(plan.seed, seeding.INIT))
    model = LeNet(dataset.num_classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=plan.learning_rate)
    batches_per_epoch = math.ceil(len(training_set) / plan.batch_size)

    def train_step(engine: Engine, _: None) -> float:
        model.train()
        indices = training_set.batch_indices(plan.batch_size, plan.seed, engine.state.iteration)
        shifts = seeding.generator(plan.seed, CLASSIFIER_STREAM, engine.state.iteration)
        images = shift_randomly(training_set.images[indices], plan.max_shift, shifts)
        loss = F.cross_entropy(model(images), training_set.labels[indices])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    trainer = Engine(train_step)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=plan.epochs * batches_per_epoch)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda _: schedule.step())
    if progress:
        from ignite.handlers import ProgressBar

        bar = ProgressBar(persist=False, desc=f"classifier {dataset.name}")
        bar.attach(trainer, output_transform=lambda loss: {"loss": loss})
    started = time.perf_counter()
    trainer.run(None, max_epochs=plan.epochs, epoch_length=batches_per_epoch)
    seconds = time.perf_counter() - started
    model.eval()
    facts = {
        "train_samples": len(train_indices),
        "held_out_samples": len(held_indices),
        "held_out_indices_sha256": sha256_bytes(held_indices.sort().values.numpy().tobytes()),
        "train_accuracy": held_out_accuracy(model, training_set.images, training_set.labels, 1000),
        "held_out_accuracy": held_out_accuracy(model, dataset.images[held_indices], dataset.labels[held_indices], 1000),
        "training_seconds": seconds,
    }
    return model, facts


def save_classifier(model: LeNet, path: Path, metadata: dict[str, Any]) -> dict[str, Any]:
    """Write the weights to ``path`` (``.pt``, a state dict) and ``metadata`` with the weights'
    sha256 to ``path.with_suffix('.json')``, both atomically; returns the metadata written."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    data = buffer.getvalue()
    metadata = {**metadata, "weights_file": path.name, "weights_sha256": sha256_bytes(data)}
    atomic_write_bytes(path, data)
    atomic_write_text(metadata_path(path), json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    return metadata


def metadata_path(weights: Path) -> Path:
    return weights.with_suffix(".json")


def read_metadata(weights: Path) -> dict[str, Any]:
    """The metadata beside a classifier's weights, after checking the weights' sha256 against it."""
    description = metadata_path(weights)
    if not weights.is_file() or not description.is_file():
        raise UserError(f"classifier weights {weights} or their description {description.name} are missing; "
                        f"train them with `{command('classifier train', dataset='DATASET', out=weights)}`")
    metadata = json.loads(description.read_text())
    actual = sha256_file(weights)
    if actual != metadata.get("weights_sha256"):
        raise UserError(f"classifier weights {weights} have sha256 {actual[:12]}…, not the "
                        f"{str(metadata.get('weights_sha256'))[:12]}… recorded in {description.name}; "
                        "restore the file or train it again with `ganbench classifier train`")
    return metadata


@lru_cache(maxsize=4)
def _load(path: str, sha256: str) -> LeNet:
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = LeNet(state["head.weight"].shape[0])
    model.load_state_dict(state)
    model.requires_grad_(False)
    return model.eval()


def load_classifier(weights: Path) -> LeNet:
    """The classifier stored at ``weights`` (checked against its metadata), in eval mode on the CPU."""
    metadata = read_metadata(weights)
    return _load(str(weights), metadata["weights_sha256"])


def training_metadata(dataset: ImageDataset, plan: TrainingPlan, facts: dict[str, Any], command: str) -> dict[str, Any]:
    """What the metadata file says about a classifier trained on ``dataset`` with ``plan``."""
    data = {key: value for key, value in dataset.describe().items() if key != "root"}
    return {
        "architecture": ARCHITECTURE,
        "input": f"uint8 grey images (N, 1, {INPUT_SIZE}, {INPUT_SIZE}), mapped to [-1, 1]",
        "features": f"{LeNet.feature_size} penultimate activations (after ReLU)",
        "classes": dataset.num_classes,
        "dataset": dataset.name,
        "data": data,
        "plan": asdict(plan),
        "held_out_rule": (f"the first {plan.held_out} indices of torch.randperm({len(dataset)}) seeded by "
                          f"ganbench.seeding.generator({plan.seed}, '{CLASSIFIER_STREAM}', 0); never trained on"),
        "augmentation": f"random shifts of up to {plan.max_shift} pixels per axis, zero padding",
        "optimizer": f"Adam, cosine learning-rate decay from {plan.learning_rate} over the run",
        **facts,
        "command": command,
        "software": {key: value for key, value in software().items() if key != "command"},
        "created_utc": utc_now(),
    }


def predict_modes(model: LeNet, images: torch.Tensor) -> torch.Tensor:
    """The predicted mode of each uint8 image (N, C, 32, 32): its class when C == 1; for stacked
    digits the number they spell, channel 0 first (``100 d0 + 10 d1 + d2`` for 10 classes, C = 3)."""
    classes = model.head.out_features
    modes = torch.zeros(len(images), dtype=torch.long)
    for channel in images.split(1, dim=1):
        modes = modes * classes + model(channel).argmax(dim=1).cpu()
    return modes
