"""Comparisons in the summary: one row per configuration, intervals over seeds, and pairwise
significance of headline metrics (`summary_significance.csv`, bold best entries)."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from ganbench.cli import main
from test_report_regeneration import check_report_regenerates
from ganbench.report.display import display_significance, display_table, frame
from ganbench.report.tables import summarize
from test_statistics import doubled_one_sided_p


def record(variant, dataset, seed, config=None, **metrics):
    config = {"seed": seed, "variant": variant, "dataset": dataset, "iterations": 100,
              "settings": {"lr_d": 2e-4, "batch_size": 64}, **(config or {})}
    return {"run_id": f"{variant}_{dataset}_seed{seed}_{json.dumps(config, sort_keys=True)}", "kind": "gan",
            "suite": "toy", "variant": variant, "dataset": dataset, "budget": "smoke", "seed": seed,
            "status": "finished", "config": config, "metrics": metrics, "throughput": {}, "artifacts": {},
            "provenance": {"started_utc": "2026-12-01T00:00:00Z", "finished_utc": "2026-12-01T00:01:00Z"}}


def test_runs_of_other_settings_are_rows_of_their_own_that_say_what_differs():
    records = [record("fc", "ring8", seed, modes_covered=8.0) for seed in (0, 1)]
    records += [record("fc", "ring8", seed, {"settings": {"lr_d": 1.0, "batch_size": 64}}, modes_covered=1.0)
                for seed in (0, 1)]
    records.append(record("fc", "ring8", 0, {"iterations": 5}, modes_covered=3.0))
    table = summarize(records)
    assert [row.cells["modes_covered"].values for row in table.rows] == [(8.0, 8.0), (1.0, 1.0), (3.0,)]
    shown = display_table(table)
    assert list(shown["settings"]) == ["iterations=100, lr_d=0.0002", "iterations=100, lr_d=1.0",
                                       "iterations=5, lr_d=0.0002"]
    assert list(shown["modes ↑"]) == ["8", "1", "3"]  # equal in every seed: exact, no "± 0"
    # Different seeds of one configuration stay one row; a lone configuration has no settings column.
    alone = display_table(summarize([record("fc", "ring8", seed, modes_covered=8.0) for seed in (0, 1, 2)]))
    assert len(alone) == 1 and "settings" not in alone


@pytest.fixture(scope="module")
def two_configurations(tmp_path_factory):
    """One output folder with two configurations of fc on ring8 (lr_d default 1e-4, and 3e-4)."""
    out = tmp_path_factory.mktemp("configurations") / "toy"
    common = ["run", "--budget", "smoke", "--seeds", "1", "--datasets", "ring8", "--iterations", "3", "--out",
              str(out), "--no-progress", "--set", "eval.every=0"]
    assert main(common) == 0
    assert main([*common, "--set", "fc.lr_d=3e-4"]) == 0
    return out


def test_two_configurations_run_from_the_command_line_are_two_rows(two_configurations):
    out = two_configurations
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 2
    assert sorted(summary["settings"]) == ["lr_d=0.0001", "lr_d=0.0003"]
    assert list(summary["finished"]) == [1, 1]
    assert "lr_d=0.0003" in (out / "summary.md").read_text()
    # Each configuration gets its own plots; the first run's plot of a lone configuration is gone.
    plots = sorted(path.name for path in (out / "plots").glob("losses_*.png"))
    assert plots == sorted(f"losses_fc_ring8_smoke_{config}.png" for config in summary["configuration"])


@pytest.mark.slow  # a fresh `ganbench report` process: 35 s on a loaded 2-core machine
def test_a_folder_of_two_configurations_regenerates_as_written(two_configurations):
    check_report_regenerates(two_configurations)


def write_records(folder, records):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_report_calls_separated_variants_different_and_one_distribution_not(tmp_path):
    # Ten draws of one normal distribution (mean 5, sd 1), dealt alternately to a and b; two
    # clearly separated groups (means 7 and 2, sd 0.3).
    same = np.array([5.63, 4.12, 5.95, 4.41, 3.88, 5.22, 6.31, 4.87, 5.09, 4.56])
    same_a, same_b = same[0::2], same[1::2]
    far_a, far_b = np.array([7.2, 6.8, 7.4, 6.9, 7.1]), np.array([2.3, 1.8, 2.1, 2.4, 1.9])
    records = []
    for seed in range(5):
        records += [record("a", "ring8", seed, modes_covered=float(same_a[seed])),
                    record("b", "ring8", seed, modes_covered=float(same_b[seed])),
                    record("a", "grid25", seed, modes_covered=float(far_a[seed])),
                    record("b", "grid25", seed, modes_covered=float(far_b[seed]))]
    write_records(tmp_path, records)
    assert main(["report", str(tmp_path)]) == 0
    pairs = pd.read_csv(tmp_path / "summary_significance.csv").set_index("dataset")
    same, far = pairs.loc["ring8"], pairs.loc["grid25"]
    assert not same["significant"] and same["p_holm"] > 0.05
    assert same["p_value"] == pytest.approx(doubled_one_sided_p(same_a, same_b))
    assert far["significant"] and (far["better"], far["worse"]) == ("a", "b")
    assert far["test"] == "exact permutation test" and far["p_holm"] == pytest.approx(far["p_value"])  # one pair
    assert far["p_value"] == pytest.approx(2 / 252)
    assert far["difference"] == pytest.approx(far_a.mean() - far_b.mean())
    summary = pd.read_csv(tmp_path / "summary.csv").set_index(["dataset", "variant"])
    assert summary.loc[("grid25", "a"), "modes_covered_best"] == 1
    assert summary["modes_covered_best"].sum() == 1
    markdown = (tmp_path / "summary.md").read_text()
    assert markdown.count("**") == 2  # the one significantly best entry is bold
    report = (tmp_path / "report.md").read_text()
    assert "## Significance" in report and "exact permutation test" in report
    assert r"\textbf{" in (tmp_path / "summary.tex").read_text()


def test_three_seeds_a_side_are_never_significant_and_get_no_mark(tmp_path):
    records = [record(variant, "ring8", seed, modes_covered=value + seed * 0.01)
               for variant, value in (("a", 8.0), ("b", 1.0)) for seed in range(3)]
    table = summarize(records)
    (item,) = table.significance
    assert item.pair.test == "exact permutation test"
    assert item.pair.p_value == pytest.approx(0.1)  # 2 / C(6, 3): the smallest p three seeds can give
    assert not item.pair.significant
    assert all(cell.mark == "" for row in table.rows for cell in row.cells.values())


def test_holm_corrects_across_the_pairs_of_a_dataset():
    values = {"a": [9.0, 9.1, 8.9, 9.05, 8.95], "b": [5.0, 5.2, 4.8, 5.1, 4.9], "c": [5.1, 5.3, 4.9, 5.0, 5.2]}
    records = [record(v, "ring8", seed, reverse_kl=x) for v, xs in values.items() for seed, x in enumerate(xs)]
    table = summarize(records)
    rows = {(s.pair.label_a, s.pair.label_b): s.pair for s in table.significance}
    assert set(rows) == {("b", "c"), ("b", "a"), ("c", "a")}  # lower reverse KL is better: b ranks first
    raw = {pair: doubled_one_sided_p(values[pair[0]], values[pair[1]]) for pair in rows}
    order = sorted(raw, key=raw.get)
    expected = {}
    running = 0.0
    for rank, pair in enumerate(order):
        running = max(running, min(1.0, (3 - rank) * raw[pair]))
        expected[pair] = running
    for pair, row in rows.items():
        assert row.p_holm == pytest.approx(expected[pair])
    # b is not significantly better than c, so no entry is marked best.
    assert not rows[("b", "c")].significant and all(row.cells["reverse_kl"].mark == "" for row in table.rows)


def test_single_seed_cells_show_the_runs_own_interval_or_spread():
    records = [record("a", "mnist", 0, fid=298.4904, fid_ci_low=297.91, fid_ci_high=299.33, fidelity_samples=5000.0,
                      kid_mean=4862.0659, kid_std=301.35),
               record("b", "mnist", 0, fid=124.0, kid_mean=0.048123, kid_std=0.0031)]
    table = summarize(records)
    shown = display_table(table)
    # The bootstrap says what it covers: the sampling of N generated images, not seeds.
    assert list(shown["FID (N = 5,000) ↓"]) == ["298.5 (N-sampling bootstrap [297.9, 299.3])", "124"]
    assert list(shown["KID ×10³ (N = 5,000) ↓"]) == ["4,900,000 (sd 300,000)", "48 (sd 3)"]
    csv = frame(table)
    assert "fid_ci_low_mean" not in csv  # the bounds belong to the FID cell
    assert list(csv["fid_run_ci_low"][:1]) == [297.91] and math.isnan(csv["fid_run_ci_low"][1])


def test_pairs_name_configurations_by_variant_and_the_settings_that_differ():
    records = [record("fc", "ring8", seed, modes_covered=8.0 - seed * 0.1) for seed in range(5)]
    records += [record("fc", "ring8", seed, {"settings": {"lr_d": 1.0, "batch_size": 64}},
                       modes_covered=1.0 + seed * 0.1) for seed in range(5)]
    records += [record("dcgan", "ring8", seed, modes_covered=5.0 + seed * 0.1) for seed in range(5)]
    table = summarize(records)
    assert [row.label for row in table.rows] == ["fc [lr_d=0.0002]", "fc [lr_d=1.0]", "dcgan"]
    pairs = [(s.pair.label_a, s.pair.label_b, s.pair.significant) for s in table.significance]
    assert pairs == [("fc [lr_d=0.0002]", "dcgan", True), ("fc [lr_d=0.0002]", "fc [lr_d=1.0]", True),
                     ("dcgan", "fc [lr_d=1.0]", True)]
    assert [row.cells["modes_covered"].mark for row in table.rows] == ["best", "", ""]


def test_configurations_of_one_variant_and_dataset_sit_together():
    records = [record("fc", "ring8", 0, modes_covered=8.0), record("fc", "grid25", 0, modes_covered=20.0),
               record("fc", "ring8", 0, {"iterations": 5}, modes_covered=3.0)]
    table = summarize(records)
    assert [(row.identity["dataset"], row.settings_text) for row in table.rows] == [
        ("ring8", "iterations=100"), ("ring8", "iterations=5"), ("grid25", "")]


def test_fid_at_different_sample_counts_is_never_compared():
    records = [record(v, "mnist", seed, fid=value + seed * 0.1, fidelity_samples=samples)
               for v, value, samples in (("a", 10.0, 5000.0), ("b", 20.0, 5000.0), ("c", 5.0, 1000.0))
               for seed in range(5)]
    table = summarize(records)
    assert [(s.pair.label_a, s.pair.label_b, s.samples) for s in table.significance] == [("a", "b", 5000.0)]
    assert [row.cells["fid"].mark for row in table.rows] == ["best", "", ""]
    shown = display_significance(table)
    assert list(shown["metric"]) == ["FID (N = 5,000) ↓"]
