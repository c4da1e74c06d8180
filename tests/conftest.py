"""Shared fixtures (the real data folder is in the root conftest.py): a synthetic MNIST-layout data root,
and a private ganbench cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

@pytest.fixture(autouse=True)
def _deterministic_torch():
    torch.manual_seed(0)
    yield


def write_idx(path: Path, array: np.ndarray) -> None:
    """``array`` (uint8) as an IDX file, the format of the MNIST family."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="session")
def synthetic_mnist(tmp_path_factory) -> Path:
    """A data root with an MNIST-layout ``train`` split of 600 synthetic 28x28 digits and a
    ``test`` split of 300 (other noise): class c is a bright 5x5 square at its own place on a 3x4
    grid, over faint noise; classes cycle 0..9."""
    root = tmp_path_factory.mktemp("synthetic-mnist")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, count, seed in (("train", 600, 0), ("t10k", 300, 1)):
        rng = np.random.default_rng(seed)
        labels = np.arange(count) % 10
        images = rng.integers(0, 40, size=(count, 28, 28))
        for image, label in zip(images, labels):
            row, column = 4 + 7 * (label // 4), 4 + 7 * (label % 4)
            image[row:row + 5, column:column + 5] = 255
        write_idx(raw / f"{split}-images-idx3-ubyte", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
    return root


@pytest.fixture(autouse=True)
def _private_ganbench_cache(tmp_path_factory, monkeypatch):
    """Reference-feature caches and trained classifiers go to a folder of this test session."""
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "ganbench-cache"))


class ReplayGAN(torch.nn.Module):
    """A stand-in generator for evaluators: replays given float images (N, C, H, W) in order,
    cyclically (one image: a collapsed generator)."""

    latent_dim = 1

    def __init__(self, images: torch.Tensor) -> None:
        super().__init__()
        self.images = images
        self.position = 0

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def sample_latent(self, count: int, generator: torch.Generator) -> torch.Tensor:
        return torch.zeros(count, 1)

    def sample(self, z: torch.Tensor) -> torch.Tensor:
        start = self.position
        self.position = (start + len(z)) % len(self.images)
        return self.images[torch.arange(start, start + len(z)) % len(self.images)]


@pytest.fixture
def replay_gan() -> type[ReplayGAN]:
    return ReplayGAN
