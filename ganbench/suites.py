"""Named suites: matrices of (variant, dataset, settings, seeds, budget) and their evaluators.

A budget says how long each run trains and how much it is evaluated:

- ``smoke``: seconds; for tests and for checking that a set-up works.
- ``quick``: the whole suite within minutes on a 2-core CPU; numbers are indicative.
- ``standard``: meaningful numbers; about an hour on one GPU for the image suites.
- ``paper``: the schedule lengths of the publications the suite follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ganbench.registry import Registry

BUDGETS = ("smoke", "quick", "standard", "paper")


@dataclass(frozen=True)
class Budget:
    """Training length (generator iterations, one number or one per variant), checkpoint interval
    (0: every tenth of the run) and evaluation settings (see ``ganbench list --settings eval``)."""

    iterations: int | Mapping[str, int]
    evaluation: Mapping[str, Any] = field(default_factory=dict)
    checkpoint_every: int = 0
    max_seconds: float | None = None

    def iterations_for(self, variant: str) -> int:
        if isinstance(self.iterations, int):
            return self.iterations
        return self.iterations[variant]


@dataclass(frozen=True)
class Suite:
    """A matrix of runs. ``settings`` changes variants' defaults, per variant name; ``data`` gives
    data options (e.g. ``split``)."""

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
        missing = set(BUDGETS) - set(self.budgets)
        if missing:
            raise ValueError(f"suite {self.name} lacks budgets {sorted(missing)}")


SUITES: Registry[Suite] = Registry("suite")
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
