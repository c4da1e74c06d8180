"""One run of the style suite: optimise the image on the Ignite engine, return its outcome.

A run's id is ``<preset>_<content>+<style>_seed<k>_<budget>_<hash>``, the hash covering the
resolved settings, the iterations, both images' pixel hashes and the feature network's weights
(architecture, ``imagenet`` with the file's SHA-256, or ``random``).

Artefacts in ``runs/<id>/``: ``result.png`` (``result-random-weights.png`` with untrained
weights), ``content.png`` and ``style.png`` at the run's size, each PNG with tEXt metadata naming
the feature network and its weights; ``losses.csv`` (one row per optimiser step, see
:func:`ganbench.style.engine.loss_history`, and the final image's row). Checkpoints, for
resuming an interrupted run, are deleted once the run has ended (unless ``--keep-checkpoints``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

import ganbench
from ganbench import seeding
from ganbench.engines import EngineRun, RunCell
from ganbench.metrics import evaluate
from ganbench.runs import RunContext
from ganbench.style.engine import (
    StyleObjective,
    create_style_engine,
    final_losses,
    loss_history,
    representable,
    style_layer_weights,
)
from ganbench.style.features import FeatureWeights, feature_network, layer_names
from ganbench.style.images import StyleImage, save_png
from ganbench.style.metrics import StyleEvaluation


KIND = "style"


@dataclass(frozen=True)
class StyleRun(RunCell):
    """One cell of the style suite's matrix, resolved and checked: a preset's settings applied to
    a content and a style image with a feature network's weights, evaluated by ``evaluators``
    (the common fields are :class:`~ganbench.engines.RunCell`'s). The record's identity names
    the preset as ``variant`` and ``<content>+<style>`` as ``dataset``.

    ``evaluators`` (the suite's list, the same for every style run) is not part of :meth:`config`,
    so it does not enter the run id.
    """

    kind: ClassVar[str] = KIND

    preset: str
    content: StyleImage
    style: StyleImage
    weights: FeatureWeights
    evaluators: tuple[str, ...]

    @property
    def dataset(self) -> str:
        return f"{self.content.name}+{self.style.name}"

    @property
    def names(self) -> tuple[str, str]:
        return self.preset, self.dataset

    def kind_config(self) -> dict[str, Any]:
        return {
            "preset": self.preset,
            "content": {"name": self.content.name, "sha256": self.content.sha256},
            "style": {"name": self.style.name, "sha256": self.style.sha256},
            "seed": self.seed,
            "iterations": self.iterations,
            "max_seconds": self.max_seconds,
            "settings": dict(self.settings),
            "feature_weights": self.weights.identity(),
        }

    def work(self, context: RunContext) -> dict[str, Any]:
        return transfer_style(self, context.device, context.run_dir, context.provenance, context.progress)


def deepest_layer(arch: str, layers: list[str]) -> str:
    """The layer of ``layers`` that comes last in the network."""
    order = layer_names(arch)
    return max(layers, key=order.index)


def transfer_style(run: StyleRun, device: torch.device, run_dir: Path, provenance: dict[str, Any],
                   progress: bool) -> dict[str, Any]:
    """Optimise the image of one run, resuming from the newest checkpoint in ``run_dir``, and
    evaluate the result with the run's evaluators; its outcome for the record (status, metrics,
    throughput, artifacts). A run whose losses become non-finite or exceed ``diverge_above`` ends
    ``diverged`` without evaluation."""
    settings = run.settings
    size = settings["image_size"]
    provenance["feature_network"] = {**asdict(run.weights), "description": run.weights.describe()}
    provenance["data"] = {"content": run.content.describe(), "style": run.style.describe(), "image_size": size,
                          "resize": "center crop, bicubic"}
    content = run.content.pixels(size).to(device)
    # The content image as the optimised image can hold it; the engine, started from ``content``,
    # computes the same pixels bit for bit, so init=content starts at zero content loss.
    held_content = representable(content, settings["pixels"])
    style = run.style.pixels(size).to(device)
    layers = [settings["content_layer"], *style_layer_weights(settings)]
    network = feature_network(run.weights, settings["pooling"], deepest_layer(settings["arch"], layers), device)
    run.execution.prepare(network)
    objective = StyleObjective(network, held_content, style, settings, run.execution)
    if settings["init"] == "content":
        start = content
    else:
        start = torch.rand(content.shape, generator=seeding.generator(run.seed, seeding.INIT)).to(device)
    transfer = create_style_engine(objective, start, settings)
    state = {"image": transfer.image, "optimizer": transfer.optimizer}
    lifecycle = EngineRun.of(run, transfer.engine, loss_history(), state, run_dir, device,
                             ("total_loss",) if progress else None).run()

    final = final_losses(transfer)
    lifecycle.losses.append({"step": transfer.engine.state.iteration, **final, "evaluations": 0.0})
    result = transfer.image.pixels().detach()
    artifacts = {"losses": lifecycle.write_losses(), **save_images(run, run_dir, result, held_content, style)}
    outcome = lifecycle.outcome(artifacts)
    if outcome.get("status") == "diverged":
        return outcome
    training = {**lifecycle.timer.summary(images_per_iteration=1), **lifecycle.timer.memory_summary()}
    parameters = {"parameters_feature_network": sum(p.numel() for p in network.parameters())}
    context = StyleEvaluation(result, held_content, final, lifecycle.losses, training, parameters)
    outcome.update(status="finished", **evaluate(run.evaluators, context))
    return outcome


def save_images(run: StyleRun, run_dir: Path, result: torch.Tensor, content: torch.Tensor,
                style: torch.Tensor) -> dict[str, Path]:
    """Write result, content and style images (1, 3, H, W) in [0, 1] as PNGs whose metadata name
    the run and the feature network; the result's file name says when the weights were random."""
    metadata = {"Software": f"ganbench {ganbench.__version__}", "ganbench:run": run.run_id,
                "ganbench:feature-network": run.weights.describe()}
    result_name = "result-random-weights.png" if run.weights.kind == "random" else "result.png"
    return {
        "result": save_png(run_dir / result_name, result, {**metadata, "Title": f"{run.label}: result"}),
        "content": save_png(run_dir / "content.png", content, {**metadata, "Title": f"content {run.content.name}"}),
        "style": save_png(run_dir / "style.png", style, {**metadata, "Title": f"style {run.style.name}"}),
    }
