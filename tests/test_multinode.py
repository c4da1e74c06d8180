"""Data-parallel groups started from outside (torchrun, srun) across nodes, rank 0's weights
broadcast at the start, and evaluation split among the ranks with one process's numbers: gloo
processes on this machine, two "nodes" simulated by two launches sharing MASTER_ADDR=127.0.0.1."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import socket
import subprocess
import sys

import ignite.distributed as idist
import pytest
import torch

from ganbench.builtins import register_builtins
from ganbench.cli import main
from ganbench.distributed import broadcast_module, rows_in_blocks
from ganbench.execution import data_parallel
from ganbench.gan.sampling import SampleSet
from ganbench.metrics.fidelity import feature_extractor, generated_features_of, metric_layers, torch_fidelity_options
from ganbench.metrics.fidelity_inputs import canonical_images
from ganbench.results import ResultsStore
from test_models import build

TOY = ["run", "--suite", "toy", "--budget", "smoke", "--variants", "fc", "--datasets", "ring8", "--seeds", "1",
       "--iterations", "6", "--no-progress"]
CPU = torch.device("cpu")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(**variables: str) -> dict[str, str]:
    """This process's environment for a ganbench command, one thread, no launcher variables of its own."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SLURM_", "RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_"))}
    return {**env, "OMP_NUM_THREADS": "1", **variables}


def wait_all(commands: list[tuple[list[str], dict[str, str]]], timeout: float = 240) -> list[str]:
    """Start every command at once (the ranks of one group), wait for all, return their output."""
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for command, env in commands]
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=timeout)[0])
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output
    return outputs


def losses_and_metrics(folder):
    [record] = ResultsStore(folder).records()
    with open(folder / record["artifacts"]["losses"]) as file:
        rows = list(csv.DictReader(file))
    return record, rows


@pytest.fixture(scope="module")
def spawned(tmp_path_factory):
    """The toy run trained by two processes ganbench spawns itself (--nproc-per-node 2)."""
    out = tmp_path_factory.mktemp("spawned") / "out"
    assert main([*TOY, "--nproc-per-node", "2", "--out", str(out)]) == 0
    return losses_and_metrics(out)


def check_same_run(spawned, out):
    record, rows = losses_and_metrics(out)
    reference, reference_rows = spawned
    assert record["status"] == "finished" and record["config"]["execution"]["processes"] == 2
    assert record["run_id"] == reference["run_id"]
    assert rows == reference_rows  # the same group computation, to the last digit
    assert record["metrics"] == reference["metrics"]


@pytest.mark.slow  # ~30 s with the spawned run (2 cores, load 8): two torchrun agents and two ganbench commands
def test_two_torchrun_nodes_train_the_run_of_two_spawned_processes(spawned, tmp_path):
    """Two torchrun commands with --nnodes 2 --node-rank 0/1 (one process each) on one host."""
    out, port = tmp_path / "out", str(free_port())
    launch = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
              "--master-addr", "127.0.0.1", "--master-port", port]
    outputs = wait_all([([*launch, "--node-rank", str(node), "-m", "ganbench", *TOY, "--out", str(out)],
                         environment()) for node in (0, 1)])
    assert "2 data-parallel processes" in outputs[0] and "ganbench 0.1.0" not in outputs[1]  # rank 0 reports
    check_same_run(spawned, out)


@pytest.mark.slow  # ~25 s: two more ganbench commands
def test_two_srun_tasks_train_the_run_of_two_spawned_processes(spawned, tmp_path):
    """The variables srun sets for 2 tasks on 2 nodes, set by hand; ignite takes the master address
    from the node list and the port from the job id."""
    out, job = tmp_path / "out", str(free_port() - 15000 + 10000)[-4:]
    slurm = {"SLURM_JOB_ID": job, "SLURM_NTASKS": "2", "SLURM_JOB_NUM_NODES": "2", "SLURM_LOCALID": "0",
             "SLURM_JOB_NODELIST": "localhost"}
    outputs = wait_all([([sys.executable, "-m", "ganbench", *TOY, "--out", str(out)],
                         environment(**slurm, SLURM_PROCID=str(rank))) for rank in (0, 1)])
    assert "2 data-parallel processes" in outputs[0]
    check_same_run(spawned, out)


