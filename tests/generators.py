"""Small generators for ``ganbench evaluate --generator`` tests (tests/test_evaluate*.py): each
callable makes an ``nn.Module`` mapping latents (n, latent_dim) to 28x28 grey images, well formed
(``good``) or wrong in one way."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class Made(nn.Module):
    """A linear map of z to 784 values, then ``shape`` of them."""

    def __init__(self, latent_dim: int, shape: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.net = nn.Linear(latent_dim, 28 * 28)
        self.shape = shape

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.shape(self.net(z))


def good(latent_dim: int) -> nn.Module:
    return Made(latent_dim, lambda x: torch.tanh(x).view(-1, 1, 28, 28))


def flat(latent_dim: int) -> nn.Module:
    return Made(latent_dim, torch.tanh)


def rgb(latent_dim: int) -> nn.Module:
    return Made(latent_dim, lambda x: torch.tanh(x).view(-1, 1, 28, 28).expand(-1, 3, -1, -1))


def integers(latent_dim: int) -> nn.Module:
    return Made(latent_dim, lambda x: (x > 0).to(torch.uint8).view(-1, 1, 28, 28))


def nan(latent_dim: int) -> nn.Module:
    return Made(latent_dim, lambda x: torch.full_like(x, float("nan")).view(-1, 1, 28, 28))


def unit_scaled(latent_dim: int) -> nn.Module:
    """Values in [0, 2]: a [0, 1] output doubled, outside [-1, 1]."""
    return Made(latent_dim, lambda x: (torch.sigmoid(x) * 0 + torch.linspace(0, 2, 784)).view(-1, 1, 28, 28))


INSTANCE = good(8)  # an nn.Module instance: used as it is


class Class(nn.Module):
    """An nn.Module class: called with latent_dim."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.inner = good(latent_dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.inner(z)


def no_arguments() -> nn.Module:
    """A function taking no latent_dim: called with none."""
    return good(8)
