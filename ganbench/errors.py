"""The one exception type a front end turns into a single error line, and how messages name
options and commands.

A message names an option with :func:`option` and a command with :func:`command`: a marker that
each front end renders as it spells them (a :class:`Spelling`): the command line as a flag with
its value and a ``ganbench ...`` command line, Python as ``nproc_per_node=2`` (:data:`KEYWORDS`,
what ``str()`` of a :class:`UserError` shows). The shared layer thus never
writes a front end's spelling; :func:`render` replaces the markers of any text (error messages,
help texts).
"""

from __future__ import annotations

import json
import re
from typing import Protocol

_MARK = "\x1f"  # ASCII unit separator: never part of a path, name or value in a message
_MARKER = re.compile(f"{_MARK}([^{_MARK}]*){_MARK}")


def option(name: str, value: object = None) -> str:
    """Option ``name`` (a Python identifier), given ``value`` when not None, in a message."""
    return _MARK + json.dumps(["option", name, None if value is None else str(value)]) + _MARK


def command(words: str, *arguments: object, **options: object) -> str:
    """Command ``words`` (``list``, ``classifier train``) with positional ``arguments`` and
    ``options`` (name -> value), in a message."""
    named = {name: str(value) for name, value in options.items()}
    return _MARK + json.dumps(["command", words, [str(argument) for argument in arguments], named]) + _MARK


class Spelling(Protocol):
    """How a front end writes an option (with its value, or None) and a command."""

    def option(self, name: str, value: str | None) -> str: ...

    def command(self, words: str, arguments: list[str], options: dict[str, str]) -> str: ...


class KeywordSpelling:
    """Python's: ``nproc_per_node``, ``amp=bf16``, ``list(settings=VARIANT)``."""

    def option(self, name: str, value: str | None) -> str:
        return name if value is None else f"{name}={value}"

    def command(self, words: str, arguments: list[str], options: dict[str, str]) -> str:
        parts = [*arguments, *(f"{name}={value}" for name, value in options.items())]
        return f"{words.replace(' ', '_')}({', '.join(parts)})"


KEYWORDS = KeywordSpelling()


def render(text: str, spelling: Spelling = KEYWORDS) -> str:
    """``text`` with every option and command marker written in ``spelling``."""

    def spell(match: re.Match[str]) -> str:
        kind, *fields = json.loads(match.group(1))
        return spelling.option(*fields) if kind == "option" else spelling.command(*fields)

    return _MARKER.sub(spell, text)


class UserError(Exception):
    """Bad input or a missing file/weight the user can fix.

    The CLI prints ``ganbench: error: <message>`` (:meth:`render`\\ ed in its spelling) and exits
    with status 2, without a traceback. The message must name the accepted values or the fix.
    """

    def render(self, spelling: Spelling = KEYWORDS) -> str:
        """The message with its options and commands in ``spelling``."""
        return render(str(self.args[0]) if self.args else "", spelling)

    def __str__(self) -> str:
        return self.render()
