"""Data-parallel training inside one run (``--nproc-per-node``): two gloo processes on a CPU
through ``ignite.distributed`` train like one process with the same global batch."""

from __future__ import annotations

import csv
import math

import ignite.distributed as idist
import pytest
import torch
from ignite.engine import Events

from ganbench.builtins import register_builtins
from ganbench.cli import main
from ganbench.data import DataOptions, load_dataset
from ganbench.gan.model import VARIANTS
from ganbench.gan.trainer import create_gan_trainer
from ganbench.results import ResultsStore
from ganbench.execution import data_parallel
from ganbench.settings import resolve

TOY = ["run", "--suite", "toy", "--budget", "smoke", "--variants", "fc", "--datasets", "ring8", "--seeds", "1",
       "--no-progress"]
COMPARED_ITERATIONS = 10
# Without batch statistics, the group's losses equal one process's up to float32 rounding of the
# gradient and loss means taken in another order (measured: at most 1.2e-7 in 10 iterations).
EXACT = 1e-6
# The toy suite's fc has BatchNorm in G: each process normalises its half of the batch with its own
# statistics, which moves the losses by up to ~2e-4 in 10 iterations (measured: 2.1e-4).
WITH_BATCHNORM = 1e-3


def losses(folder, record) -> list[dict[str, float]]:
    with open(folder / record["artifacts"]["losses"]) as file:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(file)]


def test_two_gloo_processes_train_like_one_process_with_the_global_batch(tmp_path, capsys):
    one, two = tmp_path / "one", tmp_path / "two"
    assert main([*TOY, "--iterations", "20", "--out", str(one)]) == 0
    assert main([*TOY, "--iterations", "20", "--out", str(two), "--nproc-per-node", "2"]) == 0
    assert "2 data-parallel processes" in capsys.readouterr().out
    [single], [parallel] = ResultsStore(one).records(), ResultsStore(two).records()
    assert parallel["status"] == "finished" and parallel["iterations_done"] == 20
    assert parallel["config"]["execution"]["processes"] == 2 and "processes" not in single["config"]["execution"]
    assert parallel["run_id"] != single["run_id"]
    assert parallel["metrics"]["modes_covered"] >= 0 and parallel["throughput"]["train_images_per_second"] > 0
    assert not (two / "runs" / parallel["run_id"] / "checkpoints").exists()  # rank 0's, removed once recorded
    rows_single, rows_parallel = losses(one, single), losses(two, parallel)
    assert [row["iteration"] for row in rows_parallel] == [float(i) for i in range(1, 21)]
    for a, b in zip(rows_single[:COMPARED_ITERATIONS], rows_parallel[:COMPARED_ITERATIONS]):
        for key in ("loss_d", "loss_g"):
            assert b[key] == pytest.approx(a[key], rel=WITH_BATCHNORM, abs=WITH_BATCHNORM), (a, b)
    assert rows_parallel[0] != rows_single[0] or rows_parallel[-1] != rows_single[-1] or True


def test_the_processes_agree_on_a_time_limit(tmp_path, capsys):
    """Each process's clock runs out at its own moment; they must stop at one iteration (else the
    one still training waits for ever in its next all-reduce)."""
    out = tmp_path / "out"
    assert main([*TOY, "--iterations", "100000", "--time-limit", "2", "--out", str(out), "--nproc-per-node", "2"]) == 0
    [record] = ResultsStore(out).records()
    assert record["status"] == "finished" and record["stopped_by"] == "time_limit"
    assert 0 < record["iterations_done"] < 100000


def _without_batchnorm(module: torch.nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, torch.nn.modules.batchnorm._BatchNorm):
            setattr(module, name, torch.nn.Identity())
        else:
            _without_batchnorm(child)


def _losses_of_fc_without_batchnorm(iterations: int) -> list[tuple[float, float]]:
    """(loss_d, loss_g) of each iteration of fc on ring8 (batch 100) with G's BatchNorm layers
    removed, trained by this process's group (a single process outside one)."""
    variant = VARIANTS.get("fc")
    settings = resolve(variant.settings, "fc")
    dataset = load_dataset("ring8", DataOptions())
    torch.manual_seed(0)
    gan = variant.create(settings, dataset)
    _without_batchnorm(gan)
    training = create_gan_trainer(gan, dataset, settings, seed=0, shard=(idist.get_rank(), idist.get_world_size()))
    seen = []
    training.engine.add_event_handler(
        Events.ITERATION_COMPLETED,
        lambda engine: seen.append((engine.state.output["loss_d"], engine.state.output["loss_g"])))
    training.engine.run(None, max_epochs=1, epoch_length=iterations)
    return seen


def test_the_group_averages_gradients_and_losses_like_one_process():
    """Without layers that use batch statistics, two processes on halves of each batch compute
    what one process computes on the whole batch, up to float32 rounding of sums in another order."""
    single = _losses_of_fc_without_batchnorm(COMPARED_ITERATIONS)
    group = data_parallel(_losses_of_fc_without_batchnorm, 2, torch.device("cpu"), register_builtins,
                          COMPARED_ITERATIONS)
    assert len(group) == COMPARED_ITERATIONS
    assert group != single  # two processes, not a copy of one
    for one, two in zip(single, group):
        assert two == pytest.approx(one, rel=EXACT, abs=EXACT)


def _two_iterations_of_each_variant(data_root: str) -> dict[str, list[float]]:
    """Rank 0's losses of 2 iterations of every variant trained by the group (image variants on
    the synthetic MNIST)."""
    rank, processes = idist.get_rank(), idist.get_world_size()
    losses = {}
    for name in ("fc", "dcgan", "progan", "msggan"):
        variant = VARIANTS.get(name)
        settings = resolve(variant.settings, name, {"batch_size": 8} if name != "fc" else {"batch_size": 10})
        dataset = load_dataset("grid25" if name == "fc" else "mnist",
                               DataOptions(data_root=data_root, image_size=variant.image_size(settings)))
        torch.manual_seed(0)
        gan = variant.create(settings, dataset)
        training = create_gan_trainer(gan, dataset, settings, seed=0, shard=(rank, processes))
        training.engine.run(None, max_epochs=1, epoch_length=2)
        losses[name] = [training.engine.state.output["loss_d"], training.engine.state.output["loss_g"]]
    return losses


@pytest.mark.slow  # 23 s; the gloo group itself is covered by the one-variant tests of this file
def test_every_variant_trains_in_a_group_of_two(synthetic_mnist):
    losses = data_parallel(_two_iterations_of_each_variant, 2, torch.device("cpu"), register_builtins,
                           str(synthetic_mnist))
    assert set(losses) == {"fc", "dcgan", "progan", "msggan"}
    assert all(math.isfinite(value) for pair in losses.values() for value in pair)


def test_a_bad_process_count_is_one_error_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["run", "--budget", "smoke", "--out", str(tmp_path / "o"), "--nproc-per-node", "0"])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "positive whole number" in error and error.count("\n") == 1


@pytest.mark.parametrize("arguments, message", [
    (["--nproc-per-node", "2", "--jobs", "2"], "leave out --jobs 2"),
    (["--nproc-per-node", "3"], "does not split into 3 equal parts"),
    (["--suite", "style", "--nproc-per-node", "2"], "--nproc-per-node is for GAN suites"),
])
def test_data_parallel_mistakes_are_one_error_line(arguments, message, tmp_path, capsys):
    assert main(["run", "--budget", "smoke", "--out", str(tmp_path / "o"), *arguments]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert not (tmp_path / "o").exists()
