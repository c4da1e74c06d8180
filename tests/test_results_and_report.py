import json
import math
import os
import stat

import pytest
import scipy.stats

from ganbench.errors import UserError
from ganbench.report.display import display_table, frame, table_notes
from ganbench.report.tables import VARIANT_GROUP, summarize
from ganbench.results import ResultsStore, atomic_write_text


def record(run_id, seed, status="finished", modes=8.0):
    return {"run_id": run_id, "suite": "toy", "variant": "fc", "dataset": "ring8", "budget": "smoke", "seed": seed,
            "status": status, "metrics": {"modes_covered": modes}, "throughput": {"ms_per_iteration": 2.0},
            "config": {}, "provenance": {"started_utc": "2026-01-01T00:00:00Z"}, "artifacts": {}}


def test_store_replaces_a_run_and_keeps_the_rest(tmp_path):
    store = ResultsStore(tmp_path)
    store.add(record("a", 0, status="failed"))
    store.add(record("b", 1))
    store.add(record("a", 0))
    assert [r["run_id"] for r in store.records()] == ["a", "b"]  # matrix order (here: run ids), not end order
    assert store.ended_ids() == {"a", "b"}
    assert not list(tmp_path.glob(".*.tmp"))


def test_failed_runs_are_retried(tmp_path):
    store = ResultsStore(tmp_path)
    store.add(record("a", 0, status="failed"))
    store.add(record("b", 0, status="diverged"))
    assert store.ended_ids() == {"b"}


def test_corrupt_records_file_is_a_clear_error(tmp_path):
    (tmp_path / "records.jsonl").write_text(json.dumps(record("a", 0)) + "\n{broken\n")
    with pytest.raises(UserError, match="records.jsonl line 2 is not valid JSON"):
        ResultsStore(tmp_path).records()


@pytest.mark.parametrize(("line", "problem"), [
    ("[1, 2, 3]", "it is an array, not a JSON object"),
    ('"text"', "it is a string, not a JSON object"),
    ('{"foo": 1}', "missing 'run_id', 'suite'"),
    (json.dumps({**record("b", 0), "seed": "zero"}), "'seed' is not an integer"),
    (json.dumps({**record("b", 0), "seed": True}), "'seed' is not an integer"),
    (json.dumps({**record("b", 0), "status": "done"}), "status 'done' is not one of finished, diverged, failed"),
    (json.dumps({**record("b", 0), "metrics": []}), "'metrics' is not an object"),
    (json.dumps({**record("b", 0), "provenance": {}}), "'provenance' has no 'started_utc' string"),
    (json.dumps({**record("b", 0), "artifacts": {"losses": 3}}), "an artifact path is not a string"),
])
def test_a_line_that_is_not_a_record_is_a_clear_error(tmp_path, line, problem):
    (tmp_path / "records.jsonl").write_text(json.dumps(record("a", 0)) + "\n\n" + line + "\n")
    with pytest.raises(UserError) as error:
        ResultsStore(tmp_path).records()
    assert str(error.value).startswith(f"{tmp_path / 'records.jsonl'} line 3 is not a ganbench record ({problem}")
    assert str(error.value).endswith("; fix or remove that line")


def test_records_that_are_not_utf8_or_a_folder_are_clear_errors(tmp_path):
    (tmp_path / "records.jsonl").write_bytes(json.dumps(record("a", 0)).encode() + b"\n\xff\xfe\n")
    with pytest.raises(UserError, match="records.jsonl line 2 is not valid JSON"):
        ResultsStore(tmp_path).records()
    (tmp_path / "records.jsonl").unlink()
    (tmp_path / "records.jsonl").mkdir()
    with pytest.raises(UserError, match=r"records.jsonl is not a file \(a folder\?\); move it away"):
        ResultsStore(tmp_path).records()


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "f.txt"
    path.write_text("old")

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]


def test_written_files_are_readable_as_the_umask_allows(tmp_path):
    umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "report.md", "text")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "report.md").stat().st_mode) == 0o644


def test_summary_is_mean_std_and_t_interval_over_finished_seeds():
    records = [record("a", 0, modes=6.0), record("b", 1, modes=8.0), record("c", 2, status="diverged", modes=0.0),
               record("d", 3, modes=7.0)]
    summary = summarize(records)
    row = frame(summary).iloc[0]
    assert row["modes_covered_mean"] == 7.0
    assert row["modes_covered_std"] == pytest.approx(1.0)
    assert row["modes_covered_n"] == 3
    half = scipy.stats.t.ppf(0.975, 2) / math.sqrt(3)  # 2.484
    assert (row["modes_covered_ci_low"], row["modes_covered_ci_high"]) == pytest.approx((7 - half, 7 + half))
    assert (row["runs"], row["finished"], row["diverged"]) == (4, 3, 1)
    table = display_table(summary)
    assert table.loc[0, "runs"] == "3/4 (1 diverged)"
    assert table.loc[0, "modes ↑"] == "7 ± 2"  # 2.48 has one significant digit


def test_single_seed_has_no_interval():
    summary = summarize([record("a", 0, modes=5.0), {**record("b", 0, modes=5.5), "dataset": "grid25"}])
    table = display_table(summary)
    assert list(table["modes ↑"]) == ["5", "5.50"]
    assert math.isnan(frame(summary).loc[0, "modes_covered_ci_low"])
    assert "A single run has no interval over seeds" in "\n".join(table_notes(summary))


def test_variant_summary_pools_every_dataset_of_a_variant():
    records = [record("a", 0, modes=6.0), {**record("b", 0, modes=8.0), "dataset": "grid25"},
               {**record("c", 0, modes=1.0), "variant": "dcgan"}]
    summary = frame(summarize(records, VARIANT_GROUP))
    assert list(summary["variant"]) == ["fc", "dcgan"]
    assert "dataset" not in summary
    assert list(summary["modes_covered_mean"]) == [7.0, 1.0]
    table = display_table(summarize(records, VARIANT_GROUP))
    assert list(table.columns[:4]) == ["suite", "variant", "budget", "runs"]
    # 7 ± 13 would reach below 0 modes: the interval is shown clipped to the count's range
    assert list(table["modes ↑"]) == ["7 [0, 20]", "1"]
