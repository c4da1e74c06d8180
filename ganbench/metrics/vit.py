"""ganbench's own DINOv2 vision transformer, so that DINOv2 features need no code from torch hub.

torch-fidelity 0.4's ``dinov2-vit-*-14`` extractors build the model with
``torch.hub.load("facebookresearch/dinov2", ...)``, which fetches the hub repository's code from
the internet, and refuse a local weights file. :class:`DinoV2` is the same network (Oquab et al.
2023; the hub's ``DinoVisionTransformer`` as ``dinov2_vit*14`` builds it: patch 14, a CLS token,
no register tokens, LayerNorm eps 1e-6, layer scale in every block, an MLP with GELU (ViT-S/B/L)
or the fused SwiGLU (ViT-g), position embeddings for a 518 px input interpolated bicubically with
the hub's 0.1 offset), read from the official ``dinov2_vit*14_pretrain.pth`` state dicts under
their own key names. Depth, width, heads and the feed-forward kind are read from the state dict's
shapes (:func:`architecture`), so the same code loads ViT-S/B/L/g and the small random state dicts
the tests make. ``forward`` returns what the hub model's forward returns: the normalised CLS
token (N, width).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

PATCH = 14
HEAD_WIDTH = 64  # every official DINOv2 size has 64-wide attention heads (width / 64 heads)
INTERPOLATE_OFFSET = 0.1  # the hub models' interpolate_offset
# width -> (size letter, depth) of the official checkpoints, dinov2_vit{letter}14_pretrain.pth
OFFICIAL = {384: ("s", 12), 768: ("b", 12), 1024: ("l", 24), 1536: ("g", 40)}


@dataclass(frozen=True)
class Architecture:
    """A DINOv2 ViT's shape: ``width`` (embedding dimension), ``depth`` (blocks), ``heads``,
    ``hidden`` (feed-forward width), ``swiglu`` (fused SwiGLU feed-forward, else GELU MLP) and
    ``grid`` (side of the patch grid its position embeddings were trained for: 37 for 518 px)."""

    width: int
    depth: int
    heads: int
    hidden: int
    swiglu: bool
    grid: int

    def describe(self) -> str:
        """``ViT-L/14 (24 blocks, width 1024, 16 heads)``; sizes not official say ``ViT/14``."""
        official = OFFICIAL.get(self.width)
        name = f"ViT-{official[0].upper()}/14" if official and official[1] == self.depth else "ViT/14"
        return f"{name} ({self.depth} blocks, width {self.width}, {self.heads} heads)"


def architecture(state: Mapping[str, torch.Tensor]) -> Architecture:
    """The architecture of a DINOv2 state dict, from its tensors' shapes.

    Raises ``ValueError`` naming the first missing or misshapen key when ``state`` is not a
    DINOv2 ViT/14 checkpoint."""
    def tensor(key: str, dims: int) -> torch.Tensor:
        value = state.get(key)
        if not isinstance(value, torch.Tensor) or value.dim() != dims:
            raise ValueError(f"no {dims}-d tensor {key!r}")
        return value

    patch = tensor("patch_embed.proj.weight", 4)
    width = patch.shape[0]
    if tuple(patch.shape[1:]) != (3, PATCH, PATCH):
        raise ValueError(f"patch_embed.proj.weight has shape {tuple(patch.shape)}, not (width, 3, 14, 14)")
    positions = tensor("pos_embed", 3).shape[1] - 1
    grid = math.isqrt(positions)
    if grid * grid != positions or tensor("cls_token", 3).shape[-1] != width:
        raise ValueError("pos_embed or cls_token do not fit the patch embedding")
    depth = 1 + max((int(m.group(1)) for key in state if (m := re.match(r"blocks\.(\d+)\.", key))), default=-1)
    if depth == 0:
        raise ValueError("no blocks.N.* keys")
    swiglu = "blocks.0.mlp.w12.weight" in state
    hidden = tensor("blocks.0.mlp.w3.weight" if swiglu else "blocks.0.mlp.fc1.weight", 2).shape[1 if swiglu else 0]
    heads = max(1, width // HEAD_WIDTH)
    return Architecture(width, depth, heads, hidden, swiglu, grid)


class Attention(nn.Module):
    """Multi-head self-attention with one fused qkv projection (the hub's key names)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape
        q, k, v = self.qkv(x).reshape(batch, tokens, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        return self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(batch, tokens, width))


class LayerScale(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Mlp(nn.Module):
    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(width, hidden), nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class SwiGLU(nn.Module):
    """ViT-g's feed-forward: w3(silu(x1) * x2) with (x1, x2) = w12(x) split in halves."""

    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.w12, self.w3 = nn.Linear(width, 2 * hidden), nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.w12(x).chunk(2, dim=-1)
        return self.w3(F.silu(x1) * x2)


class Block(nn.Module):
    """x + ls1(attn(norm1(x))), then x + ls2(mlp(norm2(x)))."""

    def __init__(self, shape: Architecture) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(shape.width, eps=1e-6)
        self.attn = Attention(shape.width, shape.heads)
        self.ls1 = LayerScale(shape.width)
        self.norm2 = nn.LayerNorm(shape.width, eps=1e-6)
        self.mlp = (SwiGLU if shape.swiglu else Mlp)(shape.width, shape.hidden)
        self.ls2 = LayerScale(shape.width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, width, kernel_size=PATCH, stride=PATCH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class DinoV2(nn.Module):
    """The DINOv2 backbone of ``shape``: normalised float images (N, 3, H, W), H and W multiples
    of 14 -> the normalised CLS token (N, width)."""

    def __init__(self, shape: Architecture) -> None:
        super().__init__()
        self.shape = shape
        self.patch_embed = PatchEmbed(shape.width)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, shape.width))
        self.pos_embed = nn.Parameter(torch.zeros(1, shape.grid * shape.grid + 1, shape.width))
        self.mask_token = nn.Parameter(torch.zeros(1, shape.width))  # in the checkpoints; unused at inference
        self.blocks = nn.ModuleList(Block(shape) for _ in range(shape.depth))
        self.norm = nn.LayerNorm(shape.width, eps=1e-6)

    def positions(self, rows: int, columns: int) -> torch.Tensor:
        """Position embeddings (1, 1 + rows * columns, width) for a rows x columns patch grid: the
        trained grid's, interpolated bicubically with the hub's scale factors (grid + 0.1) / trained."""
        grid = self.shape.grid
        if rows == columns == grid:
            return self.pos_embed
        embed = self.pos_embed.float()
        patches = embed[:, 1:].reshape(1, grid, grid, -1).permute(0, 3, 1, 2)
        scale = ((rows + INTERPOLATE_OFFSET) / grid, (columns + INTERPOLATE_OFFSET) / grid)
        patches = F.interpolate(patches, scale_factor=scale, mode="bicubic", antialias=False)
        patches = patches.permute(0, 2, 3, 1).reshape(1, rows * columns, -1)
        return torch.cat((embed[:, :1], patches), dim=1).to(self.pos_embed.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows, columns = x.shape[-2] // PATCH, x.shape[-1] // PATCH
        tokens = self.patch_embed(x)
        tokens = torch.cat((self.cls_token.expand(len(tokens), -1, -1), tokens), dim=1)
        tokens = tokens + self.positions(rows, columns)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)[:, 0]


def dinov2_from_state_dict(state: Mapping[str, torch.Tensor]) -> DinoV2:
    """A :class:`DinoV2` holding ``state`` (an official checkpoint's or one of its shape), in eval
    mode without gradients; ``ValueError`` when the state dict is not a DINOv2 ViT/14's."""
    model = DinoV2(architecture(state))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ValueError(str(error).splitlines()[0]) from None
    return model.requires_grad_(False).eval()


def random_dinov2_state(width: int = 32, depth: int = 2, grid: int = 37, swiglu: bool = False,
                        seed: int = 0) -> dict[str, torch.Tensor]:
    """A random state dict of the official checkpoints' layout (for tests and timings): ``width``
    (a multiple of 64 gives width/64 heads, else 1 head), ``depth`` blocks, position embeddings for
    a ``grid`` x ``grid`` patch grid, the GELU MLP (4 x width) or ViT-g's SwiGLU."""
    hidden = (int(4 * width * 2 / 3) + 7) // 8 * 8 if swiglu else 4 * width
    shape = Architecture(width, depth, max(1, width // HEAD_WIDTH), hidden, swiglu, grid)
    generator = torch.Generator().manual_seed(seed)
    model = DinoV2(shape)
    state = {}
    for key, value in model.state_dict().items():
        noise = torch.randn(value.shape, generator=generator)
        scale = 1.0 if key.endswith("gamma") or "norm" in key else 0.02
        state[key] = noise * scale + (1.0 if key.endswith(("norm1.weight", "norm2.weight", "norm.weight")) else 0.0)
    return state
