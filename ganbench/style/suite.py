"""The ``style`` suite: named settings presets x content images x style images x seeds.

Each preset changes one thing (or two that belong together) from Gatys et al. 2016's set-up, the
``gatys`` preset, so that a row of the table answers one question. Budgets set the image size and
the number of optimiser steps; the content and style images are the suite's defaults
(:mod:`ganbench.style.images`) unless ``--content``/``--style`` name others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ganbench.style import DEFAULT_CONTENT, DEFAULT_STYLE, STYLE_SCOPE, STYLE_SETTINGS
from ganbench.suites import SUITES, Budget, RunRequest, require_all_budgets

if TYPE_CHECKING:
    from ganbench.suites import PlannedRun


@dataclass(frozen=True)
class Preset:
    """A named point of the settings matrix: a one-line summary and its changes to the defaults."""

    summary: str
    settings: Mapping[str, Any]


@dataclass(frozen=True)
class StyleSuite:
    """Presets x content images x style images x seeds, at a budget. A budget's ``settings`` are
    keyed by preset name or ``*`` (every preset) and apply after the preset's own."""

    name: str
    summary: str
    presets: Mapping[str, Preset]
    seeds: int
    budgets: Mapping[str, Budget]
    default_budget: str

    def __post_init__(self) -> None:
        require_all_budgets(self.name, self.budgets)

    def plan(self, request: RunRequest) -> list[PlannedRun]:
        from ganbench.style.run import plan_style_runs

        return list(plan_style_runs(self, request))

    def matrix(self) -> str:
        return f"presets {','.join(self.presets)}; content {','.join(DEFAULT_CONTENT)}; style {','.join(DEFAULT_STYLE)}"

    def resolved_settings(self, scope: str, budget: str) -> tuple[Mapping[str, Any], dict[str, Any]]:
        from ganbench.style.run import preset_settings

        if scope == STYLE_SCOPE:
            scope = "gatys"
        if scope not in self.presets:
            from ganbench.errors import UserError

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

SUITES.add(
    "style",
    StyleSuite(
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
    ),
)
