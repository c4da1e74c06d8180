"""Fixtures for tests/ and benchmarks/: the real data folder beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ganbench.builtins import register_builtins

# Runs in tests are serial unless a test asks for --jobs: the default (one process per core)
# would spawn workers in every in-process CLI test. Commands the tests start inherit this.
os.environ.setdefault("GANBENCH_JOBS", "1")

register_builtins()  # the registries hold every built-in suite, variant, dataset and evaluator, as for the CLI

SHARED_DATA = Path(__file__).resolve().parent.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (the MNIST test split and style images); tests needing it skip without it."""
    root = Path(os.environ.get("GANBENCH_SHARED_DATA", SHARED_DATA))
    if not (root / "MNIST" / "raw").exists():
        pytest.skip(f"real data folder {root} not found (set GANBENCH_SHARED_DATA)")
    return root
