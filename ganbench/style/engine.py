"""The Ignite engine of style transfer: one iteration is one optimiser step on the image.

- Adam: the closure (losses, backward) is evaluated once per step.
- L-BFGS: one quasi-Newton iteration per step (``max_iter=1``, step length 1, no line search, as
  in Johnson's neural-style), its curvature history carried from step to step; it too evaluates
  the closure once, and never stops early on its own tolerances (the budget sets the steps).

The optimisers minimise the total loss divided by the mean absolute gradient at the start image
(:func:`gradient_scale`), so they see a gradient of about 1 per value whatever the image size,
loss weights or feature network. torch's L-BFGS is not invariant to the scale of the loss: it
drops a curvature pair with s·y <= 1e-10 and stops stepping below a gradient of 1e-7. With the
losses as they are (means: their gradient per value shrinks as 1/(3·H·W)), at 64 px from the
content image it kept 3 pairs in 7 steps, following the bare gradient in between, and the
presets that change the loss weights changed what L-BFGS did with them. Adam is invariant to the
scale up to its epsilon.

Pixels stay in [0, 1] by the ``pixels`` setting (:class:`StyledImage`): a sigmoid of
unconstrained values, or clamped after each step, outside the closure (so the loss the optimiser
sees at a point is the loss of that point). The engine's output for iteration k holds the losses
of the image the k-th step started from (after k - 1 steps), measured inside the closure at no
extra cost; :func:`final_losses` measures the image the last step left.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from ignite.engine import Engine
from torch import nn

from ganbench.style.features import VGGFeatures
from ganbench.style.losses import StyleLosses, content_loss, gram_matrix, style_loss, total_variation
from ganbench.handlers import LossHistory
from ganbench.execution import Execution

# How far from 0 and 1 the sigmoid parametrisation starts a pixel: a quarter of an 8-bit grey level.
SIGMOID_MARGIN = 0.25 / 255


def style_layers(settings: Mapping[str, Any]) -> list[str]:
    """The layer names of the comma-separated ``style_layers`` setting, in order."""
    return [name.strip() for name in settings["style_layers"].split(",") if name.strip()]


def style_layer_weights(settings: Mapping[str, Any]) -> dict[str, float]:
    """{style layer: weight} from ``style_layers`` and ``style_layer_weights`` (none: 1/L each)."""
    layers = style_layers(settings)
    weights = settings["style_layer_weights"]
    if weights is None:
        return {layer: 1.0 / len(layers) for layer in layers}
    return dict(zip(layers, weights))


class StyleObjective:
    """The weighted loss of an image against fixed content and style targets.

    ``objective(image)`` takes RGB (1, 3, H, W) in [0, 1] and returns :class:`StyleLosses`. With
    an ``execution`` in bf16 the network runs in autocast and its features are taken back to fp32,
    where the Gram matrices and losses are computed.
    """

    def __init__(self, network: VGGFeatures, content: torch.Tensor, style: torch.Tensor,
                 settings: Mapping[str, Any], execution: Execution | None = None) -> None:
        self.network = network
        self.execution = execution or Execution()
        self.content_layer = settings["content_layer"]
        self.layer_weights = style_layer_weights(settings)
        self.weights = (settings["content_weight"], settings["style_weight"], settings["tv_weight"])
        self.layers: Collection[str] = {self.content_layer, *self.layer_weights}
        with torch.no_grad():
            self.content_target = self.features(content, [self.content_layer])[self.content_layer]
            style_features = self.features(style, self.layer_weights)
            self.style_targets = {layer: gram_matrix(style_features[layer]) for layer in self.layer_weights}

    def features(self, image: torch.Tensor, layers: Collection[str]) -> dict[str, torch.Tensor]:
        """The network's features of ``image`` at ``layers``, computed in the execution's precision, in fp32."""
        if self.execution.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        with self.execution.autocast(image.device):
            features = self.network(image, layers)
        return {layer: value.float() for layer, value in features.items()}

    def __call__(self, image: torch.Tensor) -> StyleLosses:
        features = self.features(image, self.layers)
        content = content_loss(features[self.content_layer], self.content_target)
        grams = {layer: gram_matrix(features[layer]) for layer in self.layer_weights}
        style = style_loss(grams, self.style_targets, self.layer_weights)
        tv = total_variation(image)
        content_weight, style_weight, tv_weight = self.weights
        return StyleLosses(content, style, tv, content_weight * content + style_weight * style + tv_weight * tv)


class StyledImage(nn.Module):
    """The image being optimised, a module so that checkpoints hold it.

    ``parametrisation`` keeps its pixels valid: ``clamp`` optimises the pixels themselves and
    clamps them to [0, 1] after every step (:meth:`project_`, outside the optimiser's closure);
    ``sigmoid`` optimises unconstrained logits ``u`` with pixels ``sigmoid(u)``, a smooth problem
    for L-BFGS, whose pixels near 0 or 1 move slowly. ``pixels()`` is (1, 3, H, W) in [0, 1].
    """

    def __init__(self, start: torch.Tensor, parametrisation: str) -> None:
        super().__init__()
        self.parametrisation = parametrisation
        start = start.detach()
        if parametrisation == "sigmoid":
            start = torch.logit(start.clamp(SIGMOID_MARGIN, 1.0 - SIGMOID_MARGIN))
        self.values = nn.Parameter(start.clone(memory_format=torch.contiguous_format))

    def pixels(self) -> torch.Tensor:
        return torch.sigmoid(self.values) if self.parametrisation == "sigmoid" else self.values

    @torch.no_grad()
    def project_(self) -> None:
        """Clamp the pixels into [0, 1] (nothing to do for the sigmoid parametrisation)."""
        if self.parametrisation == "clamp":
            self.values.clamp_(0.0, 1.0)


def representable(image: torch.Tensor, parametrisation: str) -> torch.Tensor:
    """``image`` as :class:`StyledImage` holds it: itself for ``clamp``; for ``sigmoid``, pixels at
    0 or 1 moved by :data:`SIGMOID_MARGIN` (a quarter of a grey level, so the same 8-bit image)."""
    return StyledImage(image, parametrisation).pixels().detach()


@dataclass
class StyleTransfer:
    """The engine with what a checkpoint must hold; ``step(engine, None)`` is its process function."""

    engine: Engine
    step: Callable[[Engine, None], dict[str, float]]
    image: StyledImage
    optimizer: torch.optim.Optimizer
    objective: StyleObjective


def create_style_engine(objective: StyleObjective, start: torch.Tensor, settings: Mapping[str, Any]) -> StyleTransfer:
    """An engine whose iteration is one optimiser step from ``start`` (1, 3, H, W) in [0, 1].

    The step returns ``{"content_loss", "style_loss", "tv_loss", "total_loss", "evaluations"}``
    (floats): the losses before the step and how many times the closure ran.
    """
    image = StyledImage(start, settings["pixels"])
    if settings["optimizer"] == "adam":
        optimizer: torch.optim.Optimizer = torch.optim.Adam([image.values], lr=settings["adam_lr"])
    else:
        optimizer = torch.optim.LBFGS([image.values], lr=1.0, max_iter=1, history_size=settings["lbfgs_history"],
                                      tolerance_grad=0.0, tolerance_change=0.0)
    scale = gradient_scale(objective, image)

    def style_step(engine: Engine, _: None) -> dict[str, float]:
        evaluated: list[StyleLosses] = []

        def closure() -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            losses = objective(image.pixels())
            scaled = losses.total / scale
            scaled.backward()
            evaluated.append(losses)
            return scaled

        optimizer.step(closure)
        image.project_()
        return {**evaluated[0].as_floats(), "evaluations": float(len(evaluated))}

    return StyleTransfer(Engine(style_step), style_step, image, optimizer, objective)


def gradient_scale(objective: StyleObjective, image: StyledImage) -> float:
    """The mean absolute gradient of the total loss over the optimised values of ``image`` as it
    is now (1 when that gradient is 0, e.g. at the content image with only a content loss)."""
    (gradient,) = torch.autograd.grad(objective(image.pixels()).total, image.values)
    scale = gradient.abs().mean().item()
    return scale if scale > 0 else 1.0


def loss_history() -> LossHistory:
    """Logs ``step`` (steps taken before the measurement), the losses and the closure evaluations
    each iteration (attach to ``ITERATION_COMPLETED``); the run appends the final image's row
    (:func:`final_losses`)."""
    return LossHistory(lambda engine: {"step": engine.state.iteration - 1, **engine.state.output})


def final_losses(transfer: StyleTransfer) -> dict[str, float]:
    """The losses of the current image, without a step."""
    with torch.no_grad():
        return transfer.objective(transfer.image.pixels()).as_floats()
