"""What ``ganbench evaluate`` is asked: its options (:data:`EVALUATE_OPTIONS`), the request they
make (:class:`EvaluationRequest`), the checks of the request before anything is loaded
(:func:`check_request`), and the evaluation settings it selects (:func:`evaluation_settings`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.errors import UserError, option
from ganbench.evaluation.samples import LAYOUTS, RANGES
from ganbench.metrics import EVALUATION_SETTINGS
from ganbench.options import Option, OptionValueError, positive_int
from ganbench.settings import parse_assignments, resolve

EXTERNAL = "external"  # suite and budget of an evaluation that names no suite


def seed_list(text: str) -> tuple[int, ...]:
    """``"0,1,2"`` -> ``(0, 1, 2)``: distinct whole numbers >= 0, in the order given.

    Examples:
        >>> seed_list("3, 1")
        (3, 1)
    """
    try:
        seeds = tuple(int(part) for part in text.split(","))
    except ValueError:
        seeds = ()
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise OptionValueError(f"invalid value {text!r}: give distinct whole numbers >= 0, comma-separated "
                               "(e.g. 0,1,2)")
    return seeds


EVALUATE_OPTIONS = (
    Option("samples", "a folder of PNG/JPEG images or an .npy/.npz array of samples; give it again for more seeds "
           "of the same model", metavar="PATH", given="repeated", parse=Path),
    Option("generator", "instead of samples, a generator to draw them from: MODULE:CALLABLE or PATH.py:CALLABLE "
           "(an nn.Module, an nn.Module class, or a function returning one; called with latent_dim=D where it "
           "takes that parameter, else with no arguments) or a TorchScript file; it maps latents (n, D) to "
           "float images (n, C, H, W) in [-1, 1]", metavar="SPEC"),
    Option("latent_dim", f"with {option('generator')}: the latent size D; latents are z ~ N(0, I) of shape (n, D)",
           metavar="D", parse=positive_int),
    Option("checkpoint", f"with {option('generator')}: a state_dict file (torch.save(model.state_dict(), PATH)) "
           "loaded into the generator with torch.load(weights_only=True)", metavar="PATH", parse=Path),
    Option("real", "instead of samples, real images of this split of the reference dataset (disjoint from the "
           "reference set where it is the reference's split): the real-data floor of every metric under this protocol",
           metavar="SPLIT", choices=("train", "test")),
    Option("generator_seeds", f"with {option('generator')} or {option('real')}: the seeds to draw latents (or the "
           "real images) from, one record each (that model's seeds for intervals and significance; default: 0)",
           metavar="S,S,...", parse=seed_list),
    Option("dataset", "the reference: a dataset name (e.g. mnist, cifar10) or folder:PATH", metavar="NAME"),
    Option("name", "the model's name: the variant column of the tables", metavar="NAME"),
    Option("out", "output folder (new, or one written by `ganbench run` to compare with its runs)", metavar="DIR",
           parse=Path),
    Option("backbone", "feature extractor of the fidelity metrics: lenet, inception, dinov2, clip or a plugin's "
           "(default: the suite's, else inception)", metavar="NAME"),
    Option("samples_count", "images evaluated of each input, its first ones (default: all of them; of a generator, "
           "eval.samples)", metavar="N", parse=positive_int),
    Option("split", "split of the reference dataset (default: the suite's eval.reference_split, else train); the "
           "memorisation checks compare with the training split", choices=("train", "test")),
    Option("data_root", "folder holding the datasets (default: $GANBENCH_DATA, else ~/.cache/ganbench/data)",
           metavar="DIR", group="data"),
    Option("suite", "evaluate with this suite's evaluation settings and place the records in its tables "
           "(default: the defaults, suite 'external')", metavar="SUITE"),
    Option("budget", f"with {option('suite')}: the budget whose evaluation settings are used (default: the suite's)",
           metavar="BUDGET"),
    Option("set", "change an evaluation setting, eval.KEY=VALUE (repeatable)", metavar="eval.KEY=VALUE",
           given="repeated"),
    Option("layout", "axis order of an array input (default: auto, detected from where the 1 or 3 channels are)",
           default="auto", choices=LAYOUTS),
    Option("value_range", "value range of an array input: tanh [-1, 1], unit [0, 1], uint8 0..255 (default: auto: "
           "integers are 0..255, floats with a negative value [-1, 1], else [0, 1])", default="auto", choices=RANGES),
)


@dataclass(frozen=True)
class EvaluationRequest:
    """What ``ganbench evaluate`` was asked: the inputs (``samples``, or a ``generator`` with its
    ``latent_dim``, ``checkpoint`` and ``generator_seeds``), the reference (``dataset``,
    ``split``, ``data_root``), the model's ``name``, the output folder, and the evaluation
    settings' sources (``suite``/``budget``, ``set``, ``backbone``, ``samples_count``,
    ``layout``, ``value_range``).

    Examples:
        >>> EvaluationRequest((Path("a.npy"),), "mnist", "mine", Path("out")).generator_seeds
        (0,)
        >>> EvaluationRequest((), "mnist", "mine", Path("out"), generator="gen.py:make", latent_dim=100).samples
        ()
    """

    samples: tuple[Path, ...]
    dataset: str
    name: str
    out: Path
    backbone: str | None = None
    samples_count: int | None = None
    split: str | None = None
    data_root: str | None = None
    suite: str | None = None
    budget: str | None = None
    set: tuple[str, ...] = ()
    layout: str = "auto"
    value_range: str = "auto"
    generator: str | None = None
    latent_dim: int | None = None
    checkpoint: Path | None = None
    generator_seeds: tuple[int, ...] = (0,)
    real: str | None = None


def request_from(values: Mapping[str, Any]) -> EvaluationRequest:
    """The request of option values keyed by name (:data:`EVALUATE_OPTIONS`); ``UserError`` for a
    missing required one."""
    for name in ("dataset", "name", "out"):
        if not values.get(name):
            raise UserError(f"{option(name)} is required; e.g. {option('samples', 'DIR')} {option('dataset', 'mnist')} "
                            f"{option('name', 'mymodel')} {option('out', 'DIR')}")
    checkpoint = values.get("checkpoint")
    return EvaluationRequest(
        samples=tuple(values.get("samples") or ()), dataset=values["dataset"], name=values["name"],
        out=Path(values["out"]), backbone=values.get("backbone"), samples_count=values.get("samples_count"),
        split=values.get("split"), data_root=values.get("data_root") or os.environ.get("GANBENCH_DATA"),
        suite=values.get("suite"),
        budget=values.get("budget"), set=tuple(values.get("set") or ()), layout=values.get("layout") or "auto",
        value_range=values.get("value_range") or "auto", generator=values.get("generator"),
        latent_dim=values.get("latent_dim"), checkpoint=None if checkpoint is None else Path(checkpoint),
        generator_seeds=tuple(values.get("generator_seeds") or (0,)), real=values.get("real"))


def check_request(request: EvaluationRequest) -> None:
    """``UserError`` unless the request names its inputs one way: ``samples``, a ``generator``
    with a ``latent_dim`` (``checkpoint`` only with a generator), or a ``real`` split
    (``generator_seeds`` with a generator or real images)."""
    example = (f"{option('generator', 'gen.py:make')} {option('latent_dim', 100)}; or "
               f"{option('samples', 'DIR')}")
    given_inputs = [name for name in ("samples", "generator", "real") if getattr(request, name)]
    if len(given_inputs) > 1:
        raise UserError(f"give one of {option('samples')}, {option('generator')} or {option('real')}, not "
                        f"{' and '.join(option(name) for name in given_inputs)}: evaluate the samples of one model "
                        "per command")
    if not given_inputs:
        raise UserError(f"{option('samples')} or {option('generator')} is required; e.g. {example}")
    if request.real is not None:
        if request.real not in ("train", "test"):
            raise UserError(f"{option('real', request.real)}: give a split, train or test")
        given = [name for name in ("latent_dim", "checkpoint") if getattr(request, name) is not None]
        if given:
            raise UserError(f"{option(given[0])} goes with {option('generator')}; leave it out with {option('real')}")
        _check_seeds(request)
        return
    if request.generator is None:
        given = [name for name in ("latent_dim", "checkpoint") if getattr(request, name) is not None]
        if request.generator_seeds != (0,):
            given.append("generator_seeds")
        if given:
            raise UserError(f"{option(given[0])} goes with {option('generator')}; leave it out with "
                            f"{option('samples')}")
        return
    if request.latent_dim is None:
        raise UserError(f"{option('latent_dim')} is required with {option('generator')}: the size D of the latents "
                        f"z ~ N(0, I) of shape (n, D) it takes; e.g. {option('latent_dim', 100)}")
    if request.latent_dim < 1:
        raise UserError(f"{option('latent_dim', request.latent_dim)}: give a positive whole number")
    _check_seeds(request)


def _check_seeds(request: EvaluationRequest) -> None:
    try:
        seed_list(",".join(map(str, request.generator_seeds)))
    except OptionValueError as error:
        raise UserError(f"{option('generator_seeds')}: {error}") from None


TRAINED_SPLIT = "train"  # the split an evaluated model is taken to have trained on (the memorisation checks')


def evaluation_settings(request: EvaluationRequest, count: int | None) -> tuple[str, str, dict[str, Any]]:
    """Suite, budget and evaluation settings of the request (``samples`` = ``count``, where not None)."""
    from ganbench.runs import SUITES

    base: Mapping[str, Any] = {}
    suite, budget = EXTERNAL, EXTERNAL
    if request.suite is not None:
        chosen = SUITES.get(request.suite)
        budget = request.budget or chosen.default_budget
        if budget not in chosen.budgets:
            raise UserError(f"suite {chosen.name} has no budget {budget!r}; choose one of: {', '.join(chosen.budgets)}")
        base, suite = chosen.resolved_settings("eval", budget)[1], chosen.name
    elif request.budget is not None:
        raise UserError(f"{option('budget')} goes with {option('suite')}: the evaluation settings of a suite's budget")
    assignments = parse_assignments(request.set)
    unknown = sorted(scope for scope in assignments if scope != "eval")
    if unknown:
        raise UserError(f"{option('set')} changes evaluation settings only; write eval.KEY=VALUE, not "
                        f"{unknown[0]}.KEY=VALUE")
    chosen_backbone = {"backbone": request.backbone} if request.backbone else {}
    counted = {} if count is None else {"samples": count}
    settings = resolve(EVALUATION_SETTINGS, "eval", base, assignments.get("eval", {}), chosen_backbone, counted)
    # The model is taken to have trained on the training split; the reference is --split, else the setting's.
    if request.split is not None:
        settings["reference_split"] = request.split
    elif settings["reference_split"] == "trained":
        settings["reference_split"] = TRAINED_SPLIT
    return suite, budget, settings
