"""The results store's cost per completed run in a folder of 10,000 records: storing one record
as each run ends, side by side with rewriting ``records.jsonl`` whole after it (what every
completion did before: O(N) per completion, O(N^2) per matrix), and the one export a command
now ends with. ``comparison``: left out of the speed gate; ``pytest benchmarks/test_store_cost.py
-m comparison`` (``record_per_second`` counts stored records)."""

from __future__ import annotations

import itertools
import json

import pytest

from ganbench.results import RECORD_FILE, ResultsStore

RECORDS = 10_000


def record(run_id: str) -> dict:
    """A record of the size a toy run writes (about 2 kB of JSON: config, provenance, metrics)."""
    return {"run_id": run_id, "suite": "toy", "variant": "fc", "dataset": "ring8", "budget": "smoke", "seed": 0,
            "status": "finished", "config": {"settings": {f"setting_{i}": i * 0.5 for i in range(40)}},
            "provenance": {"started_utc": "2026-12-01T00:00:00Z", "finished_utc": "2026-12-01T00:01:00Z",
                           "software": {f"package_{i}": "1.2.3" for i in range(12)}},
            "metrics": {f"metric_{i}": i / 7 for i in range(20)}, "throughput": {"ms_per_iteration": 39.1},
            "artifacts": {"losses": f"runs/{run_id}/losses.csv"}}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ResultsStore:
    """A folder holding 10,000 records in run folders and exported to ``records.jsonl``."""
    root = tmp_path_factory.mktemp("store")
    for index in range(RECORDS):
        folder = root / "runs" / f"run_{index:05d}"
        folder.mkdir(parents=True)
        (folder / RECORD_FILE).write_text(json.dumps(record(f"run_{index:05d}"), sort_keys=True) + "\n")
    result = ResultsStore(root)
    result.export()
    return result


NEW_IDS = (f"new_{index:06d}" for index in itertools.count())


@pytest.mark.comparison
@pytest.mark.parametrize("path", ["record_and_full_export", "record_only"])
def test_storing_one_record_at_10000_records(benchmark, measure, store, path):
    def store_one():
        store.add(record(next(NEW_IDS)))
        if path == "record_and_full_export":
            store.export()

    benchmark.extra_info.update(items_per_round=1, unit="record", records=RECORDS, path=path)
    measure(store_one, rounds=5)
    assert len(store.records()) > RECORDS


@pytest.mark.comparison
def test_one_export_at_10000_records(benchmark, measure, store):
    benchmark.extra_info.update(items_per_round=1, unit="export", records=RECORDS)
    measure(store.export, rounds=3)
    assert store.records_path.read_text().count("\n") == len(store.records())
