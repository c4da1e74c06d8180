"""Matplotlib without a display, and how every figure of a report is written."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ganbench.results import atomic_write_bytes  # noqa: E402

__all__ = ["plt", "save_figure"]


def save_figure(figure: plt.Figure, path: Path) -> Path:
    """Write ``figure`` as PNG to ``path`` (atomically, see :func:`~ganbench.results.atomic_write_bytes`); close it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
    return path
