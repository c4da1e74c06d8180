"""``msggan``: multi-scale gradients (Karnewar & Wang 2020), 4x4 up to 32x32.

Every generator block emits an image through its own 1x1 ``to_rgb``, so G returns a pyramid
[4x4, 8x8, ..., 32x32]. The discriminator reads the finest image first and, after each
downsampling block, combines its features with the image of that scale by a combine function:

- ``simple``: concatenate the image to the features;
- ``lin_cat``: a 1x1 convolution of the image, then concatenate;
- ``cat_lin``: concatenate, then a 1x1 convolution back to the feature width.

Gradients thus flow from D into every scale of G at once, without a growing schedule. Real images
enter as their average-pooled pyramid. The loss is the relativistic average hinge; layers are
ProGAN's (equalized learning rate, pixel norm, minibatch standard deviation); Adam betas (0, 0.99).
As in the reference code (BMSG-GAN, ``use_ema=True``, beta 0.999), an exponential moving average
of G is kept (the shared ``ema`` setting, on by default here) and evaluated beside the live G, whose
metrics are the headline as for every variant.
"""

from __future__ import annotations

from typing import Any

import torch
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
from ganbench.settings import Setting
from ganbench.gan.trainer import TRAINER_SETTINGS

COMBINE = ("simple", "lin_cat", "cat_lin")


class Generator(nn.Module):
    """z (N, latent_dim) -> [images (N, channels, s, s) for s in sizes], coarse to fine."""

    def __init__(self, latent_dim: int, sizes: list[int], widths: list[int], channels: int) -> None:
        super().__init__()
        self.first = InitialBlock(latent_dim, widths[0])
        self.blocks = nn.ModuleList(
            [conv_block(widths[i - 1], widths[i], pixel_norm=True) for i in range(1, len(sizes))])
        self.to_rgb = nn.ModuleList([EqualizedConv2d(width, channels, 1, gain=1.0) for width in widths])

    def forward(self, z: torch.Tensor) -> list[torch.Tensor]:
        x = self.first(z)
        images = [self.to_rgb[0](x)]
        for block, to_rgb in zip(self.blocks, self.to_rgb[1:]):
            x = block(upsample(x))
            images.append(to_rgb(x))
        return images


class Combine(nn.Module):
    """Merge features (N, width, s, s) with the image (N, channels, s, s) of the same scale."""

    def __init__(self, kind: str, width: int, channels: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "lin_cat":
            self.linear = EqualizedConv2d(channels, width, 1)
        elif kind == "cat_lin":
            self.linear = EqualizedConv2d(width + channels, width, 1)
        self.out_channels = {"simple": width + channels, "lin_cat": 2 * width, "cat_lin": width}[kind]

    def forward(self, features: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        if self.kind == "simple":
            return torch.cat([image, features], dim=1)
        if self.kind == "lin_cat":
            return torch.cat([self.linear(image), features], dim=1)
        return self.linear(torch.cat([image, features], dim=1))


class Discriminator(nn.Module):
    """[images (N, channels, s, s) for s in sizes] -> logits (N, 1)."""

    def __init__(self, sizes: list[int], widths: list[int], channels: int, combine: str) -> None:
        super().__init__()
        self.from_rgb = nn.Sequential(EqualizedConv2d(channels, widths[-1], 1), nn.LeakyReLU(0.2))
        blocks, combines = [], []
        width_in = widths[-1]
        for level in range(len(sizes) - 1, 0, -1):
            blocks.append(conv_block(width_in, widths[level - 1], pixel_norm=False))
            combines.append(Combine(combine, widths[level - 1], channels))
            width_in = combines[-1].out_channels
        self.blocks, self.combines = nn.ModuleList(blocks), nn.ModuleList(combines)
        self.final = final_block(width_in, widths[0])

    def forward(self, images: list[torch.Tensor]) -> torch.Tensor:
        h = self.from_rgb(images[-1])
        for block, combine, image in zip(self.blocks, self.combines, reversed(images[:-1])):
            h = combine(downsample(block(h)), image)
        return self.final(h)


class MSGGAN(GAN):
    """D sees whole pyramids; evaluation uses the finest image."""

    def real_input(self, real: torch.Tensor) -> list[torch.Tensor]:
        """(N, C, S, S) -> its average-pooled pyramid [4x4, ..., SxS]."""
        pyramid = [real]
        while pyramid[0].shape[-1] > 4:
            pyramid.insert(0, downsample(pyramid[0]))
        return pyramid

    @torch.no_grad()
    def sample(self, z: torch.Tensor) -> torch.Tensor:
        return self.sampling_generator(z)[-1].clamp(-1, 1)

    @torch.no_grad()
    def sample_scales(self, z: torch.Tensor) -> dict[int, torch.Tensor]:
        return {image.shape[-1]: image.clamp(-1, 1) for image in self.sampling_generator(z)}


SETTINGS = {
    **with_defaults(TRAINER_SETTINGS, batch_size=64, lr_g=3e-3, lr_d=3e-3, beta1=0.0, beta2=0.99, loss="rahinge",
                    ema=True),
    **PYRAMID_SETTINGS,
    "combine": Setting("simple", "how D merges each scale's image with its features", choices=COMBINE),
}


def build(settings: dict[str, Any], data: BenchDataset) -> MSGGAN:
    channels, sizes, widths = pyramid(settings, data.sample_shape)
    generator = Generator(settings["latent_dim"], sizes, widths, channels)
    discriminator = Discriminator(sizes, widths, channels, settings["combine"])
    return MSGGAN(generator, discriminator, settings["latent_dim"])


VARIANT = Variant(
    name="msggan",
    summary="MSG-GAN: every G scale feeds D (combine simple|lin_cat|cat_lin), relativistic average hinge loss",
    reference="Karnewar & Wang 2020",
    settings=SETTINGS,
    kinds=("images",),
    build=build,
    # smoke tiny networks; quick narrower ones for a 2-core CPU; paper the same number of images
    # as ProGAN's.
    scales={"smoke": {"width": 8, "max_width": 16, "latent_dim": 32, "batch_size": 16},
            "quick": {"width": 16, "max_width": 64, "latent_dim": 128, "batch_size": 32}},
    lengths={"quick": 500, "paper": 87_500},
)
