"""Registries by name (suites, variants, datasets, losses, evaluators, backbones), as in torch-fidelity."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

from ganbench.errors import UserError

T = TypeVar("T")


class NameTaken(ValueError):
    """A name registered twice (e.g. a plugin's name that a built-in or another plugin has)."""


class Registry(Generic[T]):
    """A mapping from a name to an object, whose lookup errors list the accepted names.

    >>> losses = Registry("loss")
    >>> @losses.register("hinge")
    ... def hinge(): ...
    """

    def __init__(self, kind: str, items: Mapping[str, T] | None = None) -> None:
        self.kind = kind
        self._items: dict[str, T] = dict(items or {})
        self._origins: dict[str, dict[str, Any]] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            self.add(name, obj)
            return obj

        return add

    def add(self, name: str, obj: T) -> None:
        if name in self._items:
            raise NameTaken(f"{self.kind} {name!r} is registered twice")
        self._items[name] = obj

    def remove(self, name: str) -> T:
        """Unregister ``name`` (e.g. what a test or a plugin added) and return its object."""
        self._origins.pop(name, None)
        return self._items.pop(name)

    def note_origin(self, name: str, origin: Mapping[str, Any]) -> None:
        """Record where ``name`` came from (a plugin's provenance, see :mod:`ganbench.plugins`)."""
        self._origins[name] = dict(origin)

    def origin(self, name: str) -> dict[str, Any] | None:
        """Where ``name`` came from: its plugin's provenance, or None for a built-in."""
        return self._origins.get(name)

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UserError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())


def plugin_provenance(uses: Iterable[tuple[Registry[Any], str | None]]) -> dict[str, Any]:
    """What a record's provenance says of the plugin entries a run uses.

    Args:
        uses: (registry, name) pairs: every entry the run uses by name (its variant, loss, dataset,
            backbone, evaluators); None names nothing.

    Returns:
        ``{"plugin": [...]}``, one entry per plugin-registered name, in the order of ``uses`` and
        each once: ``{"registry": kind, "name": name}`` with the plugin's provenance (``plugin``,
        ``package`` and ``version`` or ``module``, ``file``, ``sha256``); ``{}`` when every name is
        a built-in.

    Examples:
        >>> losses = Registry("loss", {"ns": None, "mine": None})
        >>> losses.note_origin("mine", {"plugin": "/p/mine.py", "file": "/p/mine.py", "sha256": "ab"})
        >>> plugin_provenance([(losses, "ns"), (losses, "mine"), (losses, "mine")])
        {'plugin': [{'registry': 'loss', 'name': 'mine', 'plugin': '/p/mine.py', 'file': '/p/mine.py', 'sha256': 'ab'}]}
    """
    entries: list[dict[str, Any]] = []
    for registry, name in uses:
        origin = registry.origin(name) if name is not None else None
        entry = {"registry": registry.kind, "name": name, **(origin or {})}
        if origin is not None and entry not in entries:
            entries.append(entry)
    return {"plugin": entries} if entries else {}


def import_file(path: Path, prefix: str) -> Any:
    """The module of Python file ``path``, imported under the private name ``<prefix>_<digest>``
    and kept in ``sys.modules`` (so classes it defines can be pickled and inspected); the name is
    removed again if the import fails. ``ImportError`` where ``path`` is no Python file.

    Examples:
        ``import_file(Path("mygan.py"), "ganbench_plugin")`` -> the module ``ganbench_plugin_3f2a…``
    """
    name = f"{prefix}_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
