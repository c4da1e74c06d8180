"""``progan``: progressive growing of GANs (Karras, Aila, Laine & Lehtinen 2018), 4x4 up to 32x32.

Training starts at 4x4 and unlocks each next resolution in two phases: a *fade-in*, where the new
block's output is blended with the upsampled output of the previous resolution by ``alpha``
rising linearly from 0 to 1 (D's input side is blended the same way, and so are the real images:
``alpha * x_r + (1 - alpha) * upsample(x_{r/2})``), then a *stable* phase at alpha = 1. The
2L - 1 phases of L resolutions have equal length, a fraction of the run's iterations; an Ignite
handler sets resolution and alpha at the start of every iteration, so resumed runs pick up the
schedule where they stopped.

Paper ingredients: pixelwise feature normalisation in G, minibatch standard deviation in D,
equalized learning rate, WGAN-GP (lambda 10) with drift 0.001, Adam lr 1e-3, betas (0, 0.99), and
an exponential moving average of G's weights (the shared ``ema`` setting, on by default here:
decay 0.999, warmed up as (1 + t) / (10 + t) while that is smaller), evaluated beside the live G
(whose metrics are the headline, as for every variant). As the reference code
(``reset_opt_for_new_lod``), both optimisers' Adam moments are reset whenever the level of detail
changes: at the first iteration of every phase after the first.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from ignite.engine import Engine, Events
from torch import nn

from ganbench.data import BenchDataset
from ganbench.gan.model import GAN, Variant, with_defaults
from ganbench.gan.variants.layers import (
    PYRAMID_SETTINGS,
    EqualizedConv2d,
    InitialBlock,
    conv_block,
    downsample,
    final_block,
    pyramid,
    upsample,
)
from ganbench.gan.trainer import TRAINER_SETTINGS


class Generator(nn.Module):
    """z (N, latent_dim) -> images (N, channels, sizes[level], sizes[level]) for a level and alpha."""

    def __init__(self, latent_dim: int, sizes: list[int], widths: list[int], channels: int) -> None:
        super().__init__()
        self.first = InitialBlock(latent_dim, widths[0])
        self.blocks = nn.ModuleList([nn.Identity()] + [conv_block(widths[i - 1], widths[i], pixel_norm=True)
                                                       for i in range(1, len(sizes))])
        self.to_rgb = nn.ModuleList([EqualizedConv2d(width, channels, 1, gain=1.0) for width in widths])

    def features(self, z: torch.Tensor, level: int) -> list[torch.Tensor]:
        """Feature maps of levels 0..level."""
        x = self.first(z)
        maps = [x]
        for block in self.blocks[1: level + 1]:
            x = block(upsample(x))
            maps.append(x)
        return maps

    def forward(self, z: torch.Tensor, level: int, alpha: float) -> torch.Tensor:
        maps = self.features(z, level)
        image = self.to_rgb[level](maps[-1])
        if level > 0 and alpha < 1:
            image = alpha * image + (1 - alpha) * upsample(self.to_rgb[level - 1](maps[-2]))
        return image


class Discriminator(nn.Module):
    """images (N, channels, sizes[level], sizes[level]) -> logits (N, 1) for a level and alpha."""

    def __init__(self, sizes: list[int], widths: list[int], channels: int) -> None:
        super().__init__()
        self.from_rgb = nn.ModuleList([nn.Sequential(EqualizedConv2d(channels, width, 1), nn.LeakyReLU(0.2))
                                       for width in widths])
        self.blocks = nn.ModuleList([nn.Identity()] + [conv_block(widths[i], widths[i - 1], pixel_norm=False)
                                                       for i in range(1, len(sizes))])
        self.final = final_block(widths[0], widths[0])

    def forward(self, x: torch.Tensor, level: int, alpha: float) -> torch.Tensor:
        h = self.from_rgb[level](x)
        if level > 0:
            h = downsample(self.blocks[level](h))
            if alpha < 1:
                h = alpha * h + (1 - alpha) * self.from_rgb[level - 1](downsample(x))
            for block in reversed(self.blocks[1:level]):
                h = downsample(block(h))
        return self.final(h)


@dataclass(frozen=True)
class Phase:
    """One phase of growth: iterations [start, end) at ``resolution``, fading in or stable."""

    resolution: int
    level: int
    fading: bool
    start: float
    end: float

    def alpha(self, iteration: int) -> float:
        """1 in a stable phase; in a fade-in (iteration - 1 - start) / length, clipped to [0, 1]:
        0 at the phase's first iteration, rising linearly."""
        if not self.fading:
            return 1.0
        return min(1.0, max(0.0, (iteration - 1 - self.start) / (self.end - self.start)))

    @property
    def first_iteration(self) -> int | None:
        """The first (1-based) iteration of this phase, or None when it is shorter than one iteration."""
        position = math.ceil(self.start)
        return position + 1 if position < self.end else None


