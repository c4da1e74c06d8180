"""``ganbench evaluate``: ganbench's evaluators on samples of a model trained elsewhere.

Inputs (:func:`load_samples`): a folder of PNG/JPEG images (searched recursively, in path order,
every image of one size and channel count), or an ``.npy`` / ``.npz`` array (N, C, H, W) or
(N, H, W, C) (or (N, H, W), grey) of uint8 (or integers in 0..255) or floats in [-1, 1] or
[0, 1]. Layout and value range are detected (``layout``, ``value_range`` declare them) and
recorded. Every input becomes float images (N, C, H, W) in [-1, 1], what a ganbench generator
yields: a float array in [-1, 1] is used as it is, so a run's own generated tensor, exported,
gives that run's fidelity numbers exactly; uint8 images u become u / 127.5 - 1 (the evaluators'
quantisation ``round((x + 1) * 127.5)`` gives u back), floats x in [0, 1] become 2x - 1.

The evaluators are the sample evaluators of :data:`EVALUATED` that apply to the reference
dataset (``fidelity``; ``classes`` for the MNIST family), with the evaluation settings of a
suite at a budget (``suite``, ``budget``; else the defaults), changed by ``set`` and with
``eval.samples`` the number of images evaluated. The reference is loaded and its statistics
cached as for runs (:mod:`ganbench.metrics.fidelity`).

Output: one record per input, kind ``evaluation``, identity ``variant`` = the model's name,
``dataset`` = the reference, ``suite`` = the suite whose settings were used (else
:data:`EXTERNAL`), ``budget`` likewise, ``seed`` = the input's position (several inputs of one
name are that model's seeds, for intervals over seeds and significance). The configuration holds
what every seed shares (settings, evaluators, data); the protocol card, in ``provenance``, holds
the source (path, sha256 of the file or of the folder's files, format, layout, range, count,
preprocessing) and the backbone with its weights' sha256.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganbench.columns import Column, Description
from ganbench.data import DATASETS, BenchDataset, DataOptions, load_dataset
from ganbench.errors import UserError, option
from ganbench.metrics import EVALUATION_SETTINGS, EVALUATORS, EvaluationContext, evaluate
from ganbench.metrics.backbones import BACKBONES
from ganbench.options import Option, positive_int
from ganbench.provenance import device_description, software, utc_now
from ganbench.registry import plugin_provenance
from ganbench.report.tables import GROUP, SummaryTable
from ganbench.results import ResultsStore, file_safe
from ganbench.settings import parse_assignments, resolve

KIND = "evaluation"
EXTERNAL = "external"  # suite and budget of an evaluation that names no suite
EVALUATED = ("fidelity", "classes")  # sample evaluators of an evaluation, where they apply to the reference
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
LAYOUTS = ("auto", "nchw", "nhwc")
RANGES = ("auto", "tanh", "unit", "uint8")  # [-1, 1], [0, 1], 0..255

EVALUATE_OPTIONS = (
    Option("samples", "a folder of PNG/JPEG images or an .npy/.npz array of samples; give it again for more seeds "
           "of the same model", metavar="PATH", given="repeated", parse=Path),
    Option("dataset", "the reference: a dataset name (e.g. mnist, cifar10) or folder:PATH", metavar="NAME"),
    Option("name", "the model's name: the variant column of the tables", metavar="NAME"),
    Option("out", "output folder (new, or one written by `ganbench run` to compare with its runs)", metavar="DIR",
           parse=Path),
    Option("backbone", "feature extractor of the fidelity metrics: lenet, inception or a plugin's (default: the "
           "suite's, else inception)", metavar="NAME"),
    Option("samples_count", "images evaluated of each input, its first ones (default: all of them)", metavar="N",
           parse=positive_int),
    Option("split", "split of the reference dataset (default: train, as runs)", default="train",
           choices=("train", "test")),
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
class Samples:
    """One input, loaded: ``images`` float32 (N, C, H, W) in [-1, 1] and how they were read.

    ``source``: the path given; ``sha256``: of the array file, or of the folder's
    ``relative path  sha256`` lines; ``files``: image files read (1 for an array); ``form``:
    ``images`` or ``npy``/``npz``; ``layout``: ``NCHW``, ``NHWC`` or ``NHW``; ``value_range``:
    ``uint8``, ``[-1, 1]`` or ``[0, 1]``; ``dtype``: the stored element type."""

    source: Path
    images: torch.Tensor
    sha256: str
    files: int
    form: str
    layout: str
    value_range: str
    dtype: str

    def card(self, count: int) -> dict[str, Any]:
        """The protocol card of the input, ``count`` of its images evaluated."""
        return {"name": str(self.source), "sha256": self.sha256, "files": self.files, "format": self.form,
                "layout": self.layout, "value_range": self.value_range, "dtype": self.dtype,
                "available": len(self.images), "evaluated": count, "image_shape": list(self.images.shape[1:]),
                "preprocessing": preprocessing(self.value_range)}


def preprocessing(value_range: str) -> str:
    """How images of ``value_range`` become the [-1, 1] floats every evaluator quantises alike."""
    to_float = {"uint8": "u / 127.5 - 1", "[0, 1]": "2x - 1", "[-1, 1]": "as given"}[value_range]
    return (f"{to_float}; then, as for runs, round((x + 1) * 127.5) to uint8 and eval.image_size by the loader's "
            "rule (pad 28 -> 32, else bilinear)")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_samples(path: Path, layout: str = "auto", value_range: str = "auto") -> Samples:
    """The images of ``path`` (a folder of PNG/JPEG, an ``.npy`` or ``.npz`` file), checked;
    ``UserError`` naming the problem and the fix for anything unreadable, empty or out of range."""
    if path.is_dir():
        return _load_folder(path)
    if not path.is_file():
        raise UserError(f"{option('samples', path)}: no such file or folder; give a folder of PNG/JPEG images or an "
                        ".npy/.npz array")
    if path.suffix.lower() not in (".npy", ".npz"):
        raise UserError(f"{option('samples', path)}: not a folder, .npy or .npz file; give one of those")
    data = path.read_bytes()
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as error:
        raise UserError(f"{path} cannot be read as a numeric array ({error}); save the samples with numpy.save "
                        "(no pickled objects)") from None
    except OSError as error:
        raise UserError(f"{path} is not a valid {path.suffix} file ({error}); save the samples with numpy.save")
    if isinstance(loaded, np.lib.npyio.NpzFile):
        names = list(loaded.files)
        if len(names) != 1:
            raise UserError(f"{path} holds {len(names)} arrays ({', '.join(names) or 'none'}); save one array of "
                            "samples in it")
        array = loaded[names[0]]
    else:
        array = loaded
    images, order, shown_range = _array_images(path, array, layout, value_range)
    return Samples(path, images, _sha256(data), 1, path.suffix.lower().lstrip("."), order, shown_range,
                   str(array.dtype))


def _array_images(path: Path, array: np.ndarray, layout: str, value_range: str) -> tuple[torch.Tensor, str, str]:
    """(N, C, H, W) float32 images in [-1, 1], the layout and the value range of ``array``."""
    if array.ndim == 3:
        array, order = array[:, None], "NHW"
    elif array.ndim == 4:
        order = layout.upper() if layout != "auto" else (
            "NCHW" if array.shape[1] in (1, 3) else "NHWC" if array.shape[3] in (1, 3) else "")
        if not order:
            raise UserError(f"{path} has shape {tuple(array.shape)}: no axis of 1 or 3 channels at position 1 or 3; "
                            "save (N, C, H, W) or (N, H, W, C) images")
        if order == "NHWC":
            array = array.transpose(0, 3, 1, 2)
        if array.shape[1] not in (1, 3):
            raise UserError(f"{path} read as {order} has {array.shape[1]} channels; images have 1 or 3 "
                            f"(check {option('layout')})")
    else:
        raise UserError(f"{path} has shape {tuple(array.shape)}; save images as (N, C, H, W), (N, H, W, C) "
                        "or (N, H, W)")
    if len(array) == 0:
        raise UserError(f"{path} holds no images; save at least one")
    if array.dtype.kind in "ui":
        low, high = int(array.min()), int(array.max())
        if value_range not in ("auto", "uint8") or low < 0 or high > 255:
            raise UserError(f"{path} holds integers in [{low}, {high}]; integer images must be 0..255 "
                            f"(or save floats in [-1, 1] or [0, 1] with {option('value_range')} to match)")
        return torch.from_numpy(np.ascontiguousarray(array)).float().div_(127.5).sub_(1.0), order, "uint8"
    if array.dtype.kind != "f":
        raise UserError(f"{path} holds {array.dtype} values; save uint8 or float images")
    finite = np.isfinite(array)
    if not finite.all():
        raise UserError(f"{path} holds {int((~finite).sum())} NaN or infinite values; save finite images")
    low, high = float(array.min()), float(array.max())
    shown = value_range if value_range != "auto" else ("tanh" if low < 0 else "unit")
    bounds = {"tanh": (-1.0, 1.0), "unit": (0.0, 1.0), "uint8": (0.0, 255.0)}[shown]
    if low < bounds[0] or high > bounds[1]:
        raise UserError(f"{path} holds values in [{low:g}, {high:g}], outside [{bounds[0]:g}, {bounds[1]:g}]; save "
                        f"floats in [-1, 1] or [0, 1] or uint8 images (or declare {option('value_range')})")
    images = torch.from_numpy(np.ascontiguousarray(array)).float()
    if shown == "unit":
        return images.mul_(2.0).sub_(1.0), order, "[0, 1]"
    if shown == "uint8":
        return images.div_(127.5).sub_(1.0), order, "uint8"
    return images, order, "[-1, 1]"


def _load_folder(folder: Path) -> Samples:
    from PIL import Image

    files = sorted(path for path in folder.rglob("*") if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UserError(f"{folder} holds no PNG or JPEG images; give a folder of sample images")
    arrays, lines, first = [], [], None
    for path in files:
        data = path.read_bytes()
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                image = image if image.mode in ("L", "RGB") else image.convert("L" if image.mode in ("1", "I;16", "I")
                                                                               else "RGB")
                array = np.asarray(image, dtype=np.uint8)
        except (OSError, SyntaxError, ValueError) as error:
            raise UserError(f"{path} is not a readable image ({error}); replace or remove it") from None
        array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
        if first is None:
            first = (path, array.shape)
        elif array.shape != first[1]:
            raise UserError(f"{folder} mixes image sizes: {first[0].name} is {_shape_text(first[1])}, {path.name} is "
                            f"{_shape_text(array.shape)}; give images of one size and channel count")
        arrays.append(array)
        lines.append(f"{path.relative_to(folder).as_posix()}  {_sha256(data)}\n")
    images = torch.from_numpy(np.stack(arrays)).float().div_(127.5).sub_(1.0)
    return Samples(folder, images, _sha256("".join(lines).encode()), len(files), "images", "NCHW", "uint8", "uint8")


def _shape_text(shape: Sequence[int]) -> str:
    channels, height, width = shape
    return f"{width}x{height} {'grey' if channels == 1 else 'RGB'}"


class LoadedSamples:
    """An input's images as the evaluators' :class:`~ganbench.metrics.SampleSource`: the first
    ``count`` of them, in order; nothing is generated."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def generated(self, count: int) -> torch.Tensor:
        return self.images[:count]

    def scales(self, count: int) -> dict[int, torch.Tensor]:
        return {self.images.shape[-1]: self.images[:count]}

    def generation_rate(self, count: int) -> float:
        """Not measured: the samples were generated elsewhere."""
        return math.nan

    def parameter_counts(self) -> dict[str, int]:
        return {}


