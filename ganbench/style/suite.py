"""The ``style`` suite: named settings presets x content images x style images x seeds.

Each preset changes one thing (or two that belong together) from Gatys et al. 2016's set-up, the
``gatys`` preset, so that a row of the table answers one question. Budgets set the image size and
the number of optimiser steps; the content and style images are the suite's defaults
(:mod:`ganbench.style.images`) unless the ``content``/``style`` options name others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.data import DataOptions
from ganbench.errors import UserError, option
from ganbench.budgets import Budget, require_all_budgets
from ganbench.options import Option
from ganbench.runs import RunRequest, check_request
from ganbench.settings import resolve
from ganbench.style import DEFAULT_CONTENT, DEFAULT_STYLE, STYLE_SCOPE, STYLE_SETTINGS
from ganbench.style.engine import style_layers
from ganbench.style.features import check_layers, resolve_weights
from ganbench.style.images import default_style_images, resolve_images
from ganbench.style.run import KIND, StyleRun


STYLE_OPTIONS = (
    Option("content", "content images (files, folders, or scikit-image photos: astronaut, chelsea, "
           "coffee, rocket; default: the suite's)", given="paths", parse=Path, metavar="PATH"),
    Option("style", "style images (files or folders; default: the suite's paintings in "
           "DATA_ROOT/style)", given="paths", parse=Path, metavar="PATH"),
    Option("vgg_weights", "torchvision VGG-16/19 ImageNet weights file (default: the torch hub cache)",
           parse=Path, metavar="PATH"),
)
"""The options of style suites (a request's ``options``): the images and the VGG weights."""


@dataclass(frozen=True)
class Preset:
    """A named point of the settings matrix: a one-line summary and its changes to the defaults."""

    summary: str
    settings: Mapping[str, Any]


@dataclass(frozen=True)
class StyleSuite:
    """Presets x content images x style images x seeds, at a budget. A budget's ``settings`` are
    keyed by preset name or ``*`` (every preset) and apply after the preset's own; ``evaluators``
    (registered in :data:`~ganbench.metrics.EVALUATORS`) evaluate each run's result, in order."""

    name: str
    summary: str
    presets: Mapping[str, Preset]
    seeds: int
    budgets: Mapping[str, Budget]
    default_budget: str
    evaluators: tuple[str, ...]
    kind: str = KIND
    options: tuple[Option, ...] = STYLE_OPTIONS

    def __post_init__(self) -> None:
        require_all_budgets(self.name, self.budgets)

    def plan(self, request: RunRequest) -> list[StyleRun]:
        return plan_style_runs(self, request)

    def matrix(self) -> str:
        return f"presets {','.join(self.presets)}; content {','.join(DEFAULT_CONTENT)}; style {','.join(DEFAULT_STYLE)}"

    def resolved_settings(self, scope: str, budget: str) -> tuple[Mapping[str, Any], dict[str, Any]]:
        if scope == STYLE_SCOPE:
            scope = "gatys"
        if scope not in self.presets:
            raise UserError(f"{scope!r} is not a preset of suite {self.name}; choose one of: "
                            f"{', '.join(self.presets)}")
        return STYLE_SETTINGS, preset_settings(self, scope, budget)


STYLE_WEIGHT = STYLE_SETTINGS["style_weight"].default
TV_WEIGHT = 1.0  # TV of a natural image is about 0.03 at 64-128 px: a term of the order of the others

PRESETS = {
    "gatys": Preset("Gatys et al. 2016: VGG-19, average pooling, L-BFGS from noise, conv4_2 / conv1_1..conv5_1", {}),
    "content-init": Preset("start from the content image instead of noise", {"init": "content"}),
    "adam": Preset("Adam instead of L-BFGS", {"optimizer": "adam"}),
    "clamp": Preset("clamp the pixels after each step instead of the sigmoid parametrisation", {"pixels": "clamp"}),
    "max-pool": Preset("max pooling, as VGG was trained, instead of average pooling", {"pooling": "max"}),
    "vgg16": Preset("VGG-16 instead of VGG-19", {"arch": "vgg16"}),
    "more-style": Preset("ten times the style weight", {"style_weight": 10 * STYLE_WEIGHT}),
    "less-style": Preset("a tenth of the style weight", {"style_weight": STYLE_WEIGHT / 10}),
    "tv": Preset("with a total-variation loss", {"tv_weight": TV_WEIGHT}),
}

STYLE = StyleSuite(
    name="style",
    summary="neural style transfer (Gatys et al. 2016): settings presets x content x style images",
    presets=PRESETS,
    seeds=1,
    budgets={
        "smoke": Budget(iterations=6, settings={"*": {"image_size": 32}}),
        "quick": Budget(iterations=100, settings={"*": {"image_size": 64}}),
        # At 512 px a checkpoint with L-BFGS's history is about 600 MB: save one every 250 steps.
        "standard": Budget(iterations=500, settings={"*": {"image_size": 512}}, checkpoint_every=250),
        "paper": Budget(iterations=1000, settings={"*": {"image_size": 512}}, checkpoint_every=250),
    },
    default_budget="quick",
    evaluators=("style-losses", "ssim", "convergence", "style-throughput"),
)


def plan_style_runs(suite: StyleSuite, request: RunRequest) -> list[StyleRun]:
    """Expand the suite into runs; every name, value, image and weights file is checked first.

    ``request.variants`` picks presets; the ``set`` option's scopes are ``style`` or ``*`` (every
    preset) and preset names. Settings apply in order: defaults, preset, budget, ``set style.``/``*``,
    ``set <preset>.``.
    """
    check_request(suite, request)
    if request.execution.processes > 1:
        raise UserError(f"{option('nproc_per_node')} is for GAN suites: a style run optimises one image in one process")
    if request.execution.trackers:
        raise UserError(f"{option('logger')} is for GAN suites (style runs write their losses to losses.csv)")
    if request.execution.precision == "fp16":
        raise UserError(f"style runs take {option('amp', 'bf16')}, not fp16 (L-BFGS cannot step through a gradient "
                        "scaler)")
    presets = list(request.variants or suite.presets)
    for name in presets:
        if name not in suite.presets:
            raise UserError(f"unknown preset {name!r} of suite {suite.name}; choose one of: {', '.join(suite.presets)}")
    overrides = dict(request.overrides)
    for scope in overrides:
        if scope not in ("*", STYLE_SCOPE, *presets):
            raise UserError(f"{option('set', f'{scope}.…')}: {scope!r} is not a preset of this run; use one of: "
                            f"{', '.join([STYLE_SCOPE, *presets])}")
    budget = suite.budgets[request.budget]
    contents = resolve_images(request.options.get("content") or DEFAULT_CONTENT, option("content"))
    styles = (resolve_images(request.options["style"], option("style")) if request.options.get("style")
              else default_style_images(DataOptions(data_root=request.data_root)))
    runs = []
    for preset in presets:
        settings = preset_settings(suite, preset, request.budget, overrides)
        check_style_settings(preset, settings)
        weights = resolve_weights(settings["arch"], settings["weights"], request.options.get("vgg_weights"))
        for content in contents:
            for style in styles:
                for seed in range(request.seeds or budget.seeds or suite.seeds):
                    runs.append(StyleRun(
                        suite=suite.name, preset=preset, content=content, style=style, seed=seed,
                        budget=request.budget, iterations=request.iterations or budget.iterations_for(),
                        checkpoint_every=budget.checkpoint_every,
                        max_seconds=request.time_limit or budget.max_seconds,
                        settings=settings, weights=weights, evaluators=suite.evaluators,
                        execution=request.execution,
                    ))
    return runs


def preset_settings(suite: StyleSuite, preset: str, budget: str,
                    overrides: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, Any]:
    """The settings a run of ``preset`` at ``budget`` uses: defaults, preset, budget, ``set
    style.``/``*``, ``set <preset>.``."""
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
