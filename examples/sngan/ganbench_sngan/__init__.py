"""``sngan``: a ganbench plugin adding an SNGAN-style DCGAN (Miyato et al. 2018).

G is DCGAN's (transposed convolutions, BatchNorm, ReLU, tanh; :mod:`ganbench.gan.variants.dcgan`).
D is DCGAN's without BatchNorm, every convolution spectrally normalised
(``torch.nn.utils.parametrizations.spectral_norm``, one power iteration per step), LeakyReLU 0.1, then
a spectrally normalised linear layer to one logit. The loss is the hinge loss; Adam lr 2e-4,
beta1 0.5, beta2 0.999 (Miyato et al.'s setting B), batch size 64, latent size 128.

Installed (``pip install -e examples/sngan``), ganbench loads it through the entry point
``ganbench.plugins: sngan = "ganbench_sngan:register"``; without installing, ``ganbench --plugin
ganbench_sngan`` (importable) or ``--plugin PATH/ganbench_sngan/__init__.py``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganbench.data import BenchDataset
from ganbench.gan.model import GAN, Variant, init_normal, with_defaults
from ganbench.gan.trainer import TRAINER_SETTINGS
from ganbench.gan.variants.dcgan import Generator, blocks_for
from ganbench.settings import Setting


class Discriminator(nn.Module):
    """images (N, channels, image_size, image_size) -> logits (N, 1): stride-2 4x4 convolutions
    (width doubled per block) down to 4x4, then a linear layer; every layer spectrally normalised."""

    def __init__(self, width: int, channels: int, image_size: int) -> None:
        super().__init__()
        blocks = blocks_for(image_size) + 1
        widths = [width * 2**i for i in range(blocks)]
        layers: list[nn.Module] = []
        for width_in, width_out in zip([channels, *widths], widths):
            layers += [spectral_norm(nn.Conv2d(width_in, width_out, 4, 2, 1)), nn.LeakyReLU(0.1, True)]
        layers[-2] = spectral_norm(nn.Conv2d(widths[-2], widths[-1], 3, 1, 1))  # the last block keeps 4x4
        self.net = nn.Sequential(*layers, nn.Flatten(), spectral_norm(nn.Linear(widths[-1] * 16, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


SETTINGS = {
    **with_defaults(TRAINER_SETTINGS, batch_size=64, lr_g=2e-4, lr_d=2e-4, beta1=0.5, beta2=0.999, loss="hinge"),
    "latent_dim": Setting(128, "latent size", minimum=1),
    "g_width": Setting(64, "channels of G's last hidden block (doubled per block towards 4x4)", minimum=1),
    "d_width": Setting(64, "channels of D's first block (doubled per block towards 4x4)", minimum=1),
    "image_size": Setting(32, "image side length (a power of two)", minimum=8),
}


def build(settings: dict[str, Any], data: BenchDataset) -> GAN:
    """The SNGAN for ``data``'s sample shape (channels, side, side)."""
    channels, size = data.sample_shape[0], data.sample_shape[-1]
    generator = Generator(settings["latent_dim"], settings["g_width"], channels, size)
    init_normal(generator, 0.02)
    discriminator = Discriminator(settings["d_width"], channels, size)
    return GAN(generator, discriminator, settings["latent_dim"])


VARIANT = Variant(
    name="sngan",
    summary="SNGAN-style DCGAN: spectral norm in D (no BatchNorm), hinge loss",
    reference="Miyato, Kataoka, Koyama & Yoshida 2018",
    settings=SETTINGS,
    kinds=("images",),
    build=build,
    # As dcgan: tiny networks at smoke, narrower ones at quick; its lengths in iterations.
    scales={"smoke": {"g_width": 8, "d_width": 8, "batch_size": 16},
            "quick": {"g_width": 32, "d_width": 32, "batch_size": 64}},
    lengths={"quick": 1500, "paper": 11_700},
)


def register(registries: Any) -> None:
    """ganbench's plugin entry point: add the ``sngan`` variant."""
    registries.variants.add(VARIANT.name, VARIANT)
