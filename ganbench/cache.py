"""Where ganbench keeps what it can compute again: reference features, trained classifiers, checksums."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENVIRONMENT = "GANBENCH_CACHE"
DEFAULT_CACHE = Path("~/.cache/ganbench")


def cache_dir(*parts: str) -> Path:
    """A folder under ``$GANBENCH_CACHE`` (default ``~/.cache/ganbench``)."""
    return Path(os.environ.get(CACHE_ENVIRONMENT) or DEFAULT_CACHE).expanduser().joinpath(*parts)
