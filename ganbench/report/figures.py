"""Matplotlib without a display, and how every figure of a report is written."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ganbench.results import atomic_write_bytes, file_safe

__all__ = ["file_stem", "plt", "save_figure"]


def file_stem(*parts: object) -> str:
    """A safe file name stem from ``parts`` joined by ``_``: every character outside
    ``A-Z a-z 0-9 . _ + -`` (a path separator, markup, a space) becomes ``-``, so a dataset named
    ``folder:/data/<x>`` gives one file in the plots folder with a harmless name."""
    return file_safe("_".join(str(part) for part in parts))


def save_figure(figure: plt.Figure, path: Path) -> Path:
    """Write ``figure`` as PNG to ``path`` (atomically, see :func:`~ganbench.results.atomic_write_bytes`); close it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
    return path
