"""The losses of neural style transfer (Gatys, Ecker and Bethge, CVPR 2016), as mean squared errors.

With ``F`` the features of one layer, shape (N, C, H, W), and ``P`` those of the content image:

- content loss: ``mean((F - P)^2)`` at the content layer (Gatys' ``½ Σ (F - P)^2`` divided by
  ``C·H·W / 2``);
- Gram matrix: ``G = F Fᵀ / (H·W)`` per image, shape (N, C, C): entry (i, j) is the mean over
  positions of the product of channels i and j;
- style loss: ``Σ_l w_l · mean((G_l - A_l)^2)`` over the style layers, ``A_l`` the style image's
  Gram matrix (each term is 4 × Gatys' ``E_l``, whose Gram matrix is not divided by ``H·W``);
- total variation: ``mean((x[..., i+1, j] - x[..., i, j])^2) + mean((x[..., i, j+1] - x[..., i, j])^2)``
  on the image itself, pixels in [0, 1];
- total: ``content_weight · content + style_weight · style + tv_weight · tv``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrices of feature maps (N, C, H, W): (N, C, C), divided by the positions H·W."""
    batch, channels, height, width = features.shape
    flat = features.reshape(batch, channels, height * width)
    return flat @ flat.transpose(1, 2) / (height * width)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of feature maps of equal shape (N, C, H, W); a scalar."""
    return F.mse_loss(features, target)


def style_loss(
    grams: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor], layer_weights: Mapping[str, float]
) -> torch.Tensor:
    """``Σ_l w_l · mean((G_l - A_l)^2)`` over the layers of ``layer_weights``; Gram matrices (N, C, C)."""
    return sum(weight * F.mse_loss(grams[layer], targets[layer]) for layer, weight in layer_weights.items())


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of vertically plus of horizontally adjacent pixels of (N, C, H, W)."""
    vertical = image[..., 1:, :] - image[..., :-1, :]
    horizontal = image[..., :, 1:] - image[..., :, :-1]
    return vertical.square().mean() + horizontal.square().mean()


@dataclass(frozen=True)
class StyleLosses:
    """The three unweighted losses and their weighted sum (scalar tensors)."""

    content: torch.Tensor
    style: torch.Tensor
    tv: torch.Tensor
    total: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        """``content_loss``, ``style_loss``, ``tv_loss`` and ``total_loss`` as Python floats."""
        return {"content_loss": self.content.item(), "style_loss": self.style.item(), "tv_loss": self.tv.item(),
                "total_loss": self.total.item()}

