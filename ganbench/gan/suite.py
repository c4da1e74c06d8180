"""GAN suites: variants x datasets x seeds at a budget, and their planning into :class:`GanRun` cells."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from ganbench.data import BenchDataset, DataOptions, load_dataset
from ganbench.errors import UserError, command, option
from ganbench.gan.model import VARIANTS
from ganbench.gan.run import KIND, GanRun, planned_iterations_for_gflop
from ganbench.metrics import EVALUATION_SETTINGS, EVALUATORS
from ganbench.budgets import Budget, require_all_budgets
from ganbench.options import Option
from ganbench.runs import RunRequest, check_request
from ganbench.settings import resolve

EVALUATION_SCOPE = "eval"

GAN_OPTIONS = (
    Option("datasets", "comma-separated datasets (default: the suite's)", given="list"),
    Option("split", "data split to train on (default: train; offline machines with only the MNIST test set use "
           f"{option('split', 'test')})", choices=("train", "test")),
)
"""The options of GAN suites (a request's ``options``): the datasets and their split."""


@dataclass(frozen=True)
class GanSuite:
    """A GAN suite: variants x datasets x seeds. ``settings`` changes variants' defaults, per
    variant name or, under ``*``, for every variant having the key; ``data`` gives data options (e.g. ``split``)."""

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
    kind: str = KIND
    options: tuple[Option, ...] = GAN_OPTIONS
    comparison_budget: str | None = None  # the budget to rank variants at (``ganbench list suites`` says it)

    def __post_init__(self) -> None:
        require_all_budgets(self.name, self.budgets)

    def plan(self, request: RunRequest) -> list[GanRun]:
        return plan_runs(self, request)

    def matrix(self) -> str:
        return f"variants {','.join(self.variants)}; datasets {','.join(self.datasets)}"

    def resolved_settings(self, scope: str, budget: str) -> tuple[Mapping[str, Any], dict[str, Any]]:
        if scope == EVALUATION_SCOPE:
            return EVALUATION_SETTINGS, resolve(EVALUATION_SETTINGS, scope, self.budgets[budget].evaluation)
        if scope not in self.variants and scope not in VARIANTS:
            raise UserError(f"{scope!r} is not a variant of suite {self.name}; choose one of: "
                            f"{', '.join([*self.variants, EVALUATION_SCOPE])}")
        return VARIANTS.get(scope).settings, variant_settings(self, scope, budget)

    def iterations(self, variant_name: str, budget: str, settings: Mapping[str, Any] | None = None,
                   dataset: BenchDataset | None = None) -> int:
        """The length of a run of ``variant_name`` at ``budget`` (without ``--iterations``), for
        ``settings`` (default: the budget's, before any ``--set``): the variant's own length where
        the budget names one it declares, else the budget's, by GFLOP (counted on ``dataset``'s
        sample shape; default the suite's first dataset) or by images where it gives them."""
        settings = settings or variant_settings(self, variant_name, budget)
        variant = VARIANTS.get(variant_name)

        def for_gflop(gflop: float) -> int:
            data = dataset or load_dataset(self.datasets[0], DataOptions(image_size=variant.image_size(settings)))
            return planned_iterations_for_gflop(variant_name, settings, data, gflop)

        return self.budgets[budget].iterations_for(variant.lengths, settings["batch_size"] * settings["n_critic"],
                                                   for_gflop)


def variant_settings(suite: GanSuite, variant_name: str, budget: str,
                     overrides: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, Any]:
    """The settings a run of ``variant_name`` in ``suite`` at ``budget`` uses: the variant's
    defaults, then the suite's changes (for every variant having the key, under ``*``, then for
    this one), the variant's scale that the budget names, the budget's changes for every variant
    (where the variant has the key) and for this one, the ``set`` option's ``KEY=`` (where the
    variant has the key) and ``VARIANT.KEY=``."""
    variant = VARIANTS.get(variant_name)
    plan = suite.budgets[budget]
    overrides = overrides or {}

    def own(changes: Mapping[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in changes.items() if key in variant.settings}

    return resolve(variant.settings, variant_name, own(suite.settings.get("*", {})),
                   suite.settings.get(variant_name, {}), variant.scale(plan.scale),
                   own(plan.settings.get("*", {})), plan.settings.get(variant_name, {}), own(overrides.get("*", {})),
                   overrides.get(variant_name, {}))


def check_overrides(variants: list[str], overrides: Mapping[str, Mapping[str, str]]) -> None:
    """Known ``variants``; the ``set`` option's scopes are among them (or ``eval``, ``*``), and an
    unscoped key is a setting of one of them."""
    for name in variants:
        VARIANTS.get(name)
    for scope in overrides:
        if scope not in ("*", EVALUATION_SCOPE) and scope not in variants:
            raise UserError(
                f"{option('set', f'{scope}.…')}: {scope!r} is not a variant of this run; use one of: "
                f"{', '.join(variants + [EVALUATION_SCOPE])}"
            )
    for key in overrides.get("*", {}):
        if not any(key in VARIANTS.get(name).settings for name in variants):
            raise UserError(f"unknown setting {key!r} for variants {', '.join(variants)}; "
                            f"see `{command('list', settings='VARIANT')}`")


def check_output_shape(variant_name: str, settings: dict[str, Any], dataset: BenchDataset) -> None:
    """A plugin variant's G makes samples of ``dataset``'s shape: a tiny forward (2 latents, on the
    CPU, the global RNG restored after); a ``UserError`` naming the plugin and the shapes if not."""
    plugin = (VARIANTS.origin(variant_name) or {}).get("plugin", "?")
    with torch.random.fork_rng(devices=[]):
        try:
            gan = VARIANTS.get(variant_name).create(settings, dataset)
            gan.eval()
            samples = gan.sample(gan.sample_latent(2, torch.Generator().manual_seed(0)))
        except Exception as error:  # noqa: BLE001 - a broken plugin variant is one error line
            raise UserError(f"plugin {plugin}: variant {variant_name} fails to build or sample for {dataset.name} "
                            f"({type(error).__name__}: {error}); fix its build") from None
    shape = tuple(getattr(samples, "shape", ()))
    if shape[1:] != tuple(dataset.sample_shape):
        raise UserError(f"plugin {plugin}: variant {variant_name}'s generator makes samples of shape {shape[1:]}, "
                        f"dataset {dataset.name} needs {tuple(dataset.sample_shape)}; build G for "
                        "data.sample_shape")


def plan_runs(suite: GanSuite, request: RunRequest) -> list[GanRun]:
    """Expand ``suite`` into runs; every name and value is checked before anything runs.

    ``request.overrides`` maps a variant name, ``"eval"`` or ``"*"`` (every variant having the key)
    to ``{setting: text}`` (from the ``set`` option); ``request.iterations`` replaces the budget's length.
    """
    check_request(suite, request)
    budget = request.budget
    chosen_variants = list(request.variants or suite.variants)
    chosen_datasets = list(request.options.get("datasets") or suite.datasets)
    overrides = dict(request.overrides)
    check_overrides(chosen_variants, overrides)
    plan = suite.budgets[budget]
    evaluation = resolve(EVALUATION_SETTINGS, EVALUATION_SCOPE, plan.evaluation, overrides.get(EVALUATION_SCOPE, {}))
    split = request.options.get("split") or suite.data.get("split", "train")
    runs = []
    for variant_name in chosen_variants:
        variant = VARIANTS.get(variant_name)
        settings = variant_settings(suite, variant_name, budget, overrides)
        processes = request.execution.processes
        if settings["batch_size"] % processes:
            raise UserError(f"{option('nproc_per_node', processes)}: {variant_name}'s batch_size "
                            f"{settings['batch_size']} "
                            f"does not split into {processes} equal parts; set {variant_name}.batch_size to a "
                            f"multiple of {processes}")
        for dataset_name in chosen_datasets:
            data = DataOptions(data_root=request.data_root, split=split, download=request.download,
                               image_size=variant.image_size(settings))
            dataset = load_dataset(dataset_name, data)
            if dataset.kind not in variant.kinds:
                raise UserError(
                    f"variant {variant_name} cannot train on {dataset.kind} data ({dataset_name}); "
                    f"it handles {', '.join(variant.kinds)}"
                )
            if VARIANTS.origin(variant_name) is not None:
                check_output_shape(variant_name, settings, dataset)
            evaluators = tuple(name for name in suite.evaluators if EVALUATORS.get(name).applies_to(dataset))
            for name in evaluators:
                EVALUATORS.get(name).check(dataset, evaluation, data)
            for seed in range(request.seeds or plan.seeds_or(suite.seeds)):
                runs.append(GanRun(
                    suite=suite.name,
                    variant=variant_name,
                    dataset=dataset_name,
                    seed=seed,
                    budget=budget,
                    iterations=request.iterations or suite.iterations(variant_name, budget, settings, dataset),
                    checkpoint_every=plan.checkpoint_every,
                    max_seconds=request.time_limit or plan.max_seconds,
                    settings=settings,
                    evaluation=evaluation,
                    evaluators=evaluators,
                    data=data,
                    gflop=None if request.iterations else plan.gflop,
                    execution=request.execution,
                ))
    return runs
