"""The settings tables of the docs, generated from the code's :class:`~ganbench.settings.Setting` schemas.

A doc holds a generated table between two marker comments::

    <!-- settings:eval -->
    | setting | default | accepted | meaning |
    ...
    <!-- /settings -->

The name after ``settings:`` says which schema: ``eval`` (the evaluators' settings), ``style``
(style transfer's), ``gan`` (the settings every GAN variant has, with each variant's default) or
a variant's name (the settings that variant adds to those). ``--write`` rewrites every block of
README.md and docs/*.md from the code; ``--check`` exits 1 naming the docs whose tables differ
(``tests/test_docs.py`` runs the check)::

    python -m tools.docs_tables --write
    python -m tools.docs_tables --check
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ganbench.cli.parsing import FLAGS
from ganbench.errors import render as spell
from ganbench.settings import Setting

ROOT = Path(__file__).resolve().parent.parent
START = re.compile(r"^<!-- settings:([A-Za-z0-9_-]+) -->$")
END = "<!-- /settings -->"
Schema = Mapping[str, Setting]


def docs(root: Path = ROOT) -> list[Path]:
    """The Markdown files that may hold generated tables: README.md and docs/*.md under ``root``."""
    return [path for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))] if path.exists()]


def schemas() -> tuple[dict[str, Schema], Schema, Schema]:
    """The variants' settings by variant name, the evaluators' and style transfer's, as the code declares them.

    Returns:
        ``(variants, evaluation, style)``: {variant name: schema} in registration order, and two schemas.
    """
    from ganbench.builtins import register_builtins
    from ganbench.gan.model import VARIANTS
    from ganbench.metrics import EVALUATION_SETTINGS
    from ganbench.style import STYLE_SETTINGS

    if not VARIANTS.names():
        register_builtins()
    # The built-ins only: a plugin loaded in this process (e.g. an installed one) is documented by its package.
    variants = {name: VARIANTS.get(name).settings for name in VARIANTS.names() if VARIANTS.origin(name) is None}
    return variants, EVALUATION_SETTINGS, STYLE_SETTINGS


def table(name: str) -> str:
    """The Markdown table of block ``name`` (``eval``, ``style``, ``gan`` or a variant), without markers.

    Raises:
        KeyError: ``name`` is none of these.
    """
    variants, evaluation, style = schemas()
    shared = _shared(variants)
    if name == "gan":
        header = ["setting", *(f"`{variant}`" for variant in variants), "accepted", "meaning"]
        rows = []
        for key in shared:
            setting = variants[next(iter(variants))][key]
            defaults = [_value(schema[key].default) for schema in variants.values()]
            rows.append([f"`{key}`", *defaults, _accepted(setting), _cell(setting.help)])
        return _markdown(header, rows)
    if name in ("eval", "style"):
        schema: Schema = evaluation if name == "eval" else style
    elif name in variants:
        schema = {key: setting for key, setting in variants[name].items() if key not in shared}
    else:
        raise KeyError(f"no settings table {name!r}; known: gan, eval, style, {', '.join(variants)}")
    rows = [[f"`{key}`", _value(setting.default), _accepted(setting), _cell(setting.help)]
            for key, setting in schema.items()]
    return _markdown(["setting", "default", "accepted", "meaning"], rows)


def _shared(variants: Mapping[str, Schema]) -> list[str]:
    """The settings every variant has, alike but for their defaults, in the first variant's order."""
    first = next(iter(variants.values()))
    return [key for key in first
            if all(key in schema and replace(schema[key], default=None) == replace(first[key], default=None)
                   for schema in variants.values())]


def render(text: str, source: str = "<doc>") -> str:
    """``text`` with every ``<!-- settings:NAME -->`` … ``<!-- /settings -->`` block regenerated
    (markers inside fenced code blocks are text, not blocks).

    Args:
        text: a Markdown document.
        source: its name, for error messages.

    Raises:
        ValueError: a block is not closed, an end marker has no start, or a block's name is unknown.
    """
    out: list[str] = []
    lines = text.split("\n")
    index, fenced = 0, False
    while index < len(lines):
        line = lines[index]
        if line.lstrip().startswith("```"):
            fenced = not fenced
        match = None if fenced else START.match(line.strip())
        if line.strip() == END and not fenced:
            raise ValueError(f"{source}:{index + 1}: {END} without a <!-- settings:NAME --> before it")
        if not match:
            out.append(line)
            index += 1
            continue
        end = next((i for i in range(index + 1, len(lines)) if lines[i].strip() == END), None)
        opened = next((i for i in range(index + 1, end or len(lines)) if START.match(lines[i].strip())), None)
        if end is None or opened is not None:
            raise ValueError(f"{source}:{index + 1}: <!-- settings:{match.group(1)} --> is not closed by {END}")
        try:
            generated = table(match.group(1))
        except KeyError as error:
            raise ValueError(f"{source}:{index + 1}: {error.args[0]}") from None
        out += [line, generated, lines[end]]
        index = end + 1
    return "\n".join(out)


def stale(root: Path = ROOT) -> list[Path]:
    """The docs under ``root`` whose generated tables differ from what the code declares now."""
    return [path for path in docs(root) if render(path.read_text(), str(path)) != path.read_text()]


def write(root: Path = ROOT) -> list[Path]:
    """Regenerate every table of the docs under ``root``; returns the files it changed."""
    changed = stale(root)
    for path in changed:
        path.write_text(render(path.read_text(), str(path)))
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """``--write`` regenerates the tables, ``--check`` exits 1 when one differs from the code."""
    parser = argparse.ArgumentParser(prog="python -m tools.docs_tables",
                                     description="The docs' settings tables, "
                                                 "generated from the code's Setting schemas.")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="rewrite the generated tables in place")
    action.add_argument("--check", action="store_true", help="exit 1 if a generated table differs from the code")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository root (default: this checkout)")
    args = parser.parse_args(argv)
    try:
        paths = write(args.root) if args.write else stale(args.root)
    except ValueError as error:
        print(f"docs_tables: error: {error}", file=sys.stderr)
        return 2
    names = ", ".join(str(path.relative_to(args.root)) for path in paths)
    if args.write:
        print(f"rewrote: {names}" if paths else "every table is up to date")
        return 0
    if paths:
        print(f"docs_tables: settings tables differ from the code in {names}; "
              "run `python -m tools.docs_tables --write`", file=sys.stderr)
        return 1
    return 0


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join("| " + " | ".join(cells) + " |" for cells in [header, ["---"] * len(header), *rows])


def _value(value: Any) -> str:
    """A default as it is written on the command line (``--set KEY=VALUE``), in backticks."""
    if value is None:
        text = "none"
    elif isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, tuple):
        text = ",".join(_number(v) for v in value)
    elif isinstance(value, (int, float)):
        text = _number(value)
    else:
        text = str(value)
    return f"`{_cell(text)}`"


def _number(value: Any) -> str:
    if isinstance(value, float):
        mantissa, _, exponent = f"{value:g}".partition("e")
        return f"{mantissa}e{int(exponent)}" if exponent else mantissa
    return str(value)


def _accepted(setting: Setting) -> str:
    """What ``--set`` accepts: the choices, or the kind of value with its bounds, and ``none`` if optional."""
    if setting.registry is not None:  # the built-in entries; a plugin's are accepted as well
        text = ", ".join(f"`{name}`" for name in setting.registry.names() if setting.registry.origin(name) is None)
        text += ", or a plugin's"
    elif setting.choices is not None:
        text = ", ".join(f"`{choice}`" for choice in setting.choices)
    else:
        noun = {"bool": "`true`, `false`", "int": "integer", "float": "number", "str": "text",
                "ints": "integers", "floats": "numbers"}[setting.kind]
        low = None if setting.minimum is None else _number(setting.minimum)
        high = None if setting.maximum is None else _number(setting.maximum)
        if low is not None and high is not None:
            bounds = f"in {'(' if setting.exclusive_minimum else '['}{low}, {high}]"
        elif low is not None:
            bounds = f"{'>' if setting.exclusive_minimum else '≥'} {low}"
        elif high is not None:
            bounds = f"≤ {high}"
        else:
            bounds = ""
        text = f"{noun} {bounds}".strip() + (", comma-separated" if setting.kind in ("ints", "floats") else "")
    return f"{text} or `none`" if setting.optional else text


def _cell(text: str) -> str:
    """A table cell: options and commands named in the help spelled as on the command line."""
    return spell(text, FLAGS).replace("|", "\\|").replace("\n", " ")


if __name__ == "__main__":
    raise SystemExit(main())
