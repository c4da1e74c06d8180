"""Named suites: matrices of (variant, dataset, settings, seeds, budget) and their evaluators.

A budget says how long each run trains and how much it is evaluated:

- ``smoke``: seconds; for tests and for checking that a set-up works.
- ``quick``: the whole suite within minutes on a 2-core CPU; numbers are indicative.
- ``standard``: meaningful numbers; about an hour on one GPU for the image suites.
- ``paper``: the schedule lengths of the publications the suite follows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ganbench.registry import Registry

if TYPE_CHECKING:
    import torch

    from ganbench.results import ResultsStore

BUDGETS = ("smoke", "quick", "standard", "paper")


@dataclass(frozen=True)
class Budget:
    """Training length (generator iterations, one number or one per variant), checkpoint interval
    (0: every tenth of the run), evaluation settings (see ``ganbench list --settings eval``) and
    per-variant setting changes this budget makes (e.g. narrower networks to fit a CPU), and the
    number of seeds when it differs from the suite's."""

    iterations: int | Mapping[str, int]
    evaluation: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    seeds: int | None = None
    checkpoint_every: int = 0
    max_seconds: float | None = None

    def seeds_or(self, suite_seeds: int) -> int:
        """The seeds a run at this budget repeats over, without ``--seeds``."""
        return self.seeds or suite_seeds

    def iterations_for(self, variant: str) -> int:
        if isinstance(self.iterations, int):
            return self.iterations
        return self.iterations[variant]


@dataclass(frozen=True)
class RunRequest:
    """What the command line asks of a suite; ``None`` means the suite's default.

    ``overrides`` maps a scope (a variant, ``eval``, ``*``) to ``{setting: text}`` from ``--set``.
    ``content_images`` and ``style_images`` are paths for style-transfer suites, ``vgg_weights``
    their feature network's weights file.
    """

    budget: str
    seeds: int | None = None
    variants: Sequence[str] | None = None
    datasets: Sequence[str] | None = None
    overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    data_root: str | None = None
    download: bool = False
    split: str | None = None
    iterations: int | None = None
    time_limit: float | None = None
    content_images: Sequence[Path] | None = None
    style_images: Sequence[Path] | None = None
    vgg_weights: Path | None = None


def require_all_budgets(suite: str, budgets: Mapping[str, Any]) -> None:
    """A suite definition must define every budget of :data:`BUDGETS` (a programming error otherwise)."""
    missing = set(BUDGETS) - set(budgets)
    if missing:
        raise ValueError(f"suite {suite} lacks budgets {sorted(missing)}")


class PlannedRun(Protocol):
    """One run of a suite's matrix, resolved and checked, ready to execute."""

    run_id: str

    @property
    def label(self) -> str:
        """A short human name, e.g. ``dcgan mnist seed 0``."""

    def execute(self, store: ResultsStore, device: torch.device, progress: bool, restart: bool,
                keep_checkpoints: bool = False) -> dict[str, Any]:
        """Run it; return its record (the caller stores it). Checkpoints of a run that ended are
        deleted unless ``keep_checkpoints``."""


class BenchSuite(Protocol):
    """A named matrix of runs: GAN suites (:class:`Suite`) and style-transfer suites."""

    name: str
    summary: str
    seeds: int
    budgets: Mapping[str, Budget]
    default_budget: str

    def plan(self, request: RunRequest) -> list[PlannedRun]:
        """Every run of the matrix; raises ``UserError`` on any bad name or value, before anything runs."""

    def matrix(self) -> str:
        """One line describing the matrix, for ``ganbench list``."""

    def resolved_settings(self, scope: str, budget: str) -> tuple[Mapping[str, Any], dict[str, Any]]:
        """The schema and values of ``scope`` (a variant or preset, ``eval``, ``style``) that a run
        of this suite at ``budget`` uses, before any ``--set``; ``UserError`` for an unknown scope."""


