"""Mixed precision and the fast paths as settings: bf16 autocast on a CPU for every GAN variant and
the style engine, channels-last and compiled networks, and the record stating them."""

import json

import pytest
import torch
from ignite.engine import Events
from torch import nn

from ganbench.cli import main
from ganbench.gan.run import loss_history
from ganbench.gan.trainer import create_gan_trainer
from ganbench.execution import Execution
from ganbench.style.engine import StyleObjective, create_style_engine, final_losses
from ganbench.style.features import feature_network, resolve_weights
from test_models import build
from test_style_engine import CPU, SIZE, images, settings_with

BF16 = Execution(precision="bf16")


def train(name, execution, steps=4, **overrides):
    """``steps`` iterations of a tiny ``name`` on random 32x32 images: the losses per iteration and
    the dtypes the discriminator's outputs had."""
    gan, data, settings = build(name, (1, 32, 32), **overrides)
    training = create_gan_trainer(gan, data, settings, seed=0, execution=execution)
    history = loss_history(gan)
    training.engine.add_event_handler(Events.ITERATION_COMPLETED, history)
    gan.attach(training.engine, steps, training.optimizers)
    dtypes = set()
    gan.discriminator.register_forward_hook(lambda module, inputs, output: dtypes.add(output.dtype))
    training.engine.run(None, max_epochs=1, epoch_length=steps)
    return history.columns, dtypes


@pytest.mark.parametrize("name, overrides", [("fc", {}), ("dcgan", {}), ("progan", {}), ("msggan", {}),
                                             ("dcgan", {"loss": "wgan-gp"})])
def test_every_variant_trains_in_bf16_on_a_cpu(name, overrides):
    full, full_dtypes = train(name, Execution(), **overrides)
    mixed, mixed_dtypes = train(name, BF16, **overrides)
    # (autocast keeps some ops in fp32, and some of ProGAN's D outputs come out fp32)
    assert full_dtypes == {torch.float32} and torch.bfloat16 in mixed_dtypes
    for key in ("loss_d", "loss_g"):
        assert all(torch.isfinite(torch.tensor(mixed[key])))
        assert mixed[key] != full[key]  # the networks ran in bf16 ...
        assert mixed[key][0] == pytest.approx(full[key][0], rel=0.05, abs=0.05)  # ... with bf16's rounding only


def test_the_style_engine_runs_its_network_in_bf16_and_its_losses_in_fp32():
    content, style = images()
    settings = settings_with(optimizer="adam")
    network = feature_network(resolve_weights(settings["arch"], "random", None), settings["pooling"], "relu5_1", CPU)
    dtypes = set()
    first_conv = next(module for module in network.modules() if isinstance(module, nn.Conv2d))
    first_conv.register_forward_hook(lambda module, inputs, output: dtypes.add(output.dtype))
    full = StyleObjective(network, content, style, settings)(content)
    objective = StyleObjective(network, content, style, settings, BF16)
    mixed = objective(content)
    assert dtypes == {torch.float32, torch.bfloat16}
    assert mixed.total.dtype == torch.float32 and mixed.total.item() != full.total.item()
    assert mixed.total.item() == pytest.approx(full.total.item(), rel=0.05)
    start = torch.rand(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(4))
    transfer = create_style_engine(objective, start, settings)
    before = objective(transfer.image.pixels()).total.item()
    transfer.engine.run(None, max_epochs=1, epoch_length=5)
    assert final_losses(transfer)["total_loss"] < before


def test_channels_last_and_compile_prepare_the_networks():
    network = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))
    Execution(channels_last=True).prepare(network)
    assert network[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert network._compiled_call_impl is None
    Execution(compile=True).prepare(network, compiled=(network[0],))
    assert network[0]._compiled_call_impl is not None and network[2]._compiled_call_impl is None


def test_the_record_states_precision_and_mode(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "--budget", "smoke", "--seeds", "1", "--datasets", "ring8", "--iterations", "5", "--amp",
                 "--no-progress", "--out", str(out)]) == 0
    assert "bf16" in capsys.readouterr().out
    (record,) = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert record["status"] == "finished"
    assert record["config"]["execution"] == {"threads": 1, "precision": "bf16", "channels_last": False,
                                             "compile": False}


@pytest.mark.parametrize("arguments, message", [
    (["--amp", "fp16", "--device", "cpu"], "--amp fp16 needs a CUDA device"),
    (["--amp", "fp8"], "invalid choice"),
])
def test_precision_mistakes_are_one_error_line(arguments, message, tmp_path, capsys):
    try:
        status = main(["run", "--budget", "smoke", "--out", str(tmp_path / "o"), *arguments])
    except SystemExit as stopped:
        status = stopped.code
    assert status == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_style_runs_refuse_fp16():
    from ganbench.errors import UserError
    from ganbench.runs import SUITES, RunRequest

    with pytest.raises(UserError, match="style runs take amp=bf16"):
        SUITES.get("style").plan(RunRequest(budget="smoke", execution=Execution(precision="fp16")))
