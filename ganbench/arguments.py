"""Keyword arguments of the Python API checked as the command line checks its options: against
the same :class:`~ganbench.options.Option` declarations (choices, parsers, lists), with errors
that name the keyword (:func:`ganbench.errors.option` spelled for Python), and settings dicts
written as ``set KEY=VALUE`` writes them.

Examples:
    >>> assignments({"dcgan.lr_d": 1e-4, "dcgan.ema": True})
    ['dcgan.lr_d=0.0001', 'dcgan.ema=true']
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ganbench.errors import UserError, option
from ganbench.options import Option, OptionValueError


def setting_text(value: Any) -> str:
    """A setting's value as ``set KEY=VALUE`` writes it: ``true``, ``none``, ``400,400``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return ",".join(str(part) for part in value)
    return str(value)


def assignments(settings: Mapping[str, Any] | None) -> list[str]:
    """``{"dcgan.lr_d": 1e-4}`` -> ``["dcgan.lr_d=0.0001"]``."""
    if settings is None:
        return []
    if not isinstance(settings, Mapping):
        raise UserError(f"{option('settings')} is a {type(settings).__name__}; give a dict of setting -> value, "
                        "e.g. {'dcgan.lr_d': 1e-4, 'eval.samples': 500}")
    return [f"{key}={setting_text(value)}" for key, value in settings.items()]


def checked(declaration: Option, value: Any) -> Any:
    """``value`` given for option ``declaration``, checked and converted as the command line would
    (its choices, its parser on the value's text); ``UserError`` naming the keyword if refused."""
    name = declaration.name
    if value is None:
        return None
    if declaration.given in ("list", "paths", "repeated"):
        items = [value] if isinstance(value, (str, os.PathLike)) else value
        if not isinstance(items, Iterable):
            raise UserError(f"{option(name)} is a {type(value).__name__}; give a list, e.g. {option(name, ['a', 'b'])}")
        items = list(items)
        if declaration.given == "list" and len(items) == 1 and isinstance(items[0], str):
            items = [part.strip() for part in items[0].split(",")]
        return [_parsed(declaration, item) for item in items]
    return _parsed(declaration, value)


def _parsed(declaration: Option, value: Any) -> Any:
    name = declaration.name
    if declaration.given in ("switch", "toggle"):
        if not isinstance(value, bool):
            raise UserError(f"{option(name, value)}: give True or False")
        return value
    if declaration.choices is not None and value not in declaration.choices:
        raise UserError(f"unknown {option(name)} {value!r}; choose one of: {', '.join(declaration.choices)}")
    if declaration.parse is None or isinstance(value, Path):
        return value
    if isinstance(value, bool):
        raise UserError(f"{option(name, value)}: give a value, not True or False")
    try:
        return declaration.parse(str(value))
    except OptionValueError as error:
        raise UserError(f"{option(name)}: {error}") from None
    except ValueError:
        raise UserError(f"{option(name)}: invalid value {value!r}") from None


def option_values(declarations: Sequence[Option], given: Mapping[str, Any],
            extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every declared option's value: its default, or what was given (checked); ``extra`` may
    only name declared options."""
    by_name = {declaration.name: declaration for declaration in declarations}
    unknown = sorted(set(extra or {}) - set(by_name))
    if unknown:
        raise UserError(f"{option('options')} names {unknown[0]!r}, no option of this command; it takes: "
                        f"{', '.join(sorted(set(by_name) - set(given)))}")
    twice = sorted(set(extra or {}) & set(given))
    if twice:
        keyword = "settings" if twice[0] == "set" else twice[0]  # the set option is the settings argument
        raise UserError(f"{option('options')} names {twice[0]!r}, a keyword argument of its own; give "
                        f"{option(keyword, '...')} instead")
    values = {name: (list(d.default or []) if d.given == "repeated" else d.default) for name, d in by_name.items()}
    for name, value in {**given, **(extra or {})}.items():
        if value is not None:
            values[name] = checked(by_name[name], value)
    return values