def growth_phases(sizes: list[int], iterations: int) -> list[Phase]:
    """The 2L - 1 equal phases: stable 4x4, then (fade-in, stable) for every next resolution."""
    kinds = [(0, False)] + [(level, fading) for level in range(1, len(sizes)) for fading in (True, False)]
    length = iterations / len(kinds)
    return [Phase(sizes[level], level, fading, i * length, (i + 1) * length) for i, (level, fading) in enumerate(kinds)]


def phase_at(phases: list[Phase], iteration: int) -> Phase:
    """The phase that iteration (1-based) falls in: the one whose [start, end) holds iteration - 1."""
    position = iteration - 1
    for phase in phases:
        if position < phase.end:
            return phase
    return phases[-1]


class ProGAN(GAN):
    """Holds the current level and alpha; evaluation samples come from the sampling generator (the
    live G, or its EMA copy) at the current level, upsampled to the final size (so mid-training
    evaluations are comparable)."""

    def __init__(self, generator: Generator, discriminator: Discriminator, latent_dim: int, sizes: list[int]) -> None:
        super().__init__(generator, discriminator, latent_dim)
        self.sizes = sizes
        self.level = len(sizes) - 1
        self.alpha = 1.0
        self.phases: list[Phase] = []
        self.optimizer_resets: list[int] = []

    def run_generator(self, generator: nn.Module, z: torch.Tensor) -> torch.Tensor:
        return generator(z, self.level, self.alpha)

    def real_input(self, real: torch.Tensor) -> torch.Tensor:
        """Real batch (N, C, final, final) brought to the current resolution and faded like G's output."""
        factor = self.sizes[-1] // self.sizes[self.level]
        x = F.avg_pool2d(real, factor) if factor > 1 else real
        if self.level > 0 and self.alpha < 1:
            x = self.alpha * x + (1 - self.alpha) * upsample(downsample(x))
        return x

    def discriminate(self, x: torch.Tensor) -> torch.Tensor:
        return self.discriminator(x, self.level, self.alpha).view(-1)

    @torch.no_grad()
    def sample(self, z: torch.Tensor) -> torch.Tensor:
        images = self.run_generator(self.sampling_generator, z).clamp(-1, 1)
        factor = self.sizes[-1] // images.shape[-1]
        return F.interpolate(images, scale_factor=factor, mode="nearest") if factor > 1 else images

    @torch.no_grad()
    def sample_scales(self, z: torch.Tensor) -> dict[int, torch.Tensor]:
        """Samples of the sampling generator at the resolutions grown so far: {size: (N, C, size,
        size)}, the levels below the current one at alpha 1, the current one at the current alpha,
        and the final size as :meth:`sample` gives it (the current level upsampled) — the images
        the metrics read. Levels not yet grown are left out: their output paths are untrained (a
        grid of them showed noise in a bright frame mid-growth, which no evaluated sample had)."""
        scales = {size: self.sampling_generator(z, level, 1.0 if level < self.level else self.alpha).clamp(-1, 1)
                  for level, size in enumerate(self.sizes[: self.level + 1])}
        scales[self.sizes[-1]] = self.sample(z)
        return scales

    def attach(self, trainer: Engine, iterations: int, optimizers: Mapping[str, torch.optim.Optimizer]) -> None:
        """Sets level and alpha before every iteration and, at the first iteration of every phase
        but the first, clears the Adam state of ``optimizers`` (moments and step counts restart,
        as in the reference code); the EMA handler comes from :meth:`GAN.attach`."""
        super().attach(trainer, iterations, optimizers)
        self.phases = growth_phases(self.sizes, iterations)
        starts = {p.first_iteration for p in self.phases[1:]} - {None}

        @trainer.on(Events.ITERATION_STARTED)
        def grow(engine: Engine) -> None:
            iteration = engine.state.iteration
            phase = phase_at(self.phases, iteration)
            self.level, self.alpha = phase.level, phase.alpha(iteration)
            if iteration in starts:
                for optimizer in optimizers.values():
                    optimizer.state.clear()
                self.optimizer_resets.append(iteration)

    def schedule_state(self) -> dict[str, Any]:
        return {"resolution": self.sizes[self.level], "alpha": self.alpha}

    def cost_states(self) -> list[Hashable]:
        """(level, fading) of every phase: a fade-in also runs the previous resolution's paths."""
        return [(phase.level, phase.fading) for phase in growth_phases(self.sizes, 1)]

    def enter_cost_state(self, state: Hashable) -> None:
        level, fading = state  # type: ignore[misc]
        self.level, self.alpha = level, 0.5 if fading else 1.0

    def cost_groups(self, planned: int, done: int | None = None) -> dict[Hashable, int]:
        """Iterations by (level, fading) of the growth schedule of a run planned for ``planned``
        (iteration ``i`` is in the phase holding ``i - 1``, as :func:`phase_at` has it)."""
        done = planned if done is None else done
        groups: dict[Hashable, int] = {}
        for phase in growth_phases(self.sizes, planned):
            count = max(0, min(math.ceil(phase.end), done) - min(math.ceil(phase.start), done))
            groups[(phase.level, phase.fading)] = groups.get((phase.level, phase.fading), 0) + count
        return groups

    def schedule_summary(self) -> list[dict[str, Any]]:
        """Each phase's first iteration (1-based), resolution, kind, alpha at that iteration and
        whether the optimisers' Adam state was reset there (every phase but the first)."""
        return [{"resolution": p.resolution, "phase": "fade-in" if p.fading else "stable",
                 "start_iteration": p.first_iteration, "alpha_at_start": p.alpha(p.first_iteration),
                 "adam_reset": i > 0}
                for i, p in enumerate(self.phases) if p.first_iteration is not None]


