"""One run of the style suite: optimise the image on the Ignite engine, return its outcome.

A run's id is ``<preset>_<content>+<style>_seed<k>_<budget>_<hash>``, the hash covering the
resolved settings, the iterations, both images' pixel hashes and the feature network's weights
(architecture, ``imagenet`` with the file's SHA-256, or ``random``).

Artefacts in ``runs/<id>/``: ``result.png`` (``result-random-weights.png`` with untrained
weights), ``content.png`` and ``style.png`` at the run's size, each PNG with tEXt metadata naming
the feature network and its weights; ``losses.csv`` (one row per optimiser step, see
:func:`ganbench.style.engine.attach_loss_history`, and the final image's row). Checkpoints, for
resuming an interrupted run, are deleted once the run has ended (unless ``--keep-checkpoints``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Events

import ganbench
from ganbench import seeding
from ganbench.handlers import Divergence, IterationTimer, progress_bar
from ganbench.results import atomic_write_text
from ganbench.execution import Execution
from ganbench.runs import EngineRun, RunContext, run_id_for
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
from ganbench.style.metrics import iterations_to_converge, structural_similarity


KIND = "style"


@dataclass(frozen=True)
class StyleRun:
    """One cell of the style suite's matrix, resolved and checked."""

    suite: str
    preset: str
    content: StyleImage
    style: StyleImage
    seed: int
    budget: str
    iterations: int
    checkpoint_every: int
    max_seconds: float | None
    settings: Mapping[str, Any]
    weights: FeatureWeights
    execution: Execution = Execution()

    @property
    def dataset(self) -> str:
        return f"{self.content.name}+{self.style.name}"

    def config(self) -> dict[str, Any]:
        """The JSON-able configuration stored in the record (and hashed into the run id)."""
        return {
            "preset": self.preset,
            "content": {"name": self.content.name, "sha256": self.content.sha256},
            "style": {"name": self.style.name, "sha256": self.style.sha256},
            "seed": self.seed,
            "iterations": self.iterations,
            "max_seconds": self.max_seconds,
            "settings": dict(self.settings),
            "feature_weights": self.weights.identity(),
            "execution": self.execution.config(),
        }

    @property
    def run_id(self) -> str:
        return run_id_for(self.preset, self.dataset, self.seed, self.budget, self.config())

    @property
    def label(self) -> str:
        return f"{self.preset} {self.dataset} seed {self.seed}"

    @property
    def identity(self) -> dict[str, Any]:
        """The record's identity: the preset as ``variant``, ``<content>+<style>`` as ``dataset``."""
        return {"kind": KIND, "suite": self.suite, "variant": self.preset, "dataset": self.dataset,
                "seed": self.seed, "budget": self.budget}

    def work(self, context: RunContext) -> dict[str, Any]:
        return transfer_style(self, context.device, context.run_dir, context.provenance, context.progress)


def deepest_layer(arch: str, layers: list[str]) -> str:
    """The layer of ``layers`` that comes last in the network."""
    order = layer_names(arch)
    return max(layers, key=order.index)


def transfer_style(run: StyleRun, device: torch.device, run_dir: Path, provenance: dict[str, Any],
                   progress: bool) -> dict[str, Any]:
    """Optimise the image of one run, resuming from the newest checkpoint in ``run_dir``; its
    outcome for the record (status, metrics, throughput, artifacts)."""
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
    engine = transfer.engine
    history = loss_history()
    engine.add_event_handler(Events.ITERATION_COMPLETED, history)
    timer = IterationTimer(device, warmup=min(5, run.iterations // 4))
    to_save = {"trainer": engine, "image": transfer.image, "optimizer": transfer.optimizer, "losses": history,
               "timer": timer}
    lifecycle = EngineRun(engine, to_save, run_dir, run.iterations, run.checkpoint_every, run.max_seconds,
                          Divergence(settings["diverge_above"]))
    timer.attach(engine)
    if progress:
        bar, transform = progress_bar(run.label, ("total_loss",))
        bar.attach(engine, output_transform=transform)
    lifecycle.run()

    final = final_losses(transfer)
    history.append({"step": engine.state.iteration, **final, "evaluations": 0.0})
    atomic_write_text(run_dir / "losses.csv", history.to_csv())
    result = transfer.image.pixels().detach()
    artifacts = {"losses": run_dir / "losses.csv", **save_images(run, run_dir, result, held_content, style)}
    outcome = lifecycle.outcome(artifacts)
    if outcome.get("status") == "diverged":
        return outcome
    timing = timer.summary(images_per_iteration=1)
    evaluations = [row["evaluations"] for row in history.rows()[:-1]]
    throughput = {
        "ms_per_iteration": timing["ms_per_iteration"],
        "ms_per_iteration_median": timing["ms_per_iteration_median"],
        "timed_iterations": timing.get("timed_iterations", 0),
        "evaluations_per_iteration": sum(evaluations) / len(evaluations) if evaluations else None,
        **timer.memory_summary(),
        "parameters_feature_network": sum(p.numel() for p in network.parameters()),
    }
    metrics = {
        **final,
        "ssim": structural_similarity(result, held_content),
        "convergence_iterations": iterations_to_converge(history.columns["total_loss"]),
    }
    outcome.update(status="finished", metrics=metrics, throughput=throughput)
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