@dataclass(frozen=True)
class EvaluationRequest:
    """What ``ganbench evaluate`` was asked: the inputs (``samples``), the reference
    (``dataset``, ``split``, ``data_root``), the model's ``name``, the output folder, and the
    evaluation settings' sources (``suite``/``budget``, ``set``, ``backbone``, ``samples_count``,
    ``layout``, ``value_range``)."""

    samples: tuple[Path, ...]
    dataset: str
    name: str
    out: Path
    backbone: str | None = None
    samples_count: int | None = None
    split: str = "train"
    data_root: str | None = None
    suite: str | None = None
    budget: str | None = None
    set: tuple[str, ...] = ()
    layout: str = "auto"
    value_range: str = "auto"


def request_from(values: Mapping[str, Any]) -> EvaluationRequest:
    """The request of option values keyed by name (:data:`EVALUATE_OPTIONS`); ``UserError`` for a
    missing required one."""
    for name in ("samples", "dataset", "name", "out"):
        if not values.get(name):
            raise UserError(f"{option(name)} is required; e.g. {option('samples', 'DIR')} {option('dataset', 'mnist')} "
                            f"{option('name', 'mymodel')} {option('out', 'DIR')}")
    return EvaluationRequest(
        samples=tuple(values["samples"]), dataset=values["dataset"], name=values["name"], out=Path(values["out"]),
        backbone=values.get("backbone"), samples_count=values.get("samples_count"),
        split=values.get("split") or "train", data_root=values.get("data_root") or os.environ.get("GANBENCH_DATA"),
        suite=values.get("suite"),
        budget=values.get("budget"), set=tuple(values.get("set") or ()), layout=values.get("layout") or "auto",
        value_range=values.get("value_range") or "auto")


