"""What a comparison may put side by side and how it says what its numbers are (issue 22):
one table per protocol key, significance only within one, the power a table has at its seed
counts, undefined values counted in the cell, and no digit beyond what an interval allows."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from ganbench.builtins import register_builtins
from ganbench.cli import main
from ganbench.report.model import build_model
from ganbench.report.cells import cell_text, make_cell
from ganbench.results import ResultsStore
from ganbench.stats import display_precision
from report_records import gan_record

RESULTS = Path(__file__).resolve().parents[1] / "results"
# Four variants whose FIDs are far apart (sd about 0.5, gaps of 10 and more).
SEPARATED = {"dcgan": 20.0, "progan": 35.0, "msggan": 50.0, "fc": 65.0}


def write(root: Path, records: list[dict]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "records.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))


def separated_records(root: Path, seeds: int) -> list[dict]:
    offsets = (0.0, 0.4, -0.3, 0.7, -0.6)
    return [gan_record(root, variant, seed, fid + offsets[seed]) for variant, fid in SEPARATED.items()
            for seed in range(seeds)]


def test_another_backbone_gets_its_own_table_and_is_never_compared(tmp_path):
    records = separated_records(tmp_path, 5)
    for record in records:
        record["metrics"]["fidelity_reference_samples"] = 10000
        if record["variant"] == "msggan":
            # relabelled: inception features against M = 2,000 reference samples; its FIDs the lowest by far
            record["metrics"].update(fidelity_backbone="inception", fidelity_reference_samples=2000,
                                     fidelity_weights_sha256="cd" * 32, fid=record["metrics"]["fid"] - 45)
    write(tmp_path, records)
    assert main(["report", str(tmp_path)]) == 0
    summary = (tmp_path / "summary.md").read_text()
    assert summary.count("Protocol: ") == 2
    assert "FID (lenet, N = 1,000 vs M = 10,000) ↓" in summary
    assert "FID (inception, N = 1,000 vs M = 2,000) ↓" in summary
    pairs = pd.read_csv(tmp_path / "summary_significance.csv")
    assert len(pairs) and "msggan" not in set(pairs["better"]) | set(pairs["worse"])
    assert set(pairs.loc[pairs["metric"] == "fid", "better"]) == {"dcgan", "progan"}  # the three lenet rows
    best = pd.read_csv(tmp_path / "summary.csv").set_index("variant")["fid_best"]
    assert best.to_dict() == {"dcgan": 1, "progan": 0, "msggan": 0, "fc": 0}  # msggan's lower FID is no rival
    latex = (tmp_path / "summary.tex").read_text()
    assert latex.count("Quality of the gan runs") == 2 and "inception" in latex and "lenet" in latex
    assert "lenet, N = 1{,}000 vs M = 10{,}000" in latex and "inception, N = 1{,}000 vs M = 2{,}000" in latex
    assert (tmp_path / "plots" / "compare_gan.png").is_file() and (tmp_path / "plots" / "compare_gan_2.png").is_file()


def test_five_seeds_of_four_separated_variants_bold_the_best(tmp_path):
    write(tmp_path, separated_records(tmp_path, 5))
    assert main(["report", str(tmp_path)]) == 0
    summary = (tmp_path / "summary.md").read_text()
    assert "**20.0 ± 0.6**" in summary and summary.count("**") == 2
    assert "no difference can be significant" not in summary
    pairs = pd.read_csv(tmp_path / "summary_significance.csv")
    fid = pairs[pairs["metric"] == "fid"]
    assert len(fid) == 6 and fid["significant"].all() and (fid["test"] == "exact permutation test").all()
    assert fid["p_holm"].max() == pytest.approx(6 * 2 / 252)  # Holm's factor 6 on the exact minimum 2/252


def test_three_seeds_say_in_the_caption_that_nothing_can_be_significant(tmp_path):
    write(tmp_path, separated_records(tmp_path, 3))
    assert main(["report", str(tmp_path)]) == 0
    note = ("With 3 seeds per row and 4 rows, the smallest Holm-corrected p is 0.6: no difference can be "
            "significant.")
    assert note in (tmp_path / "summary.md").read_text() and "**" not in (tmp_path / "summary.md").read_text()
    assert note in (tmp_path / "summary.tex").read_text() and note in (tmp_path / "report.html").read_text()


def toy_record(variant: str, seed: int, reverse_kl: float | None) -> dict:
    return {"run_id": f"{variant}_ring8_seed{seed}", "kind": "gan", "suite": "toy", "variant": variant,
            "dataset": "ring8", "budget": "quick", "seed": seed, "status": "finished",
            "config": {"seed": seed, "variant": variant, "evaluators": ["coverage"]},
            "metrics": {"reverse_kl": reverse_kl, "coverage_samples": 2500}, "throughput": {}, "artifacts": {},
            "provenance": {"started_utc": "2026-12-01T00:00:00Z", "finished_utc": "2026-12-01T00:01:00Z",
                           "data": {"kind": "points", "name": "ring8"}}}


def test_an_undefined_seed_shows_in_the_cell_and_keeps_the_row_from_best(tmp_path):
    # pacgan's reverse KL is far below vanilla's in the 4 seeds where it is defined (4 vs 5 seeds:
    # p = 2/126, significant), but one seed had no high-quality sample: it is not marked best.
    records = [toy_record("pacgan", seed, None if seed == 2 else 0.10 + 0.01 * seed) for seed in range(5)]
    records += [toy_record("vanilla", seed, 1.0 + 0.01 * seed) for seed in range(5)]
    write(tmp_path, records)
    assert main(["report", str(tmp_path)]) == 0
    summary = (tmp_path / "summary.md").read_text()
    assert "(n = 4 of 5; 1 undefined: no high-quality samples)" in summary
    assert "**" not in summary
    pairs = pd.read_csv(tmp_path / "summary_significance.csv")
    assert pairs["significant"].all() and list(pairs["better"]) == ["pacgan"]
    csv = pd.read_csv(tmp_path / "summary.csv").set_index("variant")
    assert csv.loc["pacgan", "reverse_kl_undefined"] == 1 and csv.loc["pacgan", "reverse_kl_n"] == 4


def _decimals(number: str) -> int:
    return len(number.split(".")[1]) if "." in number else 0


@pytest.mark.parametrize("folder", sorted(p.name for p in RESULTS.iterdir() if (p / "records.jsonl").is_file()))
def test_no_published_cell_prints_more_digits_than_its_interval_allows(folder):
    register_builtins()
    model = build_model(ResultsStore(RESULTS / folder).records())
    checked = 0
    for row in [*model.summary.rows, *(row for table in model.tables for row in table.rows)]:
        for cell in row.cells.values():
            text = cell_text(cell, row.finished)
            assert "± 0" not in text.replace("± 0.", "")  # no zero-width interval: equal values show as exact
            if cell.n < 2 or cell.exact:
                continue
            scale = cell.column.scale if cell.column is not None else 1.0
            allowed = _decimals(display_precision(cell.mean * scale, cell.interval.half_width * scale).split(" ± ")[1])
            numbers = re.findall(r"-?[\d,]*\d(?:\.\d+)?", text.split(" (n = ")[0])
            assert numbers and all(_decimals(number) <= allowed for number in numbers), (folder, cell.key, text)
            checked += 1
    assert checked
    # What the folder publishes is this code's table, and shows no float noise.
    assert (RESULTS / folder / "summary.md").read_text().startswith(model.shown[0].markdown())


def test_a_single_runs_bootstrap_is_labelled_and_not_drawn_as_an_interval_over_seeds(tmp_path):
    register_builtins()
    records = [gan_record(tmp_path, variant, 0, fid) for variant, fid in (("dcgan", 20.0), ("fc", 60.0))]
    for record in records:
        record["metrics"].update(fid_ci_low=record["metrics"]["fid"] - 0.4, fid_ci_high=record["metrics"]["fid"] + 0.5)
    (table,) = build_model(records).tables
    assert table.interval(0, "fid") == (20.0, 20.0, 20.0)  # a point, no bar: the figures draw seed intervals only
    assert cell_text(table.cell(0, "fid"), 1) == "20.0 (N-sampling bootstrap [19.6, 20.5])"


@pytest.mark.parametrize("values, shown", [
    ((1.6314302, 1.6314347, 1.6314321), "1.63143"),  # one image set in three orders: float32 sums
    ((6.690963456000001, 6.690963456000004), "6.690963456"),  # GFLOP per iteration, counted twice
    ((10.0, 10.0, 10.0), "10"),
])
def test_values_equal_up_to_rounding_show_the_digits_they_agree_on(values, shown):
    cell = make_cell("fid", [{"fid": value} for value in values], None)
    assert cell.exact and cell_text(cell, len(values)) == shown


def test_values_that_differ_beyond_rounding_keep_their_interval():
    cell = make_cell("fid", [{"fid": value} for value in (1.6314, 1.6318, 1.6322)], None)
    assert not cell.exact and cell_text(cell, 3) == "1.6318 ± 0.0010"
