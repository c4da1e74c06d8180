"""``dcgan``: Radford, Metz & Chintala 2016 (DCGAN), scaled to 32x32 (or 64x64).

G projects z (N, latent_dim) to a 4x4 map of ``g_width * 2^(blocks-1)`` channels with a
transposed convolution, then each block doubles the resolution and halves the channels
(ConvTranspose 4x4 stride 2, BatchNorm, ReLU); the last one maps to the image channels with tanh.
D mirrors it (Conv 4x4 stride 2, BatchNorm except on the first layer, LeakyReLU 0.2) down to 4x4,
then a 4x4 convolution to one logit. Defaults are the paper's: Adam lr 2e-4, beta1 0.5, batch
size 128, weights N(0, 0.02), latent size 100.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ganbench.data import BenchDataset
from ganbench.errors import UserError
from ganbench.gan.model import GAN, Variant, init_normal, with_defaults
from ganbench.settings import Setting
from ganbench.gan.trainer import TRAINER_SETTINGS


def blocks_for(image_size: int) -> int:
    """Stride-2 blocks between 4x4 and ``image_size`` (32 -> 3, 64 -> 4)."""
    blocks = int(math.log2(image_size)) - 2
    if 2 ** (blocks + 2) != image_size or blocks < 1:
        raise UserError(f"dcgan needs image_size a power of two >= 8, got {image_size}")
    return blocks


class Generator(nn.Module):
    """z (N, latent_dim) -> images (N, channels, image_size, image_size) in [-1, 1]."""

    def __init__(self, latent_dim: int, width: int, channels: int, image_size: int) -> None:
        super().__init__()
        blocks = blocks_for(image_size)
        widths = [width * 2 ** (blocks - 1 - i) for i in range(blocks)]
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, widths[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        ]
        for width_in, width_out in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(width_in, width_out, 4, 2, 1, bias=False), nn.BatchNorm2d(width_out),
                       nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))


class Discriminator(nn.Module):
    """images (N, channels, image_size, image_size) -> logits (N, 1, 1, 1)."""

    def __init__(self, width: int, channels: int, image_size: int) -> None:
        super().__init__()
        blocks = blocks_for(image_size)
        widths = [width * 2**i for i in range(blocks)]
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for width_in, width_out in zip(widths, widths[1:]):
            layers += [nn.Conv2d(width_in, width_out, 4, 2, 1, bias=False), nn.BatchNorm2d(width_out),
                       nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


SETTINGS = {
    **with_defaults(TRAINER_SETTINGS, batch_size=128, lr_g=2e-4, lr_d=2e-4, beta1=0.5),
    "latent_dim": Setting(100, "latent size", minimum=1),
    "g_width": Setting(64, "channels of G's last hidden block (doubled per block towards 4x4)", minimum=1),
    "d_width": Setting(64, "channels of D's first block (doubled per block towards 4x4)", minimum=1),
    "image_size": Setting(32, "image side length (a power of two)", minimum=8),
}


def build(settings: dict[str, Any], data: BenchDataset) -> GAN:
    channels, size = data.sample_shape[0], data.sample_shape[-1]
    generator = Generator(settings["latent_dim"], settings["g_width"], channels, size)
    discriminator = Discriminator(settings["d_width"], channels, size)
    gan = GAN(generator, discriminator, settings["latent_dim"])
    init_normal(gan, 0.02)
    return gan


VARIANT = Variant(
    name="dcgan",
    summary="DCGAN: transposed-conv G, strided-conv D, BatchNorm, LeakyReLU 0.2, tanh",
    reference="Radford, Metz & Chintala 2016",
    settings=SETTINGS,
    kinds=("images",),
    build=build,
    # smoke tiny networks; quick narrower ones for a 2-core CPU; paper 25 epochs of 60,000 at
    # batch 128 (pytorch/examples).
    scales={"smoke": {"g_width": 8, "d_width": 8, "batch_size": 16},
            "quick": {"g_width": 32, "d_width": 32, "batch_size": 64}},
    lengths={"quick": 1500, "paper": 11_700},
)
