"""Budgets: how long a suite's runs train and how much they are evaluated, by name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

BUDGETS = ("smoke", "quick", "equal", "standard", "paper")
# Every suite defines these; ``equal`` only where variants are compared (see :class:`Budget`).
REQUIRED_BUDGETS = ("smoke", "quick", "standard", "paper")
BUDGET_SUMMARIES = {
    "smoke": "seconds; for tests and for checking that a set-up works",
    "quick": "the suite within minutes on a 2-core CPU; a pipeline check, variants see unequal numbers of images",
    "equal": "the CPU comparison: every variant sees the same number of training images, 3 seeds",
    "standard": "meaningful numbers; about an hour on one GPU for the image suites",
    "paper": "the schedule lengths of the publications the suite follows (unequal across variants)",
}


@dataclass(frozen=True)
class Budget:
    """Training length (iterations, one number or one per variant; or ``images``: the number of
    training images every run sees, its iterations following from its batch), checkpoint interval
    (0: every tenth of the run), evaluation settings, per-variant setting changes this budget makes
    (e.g. narrower networks to fit a CPU; key ``*`` for every variant where a kind allows it), the
    number of seeds when it differs from the suite's, and an optional time limit per run (seconds).

    - ``smoke``: seconds; for tests and for checking that a set-up works.
    - ``quick``: the whole suite within minutes on a 2-core CPU; numbers are indicative.
    - ``equal`` (suites comparing variants): the same training images for every variant, 3 seeds,
      sized for a 2-core CPU.
    - ``standard``: meaningful numbers; about an hour on one GPU for the image suites.
    - ``paper``: the schedule lengths of the publications the suite follows.
    """

    iterations: int | Mapping[str, int] = 0
    evaluation: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    seeds: int | None = None
    checkpoint_every: int = 0
    max_seconds: float | None = None
    images: int | None = None

    def iterations_for(self, variant: str, images_per_iteration: int = 1) -> int:
        """The run's length: with ``images`` set, ``round(images / images_per_iteration)`` (at least
        1; a GAN iteration draws ``batch_size * n_critic`` real images), else ``iterations``."""
        if self.images is not None:
            return max(1, round(self.images / images_per_iteration))
        if isinstance(self.iterations, int):
            return self.iterations
        return self.iterations[variant]

    def seeds_or(self, suite_seeds: int) -> int:
        """The seeds a run at this budget repeats over, without a ``seeds`` option."""
        return self.seeds or suite_seeds


def require_all_budgets(suite: str, budgets: Mapping[str, Any]) -> None:
    """A suite definition must define every budget of :data:`REQUIRED_BUDGETS` and no name outside
    :data:`BUDGETS` (a programming error otherwise)."""
    missing = set(REQUIRED_BUDGETS) - set(budgets)
    unknown = set(budgets) - set(BUDGETS)
    if missing or unknown:
        raise ValueError(f"suite {suite} lacks budgets {sorted(missing)} or has unknown ones {sorted(unknown)}")
