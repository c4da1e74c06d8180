"""What every speed benchmark shares: one torch thread, rates, and machine-normalised times.

- Threads: every case runs with ``torch.set_num_threads(THREADS)`` (1; restored afterwards), stated
  in ``extra_info["threads"]``.
- Rates: a case sets ``extra_info["items_per_round"]`` and ``extra_info["unit"]`` (``img``,
  ``step``, ...); the rate ``<unit>_per_second`` = items / median round time is added here.
- Calibration: around each timed case the calibration kernel (:mod:`ganbench.calibration`: a
  fixed fp32 matmul and conv) runs 5 times before and 5 times after; ``calibration_s`` is the median of those runs, ``calibrated`` the case's
  median round time divided by it (the case's time in calibration units, comparable across
  machines and load), and ``calibration_gflops`` the GFLOP/s the kernel achieved (the calibrated
  peak that FLOP shares are taken against).
- Injected slowdown: with ``GANBENCH_BENCH_SLOWDOWN=1`` every Linear, Conv2d and ConvTranspose2d
  forward runs twice (an extra forward pass), to show that ``python -m benchmarks.gate`` fires.
"""

from __future__ import annotations

import os
import statistics

import pytest
import torch

from ganbench.calibration import CALIBRATION_FLOP, calibration_runs

THREADS = 1


def _twice(forward):
    def forward_twice(self, *args, **kwargs):
        forward(self, *args, **kwargs)
        return forward(self, *args, **kwargs)
    return forward_twice


@pytest.fixture(autouse=True)
def calibrated(request, monkeypatch):
    """One thread, the optional injected slowdown, and the calibration figures of each case."""
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    if os.environ.get("GANBENCH_BENCH_SLOWDOWN") == "1":
        for module in (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d):
            monkeypatch.setattr(module, "forward", _twice(module.forward))
    benchmark = request.getfixturevalue("benchmark") if "benchmark" in request.fixturenames else None
    timed = benchmark is not None and benchmark.enabled
    before = calibration_runs() if timed else []
    try:
        yield
    finally:
        if timed and benchmark.stats is not None:
            runs = before + calibration_runs()
            calibration = statistics.median(runs)
            median = benchmark.stats.stats.median
            info = benchmark.extra_info
            info.update(threads=THREADS, calibration_s=calibration, calibrated=median / calibration,
                        calibration_gflops=CALIBRATION_FLOP / calibration / 1e9)
            if "items_per_round" in info:
                info[f"{info['unit']}_per_second"] = info["items_per_round"] / median
            if "gflop_per_round" in info:
                info["gflops"] = info["gflop_per_round"] / median
                info["peak_share"] = info["gflops"] / info["calibration_gflops"]
        torch.set_num_threads(threads)