SETTINGS = {
    **with_defaults(TRAINER_SETTINGS, batch_size=64, lr_g=1e-3, lr_d=1e-3, beta1=0.0, beta2=0.99, loss="wgan-gp",
                    drift=0.001, ema=True),
    **PYRAMID_SETTINGS,
}


def build(settings: dict[str, Any], data: BenchDataset) -> ProGAN:
    channels, sizes, widths = pyramid(settings, data.sample_shape)
    generator = Generator(settings["latent_dim"], sizes, widths, channels)
    discriminator = Discriminator(sizes, widths, channels)
    return ProGAN(generator, discriminator, settings["latent_dim"], sizes)


VARIANT = Variant(
    name="progan",
    summary="progressive growing 4->8->16->32 with fade-in, pixel norm, minibatch std, equalized lr, WGAN-GP, "
            "G EMA",
    reference="Karras, Aila, Laine & Lehtinen 2018",
    settings=SETTINGS,
    kinds=("images",),
    build=build,
    # smoke tiny networks; quick narrower ones for a 2-core CPU; paper 800k real images per phase
    # x 7 phases at batch 64.
    scales={"smoke": {"width": 8, "max_width": 16, "latent_dim": 32, "batch_size": 16},
            "quick": {"width": 16, "max_width": 64, "latent_dim": 128, "batch_size": 32}},
    lengths={"quick": 700, "paper": 87_500},
)
