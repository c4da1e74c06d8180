"""Layers shared by the progressive-growing family (ProGAN, MSG-GAN): equalized learning rate,
pixelwise feature normalisation and the minibatch standard-deviation feature (Karras et al. 2018)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganbench.settings import Setting


class EqualizedConv2d(nn.Module):
    """Conv2d whose weights are N(0, 1) and scaled at run time by He's constant sqrt(2 / fan_in),
    so every layer learns at the same speed under Adam (equalized learning rate)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0,
                 gain: float = math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualizedLinear(nn.Module):
    """Linear layer with the equalized-learning-rate parametrisation of :class:`EqualizedConv2d`."""

    def __init__(self, in_features: int, out_features: int, gain: float = math.sqrt(2)) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class PixelNorm(nn.Module):
    """Normalise each pixel's feature vector to unit average square: x / sqrt(mean_c(x^2) + 1e-8)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class MinibatchStdDev(nn.Module):
    """Append one feature map: the standard deviation of each feature over groups of ``group``
    samples, averaged over features and pixels. (N, C, H, W) -> (N, C + 1, H, W)."""

    def __init__(self, group: int = 4) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        group = math.gcd(self.group, n)
        grouped = x.view(group, -1, c, h, w)
        std = grouped.var(dim=0, unbiased=False).add(1e-8).sqrt().mean(dim=(1, 2, 3))  # (n / group,)
        feature = std.view(1, -1, 1, 1, 1).expand(group, -1, 1, h, w).reshape(n, 1, h, w)
        return torch.cat([x, feature], dim=1)


class InitialBlock(nn.Module):
    """z (N, latent_dim) -> features (N, width, 4, 4): pixel-normalised latent, an equalized dense
    layer to 4x4, then a 3x3 convolution, with LeakyReLU 0.2 and pixel norm."""

    def __init__(self, latent_dim: int, width: int) -> None:
        super().__init__()
        self.width = width
        self.project = nn.Sequential(PixelNorm(), EqualizedLinear(latent_dim, width * 16, gain=math.sqrt(2) / 4))
        self.convolve = nn.Sequential(nn.LeakyReLU(0.2), PixelNorm(), EqualizedConv2d(width, width, 3, padding=1),
                                      nn.LeakyReLU(0.2), PixelNorm())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.convolve(self.project(z).view(z.shape[0], self.width, 4, 4))


def final_block(in_channels: int, width: int) -> nn.Sequential:
    """D's last block: features (N, in_channels, 4, 4) -> logits (N, 1), with the minibatch
    standard-deviation feature, a 3x3 and a 4x4 convolution and a linear output."""
    return nn.Sequential(
        MinibatchStdDev(), EqualizedConv2d(in_channels + 1, width, 3, padding=1), nn.LeakyReLU(0.2),
        EqualizedConv2d(width, width, 4), nn.LeakyReLU(0.2), nn.Flatten(), EqualizedLinear(width, 1, gain=1.0),
    )


def conv_block(in_channels: int, out_channels: int, pixel_norm: bool) -> nn.Sequential:
    """Two 3x3 equalized convolutions with LeakyReLU 0.2 (and pixel norm in G)."""
    layers: list[nn.Module] = []
    for channels_in in (in_channels, out_channels):
        layers += [EqualizedConv2d(channels_in, out_channels, 3, padding=1), nn.LeakyReLU(0.2)]
        if pixel_norm:
            layers.append(PixelNorm())
    return nn.Sequential(*layers)


def upsample(x: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour 2x upsampling: (N, C, H, W) -> (N, C, 2H, 2W)."""
    return F.interpolate(x, scale_factor=2, mode="nearest")


def downsample(x: torch.Tensor) -> torch.Tensor:
    """2x2 average pooling: (N, C, H, W) -> (N, C, H/2, W/2)."""
    return F.avg_pool2d(x, 2)


def resolutions(final: int) -> list[int]:
    """4, 8, ..., final (a power of two >= 8)."""
    levels = int(math.log2(final)) - 1
    if 2 ** (levels + 1) != final or levels < 2:
        from ganbench.errors import UserError

        raise UserError(f"image_size must be a power of two >= 8 for progressive variants, got {final}")
    return [2 ** (i + 2) for i in range(levels)]


def widths_for(sizes: list[int], width: int, max_width: int) -> list[int]:
    """Channels per resolution: ``width`` at the finest, doubling towards 4x4, capped at ``max_width``."""
    return [min(max_width, width * (sizes[-1] // size)) for size in sizes]


# The settings ProGAN and MSG-GAN share: the latent and the channel pyramid.
PYRAMID_SETTINGS = {
    "latent_dim": Setting(256, "latent size", minimum=1),
    "width": Setting(64, "channels at the final resolution (doubling towards 4x4 up to max_width)", minimum=1),
    "max_width": Setting(256, "channel cap at low resolutions", minimum=1),
    "image_size": Setting(32, "final image side length (a power of two)", minimum=8),
}


def pyramid(settings: dict[str, Any], sample_shape: tuple[int, ...]) -> tuple[int, list[int], list[int]]:
    """(image channels, resolutions 4..final, channels per resolution) for samples (C, S, S)."""
    sizes = resolutions(sample_shape[-1])
    return sample_shape[0], sizes, widths_for(sizes, settings["width"], settings["max_width"])
