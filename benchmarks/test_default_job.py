"""The default job end to end (``ganbench run``: the toy suite's quick budget, fc on ring8 and
grid25, 3 seeds, evaluation, tables, plots and report), in a subprocess with one thread. Slow:
``pytest benchmarks -m slow --benchmark-only``; ``run_per_second`` counts the suite's 6 runs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_default_job(benchmark, measure, tmp_path):
    outputs = (tmp_path / f"out{index}" for index in range(100))
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "GANBENCH_CACHE": str(tmp_path / "cache")}

    def default_job():
        subprocess.run([sys.executable, "-m", "ganbench", "run", "--out", str(next(outputs))], check=True,
                       env=environment, capture_output=True)

    benchmark.extra_info.update(items_per_round=6, unit="run")
    measure(default_job, rounds=1, warmup=False)
    assert (tmp_path / "out0" / "records.jsonl").read_text().count("\n") == 6
