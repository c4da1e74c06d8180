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


@pytest.fixture(scope="module")
def random_inception_weights(tmp_path_factory) -> Path:
    """A state dict of torch-fidelity's InceptionV3 with its random initial weights (no download:
    the pretrained weights are not fetched and not loaded), saved as a weights file."""
    import torch
    import torch_fidelity.feature_extractor_inceptionv3 as inception_module

    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(inception_module, "load_state_dict_from_url", lambda *args, **kwargs: {})
        patch.setattr(inception_module.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
        torch.manual_seed(0)
        model = inception_module.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    torch.save(model.state_dict(), path)
    return path
