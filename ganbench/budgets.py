"""Budgets: how long a suite's runs train and how much they are evaluated, by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

BUDGETS = ("smoke", "quick", "equal", "equal-flops", "converged", "standard", "paper")
# Every suite defines these; ``equal`` and ``equal-flops`` only where variants are compared (see :class:`Budget`).
REQUIRED_BUDGETS = ("smoke", "quick", "standard", "paper")
BUDGET_SUMMARIES = {
    "smoke": "seconds; for tests and for checking that a set-up works",
    "quick": "the suite within minutes on a 2-core CPU; a pipeline check, variants see unequal numbers of images",
    "equal": "the CPU comparison at equal images: every variant sees the same number of training images, 5 seeds",
    "equal-flops": "the CPU comparison at equal FLOPs: every variant trains for the same training GFLOP "
                   "(within one iteration; the number in `ganbench list suites`), 5 seeds",
    "converged": "the GPU comparison at equal images: as equal, 33 times as long, meant to reach the plateau of "
                 "the metric histories; sized for one GPU running every run at once",
    "standard": "meaningful numbers; about an hour on one GPU for the image suites",
    "paper": "the schedule lengths of the publications the suite follows (unequal across variants)",
}


@dataclass(frozen=True)
class Budget:
    """How long a suite's runs train and how much they are evaluated, for any member of the suite
    (a GAN variant, a style preset), including one the suite has never heard of.

    Length: ``gflop`` (the training GFLOP every run does, its iterations following from its
    FLOP count per iteration), else ``images`` (the number of training images every run sees, its
    iterations following from its batch), else ``iterations``, for every member; where ``lengths`` names a schedule,
    a member that declares its own length under that name (e.g. a variant's published schedule for
    ``paper``) trains for that instead. Settings: ``scale`` names the setting changes members
    declare for this budget (e.g. ``quick``: networks narrow enough for a CPU; a member declaring
    none keeps its defaults or its kind's default for that scale), then ``settings`` makes the
    suite's own changes, per member name or, under key ``*``, for every member having the key.
    Also the checkpoint interval (0: every tenth of the run), evaluation settings, the number of
    seeds when it differs from the suite's, and an optional time limit per run (seconds).

    - ``smoke``: seconds; for tests and for checking that a set-up works.
    - ``quick``: the whole suite within minutes on a 2-core CPU; numbers are indicative.
    - ``equal`` (suites comparing variants): the same training images for every variant, 5 seeds,
      sized for a 2-core CPU ("equal images").
    - ``equal-flops`` (suites comparing variants): the same training GFLOP for every variant, to
      within one iteration, sized to take about as long as ``equal``.
    - ``converged`` (suites comparing variants): ``equal``, long enough for the metric histories
      to plateau, sized for one GPU.
    - ``standard``: meaningful numbers; about an hour on one GPU for the image suites.
    - ``paper``: the schedule lengths of the publications the suite follows.
    """

    iterations: int = 0
    evaluation: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    seeds: int | None = None
    checkpoint_every: int = 0
    max_seconds: float | None = None
    images: int | None = None
    scale: str | None = None
    lengths: str | None = None
    gflop: float | None = None

    def iterations_for(self, own_lengths: Mapping[str, int] | None = None, images_per_iteration: int = 1,
                       iterations_for_gflop: Callable[[float], int] | None = None) -> int:
        """A run's length.

        Args:
            own_lengths: the member's own lengths in iterations, by schedule name; used where this
                budget's ``lengths`` names one of them.
            images_per_iteration: real training images one iteration draws (a GAN iteration draws
                ``batch_size * n_critic``).
            iterations_for_gflop: the member's number of iterations whose training FLOPs come
                nearest a given GFLOP (required with ``gflop``; the kind counts them).

        Returns:
            The member's own length where it declares one for ``lengths``; else, with ``gflop``
            set, ``iterations_for_gflop(gflop)``; else, with ``images`` set,
            ``round(images / images_per_iteration)`` (at least 1); else ``iterations``.
        """
        if self.lengths is not None and own_lengths and self.lengths in own_lengths:
            return own_lengths[self.lengths]
        if self.gflop is not None:
            if iterations_for_gflop is None:
                raise ValueError("a budget by GFLOP needs the member's FLOP count (iterations_for_gflop)")
            return iterations_for_gflop(self.gflop)
        if self.images is not None:
            return max(1, round(self.images / images_per_iteration))
        return self.iterations

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
