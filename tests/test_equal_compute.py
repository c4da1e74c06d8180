"""Equal compute: budgets that give every variant the same training images, the metric history
against images seen and training seconds in the record, and the report's tables at equal images
seen and at equal training seconds."""

import json
import math

import pytest
import scipy.stats

from ganbench.budgets import Budget
from ganbench.cli import main
from ganbench.gan.report import equal_compute_tables, value_at
from ganbench.gan.suites import EQUAL_IMAGES, MNIST
from ganbench.runs import RunRequest


def read_records(out):
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


def test_a_budget_in_images_sets_iterations_from_the_batch():
    budget = Budget(images=19_200)
    assert budget.iterations_for(None, 64) == 300
    assert budget.iterations_for(None, 32) == 600
    # A member's own length where the budget names its schedule; the budget's length otherwise.
    paper = Budget(images=19_200, lengths="paper")
    assert paper.iterations_for({"paper": 5}, 64) == 5
    assert paper.iterations_for({"quick": 5}, 64) == 300
    assert Budget(iterations=7, lengths="paper").iterations_for({}, 64) == 7


SMALL_REFERENCE = {"eval": {"kid_subset_size": "100"}}  # the synthetic split has 600 images


def test_mnist_equal_gives_every_variant_the_same_images_and_5_seeds(synthetic_mnist):
    runs = MNIST.plan(RunRequest(budget="equal", data_root=str(synthetic_mnist), overrides=SMALL_REFERENCE))
    assert len(runs) == 20 and {run.seed for run in runs} == {0, 1, 2, 3, 4}
    for run in runs:
        assert run.iterations * run.settings["batch_size"] * run.settings["n_critic"] == EQUAL_IMAGES, run.variant
        assert run.evaluation["every"] == 75
    # A changed batch keeps the images: half the batch, twice the iterations.
    (progan,) = {run.iterations for run in MNIST.plan(RunRequest(
        budget="equal", variants=("progan",), overrides={"progan": {"batch_size": "32"}, **SMALL_REFERENCE},
        data_root=str(synthetic_mnist)))}
    assert progan == 600
    # standard: the same images for every variant too (dcgan's batch 128 halves its iterations).
    standard = {run.variant: run.iterations * run.settings["batch_size"]
                for run in MNIST.plan(RunRequest(budget="standard", seeds=1, data_root=str(synthetic_mnist),
                                                    overrides=SMALL_REFERENCE))}
    assert set(standard.values()) == {1_280_000}


def history(points):
    """Rows of a metric history: (images_seen, train_seconds, fid)."""
    return [{"iteration": i + 1, "images_seen": n, "train_seconds": s, "fid": f} for i, (n, s, f) in enumerate(points)]


def record(variant, seed, points, lr=2e-4):
    return {"status": "finished", "variant": variant, "dataset": "mnist", "budget": "equal", "seed": seed,
            "config": {"variant": variant, "seed": seed, "settings": {"lr_d": lr}}, "metric_history": history(points)}


def test_value_at_interpolates_and_carries_forward_only_when_asked():
    rows = history([(100, 1.0, 10.0), (200, 3.0, 6.0)])
    assert value_at(rows, "images_seen", "fid", 150, False) == (8.0, False)
    assert value_at(rows, "train_seconds", "fid", 2.5, True) == (7.0, False)
    assert value_at(rows, "images_seen", "fid", 50, False) == (None, False)
    assert value_at(rows, "images_seen", "fid", 300, False) == (None, False)
    assert value_at(rows, "train_seconds", "fid", 9.0, True) == (6.0, True)


