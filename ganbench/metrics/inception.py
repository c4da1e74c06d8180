"""torch-fidelity's Inception under every preprocessing protocol: ``ganbench-inception``.

torch-fidelity's ``inception-v3-compat`` takes uint8 images only and resizes them to 299 inside
with its TF1-exact bilinear. :class:`InceptionFeatureExtractor` is that extractor (its weights,
layers and code): on uint8 images with ``eval.resize=tf1`` (the default) it *is* torch-fidelity's
forward, bit for bit; otherwise it resizes (uint8 or float images) to 299 by the protocol's rule
(:func:`ganbench.metrics.preprocessing.backbone_resize`), normalises as torch-fidelity does,
(x - 128) / 128, and runs the same layers in the same order. With ``clean`` and float samples this
is clean-fid's ``clean`` protocol on torch-fidelity's port of the TF Inception weights.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

from ganbench.metrics.preprocessing import backbone_resize, resize_name

INCEPTION_EXTRACTOR = "ganbench-inception"
INCEPTION_INPUT = FeatureExtractorInceptionV3.INPUT_IMAGE_SIZE
# The blocks between torch-fidelity's pooled feature layers, in its forward's order.
STAGES = (("64", ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_1")),
          ("192", ("Conv2d_3b_1x1", "Conv2d_4a_3x3", "MaxPool_2")),
          ("768", ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e")),
          ("2048", ("Mixed_7a", "Mixed_7b", "Mixed_7c", "AvgPool")))


class InceptionFeatureExtractor(FeatureExtractorInceptionV3):
    """torch-fidelity's ``inception-v3-compat`` taking uint8 or float images (N, 3, H, W) in
    [0, 255] and the ``ganbench_resize`` rule (``eval.resize``); features as torch-fidelity's:
    ``64``, ``192``, ``768`` (pooled), ``2048`` (pool3), ``logits_unbiased``, ``logits``."""

    def __init__(self, name: str, features_list: list[str], feature_extractor_weights_path: str | None = None,
                 ganbench_resize: str = "tf1", **kwargs: Any) -> None:
        super().__init__(name, features_list, feature_extractor_weights_path=feature_extractor_weights_path,
                         **kwargs)
        self.resize = resize_name(ganbench_resize)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if images.dtype == torch.uint8 and self.resize == "tf1":
            return super().forward(images)
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images (N, 3, H, W), got {tuple(images.shape)}")
        x = backbone_resize(images, INCEPTION_INPUT, self.resize).to(self.feature_extractor_internal_dtype)
        return self.features_of_resized((x - 128) / 128)

    def features_of_resized(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The requested features of normalised images (N, 3, 299, 299) in [-1, 1], computed by
        torch-fidelity's layers in its order (stopping after the last one requested)."""
        wanted, features = set(self.features_list), {}
        for name, blocks in STAGES:
            for block in blocks:
                x = getattr(self, block)(x)
            pooled = torch.flatten(x, 1) if name == "2048" else F.adaptive_avg_pool2d(x, 1).flatten(1)
            features[name] = pooled.to(torch.float32)
            if wanted <= features.keys():
                return tuple(features[key] for key in self.features_list)
        x = torch.flatten(x, 1)
        if "logits_unbiased" in wanted:  # as torch-fidelity: the product, then the bias added
            x = x.mm(self.fc.weight.T)
            features["logits_unbiased"] = x.to(torch.float32)
            features["logits"] = (x + self.fc.bias.unsqueeze(0)).to(torch.float32)
        else:
            features["logits"] = self.fc(x).to(torch.float32)
        return tuple(features[key] for key in self.features_list)