def evaluation_settings(request: EvaluationRequest, count: int) -> tuple[str, str, dict[str, Any]]:
    """Suite, budget and evaluation settings of the request (``samples`` = ``count``)."""
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
    settings = resolve(EVALUATION_SETTINGS, "eval", base, assignments.get("eval", {}), chosen_backbone,
                       {"samples": count})
    return suite, budget, settings


@dataclass(frozen=True)
class Planned:
    """One input ready to evaluate: its samples, record identity and context parts."""

    samples: Samples
    count: int
    seed: int
    run_id: str
    config: dict[str, Any]


def plan_evaluation(request: EvaluationRequest) -> tuple[list[Planned], BenchDataset, DataOptions, dict[str, Any]]:
    """Load and check every input and the reference before anything is evaluated or written:
    the planned inputs, the reference dataset, its data options, and shared record fields."""
    loaded = [load_samples(path, request.layout, request.value_range) for path in request.samples]
    counts = []
    for samples in loaded:
        if request.samples_count is not None and len(samples.images) < request.samples_count:
            raise UserError(f"{samples.source} holds {len(samples.images)} images, fewer than "
                            f"{option('samples_count', request.samples_count)}; give more images or lower it")
        counts.append(request.samples_count or len(samples.images))
    if len(set(counts)) > 1:
        raise UserError(f"the inputs hold different numbers of images ({', '.join(map(str, counts))}); give "
                        f"{option('samples_count', min(counts))} to evaluate the same number of each")
    suite, budget, settings = evaluation_settings(request, counts[0])
    data = DataOptions(data_root=request.data_root, split=request.split, image_size=settings["image_size"])
    dataset = load_dataset(request.dataset, data)
    if dataset.kind != "images":
        raise UserError(f"{request.dataset} is not an image dataset; evaluate samples against mnist, "
                        "fashion-mnist, kmnist, cifar10, stacked-mnist or folder:PATH")
    channels = dataset.sample_shape[0]
    for samples in loaded:
        if samples.images.shape[1] != channels:
            raise UserError(f"{samples.source} holds {_channels(samples.images.shape[1])} images but the reference "
                            f"{request.dataset} is {_channels(channels)}; give samples of the reference's channels")
    evaluators = tuple(name for name in EVALUATED if EVALUATORS.get(name).applies_to(dataset))
    for name in evaluators:
        EVALUATORS.get(name).check(dataset, settings, data)
    config = {"name": request.name, "dataset": request.dataset, "evaluation": settings,
              "evaluators": list(evaluators), "data": {"split": request.split, "image_size": settings["image_size"]},
              "execution": {"threads": THREADS}}
    planned = []
    for seed, (samples, count) in enumerate(zip(loaded, counts)):
        seeded = {**config, "seed": seed}
        digest = _sha256(json.dumps({**seeded, "source": samples.sha256}, sort_keys=True, default=str).encode())[:8]
        run_id = f"{file_safe(request.name)}_{file_safe(request.dataset)[-40:]}_seed{seed}_{budget}_{digest}"
        planned.append(Planned(samples, count, seed, run_id, seeded))
    return planned, dataset, data, {"suite": suite, "budget": budget, "variant": request.name,
                                    "dataset": request.dataset}


