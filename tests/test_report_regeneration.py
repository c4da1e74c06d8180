"""`ganbench report DIR` regenerates exactly what `ganbench run` wrote, for every kind of suite.

`report` runs in a fresh process (as a user runs it, after the run), so nothing registered by
the run's own imports can leak into it.
"""

import subprocess
import sys

import pytest

from ganbench.cli import main

REGENERATED = ("summary.csv", "summary.md", "summary.tex", "summary_significance.csv", "report.md",
               "report.html")


def outputs(out):
    files = [out / name for name in REGENERATED] + sorted((out / "plots").glob("*.png"))
    return {path.relative_to(out).as_posix(): path.read_bytes() for path in files if path.is_file()}


def check_report_regenerates(out):
    written = outputs(out)
    for path in written:
        (out / path).unlink()
    result = subprocess.run([sys.executable, "-m", "ganbench", "report", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    regenerated = outputs(out)
    assert sorted(regenerated) == sorted(written)
    for name in written:
        assert regenerated[name] == written[name], f"{name} differs after `ganbench report`"
    assert "plots/" in result.stdout.splitlines()[-1] or not any(n.startswith("plots/") for n in written)
    return written


def test_report_regenerates_a_toy_run(tmp_path):
    out = tmp_path / "toy"
    assert main(["run", "--budget", "smoke", "--seeds", "1", "--out", str(out), "--no-progress"]) == 0
    check_report_regenerates(out)


def test_report_regenerates_an_mnist_run_with_its_image_metrics(tmp_path, synthetic_mnist):
    out = tmp_path / "mnist"
    assert main(["run", "--suite", "mnist", "--budget", "smoke", "--variants", "fc,dcgan", "--data-root",
                 str(synthetic_mnist), "--out", str(out), "--no-progress", "--set", "eval.kid_subset_size=50"]) == 0
    written = check_report_regenerates(out)
    summary = written["summary.md"].decode()
    for header in ("FID", "IS", "KID", "precision", "recall", "density", "coverage", "classes"):
        assert header in summary


def test_report_regenerates_a_style_run(tmp_path, shared_data):
    out = tmp_path / "style"
    assert main(["run", "--suite", "style", "--budget", "smoke", "--set", "style.weights=random", "--variants",
                 "gatys", "--content", "astronaut", "--data-root", str(shared_data), "--out", str(out),
                 "--no-progress"]) == 0
    written = check_report_regenerates(out)
    assert "SSIM" in written["summary.md"].decode()


def test_wrote_line_names_only_files_that_exist(tmp_path, capsys):
    out = tmp_path / "toy"
    assert main(["run", "--budget", "smoke", "--seeds", "1", "--datasets", "ring8", "--iterations", "3", "--out",
                 str(out), "--no-progress", "--set", "eval.every=0"]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith("wrote ") and str(out) in line
    for name in line.split(": ", 1)[1].split(", "):
        name = name.split(" (")[0]
        assert (out / name).exists(), f"{name} named but not written"


@pytest.mark.parametrize("name", ["summary.md"])
def test_report_on_a_folder_without_records_is_one_error_line(tmp_path, capsys, name):
    assert main(["report", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
