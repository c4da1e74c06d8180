"""What every command's parser shares: one error line for a usage mistake, and options and
commands written as the command line spells them (:data:`FLAGS`)."""

from __future__ import annotations

import argparse
from typing import NoReturn

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake prints one error line (not the whole usage) and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def flag(name: str) -> str:
    """The command line's spelling of option ``name``: ``nproc_per_node`` -> ``--nproc-per-node``."""
    return "--" + name.replace("_", "-")


class FlagSpelling:
    """Options and commands as the command line writes them: ``--amp bf16``, ``ganbench list --settings VARIANT``."""

    def option(self, name: str, value: str | None) -> str:
        return flag(name) if value is None else f"{flag(name)} {value}"

    def command(self, words: str, arguments: list[str], options: dict[str, str]) -> str:
        return " ".join(["ganbench", words, *arguments, *(f"{flag(name)} {value}" for name, value in options.items())])


FLAGS = FlagSpelling()