# Torch threads of an evaluation: one, as a run's default, since the thread count changes the order
# of floating-point sums in feature extraction (a run's own samples then give its numbers exactly).
THREADS = 1


def _channels(count: int) -> str:
    return "grey (1 channel)" if count == 1 else f"RGB ({count} channels)"


def evaluate_samples(request: EvaluationRequest) -> list[dict[str, Any]]:
    """Evaluate every input of ``request`` and add one record each to the store at ``request.out``
    (after every input and the reference have been checked); the records, in input order."""
    planned, dataset, data, identity = plan_evaluation(request)
    store = ResultsStore(request.out)
    store.ensure_writable()
    device = torch.device("cpu")
    backbone = BACKBONES.get(planned[0].config["evaluation"]["backbone"])
    weights = backbone.locate(dataset, planned[0].config["evaluation"], False)
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        records = [_evaluated(item, dataset, data, identity, store, device, backbone.name, weights)
                   for item in planned]
    finally:
        torch.set_num_threads(threads)
    for record in records:
        store.add(record)
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
        "artifacts": {}, "elapsed_seconds": time.perf_counter() - clock,
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
    intervals_over = "seeds (sample sets)"

    def claims(self, record: dict[str, Any]) -> bool:
        return record.get("kind") == KIND

    def plots(self, records: Sequence[dict[str, Any]], root: Path) -> list[Path]:
        return []

    def markdown(self, records: Sequence[dict[str, Any]], summary: SummaryTable, root: Path) -> list[str]:
        return []