def test_tables_at_equal_images_and_equal_seconds_by_hand():
    records = [
        record("fast", 0, [(100, 1.0, 10.0), (200, 2.0, 6.0)]),
        record("fast", 1, [(100, 2.0, 12.0), (200, 4.0, 8.0)]),
        record("slow", 0, [(100, 10.0, 20.0), (200, 20.0, 14.0)]),
        record("slow", 1, [(100, 10.0, 22.0), (200, 20.0, 14.0)]),
    ]
    text = "\n".join(equal_compute_tables(records))
    t = scipy.stats.t.ppf(0.975, 1)
    # fast at 100 images: 10 and 12, mean 11, half-width t * std / sqrt(2) = t * 1 = 12.7 -> 11 ± 13,
    # which crosses FID's bound 0: shown clipped, 11 [0, 24].
    assert round(t * math.sqrt(2) / math.sqrt(2), 1) == 12.7
    # The plateau rule on the last two points: fast moves 11 -> 7, inside both half-widths (13);
    # slow moves 21 -> 14, outside the last point's zero width (both seeds gave 14: exact, no ± 0).
    assert "| fast on mnist (equal) | 2 | 11 [0, 24] | 7 [0, 20] | yes (-4 within ± 13) |" in text
    assert "| slow on mnist (equal) | 2 | 21 ± 13 | 14 | no (-7 outside ± 0) |" in text
    assert "### FID on mnist at equal images seen" in text and "at evaluation points every run shares" in text
    # Seconds: grid 5, 10, 15, 20 (quarters of the longest run). Both fast runs ended before 5 s:
    # their last values 6 and 8 are carried (†); slow has no evaluation before 10 s.
    assert "| 5 s | 10 s | 15 s | 20 s |" in text
    assert "| fast on mnist (equal) | 2 | 7 [0, 20] † | 7 [0, 20] † | 7 [0, 20] † | 7 [0, 20] † |" in text
    # slow at 15 s: halfway, 17 and 18: mean 17.5, half-width t * 0.707 / 1.414 = 6.35 -> 18 ± 6.
    assert "| slow on mnist (equal) | 2 | – | 21 ± 13 | 18 ± 6 | 14 |" in text
    # Another configuration of a variant is its own row, never averaged with the first.
    other = "\n".join(equal_compute_tables([*records, record("slow", 0, [(100, 10.0, 50.0), (200, 20.0, 40.0)], 1e-3)]))
    assert "| slow on mnist (equal) [lr_d=0.0002] | 2 | 21 ± 13 | 14 | no (-7 outside ± 0) |" in other
    assert "| slow on mnist (equal) [lr_d=0.001] | 1 | 50 | 40 | undecided: one seed" in other


def test_configurations_under_different_protocols_get_separate_tables():
    def measured(variant, seed, backbone):
        run = record(variant, seed, [(100, 1.0, 10.0 + seed), (200, 2.0, 6.0 + seed)])
        run["metrics"] = {"fidelity_backbone": backbone, "fidelity_samples": 500, "fidelity_reference_samples": 600}
        return run

    text = "\n".join(equal_compute_tables([measured("a", s, "lenet") for s in (0, 1)]
                                          + [measured("b", s, "inception") for s in (0, 1)]))
    assert text.count("### FID (lenet, N = 500 vs M = 600) on mnist at equal images seen") == 1
    assert text.count("### FID (inception, N = 500 vs M = 600) on mnist at equal images seen") == 1
    lenet = text.split("### FID (lenet")[1].split("###")[0]
    assert "| a on mnist (equal) |" in lenet and "| b on mnist" not in lenet
    assert "Protocol: budget equal; fidelity: lenet, N = 500 vs M = 600." in lenet


def test_a_run_logs_its_metric_history_against_images_and_seconds(tmp_path):
    out = tmp_path / "out"
    assert main(["run", "--budget", "smoke", "--seeds", "2", "--datasets", "ring8", "--set", "eval.every=20",
                 "--out", str(out), "--no-progress"]) == 0
    for run in read_records(out):
        rows = run["metric_history"]
        assert [row["iteration"] for row in rows] == [20, 40, 60]
        assert [row["images_seen"] for row in rows] == [2000, 4000, 6000]  # batch 100
        seconds = [row["train_seconds"] for row in rows]
        assert 0 < seconds[0] < seconds[1] < seconds[2] == pytest.approx(run["train_seconds"])
        assert run["images_seen"] == 6000
        assert rows[-1]["reverse_kl_all"] == run["metrics"]["reverse_kl_all"]
    report = (out / "report.md").read_text()
    assert "## At equal images seen and equal training seconds" in report and "at equal training seconds" in report
    assert "Machine load (1-minute load average at the runs' starts and ends): " in report  # from their provenance


def test_a_suite_without_an_equal_budget_says_which_it_has(tmp_path, capsys):
    assert main(["run", "--suite", "toy", "--budget", "equal", "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error == ["ganbench: error: unknown budget 'equal'; choose one of: smoke, quick, standard, paper"]
    assert not (tmp_path / "o").exists()
