"""Real images as a model's samples: the real-data floor (``ganbench evaluate``'s ``real`` option).

A metric's floor is what two independent sets of *real* images give under the same protocol (the
same backbone, N generated, M reference, image size, reference split): a generator cannot be
told apart from real data on those features once it comes within the floor's spread. The option
``real`` = SPLIT evaluates, for each seed, ``count`` real images of the reference dataset's SPLIT
in place of generated ones:

- from the other split (e.g. 10,000 training images against the test split's reference), a
  seeded random subset of the split;
- from the reference's own split, a seeded random subset of the images *outside* the reference
  set (:meth:`ganbench.data.images.ImageDataset.reference_indices`), so the two sets are disjoint
  (e.g. 5,000 against the other 5,000 of the test split with ``eval.reference_samples=5000``).

Subset of seed s: ``torch.randperm(candidates, generator=seeding.generator(s, "real-subset"))``'s
first ``count``, so every seed draws another subset and the floor gets an interval over seeds as a
model does. The images are the loader's uint8 images at ``eval.image_size``, as float
``u / 127.5 - 1``: exactly what the reference features are computed from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ganbench import seeding
from ganbench.data import DataOptions, load_dataset
from ganbench.data.images import ImageDataset
from ganbench.errors import UserError, option

@dataclass(frozen=True)
class RealImages:
    """One seed's real images: ``images`` float32 (count, C, S, S) in [-1, 1], their ``indices``
    in the ``split`` of ``dataset``, and how many reference images were left out of the draw."""

    dataset: str
    split: str
    seed: int
    images: torch.Tensor
    indices: torch.Tensor
    excluded: int
    data_sha256: str

    @property
    def source(self) -> str:
        return f"{self.dataset}:{self.split}"

    @property
    def sha256(self) -> str:
        """sha256 of the dataset's files and the chosen indices: which real images these are."""
        digest = hashlib.sha256(self.data_sha256.encode())
        digest.update(self.indices.numpy().astype("int64").tobytes())
        return digest.hexdigest()

    def card(self, count: int) -> dict[str, Any]:
        """The protocol card of these real images, ``count`` of them evaluated."""
        return {"name": self.source, "format": "real", "sha256": self.sha256, "split": self.split, "seed": self.seed,
                "subset": f"first {count} of torch.randperm over the split's images"
                          + (f" outside the {self.excluded} reference images" if self.excluded else "")
                          + f", seeded by seeding.generator({self.seed}, '{seeding.REAL_SUBSET}')",
                "available": len(self.images), "evaluated": count, "image_shape": list(self.images.shape[1:]),
                "layout": "NCHW", "value_range": "uint8", "dtype": "uint8",
                "preprocessing": "the loader's uint8 images at eval.image_size, as u / 127.5 - 1 (the reference's own)"}


def _data_sha256(dataset: ImageDataset) -> str:
    """A digest of what identifies the dataset's files (their checksums in its provenance)."""
    return hashlib.sha256(repr(sorted(dataset.describe().items())).encode()).hexdigest()


def draw_real(reference: ImageDataset, request_split: str, split: str, data: DataOptions, seeds: Sequence[int],
              count: int, reference_count: int) -> list[RealImages]:
    """``count`` real images of ``split`` for each of ``seeds``, disjoint from the
    ``reference_count`` reference images where ``split`` is the reference's (``request_split``);
    the split is loaded and its candidates found once for all seeds. ``UserError`` naming the fix
    where the split holds too few."""
    same = split == request_split
    dataset = reference if same else load_dataset(reference.name, DataOptions(
        data_root=data.data_root, split=split, image_size=data.image_size))
    if not isinstance(dataset, ImageDataset):
        raise UserError(f"{option('real', split)} needs an image dataset; {reference.name} is not one")
    excluded = reference.reference_indices(reference_count) if same else torch.empty(0, dtype=torch.long)
    allowed = torch.ones(len(dataset), dtype=torch.bool)
    allowed[excluded] = False
    candidates = allowed.nonzero().flatten()
    if len(candidates) < count:
        fix = (f"lower {option('set', 'eval.reference_samples=K')} so that K + N <= {len(dataset)}, or use the other "
               "split" if same else f"lower {option('samples_count')}")
        raise UserError(f"{option('real', split)}: the {split} split of {reference.name} has {len(candidates)} images "
                        f"{'outside the reference set ' if same else ''}to draw from, fewer than the {count} asked; "
                        f"{fix}")
    data_sha256 = _data_sha256(dataset)
    drawn = []
    for seed in seeds:
        order = torch.randperm(len(candidates), generator=seeding.generator(seed, seeding.REAL_SUBSET))
        indices = candidates[order[:count]]
        drawn.append(RealImages(reference.name, split, seed, dataset.to_float(dataset.images[indices]), indices,
                                len(excluded), data_sha256))
    return drawn
