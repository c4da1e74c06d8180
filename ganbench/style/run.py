"""One run of the style suite: plan it, optimise the image on the Ignite engine, record it.

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

import ganbench
from ganbench import seeding
from ganbench.data import DataOptions
from ganbench.errors import UserError
from ganbench.metrics.throughput import memory_summary
from ganbench.models import count_parameters
from ganbench.results import ResultsStore, atomic_write_text
from ganbench.runner import check_request, engine_outcome, record_run, run_id_for, run_with_checkpoints
from ganbench.settings import resolve
from ganbench.style import DEFAULT_CONTENT, STYLE_SCOPE, STYLE_SETTINGS
from ganbench.style.engine import (
    StyleObjective,
    attach_loss_history,
    create_style_engine,
    final_losses,
    representable,
    style_layer_weights,
    style_layers,
)
from ganbench.style.features import FeatureWeights, check_layers, feature_network, layer_names, resolve_weights
from ganbench.style.images import StyleImage, default_style_images, resolve_images, save_png
from ganbench.style.metrics import iterations_to_converge, structural_similarity
from ganbench.style.suite import StyleSuite
from ganbench.suites import RunRequest
from ganbench.training import IterationTimer, attach_divergence_check, attach_progress_bar, attach_time_limit


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
        }

    @property
    def run_id(self) -> str:
        return run_id_for(self.preset, self.dataset, self.seed, self.budget, self.config())

    @property
    def label(self) -> str:
        return f"{self.preset} {self.dataset} seed {self.seed}"

    def execute(self, store: ResultsStore, device: torch.device, progress: bool, restart: bool,
                keep_checkpoints: bool = False) -> dict[str, Any]:
        identity = {"kind": "style", "suite": self.suite, "variant": self.preset, "dataset": self.dataset,
                    "seed": self.seed, "budget": self.budget}
        return record_run(self.run_id, identity, self.config(), store, device, restart, keep_checkpoints,
                          lambda run_dir, provenance: transfer_style(self, device, run_dir, provenance, progress))


def plan_style_runs(suite: StyleSuite, request: RunRequest) -> list[StyleRun]:
    """Expand the suite into runs; every name, value, image and weights file is checked first.

    ``request.variants`` picks presets; ``--set`` scopes are ``style`` or ``*`` (every preset) and
    preset names. Settings apply in order: defaults, preset, budget, ``--set style.``/``*``,
    ``--set <preset>.``.
    """
    check_request(request, list(suite.budgets))
    if request.datasets or request.split:
        raise UserError("--datasets and --split are for GAN suites; the style suite takes --content PATH... "
                        "and --style PATH...")
    presets = list(request.variants or suite.presets)
    for name in presets:
        if name not in suite.presets:
            raise UserError(f"unknown preset {name!r} of suite {suite.name}; choose one of: {', '.join(suite.presets)}")
    overrides = dict(request.overrides)
    for scope in overrides:
        if scope not in ("*", STYLE_SCOPE, *presets):
            raise UserError(f"--set {scope}.…: {scope!r} is not a preset of this run; use one of: "
                            f"{', '.join([STYLE_SCOPE, *presets])}")
    budget = suite.budgets[request.budget]
    contents = resolve_images(request.content_images or DEFAULT_CONTENT, "--content")
    styles = (resolve_images(request.style_images, "--style") if request.style_images
              else default_style_images(DataOptions(data_root=request.data_root)))
    runs = []
    for preset in presets:
        settings = preset_settings(suite, preset, request.budget, overrides)
        check_style_settings(preset, settings)
        weights = resolve_weights(settings["arch"], settings["weights"], request.vgg_weights)
        for content in contents:
            for style in styles:
                for seed in range(request.seeds or budget.seeds or suite.seeds):
                    runs.append(StyleRun(
                        suite=suite.name, preset=preset, content=content, style=style, seed=seed,
                        budget=request.budget, iterations=request.iterations or budget.iterations_for(preset),
                        checkpoint_every=budget.checkpoint_every,
                        max_seconds=request.time_limit or budget.max_seconds,
                        settings=settings, weights=weights,
                    ))
    return runs


def preset_settings(suite: StyleSuite, preset: str, budget: str,
                    overrides: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, Any]:
    """The settings a run of ``preset`` at ``budget`` uses: defaults, preset, budget, ``--set
    style.``/``*``, ``--set <preset>.``."""
    overrides = overrides or {}
    plan = suite.budgets[budget]
    return resolve(STYLE_SETTINGS, preset, suite.presets[preset].settings, plan.settings.get("*", {}),
                   plan.settings.get(preset, {}), overrides.get("*", {}), overrides.get(STYLE_SCOPE, {}),
                   overrides.get(preset, {}))


def check_style_settings(preset: str, settings: Mapping[str, Any]) -> None:
    """Layer names exist in the chosen network; one weight per style layer when weights are given."""
    check_layers(settings["arch"], [settings["content_layer"]], f"{preset}.content_layer")
    layers = style_layers(settings)
    if not layers:
        raise UserError(f"bad value for {preset}.style_layers: give at least one layer, e.g. relu1_1,relu2_1")
    check_layers(settings["arch"], layers, f"{preset}.style_layers")
    weights = settings["style_layer_weights"]
    if weights is not None and len(weights) != len(layers):
        raise UserError(f"bad value for {preset}.style_layer_weights: {len(weights)} weights for {len(layers)} "
                        f"style layers; give one per layer, or none for equal weights")


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
    objective = StyleObjective(network, held_content, style, settings)
    if settings["init"] == "content":
        start = content
    else:
        start = torch.rand(content.shape, generator=seeding.generator(run.seed, seeding.INIT)).to(device)
    transfer = create_style_engine(objective, start, settings)
    engine = transfer.engine
    history = attach_loss_history(transfer)
    attach_divergence_check(engine)
    timer = IterationTimer(device, warmup=min(5, run.iterations // 4)).attach(engine)
    if run.max_seconds is not None:
        attach_time_limit(engine, run.max_seconds)
    if progress:
        attach_progress_bar(engine, run.label, keys=("total_loss",))
    to_save = {"trainer": engine, "image": transfer.image, "optimizer": transfer.optimizer, "losses": history}
    resumed_from = run_with_checkpoints(engine, to_save, run_dir, run.iterations, run.checkpoint_every)

    final = final_losses(transfer)
    history.append({"step": engine.state.iteration, **final, "evaluations": 0.0})
    atomic_write_text(run_dir / "losses.csv", history.to_csv())
    result = transfer.image.pixels().detach()
    artifacts = {"losses": run_dir / "losses.csv", **save_images(run, run_dir, result, held_content, style)}
    outcome = engine_outcome(engine, run.iterations, resumed_from, artifacts)
    if outcome.get("status") == "diverged":
        return outcome
    timing = timer.summary(images_per_iteration=1)
    evaluations = [row["evaluations"] for row in history.rows()[:-1]]
    throughput = {
        "ms_per_iteration": timing["ms_per_iteration"],
        "ms_per_iteration_median": timing["ms_per_iteration_median"],
        "timed_iterations": timing.get("timed_iterations", 0),
        "evaluations_per_iteration": sum(evaluations) / len(evaluations) if evaluations else None,
        **memory_summary(timer, device),
        "parameters_feature_network": count_parameters(network),
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
