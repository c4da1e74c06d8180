"""The command line as a user runs it: in a terminal, where progress bars are on by default.

Every other CLI test runs without a tty (or with ``--no-progress``), where the bars are off; these
run ``python -m ganbench`` under a pseudo-terminal, so a bar that cannot be drawn fails them.
"""

import json

import pytest

from terminal import run_in_terminal


def records(out):
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


def test_default_suite_in_a_terminal_draws_suite_and_run_bars(tmp_path):
    out = tmp_path / "toy"
    status, screen = run_in_terminal(["run", "--budget", "smoke", "--seeds", "1", "--out", str(out)], tmp_path)
    assert status == 0, screen[-2000:]
    assert [r["status"] for r in records(out)] == ["finished", "finished"]
    assert "suite toy: 100%" in screen  # the matrix bar, one step per run
    assert "fc ring8 seed 0: [" in screen and "loss_g=" in screen  # each run's own bar
    assert "[2/2] fc grid25 seed 0: finished" in screen
    assert "Traceback" not in screen and "ganbench: error" not in screen  # the report may say "sampling error"


def test_image_suite_in_a_terminal(tmp_path, synthetic_mnist):
    out = tmp_path / "mnist"
    status, screen = run_in_terminal(["run", "--suite", "mnist", "--budget", "smoke", "--variants", "dcgan",
                                      "--data-root", str(synthetic_mnist), "--out", str(out),
                                      "--set", "eval.kid_subset_size=50"], tmp_path)
    assert status == 0, screen[-2000:]
    assert [r["status"] for r in records(out)] == ["finished"]
    assert "suite mnist: 100%" in screen and "dcgan mnist seed 0: [" in screen


def test_style_suite_in_a_terminal(tmp_path, shared_data):
    out = tmp_path / "style"
    status, screen = run_in_terminal(["run", "--suite", "style", "--budget", "smoke", "--set", "style.weights=random",
                                      "--variants", "gatys", "--content", "astronaut", "--data-root",
                                      str(shared_data), "--out", str(out)], tmp_path)
    assert status == 0, screen[-2000:]
    assert [r["status"] for r in records(out)] == ["finished"] * 3  # one content x three paintings
    assert "suite style: 100%" in screen and "total_loss=" in screen


def test_jobs_in_a_terminal_draw_the_whole_matrix(tmp_path):
    """--jobs 2: cells in two worker processes; one bar for the matrix naming the cells running."""
    out = tmp_path / "toy"
    status, screen = run_in_terminal(["run", "--budget", "smoke", "--seeds", "2", "--iterations", "10", "--jobs", "2",
                                      "--out", str(out)], tmp_path)
    assert status == 0, screen[-2000:]
    assert [r["status"] for r in records(out)] == ["finished"] * 4
    assert "2 processes x 1 thread" in screen and "suite toy: 100%" in screen
    assert "fc ring8 seed 0, fc ring8 seed 1" in screen  # the bar names the cells running
    assert "[4/4] fc grid25 seed 1: finished" in screen
    assert "Traceback" not in screen and "ganbench: error" not in screen  # the report may say "sampling error"


def test_no_progress_in_a_terminal_draws_no_bar(tmp_path):
    out = tmp_path / "toy"
    status, screen = run_in_terminal(["run", "--budget", "smoke", "--seeds", "1", "--datasets", "ring8", "--out",
                                      str(out), "--no-progress"], tmp_path)
    assert status == 0, screen[-2000:]
    assert "suite toy:" not in screen and "%|" not in screen


@pytest.mark.slow
def test_quick_start_default_job_in_a_terminal(tmp_path):
    """The README's first command as a newcomer runs it: `ganbench run` (toy, quick, 6 runs; about
    5 minutes on a quiet 2-core CPU, so up to 20 under load)."""
    status, screen = run_in_terminal(["run"], tmp_path, timeout=1200.0, env={"GANBENCH_JOBS": ""})  # default --jobs
    assert status == 0, screen[-2000:]
    out = tmp_path / "runs" / "toy-quick"
    assert [r["status"] for r in records(out)] == ["finished"] * 6
    assert "suite toy: 100%" in screen and "[6/6] fc grid25 seed 2: finished" in screen
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "compare_gan.png", "losses_fc_grid25_quick.png", "losses_fc_ring8_quick.png", "samples_fc_grid25_quick.png",
        "samples_fc_ring8_quick.png", "speed_gan.png"]