@dataclass(frozen=True)
class Suite:
    """A GAN suite: variants x datasets x seeds. ``settings`` changes variants' defaults, per
    variant name; ``data`` gives data options (e.g. ``split``)."""

    name: str
    summary: str
    variants: tuple[str, ...]
    datasets: tuple[str, ...]
    seeds: int
    budgets: Mapping[str, Budget]
    default_budget: str
    evaluators: tuple[str, ...]
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require_all_budgets(self.name, self.budgets)

    def plan(self, request: RunRequest) -> list[PlannedRun]:
        from ganbench.runner import plan_runs

        return list(plan_runs(self, request))

    def matrix(self) -> str:
        return f"variants {','.join(self.variants)}; datasets {','.join(self.datasets)}"

    def resolved_settings(self, scope: str, budget: str) -> tuple[Mapping[str, Any], dict[str, Any]]:
        from ganbench.metrics import EVALUATION_SETTINGS
        from ganbench.models import VARIANTS
        from ganbench.runner import EVALUATION_SCOPE, variant_settings
        from ganbench.settings import resolve

        if scope == EVALUATION_SCOPE:
            return EVALUATION_SETTINGS, resolve(EVALUATION_SETTINGS, scope, self.budgets[budget].evaluation)
        if scope not in self.variants:
            from ganbench.errors import UserError

            raise UserError(f"{scope!r} is not a variant of suite {self.name}; choose one of: "
                            f"{', '.join([*self.variants, EVALUATION_SCOPE])}")
        return VARIANTS.get(scope).settings, variant_settings(self, scope, budget)


SUITES: Registry[BenchSuite] = Registry("suite")
DEFAULT_SUITE = "toy"

SUITES.add(
    "toy",
    Suite(
        name="toy",
        summary="fc GAN on the 2D ring and grid mixtures; mode coverage as in VEEGAN/PacGAN",
        variants=("fc",),
        datasets=("ring8", "grid25"),
        seeds=3,
        budgets={
            "smoke": Budget(iterations=60, evaluation={"samples": 2500, "throughput_samples": 512}),
            "quick": Budget(iterations=800, evaluation={"samples": 2500}),
            "standard": Budget(iterations=20_000, evaluation={"samples": 2500}),
            # PacGAN: 400 epochs of 100,000 points at batch size 100.
            "paper": Budget(iterations=400_000, evaluation={"samples": 2500}),
        },
        default_budget="quick",
        evaluators=("coverage", "throughput"),
    ),
)


