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
    per-variant setting changes this budget makes (e.g. narrower networks to fit a CPU)."""

    iterations: int | Mapping[str, int]
    evaluation: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    checkpoint_every: int = 0
    max_seconds: float | None = None

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

    def execute(self, store: ResultsStore, device: torch.device, progress: bool, restart: bool) -> dict[str, Any]:
        """Run it; return its record (the caller stores it)."""


class BenchSuite(Protocol):
    """A named matrix of runs: GAN suites (:class:`Suite`) and style-transfer suites."""

    name: str
    summary: str
    seeds: int
    budgets: Mapping[str, Any]
    default_budget: str

    def plan(self, request: RunRequest) -> list[PlannedRun]:
        """Every run of the matrix; raises ``UserError`` on any bad name or value, before anything runs."""

    def matrix(self) -> str:
        """One line describing the matrix, for ``ganbench list``."""


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
        return (f"variants {','.join(self.variants)}; datasets {','.join(self.datasets)}; {self.seeds} seeds; "
                f"default budget {self.default_budget}")


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
            "quick": Budget(iterations=1000, evaluation={"samples": 2500}),
            "standard": Budget(iterations=20_000, evaluation={"samples": 2500}),
            # PacGAN: 400 epochs of 100,000 points at batch size 100.
            "paper": Budget(iterations=400_000, evaluation={"samples": 2500}),
        },
        default_budget="quick",
        evaluators=("coverage", "throughput"),
    ),
)

from ganbench.style import suite as _style_suite  # noqa: E402,F401  (registers the style suite)
