"""``--compile`` for every variant and loss: the networks' forward goes through ``torch.compile``
and the gradient penalty's double backward, which aot_autograd cannot differentiate, runs through
D's eager forward; compiled training computes what eager training computes."""

from __future__ import annotations

import functools
import json

import pytest
import torch
from ignite.engine import Events
from torch import nn

from ganbench.cli import main
from ganbench.execution import Execution, eager
from ganbench.gan.losses import LOSSES
from ganbench.gan.trainer import create_gan_trainer
from test_models import build

VARIANTS = ("fc", "dcgan", "progan", "msggan")
STEPS = 2


@pytest.fixture
def aot_eager(monkeypatch):
    """torch.compile through aot_autograd without inductor's code generation: the same graph
    capture and autograd (which refused the double backward) in a fraction of the compile time."""
    monkeypatch.setattr(nn.Module, "compile", functools.partialmethod(nn.Module.compile, backend="aot_eager"))
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def losses(name: str, execution: Execution, **overrides) -> list[float]:
    """loss_d and loss_g of each of STEPS iterations of a tiny ``name`` on random 32x32 images,
    prepared (compiled) as a run prepares it."""
    gan, data, settings = build(name, (1, 32, 32), **overrides)
    execution.prepare(gan, compiled=(gan.generator, gan.discriminator))
    training = create_gan_trainer(gan, data, settings, seed=0, execution=execution)
    gan.attach(training.engine, STEPS, training.optimizers)
    seen = []
    training.engine.add_event_handler(Events.ITERATION_COMPLETED, lambda engine: seen.extend(
        (engine.state.output["loss_d"], engine.state.output["loss_g"])))
    training.engine.run(None, max_epochs=1, epoch_length=STEPS)
    return seen


def check_compiled_equals_eager(name: str, loss: str) -> None:
    expected = losses(name, Execution(), loss=loss)
    compiled = losses(name, Execution(compile=True), loss=loss)
    assert compiled == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_progan_compiles_with_its_gradient_penalty(aot_eager):
    """The failing case of the issue: wgan-gp (ProGAN's default) under torch.compile (~10 s)."""
    check_compiled_equals_eager("progan", "wgan-gp")


@pytest.mark.slow  # 16 variant x loss pairs, ~40 s
@pytest.mark.parametrize("loss", sorted(LOSSES.names()))
@pytest.mark.parametrize("name", VARIANTS)
def test_every_variant_and_loss_compiles(name, loss, aot_eager):
    check_compiled_equals_eager(name, loss)


def test_eager_runs_the_uncompiled_forward_and_restores_the_compiled_one(aot_eager):
    network = nn.Linear(3, 1)
    network.compile()
    compiled = network._compiled_call_impl
    calls = []
    network.register_forward_hook(lambda *args: calls.append(torch.compiler.is_compiling()))
    with eager(network):
        network(torch.ones(2, 3))
    assert network._compiled_call_impl is compiled and calls == [False]


@pytest.mark.slow  # inductor compiles ProGAN's growth phases: ~2 min on 2 cores
def test_the_issues_command_trains_progan_compiled_by_inductor(shared_data, tmp_path):
    out = tmp_path / "out"
    assert main(["run", "--suite", "mnist", "--budget", "smoke", "--data-root", str(shared_data), "--split", "test",
                 "--variants", "progan", "--seeds", "1", "--compile", "--no-progress", "--out", str(out)]) == 0
    (record,) = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert record["status"] == "finished", record.get("error")
    assert record["config"]["execution"]["compile"] is True
