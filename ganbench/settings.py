"""Typed, documented settings: the knobs of trainers and variants, and ``set key=value`` overrides.

A variant's settings are data (a mapping from name to :class:`Setting`); a suite may change their
defaults and the ``set`` option may override them (``set dcgan.lr_d=1e-4`` or ``set lr_d=1e-4``
for every variant that has the key). Every value is checked here, so a bad one stops the run
before anything is trained, with one error line naming what is accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ganbench.errors import UserError, option
from ganbench.registry import Registry


@dataclass(frozen=True)
class Setting:
    """One knob: its default, a one-line description, and what values are accepted.

    ``kind`` is one of ``int``, ``float``, ``bool``, ``str``, ``ints`` (a tuple of ints, written
    ``400,400`` on the command line) or ``floats`` (a tuple of numbers, ``0.5,0.25``; give
    ``kind="floats"`` explicitly). ``optional`` admits ``None`` (written ``none``).
    ``minimum`` is inclusive unless ``exclusive_minimum`` is set. ``registry``: the value names an
    entry of this registry (a loss, a backbone), checked against what it holds when the settings
    are resolved, so an entry a plugin registers is accepted as a built-in is.
    """

    default: Any
    help: str
    kind: str = ""
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    exclusive_minimum: bool = False
    maximum: float | None = None
    optional: bool = False
    registry: Registry[Any] | None = None

    def __post_init__(self) -> None:
        if not self.kind:
            kinds = {bool: "bool", int: "int", float: "float", str: "str", tuple: "ints"}
            object.__setattr__(self, "kind", kinds[type(self.default)])

    def parse(self, name: str, raw: str) -> Any:
        """Turn the command-line text ``raw`` into a checked value of this setting."""
        text = raw.strip()
        if self.optional and text.lower() in ("none", "null", ""):
            return None
        try:
            if self.kind == "bool":
                lowered = text.lower()
                if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                    raise ValueError
                value: Any = lowered in ("true", "1", "yes", "on")
            elif self.kind == "int":
                value = int(text)
            elif self.kind == "float":
                value = float(text)
            elif self.kind == "ints":
                value = tuple(int(part) for part in text.split(",") if part.strip())
            elif self.kind == "floats":
                value = tuple(float(part) for part in text.split(",") if part.strip())
            else:
                value = text
        except ValueError:
            raise UserError(f"bad value for {name}: {raw!r} is not {_describe_kind(self.kind)}") from None
        return self.check(name, value)

    def check(self, name: str, value: Any) -> Any:
        """Validate an already typed value (from a suite definition or :meth:`parse`)."""
        if value is None:
            if self.optional:
                return None
            raise UserError(f"bad value for {name}: none is not accepted; give {_describe_kind(self.kind)}")
        if self.kind == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.kind in ("ints", "floats") and isinstance(value, list):
            value = tuple(value)
        if self.kind == "floats" and isinstance(value, tuple):
            value = tuple(float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value)
        expected = {"bool": bool, "int": int, "float": float, "str": str, "ints": tuple, "floats": tuple}[self.kind]
        if not isinstance(value, expected) or (self.kind == "int" and isinstance(value, bool)):
            raise UserError(f"bad value for {name}: {value!r} is not {_describe_kind(self.kind)}")
        if self.kind == "floats" and not all(isinstance(v, float) for v in value):
            raise UserError(f"bad value for {name}: {value!r} is not {_describe_kind(self.kind)}")
        if self.choices is not None and value not in self.choices:
            raise UserError(f"bad value for {name}: {value!r}; choose one of: {', '.join(self.choices)}")
        if self.registry is not None and value not in self.registry:
            raise UserError(f"bad value for {name}: {value!r} is no {self.registry.kind}; choose one of: "
                            f"{', '.join(self.registry.names())}")
        numbers = value if self.kind in ("ints", "floats") else (value,) if self.kind in ("int", "float") else ()
        if self.kind == "ints" and not numbers:
            raise UserError(f"bad value for {name}: give at least one integer, e.g. 128,128")
        if self.kind == "floats" and not numbers:
            raise UserError(f"bad value for {name}: give at least one number, e.g. 0.5,0.25")
        for number in numbers:
            if number != number or number in (float("inf"), float("-inf")):
                raise UserError(f"bad value for {name}: {value!r} must be a finite number")
            if self.minimum is not None:
                too_small = number <= self.minimum if self.exclusive_minimum else number < self.minimum
                if too_small:
                    relation = ">" if self.exclusive_minimum else ">="
                    raise UserError(f"bad value for {name}: {value!r} (must be {relation} {self.minimum:g})")
            if self.maximum is not None and number > self.maximum:
                raise UserError(f"bad value for {name}: {value!r} (must be <= {self.maximum:g})")
        return value


# The divergence bound every kind of run takes (see :class:`ganbench.handlers.Divergence`): the
# largest loss in any published run (results/, GAN and style) is about 150.
DIVERGE_ABOVE = Setting(
    1e6, "a loss whose magnitude exceeds this ends the run as diverged (none: only NaN/inf do)",
    minimum=0, exclusive_minimum=True, optional=True,
)


def _describe_kind(kind: str) -> str:
    return {
        "bool": "true or false",
        "int": "an integer",
        "float": "a number",
        "str": "a string",
        "ints": "a comma-separated list of integers",
        "floats": "a comma-separated list of numbers",
    }[kind]


Schema = Mapping[str, Setting]


def resolve(schema: Schema, scope: str, *layers: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults of ``schema`` with each layer of overrides applied in order, every value checked.

    Layers hold typed values (suite definitions) or strings (command line, parsed here).
    ``scope`` names the owner (e.g. a variant) in error messages. A value naming a registry entry
    (:attr:`Setting.registry`) is checked against the registry as it is now, defaults included.
    """
    values = {name: setting.default for name, setting in schema.items()}
    for layer in layers:
        for name, value in layer.items():
            if name not in schema:
                raise UserError(
                    f"unknown setting {scope}.{name}; {scope} accepts: {', '.join(sorted(schema))}"
                )
            setting = schema[name]
            qualified = f"{scope}.{name}"
            values[name] = setting.parse(qualified, value) if isinstance(value, str) and setting.kind != "str" \
                else setting.check(qualified, value)
    for name, setting in schema.items():
        if setting.registry is not None and values[name] is not None:
            setting.check(f"{scope}.{name}", values[name])
    return values


def parse_assignments(pairs: Iterable[str]) -> dict[str, dict[str, str]]:
    """Split ``set`` option values into {scope: {key: raw value}}; an unscoped key goes under ``"*"``.

    >>> parse_assignments(["dcgan.lr_d=1e-4", "seed_offset=3"])
    {'dcgan': {'lr_d': '1e-4'}, '*': {'seed_offset': '3'}}
    """
    result: dict[str, dict[str, str]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"bad {option('set')} {pair!r}; write KEY=VALUE or VARIANT.KEY=VALUE, e.g. dcgan.lr_d=1e-4")
        scope, dot, name = key.rpartition(".")
        result.setdefault(scope if dot else "*", {})[name] = value
    return result
