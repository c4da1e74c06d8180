"""The memorisation checks of a run (``eval.memorisation``): AuthPct and C_T of its generated
features against the training images it saw, and the figure of the generated samples closest to a
training image beside that image. Definitions in :mod:`ganbench.metrics.memorisation`.

- Training reference: ``eval.memorisation_samples`` images of the split the run trained on
  (``data_options.split``; all of a smaller split; the dataset's fixed reference subset), at the
  canonical size, through the run's backbone; their features are cached like the fidelity
  reference's (same cache name when the two sets are the same images, so they are extracted once).
- C_T's held-out set: as many images of the other split (``test`` for ``train`` and back), cached
  alike. When that split is not on disk, or C_T is undefined (a k-means cell without held-out or
  training images, or no cell holding more than 20 / N of the generated samples), the record has
  ``ct_skipped`` saying why instead of ``ct``.
- ``closest_training.png``: the ``CLOSEST_PAIRS`` generated samples nearest to a training image
  (in feature distance), each above its nearest training image (artifact ``closest_training``);
  the record keeps their distances and indices as ``closest_training`` ([[distance, generated
  index, training index], ...], nearest first).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ganbench.errors import UserError
from ganbench.metrics import EvaluationContext
from ganbench.metrics.grid import save_image_grid
from ganbench.metrics.memorisation import authenticity, data_copying

CLOSEST_PAIRS = 8
OTHER_SPLIT = {"train": "test", "test": "train"}


def closest_pairs(generated_images: torch.Tensor, training_images: torch.Tensor, nearest_index: torch.Tensor,
                  nearest_distance: torch.Tensor, path: Any) -> list[list[float]]:
    """Write the figure of the generated samples nearest to a training image (top row) above those
    training images (bottom row) to ``path``; returns [[distance, generated index, training index], ...]."""
    count = min(CLOSEST_PAIRS, len(nearest_distance))
    order = nearest_distance.cpu().argsort()[:count]
    chosen = nearest_index.cpu()[order]
    pair_images = torch.cat([generated_images[order], training_images[chosen]]).float().div(127.5).sub(1)
    save_image_grid(pair_images, path, columns=count)
    return [[float(nearest_distance[g]), int(g), int(t)] for g, t in zip(order, chosen)]


RealFeatures = Callable[[str], tuple[torch.Tensor, torch.Tensor]]


def memorisation_values(context: EvaluationContext, generated_images: torch.Tensor, generated: torch.Tensor,
                        real_features: RealFeatures) -> dict[str, Any]:
    """AuthPct, C_T (or ``ct_skipped``), ``closest_training`` and the counts, for generated uint8
    images (N, C, S, S) with their features (N, D); writes ``closest_training.png`` into the run's
    folder. ``real_features(split)``: uint8 images (n, C, S, S) of ``eval.memorisation_samples`` of
    that split at the canonical size and their features (n, D) through the run's backbone, cached
    (``UserError`` when the split is not on disk)."""
    split = context.data_options.split
    training_images, training = real_features(split)
    authpct, nearest = authenticity(generated, training)
    path = context.run_dir / "closest_training.png"
    pairs = closest_pairs(generated_images, training_images, nearest.index, nearest.distance, path)
    context.artifacts["closest_training"] = path
    values: dict[str, Any] = {"authpct": authpct, "closest_training": pairs, "memorisation_split": split,
                              "memorisation_samples": len(training)}
    other = OTHER_SPLIT.get(split)
    try:
        if other is None:
            raise UserError(f"the {split} split has no other split to hold out")
        held_out = real_features(other)[1]
    except UserError as error:
        values["ct_skipped"] = f"no held-out split: {error}"
        return values
    values.update(ct_held_out_split=other, ct_held_out_samples=len(held_out))
    try:
        values["ct"] = data_copying(generated, held_out, training, context.seed, context.options["ct_cells"])
    except ValueError as error:  # a cell without held-out or training images, or none with enough generated ones
        values["ct_skipped"] = str(error)
    return values
