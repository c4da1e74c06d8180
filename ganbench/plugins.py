"""Plugins: variants, datasets, evaluators, backbones and losses from outside ganbench.

A plugin is a function ``register(registries: Registries) -> None`` that adds its entries to the
registries it is given. Installed packages name it as an entry point of the group
:data:`ENTRY_POINT_GROUP` (in pyproject.toml: ``[project.entry-points."ganbench.plugins"]``
``sngan = "ganbench_sngan:register"``); ``ganbench --plugin PATH.py|MODULE`` loads one that is not
installed (a file or an importable module defining ``register``). Plugins load after the built-ins,
installed ones first, in every process that runs cells (:func:`register_all` is the workers'
initializer).

A broken plugin -- it fails to import, lacks ``register``, adds an object of the wrong type or a
name that is taken -- is a :class:`~ganbench.errors.UserError` naming the plugin and the fix, and
adds nothing. Every name a plugin adds carries the plugin's provenance (:meth:`Registry.origin
<ganbench.registry.Registry.origin>`): the package and its version, or the file, and the sha256 of
the file defining ``register``; a run of a plugin variant records it under ``provenance.plugin``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from ganbench.builtins import register_builtins
from ganbench.columns import COLUMNS, ColumnSet
from ganbench.data import DATASET_SUMMARIES, DATASETS, DatasetFactory, register_dataset
from ganbench.errors import UserError
from ganbench.gan.losses import LOSSES, GanLoss
from ganbench.gan.model import VARIANTS, Variant
from ganbench.metrics import EVALUATORS, Evaluator
from ganbench.metrics.backbones import BACKBONES, Backbone
from ganbench.registry import NameTaken, Registry, import_file

ENTRY_POINT_GROUP = "ganbench.plugins"


@dataclass(frozen=True)
class Registries:
    """What a plugin's ``register`` is given: the registries it may add to (``add(name, obj)``).

    ``variants``: :class:`~ganbench.gan.model.Variant`; ``evaluators``: objects with ``name``,
    ``summary``, ``section`` and ``columns`` (:class:`~ganbench.metrics.Evaluator`); ``backbones``:
    :class:`~ganbench.metrics.backbones.Backbone` (register its torch-fidelity feature extractor
    with ``torch_fidelity.register_feature_extractor`` first); ``losses``: ``make(gp_weight, drift)
    -> GanLoss`` (:class:`~ganbench.gan.losses.GanLoss`). Datasets: :meth:`add_dataset`.
    """

    variants: Registry[Variant]
    evaluators: Registry[Evaluator]
    backbones: Registry[Backbone]
    losses: Registry[Callable[[float, float], GanLoss]]
    datasets: Registry[DatasetFactory]

    def add_dataset(self, name: str, summary: str, factory: DatasetFactory) -> None:
        """Register ``factory(options) -> BenchDataset`` as dataset ``name`` with a one-line summary."""
        register_dataset(name, summary, factory)


REGISTRIES = Registries(VARIANTS, EVALUATORS, BACKBONES, LOSSES, DATASETS)

# What each kind of entry must be, and what the fix says it must be.
CHECKS: Mapping[str, tuple[Callable[[Any], bool], str]] = {
    "variants": (lambda obj: isinstance(obj, Variant), "a ganbench.gan.model.Variant"),
    "evaluators": (lambda obj: all(hasattr(obj, key) for key in ("name", "summary", "section", "columns",
                                                                  "evaluate")),
                   "an evaluator (name, summary, section, columns, evaluate; see ganbench.metrics.Evaluator)"),
    "backbones": (lambda obj: isinstance(obj, Backbone), "a ganbench.metrics.backbones.Backbone"),
    "losses": (callable, "a function (gp_weight, drift) -> GanLoss"),
    "datasets": (callable, "a function (DataOptions) -> BenchDataset"),
}


@dataclass(frozen=True)
class Plugin:
    """A loaded plugin: its label (entry point, file or module), its provenance, what it added
    ({registry field: names}) and its ``register``."""

    label: str
    provenance: dict[str, Any]
    added: dict[str, tuple[str, ...]]
    register: Callable[..., Any]


# Loaded plugins by label, in load order (a second load of one label does nothing).
LOADED: dict[str, Plugin] = {}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _source_file(function: Callable[..., Any]) -> Path | None:
    try:
        source = inspect.getsourcefile(function)
    except TypeError:
        return None
    return Path(source).resolve() if source else None


def _import_file(path: Path, label: str) -> Any:
    """The module of plugin file ``path`` (:func:`import_file`); ``UserError`` if it is no Python file."""
    try:
        return import_file(path, "ganbench_plugin")
    except ImportError as error:
        if str(error) != f"{path} is not a Python file":
            raise
        raise UserError(f"plugin {label}: cannot import {path}; give a Python file (.py) or a module name") from None


def _register_of(spec: str) -> tuple[str, Callable[..., Any], dict[str, Any]]:
    """``--plugin SPEC``'s label, ``register`` function and provenance (before its file's digest)."""
    path = Path(spec)
    if spec.endswith(".py") or path.is_file():
        if not path.is_file():
            raise UserError(f"plugin {spec}: no such file; give an existing PATH.py or an importable module name")
        label = str(path.resolve())
        module = _guarded(label, lambda: _import_file(path.resolve(), label))
        provenance: dict[str, Any] = {"plugin": label, "file": label}
    else:
        label = spec
        module = _guarded(label, lambda: importlib.import_module(spec))
        provenance = {"plugin": label, "module": spec}
    register = getattr(module, "register", None)
    if register is None:
        raise UserError(f"plugin {label}: defines no `register`; add `def register(registries): ...` "
                        "(see docs/plugins.md)")
    return label, register, provenance


def _guarded(label: str, load: Callable[[], Any]) -> Any:
    """``load()``, any exception of it one ``UserError`` naming plugin ``label``."""
    try:
        return load()
    except UserError:
        raise
    except Exception as error:  # noqa: BLE001 - a broken plugin is the user's mistake, one line
        raise UserError(f"plugin {label} failed to load ({type(error).__name__}: {error}); "
                        "fix the plugin or leave it out") from None


def _entry_points() -> list[tuple[str, Callable[[], tuple[Callable[..., Any], dict[str, Any]]]]]:
    """The installed plugins: (label, loader of their ``register`` and provenance)."""
    found = []
    for entry in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        distribution = entry.dist
        provenance = {"plugin": entry.name, "entry_point": entry.value,
                      "package": distribution.metadata["Name"] if distribution else None,
                      "version": distribution.version if distribution else None}
        found.append((f"{entry.name} ({entry.value})", lambda e=entry, p=provenance: (e.load(), p)))
    return found


def load(label: str, register: Callable[..., Any], provenance: dict[str, Any]) -> Plugin:
    """Call plugin ``label``'s ``register`` with :data:`REGISTRIES`, check what it added and note
    its provenance on every name; on any problem undo what it added and raise ``UserError``."""
    if label in LOADED:
        return LOADED[label]
    same = next((plugin for plugin in LOADED.values() if plugin.register is register), None)
    if same is not None:  # e.g. --plugin MODULE of an installed plugin
        return same
    if not callable(register):
        raise UserError(f"plugin {label}: `register` is a {type(register).__name__}, not a function; "
                        "define `def register(registries): ...`")
    source = _source_file(register)
    provenance = {**provenance, **({"file": str(source), "sha256": sha256_of(source)} if source else {})}
    before = {field: set(getattr(REGISTRIES, field).names()) for field in CHECKS}

    def added() -> dict[str, tuple[str, ...]]:
        return {field: tuple(name for name in getattr(REGISTRIES, field).names() if name not in before[field])
                for field in CHECKS}

    try:
        try:
            register(REGISTRIES)
        except (UserError, NameTaken):
            raise
        except Exception as error:  # noqa: BLE001 - a broken plugin is the user's mistake, one line
            raise UserError(f"plugin {label}: `register` failed ({type(error).__name__}: {error}); "
                            "fix the plugin or leave it out") from None
        for field, names in added().items():
            check, wanted = CHECKS[field]
            for name in names:
                obj = getattr(REGISTRIES, field).get(name)
                if not check(obj):
                    raise UserError(f"plugin {label}: {field[:-1]} {name!r} is a {type(obj).__name__}; "
                                    f"register {wanted}")
    except (UserError, NameTaken) as error:
        _remove(added())
        if isinstance(error, UserError):
            raise
        raise UserError(f"plugin {label}: {error} (ganbench or another plugin has that name); rename it") from None
    plugin = Plugin(label, provenance, {field: names for field, names in added().items() if names}, register)
    for field, names in plugin.added.items():
        for name in names:
            getattr(REGISTRIES, field).note_origin(name, provenance)
            if field == "evaluators":
                evaluator = EVALUATORS.get(name)
                COLUMNS.add(f"evaluator:{name}", ColumnSet(evaluator.columns, speed=evaluator.section != "metrics"))
    LOADED[label] = plugin
    return plugin


def _remove(added: Mapping[str, tuple[str, ...]]) -> None:
    for field, names in added.items():
        for name in names:
            getattr(REGISTRIES, field).remove(name)
            if field == "datasets":
                DATASET_SUMMARIES.pop(name, None)
            if field == "evaluators" and f"evaluator:{name}" in COLUMNS:
                COLUMNS.remove(f"evaluator:{name}")


def unload(label: str) -> None:
    """Remove what plugin ``label`` added (e.g. after a test)."""
    _remove(LOADED.pop(label).added)


def load_plugins(specs: tuple[str, ...] = ()) -> list[Plugin]:
    """Load the installed plugins, then each ``--plugin`` ``specs`` (a PATH.py or a MODULE name).

    Returns:
        The plugins loaded, in order.
    """
    plugins = []
    for label, loader in _entry_points():
        register, provenance = _guarded(label, loader)
        plugins.append(load(label, register, provenance))
    for spec in specs:
        resolved = str(Path(spec).resolve()) if Path(spec).is_file() else spec
        if resolved in LOADED:
            plugins.append(LOADED[resolved])
            continue
        plugins.append(load(*_register_of(spec)))
    return plugins


def register_all(specs: tuple[str, ...] = ()) -> None:
    """The built-ins, then the plugins (:func:`load_plugins`): what every process running cells
    registers first (picklable as ``functools.partial(register_all, specs)``)."""
    register_builtins()
    load_plugins(specs)


def origin_text(origin: Mapping[str, Any] | None) -> str:
    """How ``ganbench list`` names where an entry came from: ``[plugin ganbench-sngan 0.1.0]`` or
    ``[plugin /path/mygan.py]`` (empty for a built-in)."""
    if origin is None:
        return ""
    if origin.get("package"):
        return f" [plugin {origin['package']} {origin.get('version') or ''}]".replace(" ]", "]")
    return f" [plugin {origin.get('file') or origin['plugin']}]"
