"""Sample grids: 64 generated images from fixed latent vectors, as PNG, so runs can be compared by eye.

The latents depend only on the latent size (seed 0 of the ``grid`` stream), not on the run's
seed, so every run of a variant draws the same 64 vectors. Variants with several output scales
(ProGAN, MSG-GAN) get one grid per resolution (ProGAN: per resolution grown so far):
``samples_<size>px.png``; the finest, ``samples.png``, is also the run's ``sample_grid`` artefact.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torchvision.utils import make_grid

from ganbench.data import BenchDataset, DataOptions
from ganbench.metrics import EvaluationContext
from ganbench.results import atomic_write_bytes

GRID_SAMPLES = 64


def save_image_grid(images: torch.Tensor, path: Path, columns: int = 8) -> Path:
    """Write images (N, C, H, W) in [-1, 1] as one PNG grid (atomically); returns ``path``."""
    grid = make_grid(images.detach().float().cpu().clamp(-1, 1).add(1).div(2), nrow=columns, padding=2, pad_value=1.0)
    array = grid.mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    buffer = io.BytesIO()
    Image.fromarray(array.squeeze(-1) if array.shape[-1] == 1 else array).save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
    return path


class SampleGrid:
    name = "grid"
    summary = "PNG grid of 64 samples from fixed latent vectors (one per resolution for progressive variants)"
    section = "metrics"
    columns = ()

    def applies_to(self, dataset: BenchDataset) -> bool:
        return dataset.kind == "images"

    def check(self, dataset: BenchDataset, options: Mapping[str, Any], data: DataOptions) -> None:
        """Nothing to provide."""

    def evaluate(self, context: EvaluationContext) -> dict[str, Any]:
        scales = context.samples.scales(GRID_SAMPLES)
        finest = max(scales)
        for size, images in scales.items():
            name = "samples.png" if size == finest else f"samples_{size}px.png"
            path = save_image_grid(images, context.run_dir / name)
            context.artifacts["sample_grid" if size == finest else f"sample_grid_{size}px"] = path
        return {}

