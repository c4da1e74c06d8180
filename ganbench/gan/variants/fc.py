"""``fc``: the fully connected GAN (Goodfellow et al. 2014) as PacGAN runs it on 2D mixtures.

Defaults are PacGAN's 2D architecture (Lin et al. 2018, fjxmlzn/PacGAN configs): a 2-d latent,
G = 4 hidden layers of 400 units with BatchNorm and ReLU, D = 3 maxout layers of 200 units with
5 pieces, Adam lr 1e-4, beta1 0.8, batch 100, N(0, 0.02) init. On images, G ends in tanh and its
output is reshaped to (C, H, W); D flattens its input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from ignite.engine import Engine, Events
from torch import nn

from ganbench.data import BenchDataset
from ganbench.gan.model import GAN, Variant, flat_size, init_normal, with_defaults
from ganbench.settings import Setting
from ganbench.gan.trainer import TRAINER_SETTINGS


class Maxout(nn.Module):
    """Linear maxout: (N, in) -> (N, out), the max over ``pieces`` affine maps."""

    def __init__(self, in_features: int, out_features: int, pieces: int) -> None:
        super().__init__()
        self.pieces = pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(x.shape[0], -1, self.pieces).amax(dim=2)


class Generator(nn.Module):
    """z (N, latent_dim) -> samples (N, *sample_shape); tanh output for images, linear for points."""

    def __init__(self, latent_dim: int, widths: tuple[int, ...], sample_shape: tuple[int, ...], images: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width_in = latent_dim
        for width in widths:
            layers += [nn.Linear(width_in, width), nn.BatchNorm1d(width), nn.ReLU(inplace=True)]
            width_in = width
        layers.append(nn.Linear(width_in, flat_size(sample_shape)))
        if images:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        self.sample_shape = sample_shape

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.sample_shape)


class Discriminator(nn.Module):
    """samples (N, *sample_shape) -> logits (N, 1); maxout or LeakyReLU(0.2) hidden layers."""

    def __init__(self, sample_shape: tuple[int, ...], widths: tuple[int, ...], maxout_pieces: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width_in = flat_size(sample_shape)
        for width in widths:
            if maxout_pieces > 1:
                layers.append(Maxout(width_in, width, maxout_pieces))
            else:
                layers += [nn.Linear(width_in, width), nn.LeakyReLU(0.2, inplace=True)]
            width_in = width
        layers.append(nn.Linear(width_in, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class FcGAN(GAN):
    """The fc GAN, with an optional linear decay of both Adam learning rates.

    ``lr_decay="linear"``: before iteration t (1..T of a run planned for T iterations) each
    optimiser's learning rate is its setting times (T - t + 1) / T, from the full rate at the
    first iteration to 1/T of it at the last. It is a function of the iteration alone, so a
    resumed run follows the schedule of an uninterrupted one.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, latent_dim: int,
                 learning_rates: Mapping[str, float], lr_decay: str) -> None:
        super().__init__(generator, discriminator, latent_dim)
        self.learning_rates = dict(learning_rates)
        self.lr_decay = lr_decay

    def attach(self, trainer: Engine, iterations: int, optimizers: Mapping[str, torch.optim.Optimizer]) -> None:
        super().attach(trainer, iterations, optimizers)
        if self.lr_decay == "none":
            return

        @trainer.on(Events.ITERATION_STARTED)
        def decay(engine: Engine) -> None:
            factor = (iterations - engine.state.iteration + 1) / iterations
            for name, optimizer in optimizers.items():
                for group in optimizer.param_groups:
                    group["lr"] = self.learning_rates[name] * factor


SETTINGS = {
    **with_defaults(TRAINER_SETTINGS, batch_size=100, lr_g=1e-4, lr_d=1e-4, beta1=0.8),
    "latent_dim": Setting(2, "latent size", minimum=1),
    "g_widths": Setting((400, 400, 400, 400), "hidden layer widths of G"),
    "d_widths": Setting((200, 200, 200), "hidden layer widths of D"),
    "maxout_pieces": Setting(5, "maxout pieces per D unit (1: LeakyReLU 0.2 instead)", minimum=1),
    "lr_decay": Setting("none", "learning-rate schedule of both optimisers: none (constant) or linear (from "
                        "lr_g and lr_d at the first iteration to 1/T of them at the last of T)",
                        choices=("none", "linear")),
    "image_size": Setting(None, "image side length to train at (none: the dataset's own)", kind="int",
                          optional=True, minimum=4),
}


def build(settings: dict[str, Any], data: BenchDataset) -> GAN:
    images = data.kind == "images"
    generator = Generator(settings["latent_dim"], settings["g_widths"], data.sample_shape, images)
    discriminator = Discriminator(data.sample_shape, settings["d_widths"], settings["maxout_pieces"])
    gan = FcGAN(generator, discriminator, settings["latent_dim"],
                {"g": settings["lr_g"], "d": settings["lr_d"]}, settings["lr_decay"])
    init_normal(gan, 0.02)
    return gan


VARIANT = Variant(
    name="fc",
    summary="fully connected GAN (MLP G and D), PacGAN's 2D architecture by default",
    reference="Goodfellow et al. 2014; architecture of Lin et al. 2018 (PacGAN)",
    settings=SETTINGS,
    kinds=("points", "images"),
    build=build,
    # The image suites' budgets (the 2D suite asks for none): smoke tiny networks; quick at the
    # image suites' widths; paper 100 epochs of MNIST's 60,000 at batch 64.
    scales={"smoke": {"g_widths": (32,), "d_widths": (32,), "batch_size": 16}},
    lengths={"quick": 3000, "paper": 94_000},
)
