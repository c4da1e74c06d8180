"""What every speed benchmark shares: one torch thread, rates, and machine-normalised times.

- Threads: every case runs with ``torch.set_num_threads(THREADS)`` (1; restored afterwards) and
  the BLAS/OpenMP pools of numpy and scipy limited to as many (threadpoolctl), stated in
  ``extra_info["threads"]``.
- Timing: cases time their work with the ``measure`` fixture, which runs it in single-call
  rounds (``ROUND_SECONDS`` of them in all, at least ``MIN_ROUNDS``) and, before each round, the
  calibration kernel of :mod:`ganbench.calibration` (a fixed fp32 matmul and conv, untimed by
  pytest-benchmark). pytest-benchmark's statistics are wall time; each round and each
  calibration is also timed in CPU seconds of the process (and its children).
- Calibrated time: ``extra_info["calibrated"]`` = median CPU seconds of a round / median CPU
  seconds of the calibration kernel (``cpu_s`` / ``calibration_s``). CPU time leaves out the time
  other processes hold the core (which wall time counts in full, and which a short kernel catches
  or misses by chance), and the ratio takes out what slows every CPU second alike (a busy SMT
  sibling, the clock, the machine's kind). ``calibration_gflops`` is the kernel's GFLOP per CPU
  second (the calibrated peak) and ``peak_share`` a case's GFLOP per CPU second over it.
- Rates: a case sets ``extra_info["items_per_round"]`` and ``extra_info["unit"]`` (``img``,
  ``step``, ...); ``<unit>_per_second`` = items / median round time is added here, and with
  ``extra_info["gflop_per_round"]`` the achieved ``gflops`` (wall), ``gflops_per_cpu_second``
  and its ``peak_share`` of the calibrated peak.
- Injected slowdown: with ``GANBENCH_BENCH_SLOWDOWN=1`` every Linear, Conv2d and ConvTranspose2d
  forward runs twice (an extra forward pass), to show that ``python -m benchmarks.gate`` fires.
"""

from __future__ import annotations

import os
import statistics
import time

import pytest
import torch
from threadpoolctl import threadpool_limits

from ganbench.calibration import CALIBRATION_FLOP, calibration_kernel

THREADS = 1
ROUND_SECONDS = 1.5
MIN_ROUNDS, MAX_ROUNDS = 3, 60
CALIBRATION_WARMUP = 3


def _twice(forward):
    def forward_twice(self, *args, **kwargs):
        forward(self, *args, **kwargs)
        return forward(self, *args, **kwargs)
    return forward_twice


def cpu_seconds() -> float:
    """CPU seconds used so far by this process and its finished children."""
    children = os.times()
    return time.process_time() + children.children_user + children.children_system


def cpu_timed(function, *args) -> tuple[float, object]:
    start = cpu_seconds()
    result = function(*args)
    return cpu_seconds() - start, result


@pytest.fixture
def measure(benchmark):
    """``measure(function, *args, rounds=None, warmup=True)``: times ``function(*args)`` with
    pytest-benchmark in single-call rounds, each after one run of the calibration kernel, and
    returns its result. ``rounds`` defaults to what fills ``ROUND_SECONDS`` (from the untimed
    warm-up call; ``warmup=False`` skips it when ``rounds`` is given). Rounds and calibrations
    are also timed in CPU seconds of the process (see the module doc)."""
    calibrations: list[float] = []
    cpu_rounds: list[float] = []

    def one_round():
        seconds, result = cpu_timed(function_and_args[0], *function_and_args[1])
        cpu_rounds.append(seconds)
        return result

    function_and_args: list = []

    def run(function, *args, rounds: int | None = None, warmup: bool = True):
        if not benchmark.enabled:
            return benchmark(function, *args)
        function_and_args[:] = [function, args]
        if warmup or rounds is None:
            start = time.perf_counter()
            function(*args)  # warm-up, and how long one call takes
            once = time.perf_counter() - start
        if rounds is None:
            rounds = max(MIN_ROUNDS, min(MAX_ROUNDS, int(ROUND_SECONDS / once)))
        for _ in range(CALIBRATION_WARMUP):
            calibration_kernel()
        result = benchmark.pedantic(one_round, setup=lambda: calibrations.append(cpu_timed(calibration_kernel)[0]),
                                    rounds=rounds)
        info = benchmark.extra_info
        calibration = statistics.median(calibrations)
        info.update(threads=THREADS, rounds=rounds, cpu_s=statistics.median(cpu_rounds), calibration_s=calibration,
                    calibrated=statistics.median(cpu_rounds) / calibration,
                    calibration_gflops=CALIBRATION_FLOP / calibration / 1e9)
        median = benchmark.stats.stats.median
        if "items_per_round" in info:
            info[f"{info['unit']}_per_second"] = info["items_per_round"] / median
        if "gflop_per_round" in info:
            info["gflops"] = info["gflop_per_round"] / median
            info["gflops_per_cpu_second"] = info["gflop_per_round"] / info["cpu_s"]
            info["peak_share"] = info["gflops_per_cpu_second"] / info["calibration_gflops"]
        return result

    return run


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """One thread: torch's, and those of the BLAS and OpenMP libraries numpy and scipy call (the
    evaluation's FID and KID; without the limit OpenBLAS took a second core); and the optional
    injected slowdown."""
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    if os.environ.get("GANBENCH_BENCH_SLOWDOWN") == "1":
        for module in (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d):
            monkeypatch.setattr(module, "forward", _twice(module.forward))
    with threadpool_limits(limits=THREADS):
        yield
    torch.set_num_threads(threads)
