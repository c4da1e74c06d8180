"""Options as data: what a command takes, declared where it is used.

Each layer declares the options it reads (:class:`Option`): the request's by :mod:`ganbench.runs`,
how runs compute by :mod:`ganbench.execution`, where cells run by :mod:`ganbench.launch` and
:mod:`ganbench.cluster`, and each suite kind its own in its suites' ``options``. A front end
builds its interface from these declarations (the command line: one flag per option, grouped by
``group``) and hands the values on keyed by option name, so a new kind adds options without
touching a front end.

Messages and help texts name an option through :func:`ganbench.errors.option`, never by a
front end's spelling of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

GIVEN = ("value", "switch", "toggle", "list", "paths", "optional", "repeated")


class OptionValueError(ValueError):
    """A text an option's ``parse`` refuses; the message says what to give (``invalid value '0':
    give a positive whole number``)."""


@dataclass(frozen=True)
class Option:
    """One option of a command.

    ``name``: a Python identifier (``nproc_per_node``; the command line spells it as a flag, with
    dashes). ``help``: one sentence or two, ``(default: ...)`` included where there is
    one. ``group``: the heading it is listed under (``run``, ``data``, ``performance``, ``cluster``;
    a kind's options are listed under the kind). ``parse``: text -> value (raises ``ValueError``,
    :class:`OptionValueError` with a message of its own; None: the text as is); for ``list``, each
    comma-separated name is kept as text. ``default``: the value when the option is not given.
    ``metavar``: how help names the value. ``choices``: the accepted values.

    ``given`` says how the option is given: ``value`` (one value), ``switch`` (present or not:
    True/False), ``toggle`` (on, off, or not given: None), ``list`` (comma-separated names: a list),
    ``paths`` (one or more paths: a list), ``optional`` (a value, or none: ``const``), ``repeated``
    (a value, any number of times: a list).
    """

    name: str
    help: str
    group: str = "run"
    parse: Callable[[str], Any] | None = None
    default: Any = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    given: str = "value"
    const: Any = None

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"option name {self.name!r} is not a Python identifier")
        if self.given not in GIVEN:
            raise ValueError(f"option {self.name}: given={self.given!r}; choose one of: {', '.join(GIVEN)}")


def comma_list(text: str) -> list[str]:
    """``a, b`` -> ``["a", "b"]``; empty names are kept, for the request check to refuse."""
    return [part.strip() for part in text.split(",")]


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise OptionValueError(f"invalid value {text!r}: give a positive whole number")
    return value
