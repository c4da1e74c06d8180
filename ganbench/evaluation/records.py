"""The evaluation of a request: every input planned and checked (:func:`plan_evaluation`), then
evaluated into one record each (:func:`evaluate_samples`); and the report section that claims
those records (:class:`EvaluationReport`)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ganbench.columns import Column, Description
from ganbench.data import DATASETS, BenchDataset, DataOptions, load_dataset
from ganbench.data.images import ImageDataset
from ganbench.errors import UserError, option
from ganbench.evaluation.generator import Generated, draw, load_generator
from ganbench.evaluation.real import RealImages, draw_real
from ganbench.evaluation.request import TRAINED_SPLIT, EvaluationRequest, check_request, evaluation_settings
from ganbench.evaluation.samples import LoadedSamples, Samples, load_samples
from ganbench.metrics import EVALUATORS, EvaluationContext, evaluate
from ganbench.metrics.backbones import BACKBONES
from ganbench.provenance import device_description, software, utc_now
from ganbench.registry import plugin_provenance
from ganbench.report.tables import GROUP, SummaryTable
from ganbench.results import ResultsStore, file_safe

KIND = "evaluation"
EVALUATED = ("fidelity", "classes")  # sample evaluators of an evaluation, where they apply to the reference

# Torch threads of an evaluation: one, as a run's default, since the thread count changes the order
# of floating-point sums in generation and feature extraction (a run's own samples, or its G at its
# seed, then give its numbers exactly).
THREADS = 1


@dataclass(frozen=True)
class Planned:
    """One input ready to evaluate: its samples (loaded, or drawn from a generator), how many of
    them are evaluated, the record's seed and run id, and its configuration."""

    samples: Samples | Generated | RealImages
    count: int
    seed: int
    run_id: str
    config: dict[str, Any]


