"""The speed gate: run the benchmarks and fail when a case got slower than the committed baseline.

    python -m benchmarks.gate                    # run, compare with benchmarks/baseline.json, exit 1 on a regression
    python -m benchmarks.gate --runs 3 --update  # rewrite the baseline: per case, the median of 3 runs
    python -m benchmarks.gate --json a.json ...  # compare (or --update from) saved pytest-benchmark JSON files

Times are compared in calibration units (``extra_info["calibrated"]``: the case's median CPU
seconds per round over the median CPU seconds of a fixed fp32 matmul + conv run before every round,
one torch thread; see ``benchmarks/conftest.py``), so the baseline holds across machines of the
same kind and across load. A case fails when its calibrated time exceeds the
baseline's by more than the threshold (the baseline file's ``threshold``, or ``--threshold``):
``new / baseline - 1 > threshold``. Cases missing from the baseline are reported, not failed.
The threshold and how it was measured are in docs/development.md (benchmarks and the gate).
The gated cases are every benchmark not marked ``slow`` or ``comparison``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BASELINE = Path(__file__).with_name("baseline.json")
GATED = "not slow and not comparison"
DEFAULT_THRESHOLD = 0.25


def run_benchmarks(json_path: Path, pytest_args: list[str]) -> None:
    """One run of the gated benchmarks into ``json_path`` (pytest-benchmark's JSON)."""
    command = [sys.executable, "-m", "pytest", "benchmarks", "--benchmark-only", "-m", GATED, "-q", "-p",
               "no:cacheprovider", f"--benchmark-json={json_path}", *pytest_args]
    subprocess.run(command, check=True)


def calibrated_times(json_path: Path) -> dict[str, float]:
    """{case name: calibrated median time} of one pytest-benchmark JSON file."""
    data = json.loads(Path(json_path).read_text())
    return {case["name"]: case["extra_info"]["calibrated"] for case in data["benchmarks"]
            if "calibrated" in case["extra_info"]}


def combine(runs: list[dict[str, float]]) -> dict[str, float]:
    """Per case, the median over runs (cases every run has)."""
    names = set.intersection(*(set(run) for run in runs))
    return {name: statistics.median(run[name] for run in runs) for name in sorted(names)}


def compare(current: dict[str, float], baseline: dict[str, float], threshold: float) -> tuple[list[str], list[str]]:
    """Report lines (one per case) and the names of the cases slower than ``1 + threshold`` times
    their baseline."""
    lines, failed = [], []
    width = max(map(len, current | baseline), default=10)
    lines.append(f"{'case':<{width}}  {'baseline':>10}  {'now':>10}  {'now/base':>8}")
    for name in sorted(current | baseline):
        if name not in current:
            lines.append(f"{name:<{width}}  {baseline[name]:>10.2f}  {'(not run)':>10}")
            continue
        if name not in baseline:
            lines.append(f"{name:<{width}}  {'(new)':>10}  {current[name]:>10.2f}")
            continue
        ratio = current[name] / baseline[name]
        verdict = "  REGRESSION" if ratio - 1 > threshold else ""
        if verdict:
            failed.append(name)
        lines.append(f"{name:<{width}}  {baseline[name]:>10.2f}  {current[name]:>10.2f}  {ratio:>8.3f}{verdict}")
    return lines, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gate", description=__doc__.split("\n")[0])
    parser.add_argument("--update", action="store_true", help="write the baseline from this run instead of comparing")
    parser.add_argument("--runs", type=int, default=1, help="benchmark runs, combined per case by the median")
    parser.add_argument("--threshold", type=float, help="allowed slowdown, e.g. 0.25 (default: the baseline's)")
    parser.add_argument("--baseline", type=Path, default=BASELINE, help=f"baseline file (default: {BASELINE})")
    parser.add_argument("--json", type=Path, nargs="+", help="use these pytest-benchmark JSON files instead of running")
    parser.add_argument("--keep", type=Path, help="folder to keep the runs' JSON files in")
    options, pytest_args = parser.parse_known_args(argv)
    if options.runs < 1:
        parser.error("--runs must be at least 1")
    stored = json.loads(options.baseline.read_text()) if options.baseline.exists() else {}
    threshold = options.threshold if options.threshold is not None else stored.get("threshold", DEFAULT_THRESHOLD)
    if not options.update and not stored:
        parser.error(f"no baseline at {options.baseline}; make one with --update")

    if options.json:
        paths = options.json
    else:
        folder = options.keep or Path(tempfile.mkdtemp(prefix="ganbench-gate-"))
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / f"run{index}.json" for index in range(options.runs)]
        for path in paths:
            run_benchmarks(path, pytest_args)
    current = combine([calibrated_times(path) for path in paths])

    if options.update:
        baseline = {"unit": "median CPU seconds per round / median CPU seconds of the calibration kernel, "
                            "1 torch thread",
                    "threshold": threshold, "runs": len(paths), "cases": current}
        options.baseline.write_text(json.dumps(baseline, indent=1, sort_keys=True) + "\n")
        print(f"wrote {options.baseline} ({len(current)} cases, threshold {threshold:.0%})")
        return 0
    lines, failed = compare(current, stored["cases"], threshold)
    print("\n".join(lines))
    if failed:
        print(f"gate: FAILED: {len(failed)} case(s) slower than the baseline by more than {threshold:.0%}: "
              f"{', '.join(failed)}")
        return 1
    print(f"gate: passed ({len(current)} cases within {threshold:.0%} of the baseline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
