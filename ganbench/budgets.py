"""Budgets: how long a suite's runs train and how much they are evaluated, by name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

BUDGETS = ("smoke", "quick", "standard", "paper")


@dataclass(frozen=True)
class Budget:
    """Training length (iterations, one number or one per variant), checkpoint interval (0: every
    tenth of the run), evaluation settings, per-variant setting changes this budget makes (e.g.
    narrower networks to fit a CPU; key ``*`` for every variant where a kind allows it), the number
    of seeds when it differs from the suite's, and an optional time limit per run (seconds).

    - ``smoke``: seconds; for tests and for checking that a set-up works.
    - ``quick``: the whole suite within minutes on a 2-core CPU; numbers are indicative.
    - ``standard``: meaningful numbers; about an hour on one GPU for the image suites.
    - ``paper``: the schedule lengths of the publications the suite follows.
    """

    iterations: int | Mapping[str, int]
    evaluation: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    seeds: int | None = None
    checkpoint_every: int = 0
    max_seconds: float | None = None

    def iterations_for(self, variant: str) -> int:
        if isinstance(self.iterations, int):
            return self.iterations
        return self.iterations[variant]

    def seeds_or(self, suite_seeds: int) -> int:
        """The seeds a run at this budget repeats over, without ``--seeds``."""
        return self.seeds or suite_seeds


def require_all_budgets(suite: str, budgets: Mapping[str, Any]) -> None:
    """A suite definition must define every budget of :data:`BUDGETS` (a programming error otherwise)."""
    missing = set(BUDGETS) - set(budgets)
    if missing:
        raise ValueError(f"suite {suite} lacks budgets {sorted(missing)}")
