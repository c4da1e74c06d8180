"""Matplotlib without a display, and how every figure of a report is written."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plt", "save_figure"]


def save_figure(figure: plt.Figure, path: Path) -> Path:
    """Write ``figure`` as PNG to ``path`` through a temporary file and a rename; close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Unique per process and call: two commands sharing a folder may write the same plot at once.
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp.png")
    figure.savefig(temporary, dpi=110, bbox_inches="tight")
    plt.close(figure)
    temporary.replace(path)
    return path
