"""Speed of one style-transfer iteration (``pytest --benchmark-only``): one Adam step and one
L-BFGS step on the image, Gatys' layers on VGG-19 (random weights: the same arithmetic as
ImageNet ones), at 128 and 256 px; ``step_per_second`` and the step's GFLOP (L-BFGS: one function evaluation)."""

from __future__ import annotations

import pytest
import torch

from ganbench.calibration import count_flops
from ganbench.settings import resolve
from ganbench.style import STYLE_SETTINGS
from ganbench.style.engine import StyleObjective, create_style_engine
from ganbench.style.features import feature_network, resolve_weights

WARMUP_STEPS = 2


@pytest.mark.parametrize("size", [128, 256])
@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_style_iteration(benchmark, measure, optimizer, size):
    """One optimiser step (forward through VGG-19 to relu5_1, Gram matrices, backward, update)."""
    settings = resolve(STYLE_SETTINGS, "style", {"weights": "random", "optimizer": optimizer, "image_size": size})
    generator = torch.Generator().manual_seed(0)
    content, style, start = (torch.rand(1, 3, size, size, generator=generator) for _ in range(3))
    network = feature_network(resolve_weights("vgg19", "random", None), settings["pooling"], "relu5_1",
                              torch.device("cpu"))
    transfer = create_style_engine(StyleObjective(network, content, style, settings), start, settings)
    transfer.engine.run(None, max_epochs=1, epoch_length=WARMUP_STEPS)
    benchmark.extra_info.update(items_per_round=1, unit="step",
                                gflop_per_round=count_flops(lambda: transfer.step(transfer.engine, None)) / 1e9)
    output = measure(transfer.step, transfer.engine, None)
    assert output["evaluations"] == 1.0
