"""What every speed benchmark shares: one torch thread, rates, and machine-normalised times.

- Threads: every case runs with ``torch.set_num_threads(THREADS)`` (1; restored afterwards), stated
  in ``extra_info["threads"]``.
- Timing: cases time their work with the ``measure`` fixture, which runs it in single-call
  rounds (``ROUND_SECONDS`` of them in all, at least ``MIN_ROUNDS``) and, before each round, the
  calibration kernel of :mod:`ganbench.calibration` (a fixed fp32 matmul and conv, untimed by
  pytest-benchmark, timed here).
- Calibrated time: ``extra_info["calibrated"]`` is the median over rounds of round time / the
  calibration time just before it: the case's time in calibration units, which follows the load
  of a busy machine round by round and compares across machines of a kind.
  ``calibration_s`` is the calibration kernel's median time and ``calibration_gflops`` the GFLOP/s
  it achieved (the calibrated peak that FLOP shares are taken against).
- Rates: a case sets ``extra_info["items_per_round"]`` and ``extra_info["unit"]`` (``img``,
  ``step``, ...); ``<unit>_per_second`` = items / median round time is added here, and with
  ``extra_info["gflop_per_round"]`` the achieved ``gflops`` and their ``peak_share``.
- Injected slowdown: with ``GANBENCH_BENCH_SLOWDOWN=1`` every Linear, Conv2d and ConvTranspose2d
  forward runs twice (an extra forward pass), to show that ``python -m benchmarks.gate`` fires.
"""

from __future__ import annotations

import os
import statistics
import time

import pytest
import torch

from ganbench.calibration import CALIBRATION_FLOP, calibration_kernel

THREADS = 1
ROUND_SECONDS = 1.5
MIN_ROUNDS, MAX_ROUNDS = 3, 60


def _twice(forward):
    def forward_twice(self, *args, **kwargs):
        forward(self, *args, **kwargs)
        return forward(self, *args, **kwargs)
    return forward_twice


@pytest.fixture
def measure(benchmark):
    """``measure(function, *args, rounds=None, warmup=True)``: times ``function(*args)`` with
    pytest-benchmark in single-call rounds, each after one timed run of the calibration kernel;
    returns its result. ``rounds`` defaults to what fills ``ROUND_SECONDS`` (from the untimed
    warm-up call; ``warmup=False`` skips it when ``rounds`` is given)."""
    calibrations: list[float] = []

    def run(function, *args, rounds: int | None = None, warmup: bool = True):
        if not benchmark.enabled:
            return benchmark(function, *args)
        if warmup or rounds is None:
            start = time.perf_counter()
            function(*args)  # warm-up, and how long one call takes
            once = time.perf_counter() - start + calibration_kernel()
        if rounds is None:
            rounds = max(MIN_ROUNDS, min(MAX_ROUNDS, int(ROUND_SECONDS / once)))
        result = benchmark.pedantic(lambda: function(*args), setup=lambda: calibrations.append(calibration_kernel()),
                                    rounds=rounds)
        times = benchmark.stats.stats.data
        info = benchmark.extra_info
        calibration = statistics.median(calibrations)
        info.update(threads=THREADS, rounds=rounds, calibration_s=calibration,
                    calibrated=statistics.median(t / c for t, c in zip(times, calibrations)),
                    calibration_gflops=CALIBRATION_FLOP / calibration / 1e9)
        median = statistics.median(times)
        if "items_per_round" in info:
            info[f"{info['unit']}_per_second"] = info["items_per_round"] / median
        if "gflop_per_round" in info:
            info["gflops"] = info["gflop_per_round"] / median
            info["peak_share"] = info["gflops"] / info["calibration_gflops"]
        return result

    return run


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """One torch thread, and the optional injected slowdown."""
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    if os.environ.get("GANBENCH_BENCH_SLOWDOWN") == "1":
        for module in (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d):
            monkeypatch.setattr(module, "forward", _twice(module.forward))
    yield
    torch.set_num_threads(threads)
