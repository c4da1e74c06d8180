"""Equal treatment of the image suites' variants: a budget by training FLOPs trains every variant
for the same GFLOP within one iteration (by the FLOPs its records count), every variant is
evaluated from its live G and from an EMA of G, and FID-infinity is the recorded headline FID."""

import json
from dataclasses import replace

import pytest

from ganbench.builtins import register_builtins
from ganbench.cli import main
from ganbench.gan.run import iterations_for_gflop, training_gflop
from ganbench.gan.suites import MNIST
from ganbench.gan.variants.progan import ProGAN
from ganbench.runs import SUITES

SMOKE_GFLOP = 6.0  # smoke networks: fc ~720 iterations, dcgan ~52, msggan 3, progan 4


def read_records(out):
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


@pytest.fixture
def flops_suite():
    """The mnist suite with its equal-flops budget at smoke size, registered for one test."""
    register_builtins()
    smoke = MNIST.budgets["smoke"]
    budget = replace(MNIST.budgets["equal-flops"], gflop=SMOKE_GFLOP, scale="smoke", settings={}, seeds=1,
                     evaluation={**smoke.evaluation, "fid_infinity": 0, "fid_bootstrap": 0})
    suite = replace(MNIST, name="mnist-flops-test", budgets={**MNIST.budgets, "equal-flops": budget})
    SUITES.add(suite.name, suite)
    yield suite.name
    SUITES.remove(suite.name)


def test_equal_flops_trains_every_variant_for_the_same_gflop_within_one_iteration(flops_suite, shared_data,
                                                                                  tmp_path):
    out = tmp_path / "flops"
    assert main(["run", "--suite", flops_suite, "--budget", "equal-flops", "--data-root", str(shared_data),
                 "--split", "test", "--out", str(out), "--no-progress"]) == 0
    records = read_records(out)
    assert sorted(r["variant"] for r in records) == sorted(MNIST.variants)
    iterations = set()
    for record in records:
        assert record["status"] == "finished", record.get("error")
        assert record["gflop_budget"] == SMOKE_GFLOP
        done, per_iteration = record["throughput"]["train_gflop"], record["throughput"]["train_gflop_per_iteration"]
        # within one iteration (ProGAN's costliest, a fade-in at the finest level, exceeds its
        # final stable iteration by less than 0.1 %)
        assert abs(done - SMOKE_GFLOP) <= 1.001 * per_iteration, record["variant"]
        iterations.add(record["iterations_done"])
    assert len(iterations) == len(records)  # unequal lengths: their costs differ


def test_iterations_for_gflop_come_within_one_iteration():
    class Growing:  # ProGAN's schedule of 4 resolutions with its cost states
        sizes = [4, 8, 16, 32]
        cost_groups = ProGAN.cost_groups

    costs = {(0, False): 1.5, (1, True): 12.4, (1, False): 12.4, (2, True): 41.4, (2, False): 41.4,
             (3, True): 70.45, (3, False): 70.43}
    for gflop in [1, 50, 333.3, 1000, 6500, 12_345.6, 100_000]:
        n = iterations_for_gflop(Growing(), costs, gflop)
        assert abs(training_gflop(Growing(), costs, n) - gflop) <= max(costs.values()), gflop

    class Constant:
        cost_groups = ProGAN.__mro__[1].cost_groups  # GAN's: one state

    for gflop in [0.5, 6.69, 1000, 6500]:
        n = iterations_for_gflop(Constant(), {(): 6.69}, gflop)
        assert n == max(1, round(gflop / 6.69))


def test_every_variant_is_evaluated_live_and_from_its_ema_with_fid_infinity(shared_data, tmp_path):
    out = tmp_path / "smoke"
    assert main(["run", "--suite", "mnist", "--budget", "smoke", "--data-root", str(shared_data), "--split", "test",
                 "--out", str(out), "--no-progress"]) == 0
    records = read_records(out)
    assert sorted(r["variant"] for r in records) == sorted(MNIST.variants)
    for record in records:
        metrics = record["metrics"]
        assert record["samples_from"] == "live + ema 0.999"
        for key in ("fid", "fid_infinity", "precision", "recall", "classes_covered", "class_kl"):
            assert key in metrics and f"ema_{key}" in metrics, (record["variant"], key)
        assert metrics["ema_fid"] != metrics["fid"]  # the EMA's own samples
        points = metrics["fid_infinity_points"]
        assert [n for n, _ in points][::7] == [100, 300, 500] and len(points) == 15
        assert points[-1][1] == pytest.approx(metrics["fid"], rel=1e-6)
        assert isinstance(metrics["fid_infinity_slope"], float)
        assert "ema_sample_grid" in record["artifacts"] and (out / record["artifacts"]["ema_sample_grid"]).is_file()
        assert len(record["provenance"]["load_start"]) == 3 and len(record["provenance"]["load_end"]) == 3


def test_fid_infinity_is_skipped_with_a_reason_where_n_is_too_small():
    import torch

    from ganbench.metrics.feature_metrics import fid_uncertainty

    generator = torch.Generator().manual_seed(0)
    reference = torch.randn(2000, 84, generator=generator, dtype=torch.float64)
    small = fid_uncertainty(torch.randn(400, 84, generator=generator, dtype=torch.float64), reference, 0, 15, 0)
    assert "fid_infinity" not in small and "84 feature dimensions" in small["fid_infinity_skipped"]
    enough = fid_uncertainty(torch.randn(425, 84, generator=generator, dtype=torch.float64), reference, 0, 15, 0)
    assert "fid_infinity_skipped" not in enough and len(enough["fid_infinity_points"]) == 15


def test_planned_iterations_are_cached_on_disk_by_configuration_and_code(synthetic_mnist, tmp_path, monkeypatch):
    from ganbench.data import DataOptions, load_dataset
    from ganbench.gan import run as gan_run
    from ganbench.gan.model import VARIANTS

    register_builtins()
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    dataset = load_dataset("mnist", DataOptions(data_root=str(synthetic_mnist), image_size=32))
    settings = VARIANTS.get("dcgan").settings
    smoke = {**{name: s.default for name, s in settings.items()}, **VARIANTS.get("dcgan").scale("smoke")}
    counted = gan_run.planned_iterations_for_gflop("dcgan", smoke, dataset, SMOKE_GFLOP)
    assert len(list((tmp_path / "cache" / "flops").glob("*.json"))) == 1
    monkeypatch.setattr(gan_run, "_PLANNED_ITERATIONS", {})  # a new process: only the disk remembers

    def no_counting(*args, **kwargs):
        raise AssertionError("counted again although the count was cached")

    monkeypatch.setattr(gan_run, "state_gflops", no_counting)
    assert gan_run.planned_iterations_for_gflop("dcgan", smoke, dataset, SMOKE_GFLOP) == counted
    with pytest.raises(AssertionError, match="counted again"):  # another configuration is counted
        gan_run.planned_iterations_for_gflop("dcgan", {**smoke, "batch_size": 8}, dataset, SMOKE_GFLOP)