def test_a_launched_command_refuses_its_own_process_count(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main([*TOY, "--nproc-per-node", "2", "--out", str(tmp_path / "o")]) == 2
    error = capsys.readouterr().err
    assert "started by torchrun or srun" in error and "leave out --nproc-per-node" in error
    assert error.count("\n") == 1 and not (tmp_path / "o").exists()


def _weights_after_broadcast() -> list[float]:
    gan, _, _ = build("dcgan", (1, 32, 32))
    with torch.no_grad():
        for parameter in gan.parameters():
            parameter.add_(idist.get_rank())  # the ranks start apart
    before = sum(float(t.double().sum()) for t in gan.state_dict().values())
    broadcast_module(gan)
    after = sum(float(t.double().sum()) for t in gan.state_dict().values())
    return idist.all_gather(torch.tensor([before, after], dtype=torch.float64)).tolist()


COUNTS = (50, 10)  # 50 samples: 4 batches of 16, 2 per rank; 10: one batch, rank 1 idle


def _in_group() -> dict[str, object]:
    return {"weights": _weights_after_broadcast(), "rows": _blocks_of_ranks(7, 2),
            "evaluations": [digest(*_evaluation(count, True)) for count in COUNTS]}


@pytest.fixture(scope="module")
def group():
    """What one group of two gloo processes computed (one spawn for the tests below)."""
    return data_parallel(_in_group, 2, CPU, register_builtins)


def test_rank_zeros_weights_reach_every_rank(group):
    before_0, after_0, before_1, after_1 = group["weights"]
    assert before_0 != before_1  # the ranks started apart ...
    assert after_0 == after_1 == before_0  # ... and hold rank 0's weights after the broadcast


@contextlib.contextmanager
def one_thread():
    """One torch thread inside, the previous count after: a convolution's last bits depend on the
    threads it is split over (as a run's depend on its ``--threads``), and this test process's
    count depends on the tests before it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _evaluation(count: int, distributed: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A tiny DCGAN's evaluation samples (batches of 16) and their LeNet features (batches of 8), on
    one thread in the group's processes and in this one."""
    from test_fidelity import LENET, lenet_weights, settings  # (registers nothing: imported once builtins are)

    with one_thread():
        torch.manual_seed(0)
        gan, _, _ = build("dcgan", (1, 32, 32))
        samples = SampleSet(gan, seed=3, batch_size=16, distributed=distributed).generated(count)
        options = torch_fidelity_options(settings(feature_batch_size=8), LENET, lenet_weights(), cuda=False)
        layers = tuple(sorted(set(metric_layers(options).values())))
        weights = lenet_weights()
        extractor = feature_extractor(LENET.extractor, layers, str(weights.path), weights.sha256, False)
        return samples, generated_features_of(canonical_images(samples, 32), extractor, False, options, distributed)


def digest(samples: torch.Tensor, features: dict[str, torch.Tensor]) -> list[tuple[str, tuple[int, ...], str]]:
    """Shape and sha256 of every tensor's bytes: equal digests are equal tensors, and they travel
    back from a spawned process (whose result pipe would not hold the tensors)."""
    named = [("samples", samples), *sorted(features.items())]
    return [(name, tuple(value.shape), hashlib.sha256(value.contiguous().numpy().tobytes()).hexdigest())
            for name, value in named]


def test_the_group_evaluates_the_samples_and_features_of_one_process(group):
    """50 samples: rank 0 generates batches 1-2, rank 1 batches 3-4 (2 rows); 10 samples: one
    batch, rank 1 has nothing to do. Both give exactly one process's rows."""
    for count, digests in zip(COUNTS, group["evaluations"]):
        single = digest(*_evaluation(count, False))
        assert single[0][1][0] == count and len(single) == 3  # samples, features and logits
        assert digests == single


def _blocks_of_ranks(count: int, block: int) -> list[list[int]]:
    seen = []
    rows = rows_in_blocks(count, block, lambda start, end: (seen.append((start, end)),
                                                            torch.arange(start, end))[1])
    return [rows.tolist(), *idist.all_gather(torch.tensor(seen[0] if seen else (0, 0))).view(-1, 2).tolist()]


def test_rows_are_split_in_whole_blocks_and_gathered_in_order(group):
    rows, rank0, rank1 = group["rows"]
    assert rows == list(range(7)) and rank0 == [0, 4] and rank1 == [4, 7]


@pytest.mark.parametrize("arguments, message", [
    (["--sync-batchnorm", "--nproc-per-node", "2"], "--sync-batchnorm needs CUDA devices"),
    (["--sync-batchnorm"], "give --nproc-per-node 2 or more"),
    (["--dist-timeout", "0"], "--dist-timeout must be a positive number of minutes"),
])
def test_group_option_mistakes_are_one_error_line(arguments, message, tmp_path, capsys):
    assert main([*TOY, "--out", str(tmp_path / "o"), *arguments]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert not (tmp_path / "o").exists()
