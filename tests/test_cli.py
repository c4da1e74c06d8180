"""The command line end to end on the toy suite, and its answers to bad input."""

import json
import shutil
import subprocess
import sys

import pytest

from ganbench.cli import main

RECORD_KEYS = {"run_id", "suite", "variant", "dataset", "seed", "budget", "status", "metrics", "throughput", "config",
               "provenance", "artifacts", "elapsed_seconds", "iterations_done"}
PROVENANCE_KEYS = {"ganbench", "torch", "pytorch-ignite", "torch-fidelity", "commit", "device", "started_utc",
                   "finished_utc", "data"}


def read_records(out):
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy") / "out"
    assert main(["run", "--budget", "smoke", "--seeds", "2", "--out", str(out), "--no-progress"]) == 0
    return out


def test_smoke_run_writes_records_tables_and_plots(smoke_run):
    records = read_records(smoke_run)
    assert len(records) == 4  # 2 datasets x 2 seeds
    assert {(r["dataset"], r["seed"]) for r in records} == {(d, s) for d in ("ring8", "grid25") for s in (0, 1)}
    for record in records:
        assert RECORD_KEYS <= record.keys()
        assert PROVENANCE_KEYS <= record["provenance"].keys()
        assert record["status"] == "finished"
        assert record["iterations_done"] == 60
        assert 0 <= record["metrics"]["modes_covered"] <= record["metrics"]["modes_total"]
        assert 0.0 <= record["metrics"]["high_quality_fraction"] <= 1.0
        assert record["throughput"]["train_images_per_second"] > 0
        assert record["throughput"]["parameters_g"] > 0
        throughput = record["throughput"]
        assert throughput["train_gflop_per_iteration"] > 0 and throughput["generate_gflop_per_sample"] > 0
        assert throughput["train_gflops"] == pytest.approx(
            throughput["train_gflop_per_iteration"] / (throughput["ms_per_iteration"] / 1000))
        assert throughput["train_peak_share"] == pytest.approx(
            throughput["train_gflops"] / throughput["calibrated_peak_gflops"])
        assert throughput["generate_gflops"] == pytest.approx(
            throughput["generate_gflop_per_sample"] * throughput["generate_images_per_second"])
        assert (smoke_run / record["artifacts"]["losses"]).exists()
        assert (smoke_run / record["artifacts"]["samples"]).exists()
        assert record["config"]["settings"]["batch_size"] == 100
        assert record["samples_from"] == "live" and record["config"]["settings"]["ema"] is False
    for name in ("summary.csv", "summary.md", "summary.tex", "report.md", "report.html"):
        assert (smoke_run / name).stat().st_size > 0
    summary = (smoke_run / "summary.md").read_text()
    assert "ring8" in summary and "grid25" in summary and "±" in summary
    assert "samples from" in summary and "live" in summary
    plots = sorted(p.name for p in (smoke_run / "plots").iterdir())
    assert plots == ["compare_gan.png", "losses_fc_grid25_smoke.png", "losses_fc_ring8_smoke.png",
                     "samples_fc_grid25_smoke.png", "samples_fc_ring8_smoke.png", "speed_gan.png"]


def test_rerun_skips_finished_runs_and_reproduces_metrics(smoke_run, tmp_path, capsys):
    before = (smoke_run / "records.jsonl").read_text()
    assert main(["run", "--budget", "smoke", "--seeds", "2", "--out", str(smoke_run), "--no-progress"]) == 0
    assert capsys.readouterr().out.count("skipped") == 4
    assert (smoke_run / "records.jsonl").read_text() == before
    # The same command into a fresh folder gives the same metrics (deterministic on the CPU).
    fresh = tmp_path / "again"
    assert main(["run", "--budget", "smoke", "--seeds", "1", "--datasets", "ring8", "--out", str(fresh),
                 "--no-progress"]) == 0
    again = read_records(fresh)[0]
    first = next(r for r in read_records(smoke_run) if r["run_id"] == again["run_id"])
    assert again["metrics"] == first["metrics"]