@contextlib.contextmanager
def _threads(count: int) -> Iterator[None]:
    """Torch's intra-op threads set to ``count`` within the context."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _sample_count(request: EvaluationRequest, loaded: Sequence[Samples]) -> int | None:
    """The number of images evaluated of each loaded input (all equal), or with a generator the
    ``samples_count`` asked for (None: ``eval.samples``)."""
    if not loaded:
        return request.samples_count
    counts = []
    for samples in loaded:
        if request.samples_count is not None and len(samples.images) < request.samples_count:
            raise UserError(f"{samples.source} holds {len(samples.images)} images, fewer than "
                            f"{option('samples_count', request.samples_count)}; give more images or lower it")
        counts.append(request.samples_count or len(samples.images))
    if len(set(counts)) > 1:
        raise UserError(f"the inputs hold different numbers of images ({', '.join(map(str, counts))}); give "
                        f"{option('samples_count', min(counts))} to evaluate the same number of each")
    return counts[0]


def _reference(request: EvaluationRequest, settings: dict[str, Any]) -> tuple[BenchDataset, DataOptions]:
    """The reference dataset (its ``eval.reference_split``) at ``eval.image_size``, and the data
    options of the split the model is taken to have trained on; ``UserError`` unless images."""
    data = DataOptions(data_root=request.data_root, split=TRAINED_SPLIT, image_size=settings["image_size"])
    dataset = load_dataset(request.dataset, replace(data, split=settings["reference_split"]))
    if dataset.kind != "images":
        raise UserError(f"{request.dataset} is not an image dataset; evaluate samples against mnist, "
                        "fashion-mnist, kmnist, cifar10, stacked-mnist or folder:PATH")
    return dataset, data


def plan_evaluation(request: EvaluationRequest) -> tuple[list[Planned], BenchDataset, DataOptions, dict[str, Any]]:
    """Load and check every input (sample sets read, or every generator seed's samples drawn) and
    the reference before anything is evaluated or written: the planned inputs, the reference
    dataset, its data options, and shared record fields."""
    check_request(request)
    loaded = [load_samples(path, request.layout, request.value_range) for path in request.samples]
    model = None if request.generator is None else load_generator(request.generator, request.latent_dim or 0,
                                                                   request.checkpoint)
    suite, budget, settings = evaluation_settings(request, _sample_count(request, loaded))
    dataset, data = _reference(request, settings)
    channels, count = dataset.sample_shape[0], settings["samples"]
    for samples in loaded:
        if samples.images.shape[1] != channels:
            raise UserError(f"{samples.source} holds {_channels(samples.images.shape[1])} images but the reference "
                            f"{request.dataset} is {_channels(channels)}; give samples of the reference's channels")
    evaluators = tuple(name for name in EVALUATED if EVALUATORS.get(name).applies_to(dataset))
    for name in evaluators:
        EVALUATORS.get(name).check(dataset, settings, data)
    inputs: list[tuple[int, Samples | Generated | RealImages]] = list(enumerate(loaded))
    if model is not None:
        inputs = [(seed, draw(model, seed, count, channels)) for seed in request.generator_seeds]
    if request.real is not None and isinstance(dataset, ImageDataset):
        drawn = draw_real(dataset, settings["reference_split"], request.real, data, request.generator_seeds, count,
                          settings["reference_samples"])
        inputs = [(images.seed, images) for images in drawn]
    config = {"name": request.name, "dataset": request.dataset, "evaluation": settings,
              "evaluators": list(evaluators), "data": {"split": TRAINED_SPLIT, "image_size": settings["image_size"]},
              "execution": {"threads": THREADS}}
    planned = []
    for seed, samples in inputs:
        seeded = {**config, "seed": seed}
        described = json.dumps({**seeded, "source": samples.sha256}, sort_keys=True, default=str).encode()
        digest = hashlib.sha256(described).hexdigest()[:8]
        run_id = f"{file_safe(request.name)}_{file_safe(request.dataset)[-40:]}_seed{seed}_{budget}_{digest}"
        planned.append(Planned(samples, count, seed, run_id, seeded))
    return planned, dataset, data, {"suite": suite, "budget": budget, "variant": request.name,
                                    "dataset": request.dataset}


def _channels(count: int) -> str:
    return "grey (1 channel)" if count == 1 else f"RGB ({count} channels)"


def evaluate_samples(request: EvaluationRequest) -> list[dict[str, Any]]:
    """Evaluate every input of ``request`` (each sample set, or each generator seed) and add one
    record each to the store at ``request.out`` (after every input and the reference have been
    checked); the records, in input order. Loading, drawing and evaluating run on the CPU with
    :data:`THREADS` torch threads.

    Examples:
        ``evaluate_samples(EvaluationRequest((), "mnist", "mine", Path("out"), generator="gen.py:make",
        latent_dim=100, generator_seeds=(0, 1)))`` -> two records, seeds 0 and 1
    """
    with _threads(THREADS):
        planned, dataset, data, identity = plan_evaluation(request)
        store = ResultsStore(request.out)
        store.ensure_writable()
        device = torch.device("cpu")
        backbone = BACKBONES.get(planned[0].config["evaluation"]["backbone"])
        weights = backbone.locate(dataset, planned[0].config["evaluation"], False)
        records = [_evaluated(item, dataset, data, identity, store, device, backbone.name, weights)
                   for item in planned]
    for record in records:
        store.add(record)
    store.export()
    return records


def _evaluated(item: Planned, dataset: BenchDataset, data: DataOptions, identity: dict[str, Any],
               store: ResultsStore, device: torch.device, backbone: str, weights: Any) -> dict[str, Any]:
    """The record of one planned input, its evaluators run on ``device``."""
    started, clock = utc_now(), time.perf_counter()
    context = EvaluationContext(LoadedSamples(item.samples.images), dataset, data, item.seed, device,
                                store.run_dir(item.run_id), dict(item.config["evaluation"]))
    sections = evaluate(item.config["evaluators"], context)
    return {
        **identity, "run_id": item.run_id, "kind": KIND, "seed": item.seed, "status": "finished",
        "config": item.config, "metrics": sections["metrics"], "throughput": sections["throughput"],
        "artifacts": {name: Path(path).relative_to(store.root).as_posix() for name, path in context.artifacts.items()},
        "elapsed_seconds": time.perf_counter() - clock,
        "provenance": {
            **software(), "started_utc": started, "finished_utc": utc_now(), "device": device_description(device),
            "data": {**dataset.describe(), "samples": {"name": str(item.samples.source),
                                                       "sha256": item.samples.sha256}},
            "samples": item.samples.card(item.count),
            "backbone": {"name": backbone, "weights": weights.path.name, "sha256": weights.sha256},
            **plugin_provenance([(DATASETS, identity["dataset"]), (BACKBONES, backbone),
                                 *((EVALUATORS, name) for name in item.config["evaluators"])]),
        },
    }


class EvaluationReport:
    """The report section of ``evaluation`` records (see :class:`ganbench.report.sections.ReportSection`):
    their numbers sit in the shared tables beside trained runs; no figures or section of their own."""

    kind = KIND
    columns: tuple[Column, ...] = ()  # the evaluators declare the columns
    descriptions: tuple[Description, ...] = ()
    comparison_group = tuple(GROUP)
    comparison_pooled = ()
    intervals_over = "seeds (sample sets or generator seeds)"

    def claims(self, record: dict[str, Any]) -> bool:
        return record.get("kind") == KIND

    def plots(self, records: Sequence[dict[str, Any]], root: Path) -> list[Path]:
        return []

    def markdown(self, records: Sequence[dict[str, Any]], summary: SummaryTable, root: Path) -> list[str]:
        return []
