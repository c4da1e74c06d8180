"""What a GAN variant is: a :class:`GAN` (generator, discriminator and how the trainer feeds them)
and a :class:`Variant` (its settings as data, the data kinds it handles, its builder).

Each variant is one module of :mod:`ganbench.gan.variants` defining ``VARIANT``;
:mod:`ganbench.builtins` registers it in :data:`VARIANTS`. Every variant trains on the one Ignite
trainer of :mod:`ganbench.gan.trainer`."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from ganbench.data import BenchDataset
from ganbench.registry import Registry
from ganbench.settings import Schema, Setting


class GAN(nn.Module):
    """A generator, a discriminator, and how the trainer feeds them.

    The default plumbing suits single-scale variants: the discriminator sees real and generated
    batches as they are. Variants that grow (ProGAN) or see several scales (MSG-GAN) override
    :meth:`real_input`, :meth:`generate` and :meth:`discriminate`.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, latent_dim: int) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def sample_latent(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """``count`` latent vectors z ~ N(0, I): (count, latent_dim), drawn on the CPU for
        reproducibility, then moved to the model's device."""
        return torch.randn(count, self.latent_dim, generator=generator).to(self.device)

    def generate(self, z: torch.Tensor) -> Any:
        """Generated discriminator input for latents ``z`` (a batch, or a list of scales)."""
        return self.generator(z)

    def real_input(self, real: torch.Tensor) -> Any:
        """The discriminator input for a real batch (e.g. its resolution pyramid)."""
        return real

    def discriminate(self, x: Any) -> torch.Tensor:
        """Logits for a batch: shape (N,)."""
        return self.discriminator(x).view(-1)

    @torch.no_grad()
    def sample(self, z: torch.Tensor) -> torch.Tensor:
        """Final generated samples for evaluation, (N, *sample_shape), from the generator used for
        evaluation (an EMA copy where the variant keeps one)."""
        return self.generate(z)

    @torch.no_grad()
    def sample_scales(self, z: torch.Tensor) -> dict[int, torch.Tensor]:
        """Samples at every output scale, {side length: (N, C, side, side)}; one scale unless the
        variant generates several (ProGAN's resolutions, MSG-GAN's pyramid)."""
        images = self.sample(z)
        return {images.shape[-1]: images}

    def attach(self, trainer: Any, iterations: int) -> None:
        """Attach the variant's schedule handlers (e.g. ProGAN's growth) to the trainer."""

    def schedule_state(self) -> dict[str, Any]:
        """Schedule values worth logging per iteration (e.g. resolution and fade-in alpha)."""
        return {}

    def schedule_summary(self) -> list[dict[str, Any]]:
        """The schedule's phases for the record (e.g. when each ProGAN resolution started)."""
        return []


@dataclass(frozen=True)
class Variant:
    """A named GAN variant: its settings, which data kinds it handles and its builder."""

    name: str
    summary: str
    reference: str
    settings: Schema
    kinds: tuple[str, ...]
    build: Callable[[dict[str, Any], BenchDataset], GAN]

    def image_size(self, settings: dict[str, Any]) -> int | None:
        """The image side length this variant trains at (None: the dataset's own size)."""
        return settings.get("image_size")


VARIANTS: Registry[Variant] = Registry("variant")


def with_defaults(schema: Schema, **defaults: Any) -> dict[str, Setting]:
    """A copy of ``schema`` with some defaults changed (a variant's view of the trainer's knobs)."""
    changed = dict(schema)
    for name, value in defaults.items():
        changed[name] = replace(schema[name], default=value)
    return changed


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """DCGAN initialisation: conv/linear weights N(0, std), norm weights N(1, std), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def flat_size(shape: tuple[int, ...]) -> int:
    return math.prod(shape)