def test_changed_settings_make_a_new_run(smoke_run, capsys):
    assert main(["run", "--budget", "smoke", "--seeds", "1", "--datasets", "ring8", "--set", "fc.lr_d=3e-4",
                 "--out", str(smoke_run), "--no-progress"]) == 0
    assert "skipped" not in capsys.readouterr().out
    records = read_records(smoke_run)
    assert len(records) == 5
    assert {r["config"]["settings"]["lr_d"] for r in records} == {1e-4, 3e-4}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["run", "--suite", "nope"], "unknown suite 'nope'; choose one of: toy"),
        (["run", "--variants", "nope"], "unknown variant 'nope'; choose one of:"),
        (["run", "--datasets", "nope"], "unknown dataset 'nope'; choose one of:"),
        (["run", "--budget", "huge"], "argument --budget: invalid choice: 'huge'"),
        (["run", "--seeds", "0"], "--seeds must be a positive number of seeds, got 0"),
        (["run", "--set", "fc.lr_d=-1"], "bad value for fc.lr_d: -1.0 (must be > 0)"),
        (["run", "--set", "fc.colour=red"], "unknown setting fc.colour"),
        (["run", "--set", "dcgan.lr_d=1"], "is not a variant of this run"),
        (["run", "--device", "cuda:7"] if not __import__("torch").cuda.is_available() else ["run", "--device", "tpu"],
         "--device"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(arguments, message, capsys, tmp_path):
    try:
        code = main([*arguments, "--out", str(tmp_path / "out")])
    except SystemExit as exit_:  # argparse's own checks exit instead of returning
        code = exit_.code
    error = capsys.readouterr().err
    assert code == 2
    assert error.count("\n") == 1 and error.startswith("ganbench")
    assert message in error
    assert not (tmp_path / "out").exists()


def test_unwritable_out_is_an_error_and_keeps_existing_files(smoke_run, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    assert main(["run", "--budget", "smoke", "--out", str(blocker / "sub"), "--no-progress"]) == 2
    assert "cannot write to output folder" in capsys.readouterr().err
    assert blocker.read_text() == "keep me"


def test_report_command_rewrites_outputs(smoke_run, capsys):
    (smoke_run / "summary.md").unlink()
    assert main(["report", str(smoke_run)]) == 0
    assert (smoke_run / "summary.md").exists()
    assert main(["report", str(smoke_run / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_report_collects_records_no_command_exported(smoke_run, tmp_path, capsys):
    """Cluster tasks of a stopped command write their run folders' records; records.jsonl is the
    command's to write, and ``ganbench report`` writes it from them."""
    folder = tmp_path / "copy"
    shutil.copytree(smoke_run, folder)
    exported = (folder / "records.jsonl").read_text()
    (folder / "records.jsonl").unlink()
    assert main(["report", str(folder)]) == 0
    assert (folder / "records.jsonl").read_text() == exported
    assert "records.jsonl" in capsys.readouterr().out.splitlines()[-1]


def test_list_and_help(capsys):
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    for name in ("toy", "fc", "ring8", "grid25", "coverage", "throughput", "wgan-gp"):
        assert name in listing
    assert main(["list", "--settings", "fc"]) == 0
    assert "n_critic" in capsys.readouterr().out


def test_console_script_runs_without_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "ganbench", "run", "--suite", "nope"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("ganbench: error: unknown suite 'nope'; choose one of: toy")
    assert result.stderr.count("\n") == 1


def test_time_limit_stops_training_and_says_so(tmp_path):
    out = tmp_path / "limited"
    assert main(["run", "--budget", "smoke", "--seeds", "1", "--datasets", "ring8", "--iterations", "100000",
                 "--time-limit", "1", "--out", str(out), "--no-progress"]) == 0
    record = read_records(out)[0]
    assert record["status"] == "finished" and record["stopped_by"] == "time_limit"
    assert 0 < record["iterations_done"] < 100000
    assert record["config"]["max_seconds"] == 1.0


def test_interrupted_run_resumes_and_ended_runs_drop_their_checkpoints(tmp_path, monkeypatch, capsys):
    """Kill a run after its first checkpoint; the same command resumes it from there."""
    import ganbench.gan.run as runner

    out = tmp_path / "resume"
    arguments = ["run", "--budget", "smoke", "--seeds", "1", "--datasets", "ring8", "--out", str(out), "--no-progress"]
    real_trainer = runner.create_gan_trainer

    def trainer_killed_at_iteration_40(*args, **kwargs):
        training = real_trainer(*args, **kwargs)

        @training.engine.on(runner.Events.ITERATION_COMPLETED(once=40))
        def interrupt(_):
            raise KeyboardInterrupt

        return training

    monkeypatch.setattr(runner, "create_gan_trainer", trainer_killed_at_iteration_40)
    assert main(arguments) == 130
    assert "run the same command again to resume" in capsys.readouterr().err
    assert not (out / "records.jsonl").exists()
    assert [p.name for p in out.glob("runs/*/checkpoints/*.pt")] == ["checkpoint_36.pt"]  # every 6 of 60

    monkeypatch.setattr(runner, "create_gan_trainer", real_trainer)
    assert main(arguments) == 0
    record = read_records(out)[0]
    assert record["resumed_from_iteration"] == 36 and record["iterations_done"] == 60
    assert not list(out.glob("runs/*/checkpoints/*.pt"))
    fresh = tmp_path / "fresh"
    assert main([*arguments[:-3], "--out", str(fresh), "--no-progress"]) == 0
    assert read_records(fresh)[0]["metrics"] == record["metrics"]  # resuming changed nothing


def test_list_settings_of_a_suite_and_budget_shows_what_its_runs_use(capsys):
    assert main(["list", "--settings", "dcgan", "--suite", "mnist", "--budget", "quick"]) == 0
    lines = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()[1:-1]}
    assert lines["batch_size"][:2] == ["64", "*"] and lines["g_width"][:2] == ["32", "*"]
    assert lines["lr_g"][0] == "0.0002"
    assert main(["list", "--settings", "dcgan"]) == 0  # the defaults, before suites change them
    defaults = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()[1:]}
    assert defaults["batch_size"] == "128" and defaults["g_width"] == "64"
    assert main(["list", "--settings", "eval", "--suite", "mnist", "--budget", "smoke"]) == 0
    assert "samples            500 *" in capsys.readouterr().out
    assert main(["list", "--settings", "tv", "--suite", "style", "--budget", "quick"]) == 0
    out = capsys.readouterr().out
    assert "tv_weight          1.0 *" in out and "image_size         64 *" in out


def test_list_suites_shows_the_seeds_of_each_budget(capsys):
    assert main(["list", "suites"]) == 0
    mnist = next(line for line in capsys.readouterr().out.splitlines() if line.split()[0] == "mnist")
    assert "seeds smoke 1, quick 1, equal 5, equal-flops 5, converged 5, standard 3, paper 3" in mnist
    assert "compare variants at budget equal" in mnist and "equal-flops: 6,500 training GFLOP per run" in mnist


@pytest.mark.parametrize("arguments, message", [
    (["list", "--settings", "style", "--suite", "mnist"], "'style' is not a variant of suite mnist"),
    (["list", "--settings", "dcgan", "--budget", "quick"], "--budget needs --suite"),
    (["list", "--suite", "mnist"], "--suite and --budget go with --settings"),
])
def test_list_settings_mistakes_are_one_line(capsys, arguments, message):
    assert main(arguments) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_a_new_kind_declares_its_options_and_cli_py_needs_no_line(capsys, monkeypatch):
    """A suite kind registered here, with an option of its own: ``run --help`` lists it under the
    kind, and its value reaches the suite's plan in ``RunRequest.options`` under its name."""
    from dataclasses import dataclass, field

    from ganbench.budgets import Budget
    from ganbench.errors import UserError, option
    from ganbench.options import Option
    from ganbench.runs import SUITES, check_request

    @dataclass(frozen=True)
    class EchoSuite:
        name: str = "echo"
        kind: str = "echo"
        summary: str = "plans nothing; remembers its requests"
        seeds: int = 1
        budgets: dict = field(default_factory=lambda: {"smoke": Budget(iterations=1)})
        default_budget: str = "smoke"
        options: tuple = (Option("loudness", "how loud the echo is (default: 1)", parse=int, metavar="DB"),)
        requests: list = field(default_factory=list)

        def plan(self, request):
            check_request(self, request)
            self.requests.append(request)
            raise UserError(f"planned with {option('loudness', request.options.get('loudness'))}")

    suite = EchoSuite()
    main(["list"])  # registers the built-ins first
    monkeypatch.setitem(SUITES._items, "echo", suite)
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    help_text = capsys.readouterr().out
    assert "echo suites:" in help_text and "--loudness DB" in help_text and "how loud the echo is" in help_text
    assert main(["run", "--suite", "echo", "--loudness", "7", "--seeds", "1"]) == 2
    assert capsys.readouterr().err == "ganbench: error: planned with --loudness 7\n"
    assert suite.requests[0].options == {"loudness": 7} and suite.requests[0].seeds == 1
    assert main(["run", "--loudness", "7"]) == 2  # another kind's suite refuses it, by its flag
    assert "--loudness is not an option of suite toy (gan runs) but of suites echo" in capsys.readouterr().err