# The image suites. fc trains on flattened 28x28 images with the classic MLP of the MNIST GAN
# literature; the conv variants train at 32x32 (MNIST padded by 2 pixels).
IMAGE_VARIANT_SETTINGS = {
    "fc": {"latent_dim": 100, "g_widths": (256, 512, 1024), "d_widths": (512, 256), "maxout_pieces": 1,
           "batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5},
}
# Budgets: ``smoke`` tiny networks for seconds-long tests; ``quick`` narrower networks so the
# four variants fit 15 minutes on a 2-core CPU (one seed); ``standard`` and ``paper`` the full
# networks. Paper lengths: fc 100 epochs of 60k at batch 64 (~94k iterations); DCGAN 25 epochs
# at batch 128 (pytorch/examples, ~11.7k); ProGAN 800k real images per phase x 7 phases at
# batch 64 (87.5k); MSG-GAN the same number of images as ProGAN.
SMOKE_SETTINGS = {
    "fc": {"g_widths": (32,), "d_widths": (32,), "batch_size": 16},
    "dcgan": {"g_width": 8, "d_width": 8, "batch_size": 16},
    "progan": {"width": 8, "max_width": 16, "latent_dim": 32, "batch_size": 16},
    "msggan": {"width": 8, "max_width": 16, "latent_dim": 32, "batch_size": 16},
}
QUICK_SETTINGS = {
    "dcgan": {"g_width": 32, "d_width": 32, "batch_size": 64},
    "progan": {"width": 16, "max_width": 64, "latent_dim": 128, "batch_size": 32},
    "msggan": {"width": 16, "max_width": 64, "latent_dim": 128, "batch_size": 32},
}
IMAGE_VARIANTS = ("fc", "dcgan", "progan", "msggan")
IMAGE_EVALUATORS = ("grid", "fidelity", "classes", "throughput")
# Fidelity on the lenet backbone: the fast, CPU-real metric for the MNIST family (Inception:
# --set eval.backbone=inception with its weights); every variant evaluated at 32x32.
IMAGE_EVALUATION = {"backbone": "lenet", "samples": 10_000, "reference_samples": 10_000}


def image_suite(name: str, dataset: str, summary: str) -> Suite:
    return Suite(
        name=name,
        summary=summary,
        variants=IMAGE_VARIANTS,
        datasets=(dataset,),
        seeds=3,
        budgets={
            "smoke": Budget(iterations=4, settings=SMOKE_SETTINGS, seeds=1,
                            evaluation={**IMAGE_EVALUATION, "samples": 200, "reference_samples": 200,
                                        "kid_subset_size": 100, "kid_subsets": 10, "throughput_samples": 64}),
            "quick": Budget(iterations={"fc": 3000, "dcgan": 1500, "progan": 700, "msggan": 500},
                            settings=QUICK_SETTINGS, seeds=1, evaluation={**IMAGE_EVALUATION, "samples": 5000}),
            "standard": Budget(iterations=20_000, evaluation=IMAGE_EVALUATION),
            "paper": Budget(iterations={"fc": 94_000, "dcgan": 11_700, "progan": 87_500, "msggan": 87_500},
                            evaluation=IMAGE_EVALUATION),
        },
        default_budget="quick",
        evaluators=IMAGE_EVALUATORS,
        settings=IMAGE_VARIANT_SETTINGS,
    )


SUITES.add("mnist", image_suite("mnist", "mnist", "fc, DCGAN, ProGAN and MSG-GAN on MNIST"))
SUITES.add("fashion", image_suite("fashion", "fashion-mnist", "the mnist suite's matrix on Fashion-MNIST"))


# Stacked MNIST as VEEGAN and PacGAN run it: a DCGAN, 26,000 samples to count the 1,000 modes,
# fidelity on the lenet backbone (fast on a CPU; per-channel features, joint 1,000-way IS).
STACKED_EVALUATION = {"backbone": "lenet", "samples": 10_000, "reference_samples": 10_000}
SUITES.add(
    "stacked-mnist",
    Suite(
        name="stacked-mnist",
        summary="dcgan on Stacked MNIST (3 digits as RGB, 1,000 modes); modes covered and KL as in VEEGAN/PacGAN",
        variants=("dcgan",),
        datasets=("stacked-mnist",),
        seeds=3,
        budgets={
            "smoke": Budget(
                iterations=20,
                evaluation={**STACKED_EVALUATION, "samples": 500, "reference_samples": 500, "stacked_samples": 1000,
                            "kid_subset_size": 250, "kid_subsets": 10, "throughput_samples": 256},
                settings={"dcgan": {"g_width": 8, "d_width": 8, "batch_size": 32}},
            ),
            "quick": Budget(iterations=3000, evaluation=STACKED_EVALUATION,
                            settings={"dcgan": {"g_width": 16, "d_width": 16, "batch_size": 64}}),
            "standard": Budget(iterations=20_000, evaluation=STACKED_EVALUATION,
                               settings={"dcgan": {"batch_size": 64}}),
            # PacGAN: 50 epochs of 128,000 stacked images at batch size 64.
            "paper": Budget(iterations=100_000, evaluation=STACKED_EVALUATION, settings={"dcgan": {"batch_size": 64}}),
        },
        default_budget="quick",
        evaluators=("grid", "stacked", "fidelity", "throughput"),
    ),
)


from ganbench.style import suite as _style_suite  # noqa: E402,F401  (registers the style suite)
