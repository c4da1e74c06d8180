"""ganbench from Python: run a suite, evaluate samples, read records as a table, write the report,
and add variants or plugins, by the code paths of the ``ganbench`` command line.

Every function checks its arguments as the command checks its options and raises
:class:`~ganbench.errors.UserError` (one line naming the keyword argument and the fix, e.g.
``seeds must be a positive number of seeds, got 0``) before anything is written. ``import
ganbench`` stays cheap: ``ganbench.run`` and the others import this module (and torch) on first
use. docs/api.md describes the surface with examples; tests/test_doc_examples.py runs them.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganbench.errors import UserError, command, option
from ganbench.gan.model import Variant
from ganbench.arguments import assignments, option_values

if TYPE_CHECKING:
    import pandas
    from ganbench.plugins import Plugin

__all__ = ["UserError", "Variant", "evaluate", "load_plugin", "load_records", "register_variant", "run", "write_report"]

# The plugins loaded through load_plugin or run(plugins=...), in load order: every process that
# runs cells loads them too.
_PLUGIN_SPECS: list[str] = []
# Variants registered by register_variant: they exist in this process only.
_SCRIPT_VARIANTS: set[str] = set()

PathLike = str | os.PathLike  # a path given as text or as a Path

# The columns load_records puts first, in this order.
IDENTITY_COLUMNS = ("run_id", "kind", "suite", "variant", "dataset", "seed", "budget", "status", "error",
                    "elapsed_seconds")


def _ready() -> None:
    from ganbench.builtins import register_builtins

    register_builtins()


def _load(plugins: Iterable[PathLike]) -> tuple[str, ...]:
    """Load ``plugins`` (and the installed ones); every plugin loaded through this module so far."""
    from ganbench.plugins import LOADED, load_plugins

    if isinstance(plugins, (str, os.PathLike)):
        plugins = [plugins]
    specs = [str(spec) for spec in plugins]
    load_plugins(tuple(specs))
    for spec in specs:
        resolved = str(Path(spec).resolve()) if Path(spec).is_file() else spec
        if resolved not in _PLUGIN_SPECS:
            _PLUGIN_SPECS.append(resolved)
    return tuple(spec for spec in _PLUGIN_SPECS if spec in LOADED)  # (a test may unload one)


def run(suite: str = "toy", *, budget: str | None = None, variants: Sequence[str] | None = None,
        seeds: int | None = None, out: PathLike | None = None, data_root: PathLike | None = None,
        split: str | None = None, datasets: Sequence[str] | None = None, settings: Mapping[str, Any] | None = None,
        iterations: int | None = None, device: str = "auto", jobs: int | str = 1, threads: int = 1,
        progress: bool = False, plugins: Iterable[PathLike] = (),
        options: Mapping[str, Any] | None = None) -> pandas.DataFrame:
    """Run a suite's matrix as ``ganbench run`` does: skip runs recorded in ``out`` already, resume
    interrupted ones, and write ``records.jsonl``, the tables, plots and report. (Long because its
    signature and docstring spell out every keyword argument; the body is a few lines.)

    Args:
        suite: the suite's name (``toy``, ``mnist``, ``fashion``, ``stacked-mnist``, ``style``;
            ``ganbench list suites``).
        budget: ``smoke``, ``quick``, ``equal``, ``equal-flops``, ``standard`` or ``paper``
            (default: the suite's).
        variants: the variants to run (default: the suite's); a plugin's or one registered with
            :func:`register_variant` may be named.
        seeds: how many seeds, 0..seeds-1 (default: the suite's).
        out: the output folder (default: ``runs/SUITE-BUDGET``).
        data_root: the folder holding the datasets (default: ``$GANBENCH_DATA``, else
            ``~/.cache/ganbench/data``).
        split: GAN suites: the split to train on, ``train`` or ``test``.
        datasets: GAN suites: the datasets (default: the suite's).
        settings: setting -> value, as the command line's ``--set``: ``{"dcgan.lr_d": 1e-4}`` (one
            variant), ``{"n_critic": 2}`` (every variant having it), ``{"eval.samples": 500}``;
            values are Python values (``True``, ``None``, ``(400, 400)``) or text.
        iterations: generator iterations per run, replacing the budget's.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        jobs: worker processes running the cells (``"auto"``: one per core on a CPU). Variants of
            :func:`register_variant` exist in this process only, so they need ``jobs=1``.
        threads: torch threads per run (part of each run's configuration).
        progress: draw progress bars.
        plugins: plugin files (``PATH.py``) or module names to load first (:func:`load_plugin`).
        options: any other option of ``ganbench run`` by its keyword name (``amp``, ``restart``,
            ``time_limit``, ``content``, ...).

    Returns:
        The records of every run of the matrix (recorded now or before), one row each, in matrix
        order, as :func:`load_records` reads them.

    Raises:
        UserError: a bad name or value (naming the keyword argument and the fix), before anything
            is written.

    Examples:
        >>> import ganbench
        >>> records = ganbench.run("toy", budget="smoke", seeds=1, datasets=["ring8"], out="runs/toy")  # doctest: +SKIP
        >>> records[["variant", "dataset", "seed", "modes_covered"]]  # doctest: +SKIP
    """
    from ganbench.cli import run_values
    from ganbench.cluster import CLUSTER_OPTIONS
    from ganbench.execution import EXECUTION_OPTIONS
    from ganbench.launch import LAUNCH_OPTIONS
    from ganbench.runs import REQUEST_OPTIONS, kind_options

    _ready()
    specs = _load(plugins)
    declarations = [*REQUEST_OPTIONS, *EXECUTION_OPTIONS, *LAUNCH_OPTIONS, *CLUSTER_OPTIONS,
                    *(declaration for _, declaration in kind_options().values())]
    given = {"suite": suite, "budget": budget, "variants": variants, "seeds": seeds, "out": out,
             "data_root": None if data_root is None else str(data_root), "split": split, "datasets": datasets,
             "set": assignments(settings), "iterations": iterations, "device": device, "jobs": jobs,
             "threads": threads, "progress": progress}
    values = option_values(declarations, given, options)
    local = sorted(_SCRIPT_VARIANTS & set(values["variants"] or ()))
    if local and (values["jobs"] is None or values["jobs"] > 1 or values["launcher"] != "processes"):
        raise UserError(f"variant {local[0]} was registered by register_variant and exists in this process only; "
                        f"give {option('jobs', 1)}, or put it in a plugin file and give {option('plugins')}")
    outcome = run_values(values, specs, lambda line: None)
    return _frame(outcome.store.records(), order=outcome.run_ids)


def evaluate(samples: PathLike | Sequence[PathLike] = (), *, dataset: str, name: str,
             out: PathLike, backbone: str | None = None, samples_count: int | None = None,
             split: str = "train", data_root: PathLike | None = None, suite: str | None = None,
             budget: str | None = None, settings: Mapping[str, Any] | None = None, layout: str = "auto",
             value_range: str = "auto", generator: str | None = None, latent_dim: int | None = None,
             checkpoint: PathLike | None = None, generator_seeds: Sequence[int] = (0,), real: str | None = None,
             plugins: Iterable[PathLike] = ()) -> pandas.DataFrame:
    """Evaluate samples of a model trained elsewhere as ``ganbench evaluate`` does: one record per
    input in ``out`` (beside trained runs, if any), then the folder's tables and report.
    (Long because its signature and docstring spell out every keyword argument.)

    Args:
        samples: a folder of PNG/JPEG images or an ``.npy``/``.npz`` array (N, C, H, W), (N, H, W,
            C) or (N, H, W) of uint8 or floats in [-1, 1] or [0, 1]; a list of them: seeds of one
            model.
        dataset: the reference: a dataset name (``mnist``, ``cifar10``, ...) or ``folder:PATH``.
        name: the model's name (the ``variant`` column).
        out: the output folder.
        backbone: the fidelity metrics' feature extractor (``lenet``, ``inception`` or a plugin's;
            default: the suite's, else ``inception``).
        samples_count: images evaluated of each input, its first ones (default: all).
        split: the reference dataset's split, ``train`` or ``test``.
        data_root: the folder holding the datasets (default: ``$GANBENCH_DATA``).
        suite, budget: use that suite's evaluation settings at that budget.
        settings: evaluation settings, ``{"eval.reference_samples": 1000}``.
        layout: an array's axis order, ``auto``, ``nchw`` or ``nhwc``.
        value_range: an array's value range, ``auto``, ``tanh`` ([-1, 1]), ``unit`` ([0, 1]) or
            ``uint8``.
        generator: instead of ``samples``, a generator to draw them from: ``MODULE:CALLABLE``,
            ``PATH.py:CALLABLE`` or a TorchScript file, mapping latents (n, ``latent_dim``) to float
            images (n, C, H, W) in [-1, 1].
        latent_dim: with ``generator``: the latent size D.
        checkpoint: with ``generator``: a state_dict file, loaded with ``weights_only=True``.
        generator_seeds: with ``generator`` or ``real``: the seeds, one record each.
        real: instead of ``samples``, real images of this split (``train`` or ``test``) of the
            reference dataset: the real-data floor.
        plugins: plugin files or modules to load first (a plugin dataset, backbone, ...).

    Returns:
        The records made, one row per input (``seed`` its position, or the generator seed), as
        :func:`load_records` reads them.

    Raises:
        UserError: an unreadable input, a bad name or value, before anything is written.

    Examples:
        >>> ganbench.evaluate("samples.npy", dataset="mnist", name="mine", out="runs/mine",
        ...                   backbone="lenet", split="test")  # doctest: +SKIP
    """
    from ganbench.evaluation import EVALUATE_OPTIONS, EvaluationRequest, evaluate_samples
    from ganbench.report import write_outputs
    from ganbench.results import ResultsStore

    _ready()
    _load(plugins)
    inputs = [samples] if isinstance(samples, (str, os.PathLike)) else samples
    given = {"samples": inputs, "dataset": dataset, "name": name, "out": out, "backbone": backbone,
             "samples_count": samples_count, "split": split,
             "data_root": None if data_root is None else str(data_root), "suite": suite, "budget": budget,
             "set": assignments(settings), "layout": layout, "value_range": value_range, "generator": generator,
             "latent_dim": latent_dim, "checkpoint": checkpoint, "real": real,
             "generator_seeds": ",".join(str(seed) for seed in generator_seeds)}
    values = option_values(EVALUATE_OPTIONS, given, None)
    for required in ("dataset", "name"):
        if not values[required]:
            raise UserError(f"{option(required)} is empty; give {option(required, 'VALUE')}")
    values.update(samples=tuple(values["samples"] or ()), out=Path(values["out"]), set=tuple(values["set"]),
                  data_root=values["data_root"] or os.environ.get("GANBENCH_DATA"),
                  checkpoint=None if values["checkpoint"] is None else Path(values["checkpoint"]),
                  generator_seeds=tuple(values["generator_seeds"] or (0,)))
    request = EvaluationRequest(**{field.name: values[field.name] for field in fields(EvaluationRequest)
                                   if field.name in values})
    records = evaluate_samples(request)
    write_outputs(ResultsStore(request.out))
    return _frame(records)


def _store(path: PathLike) -> Any:
    """The results store of output folder ``path`` (or of the folder of its ``records.jsonl``)."""
    from ganbench.results import ResultsStore

    folder = Path(path)
    if folder.name == "records.jsonl" and folder.is_file():
        folder = folder.parent
    store = ResultsStore(folder)
    if not store.has_records():
        raise UserError(f"{store.records_path} does not exist; give a folder written by "
                        f"{command('run', out='DIR')} or {command('evaluate', out='DIR')}")
    return store


def load_records(path: PathLike) -> pandas.DataFrame:
    """The records of an output folder as a table, one row per record, in matrix order.

    Columns, in this order: ``run_id``, ``kind`` (``gan``, ``style``, ``evaluation``), ``suite``,
    ``variant``, ``dataset``, ``seed`` (int64), ``budget``, ``status`` (``finished``, ``diverged``,
    ``failed``), ``error`` (text of a failed run, else missing), ``elapsed_seconds`` (float64,
    wall seconds); then every metric and throughput number by its key, as in the tables (``fid``,
    ``modes_covered``, ``kid_mean``, ``ms_per_iteration``, ...; float64, NaN where a record has
    none; a number that is text, e.g. ``peak_memory_kind``, stays text), a throughput key that is
    also a metric's prefixed ``throughput.``; then the records' other fields (``iterations_done``,
    ...) and last ``config``, ``provenance`` and ``artifacts`` (dicts, as stored).

    Args:
        path: an output folder written by :func:`run`, :func:`evaluate` or ``ganbench run``, or its
            ``records.jsonl``.

    Returns:
        A ``pandas.DataFrame``.

    Raises:
        UserError: no ``records.jsonl`` there, or a damaged one (naming the line).

    Examples:
        >>> records = ganbench.load_records("runs/toy")  # doctest: +SKIP
        >>> records.groupby("variant")["modes_covered"].mean()  # doctest: +SKIP
    """
    _ready()
    return _frame(_store(path).records())


def _frame(records: Sequence[Mapping[str, Any]], order: Sequence[str] | None = None) -> pandas.DataFrame:
    """``records`` flattened as :func:`load_records` documents (only those of ``order``'s run
    ids, in that order, when given)."""
    import pandas

    if order is not None:
        by_id = {record["run_id"]: record for record in records}
        records = [by_id[run_id] for run_id in order if run_id in by_id]
    nested = ("metrics", "throughput", "config", "provenance", "artifacts")
    rows: list[dict[str, Any]] = []
    numbers: dict[str, None] = {}  # the flattened metric and throughput columns, in first-seen order
    others: dict[str, None] = {}
    for record in records:
        row = {column: record.get(column) for column in IDENTITY_COLUMNS}
        metrics = record.get("metrics", {})
        for key, value in [*metrics.items(), *((f"throughput.{key}" if key in metrics else key, value)
                                               for key, value in record.get("throughput", {}).items())]:
            row[key] = value
            numbers.setdefault(key)
        for key, value in record.items():
            if key not in row and key not in nested:
                row[key] = value
                others.setdefault(key)
        for key in nested[2:]:
            row[key] = record.get(key, {})
        rows.append(row)
    frame = pandas.DataFrame(rows, columns=[*IDENTITY_COLUMNS, *numbers, *others, *nested[2:]])
    for column in numbers:
        values = frame[column].dropna()
        if all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values):
            frame[column] = frame[column].astype("float64")
    frame["seed"] = frame["seed"].astype("int64")
    frame["elapsed_seconds"] = frame["elapsed_seconds"].astype("float64")
    return frame


def write_report(path: PathLike) -> list[Path]:
    """Rewrite an output folder's tables, plots, ``report.md`` and ``report.html`` from its
    ``records.jsonl``, as ``ganbench report`` does (``ganbench.report`` is the package writing
    them, hence this name).

    Args:
        path: an output folder (or its ``records.jsonl``).

    Returns:
        The paths written.

    Raises:
        UserError: no ``records.jsonl`` there, or a damaged one; nothing is written then.

    Examples:
        >>> [path.name for path in ganbench.write_report("runs/toy")][:2]  # doctest: +SKIP
        ['summary.csv', 'summary.md']
    """
    from ganbench.report import write_outputs

    _ready()
    store = _store(path)
    store.records()  # checked before anything is written
    store.remove_stale_temporaries()
    store.export()
    return write_outputs(store)


def register_variant(variant: Variant) -> None:
    """Register ``variant`` under ``variant.name`` in this process, as a plugin's
    ``registries.variants.add`` does: :func:`run` may then name it (with ``jobs=1``; for worker
    processes, put it in a plugin file). Its records' ``provenance.plugin`` names the file that
    registered it and the file's sha256.

    Args:
        variant: a :class:`Variant` (see docs/plugins.md); ``dataclasses.replace`` of a built-in's
            (``ganbench.gan.variants.fc.VARIANT``, ...) is the short way to one.

    Raises:
        UserError: not a :class:`Variant`, or its name is taken (by a built-in or a plugin).

    Examples:
        >>> from dataclasses import replace
        >>> from ganbench.gan.model import with_defaults
        >>> from ganbench.gan.variants.fc import VARIANT as FC
        >>> FC_HINGE = replace(FC, name="fc-hinge", settings=with_defaults(FC.settings, loss="hinge"))
        >>> ganbench.register_variant(FC_HINGE)  # doctest: +SKIP
    """
    from ganbench.gan.model import VARIANTS

    _ready()
    if not isinstance(variant, Variant):
        raise UserError(f"{option('variant')} is a {type(variant).__name__}; give a ganbench.Variant")
    if variant.name in VARIANTS:
        origin = VARIANTS.origin(variant.name)
        owner = f"plugin {origin['plugin']}" if origin else "a built-in"
        raise UserError(f"variant {variant.name!r} is registered already ({owner}); give yours another name")
    caller = inspect.stack()[1].filename
    source = Path(caller)
    origin: dict[str, Any] = {"plugin": caller}
    if source.is_file():
        origin.update(file=str(source.resolve()), sha256=hashlib.sha256(source.read_bytes()).hexdigest())
    VARIANTS.add(variant.name, variant)
    VARIANTS.note_origin(variant.name, origin)
    _SCRIPT_VARIANTS.add(variant.name)


def load_plugin(path_or_module: PathLike) -> Plugin:
    """Load a plugin as ``ganbench --plugin`` does: a file ``PATH.py`` or an importable module
    defining ``register(registries)`` (docs/plugins.md). Loading one twice does nothing; :func:`run`
    loads it again in every worker process.

    Args:
        path_or_module: the plugin's file or module name.

    Returns:
        The loaded plugin (``label``, ``provenance``, ``added``: what it registered by registry).

    Raises:
        UserError: the plugin fails to load or register (the message names it and the fix); it
            then adds nothing.

    Examples:
        >>> ganbench.load_plugin("mygan.py").added  # doctest: +SKIP
        {'variants': ('mygan',)}
    """
    from ganbench.plugins import load_plugins

    _ready()
    plugin = load_plugins((str(path_or_module),))[-1]
    _load([path_or_module])
    return plugin
