"""``stacked-mnist``: three MNIST digits drawn independently as the three colour channels.

Stacked MNIST (Metz et al. 2017; Srivastava et al. 2017, VEEGAN; Lin et al. 2018, PacGAN) has
1,000 modes: the three-digit number ``100 d0 + 10 d1 + d2`` of the digits in channels 0, 1, 2.
Every real batch draws fresh triples of MNIST images (uniformly, with replacement) from a
generator seeded by (seed, "data", iteration), so runs resume exactly; the reference set is a
fixed list of triples seeded by (0, "evaluation", 0), the same for every run. Digits come from
the ``mnist`` dataset at the size the variant asks for (28x28, or 32x32 padded).
"""

from __future__ import annotations

from typing import Any

import torch

from ganbench import seeding
from ganbench.data import BenchDataset, DataOptions, load_dataset
from ganbench.data.images import ImageDataset

CHANNELS = 3


class StackedMNIST(BenchDataset):
    """Triples of digits of ``digits`` (uint8 (N, 1, H, W)) stacked into (3, H, W) samples."""

    kind = "images"
    name = "stacked-mnist"

    def __init__(self, digits: ImageDataset) -> None:
        self.digits = digits
        self.sample_shape = (CHANNELS, *digits.sample_shape[1:])
        self.num_classes = digits.num_classes**CHANNELS

    def triples(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """``count`` triples of digit indices, int64 (count, 3)."""
        return torch.randint(len(self.digits), (count, CHANNELS), generator=generator)

    def stack(self, triples: torch.Tensor) -> torch.Tensor:
        """uint8 images (count, 3, H, W) of index triples (count, 3)."""
        return self.digits.images[triples][:, :, 0]

    def modes(self, triples: torch.Tensor) -> torch.Tensor:
        """The mode (0..999) of each triple: the number its digits spell, channel 0 first."""
        place_values = torch.tensor([self.digits.num_classes ** (CHANNELS - 1 - c) for c in range(CHANNELS)])
        return (self.digits.labels[triples] * place_values).sum(dim=1)

    def batch(self, batch_size: int, seed: int, iteration: int) -> torch.Tensor:
        triples = self.triples(batch_size, seeding.generator(seed, seeding.DATA, iteration))
        return ImageDataset.to_float(self.stack(triples))

    def reference_triples(self, count: int) -> torch.Tensor:
        return self.triples(count, seeding.generator(0, seeding.EVALUATION, 0))

    def reference_images(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The reference set: uint8 images (count, 3, H, W) and their modes (count,)."""
        triples = self.reference_triples(count)
        return self.stack(triples), self.modes(triples)

    def reference(self, count: int) -> torch.Tensor:
        return ImageDataset.to_float(self.reference_images(count)[0])

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "split": self.digits.provenance["split"], "modes": self.num_classes,
                "digits": self.digits.describe(),
                "rule": "3 MNIST digits drawn uniformly with replacement as channels 0, 1, 2"}


def stacked_mnist(options: DataOptions) -> StackedMNIST:
    digits = load_dataset("mnist", options)
    assert isinstance(digits, ImageDataset)
    return StackedMNIST(digits)
