"""The preprocessing protocol of the fidelity metrics: how images get from the generator (or the
data files) to the backbone's input, as two named settings recorded with every fidelity number.

``eval.quantise`` -- what generated samples in [-1, 1] become before anything else:

- ``uint8`` (default, ganbench's behaviour so far): ``round((x + 1) * 127.5)`` clamped to 0..255,
  as if written to a PNG and read back, so generated and real images (uint8 in their files) pass
  the same steps;
- ``float``: ``(x + 1) * 127.5`` clamped to [0, 255], kept in float32 (clean-fid's treatment of a
  generator's output). Real images are uint8 in their files either way.

Both are then brought to the canonical size ``eval.image_size`` by the loader's rule (28 -> 32 by
padding, other sizes bilinear with antialiasing).

``eval.resize`` -- how the canonical images are resized to the backbone's input size (299 for
Inception, 224 for DINOv2, 224 or 336 for CLIP):

- ``tf1`` (alias ``legacy_tensorflow``, default): torch-fidelity's TensorFlow 1.x-exact bilinear
  resize (no antialiasing) on float, what torch-fidelity's extractors do inside and what the
  original TF FID/IS code (TTUR) does inside the graph;
- ``legacy_pytorch``: ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``
  (no antialiasing), clipped to [0, 255], pytorch-fid's and clean-fid's ``legacy_pytorch``;
- ``clean``: clean-fid's ``clean``: each channel resized as a 32-bit float PIL image (mode ``F``)
  with PIL's bicubic filter (antialiased when shrinking), clipped to [0, 255], not quantised.

lenet reads the canonical 32 px images as they are (no resize: its records say ``none``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

from ganbench.data.images import resize_images
from ganbench.errors import UserError

RESIZES = ("tf1", "legacy_pytorch", "clean")
RESIZE_ALIASES = {"legacy_tensorflow": "tf1"}
QUANTISATIONS = ("uint8", "float")
NO_RESIZE = "none"  # what a backbone that reads the canonical images as they are records
# What records written before the protocol was recorded were measured with: ganbench's behaviour
# up to then (torch-fidelity's TF1 bilinear inside the extractor, uint8 samples; lenet: no resize).
LEGACY_PROTOCOL = {"resize": "tf1", "quantise": "uint8"}


def resize_name(value: str) -> str:
    """The canonical name of an ``eval.resize`` value (``legacy_tensorflow`` -> ``tf1``)."""
    return RESIZE_ALIASES.get(value, value)


def quantised_samples(samples: torch.Tensor, quantise: str) -> torch.Tensor:
    """Generated float samples (N, C, h, w) in [-1, 1] -> uint8 (``uint8``) or float32 in
    [0, 255] (``float``), same shape."""
    scaled = samples.float().add(1.0).mul_(127.5)
    if quantise == "uint8":
        return scaled.round_().clamp_(0, 255).to(torch.uint8)
    if quantise == "float":
        return scaled.clamp_(0, 255)
    raise ValueError(f"unknown quantisation {quantise!r}; one of {', '.join(QUANTISATIONS)}")


def canonical_size(images: torch.Tensor, size: int) -> torch.Tensor:
    """Images (N, C, h, w), uint8 or float in [0, 255], brought to (N, C, size, size) by the data
    loader's rule (:func:`ganbench.data.images.resize_images`: 28 -> 32 by a black border, else
    bilinear with antialiasing); uint8 stays uint8 (rounded), float stays float (unrounded)."""
    if images.dtype == torch.uint8:
        return resize_images(images, size, pad_to_size=True)[0]
    height, width = images.shape[-2:]
    if height == width == size:
        return images
    if height == width and size > height and (size - height) % 2 == 0:
        margin = (size - height) // 2
        return F.pad(images, (margin, margin, margin, margin), value=0.0)
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True,
                         align_corners=False).clamp_(0, 255)


def _pil_bicubic(images: torch.Tensor, size: int) -> torch.Tensor:
    """clean-fid's ``clean`` resize of float images (N, C, H, W) in [0, 255]: each channel as a PIL
    float image, bicubic, clipped to [0, 255]."""
    array = images.detach().cpu().float().numpy()
    out = np.empty((*array.shape[:2], size, size), dtype=np.float32)
    for index in np.ndindex(*array.shape[:2]):
        channel = Image.fromarray(array[index], mode="F").resize((size, size), resample=Image.BICUBIC)
        out[index] = np.asarray(channel).clip(0, 255)
    return torch.from_numpy(out).to(images.device)


def backbone_resize(images: torch.Tensor, size: int, resize: str) -> torch.Tensor:
    """Images (N, C, H, W), uint8 or float in [0, 255] -> float32 (N, C, size, size) by the
    ``eval.resize`` rule ``resize`` (see the module doc; ``legacy_tensorflow`` is ``tf1``)."""
    x = images.float()
    resize = resize_name(resize)
    if resize == "tf1":
        return interpolate_bilinear_2d_like_tensorflow1x(x, size=(size, size), align_corners=False)
    if resize == "legacy_pytorch":
        return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp_(0, 255)
    if resize == "clean":
        return _pil_bicubic(x, size)
    raise ValueError(f"unknown resize {resize!r}; one of {', '.join(RESIZES)}")


def preprocessing_protocol(backbone: Any, options: Mapping[str, Any]) -> dict[str, str]:
    """What a fidelity record says of its preprocessing: ``{"resize": ..., "quantise": ...}`` for
    ``backbone`` (a :class:`~ganbench.metrics.backbones.Backbone`) under the evaluation settings
    ``options``; a backbone that does not ``resizes`` gives its own fixed ``resize`` (``none`` for
    lenet, which reads the canonical images as they are) and uint8, and refuses other settings
    with a ``UserError`` naming the fix."""
    resize, quantise = resize_name(options.get("resize", "tf1")), options.get("quantise", "uint8")
    if backbone.resizes:
        return {"resize": resize, "quantise": quantise}
    if (resize, quantise) != ("tf1", "uint8"):
        raise UserError(f"backbone {backbone.name} reads uint8 images with its own fixed resize "
                        f"({backbone.resize}): set eval.resize=tf1 and eval.quantise=uint8, or use a backbone that "
                        f"takes them (inception, dinov2, clip)")
    return {"resize": backbone.resize, "quantise": quantise}
