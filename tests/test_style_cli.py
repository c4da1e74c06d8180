"""The style suite through the command line: a smoke run with random weights, its records,
images, tables and plots, and its one-line answers to mistakes."""

import json

import pytest
from PIL import Image

from ganbench.cli import main

STYLE_METRICS = {"content_loss", "style_loss", "tv_loss", "total_loss", "ssim", "convergence_iterations"}
STYLE_THROUGHPUT = {"ms_per_iteration", "ms_per_iteration_median", "evaluations_per_iteration", "peak_memory_mb",
                    "parameters_feature_network"}


def read_records(out):
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


@pytest.fixture
def no_hub_weights(tmp_path, monkeypatch):
    """An empty torch hub cache, so only an explicit opt-in gives the feature network weights."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))


@pytest.fixture(scope="module")
def style_file(tmp_path_factory):
    import skimage.data

    path = tmp_path_factory.mktemp("styles") / "brick.png"
    Image.fromarray(skimage.data.brick()).convert("RGB").save(path)
    return path


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, style_file):
    out = tmp_path_factory.mktemp("style") / "out"
    arguments = ["run", "--suite", "style", "--budget", "smoke", "--set", "style.weights=random",
                 "--variants", "gatys,adam", "--content", "astronaut", "chelsea", "--style", str(style_file),
                 "--out", str(out), "--no-progress"]
    assert main(arguments) == 0
    return out, arguments


def test_smoke_run_records_say_random_weights_everywhere(smoke_run):
    out, _ = smoke_run
    records = read_records(out)
    assert {(r["variant"], r["dataset"]) for r in records} == {
        (preset, f"{content}+brick") for preset in ("gatys", "adam") for content in ("astronaut", "chelsea")}
    for record in records:
        assert record["kind"] == "style" and record["suite"] == "style" and record["status"] == "finished"
        assert record["iterations_done"] == 6
        assert STYLE_METRICS <= record["metrics"].keys()
        assert STYLE_THROUGHPUT <= record["throughput"].keys()
        assert -1.0 <= record["metrics"]["ssim"] <= 1.0
        assert 0 <= record["metrics"]["convergence_iterations"] <= 6
        assert record["config"]["settings"]["weights"] == "random"
        assert record["config"]["settings"]["image_size"] == 32
        assert record["config"]["feature_weights"] == {"arch": "vgg19", "kind": "random", "sha256": None}
        assert "RANDOM weights" in record["provenance"]["feature_network"]["description"]
        assert record["provenance"]["data"]["content"]["source"] == "skimage"
        result = out / record["artifacts"]["result"]
        assert result.name == "result-random-weights.png"
        with Image.open(result) as image:
            assert image.size == (32, 32)
            assert "RANDOM weights" in image.text["ganbench:feature-network"]
            assert image.text["ganbench:run"] == record["run_id"]
        losses = (out / record["artifacts"]["losses"]).read_text().splitlines()
        assert len(losses) == 1 + 6 + 1  # header, one row per step, the final image
        assert not list((out / "runs" / record["run_id"]).glob("checkpoints/*.pt"))  # an ended run drops them


def test_smoke_run_writes_tables_grids_and_curves(smoke_run):
    out, _ = smoke_run
    plots = sorted(p.name for p in (out / "plots").iterdir())
    assert plots == ["compare_style.png", "speed_style.png", "style_grid_adam_smoke_random-weights.png",
                     "style_grid_gatys_smoke_random-weights.png", "style_losses_adam_smoke.png",
                     "style_losses_gatys_smoke.png"]
    summary = (out / "summary.md").read_text()
    for header in ("SSIM ↑", "content loss ↓", "style loss ↓", "TV loss ↓", "steps to 1 % ↓", "ms/iter ↓"):
        assert header in summary
    report = (out / "report.md").read_text()
    assert "| feature network | VGG-19, RANDOM weights" in report  # in each preset's protocol card
    by_preset = report.split("## By preset", 1)[1].split("##", 1)[0].split("Pairs of presets", 1)[0]  # its table
    assert [line.split("|")[2].strip() for line in by_preset.splitlines()
            if line.startswith("| style")] == ["gatys", "adam"]
    assert "plots/style_grid_gatys_smoke_random-weights.png" in report
    # `ganbench report` rebuilds the grids and curves from the records and run folders alone.
    for plot in (out / "plots").iterdir():
        plot.unlink()
    assert main(["report", str(out)]) == 0
    assert sorted(p.name for p in (out / "plots").iterdir()) == plots


def test_rerun_skips_finished_style_runs(smoke_run, capsys):
    out, arguments = smoke_run
    before = (out / "records.jsonl").read_text()
    assert main(arguments) == 0
    assert capsys.readouterr().out.count("skipped") == 4
    assert (out / "records.jsonl").read_text() == before


def test_default_style_images_are_the_paintings_in_the_data_root(shared_data, tmp_path):
    from ganbench.runs import SUITES, RunRequest
    from ganbench.style.suite import plan_style_runs

    request = RunRequest(budget="smoke", variants=["gatys"], data_root=str(shared_data),
                         overrides={"style": {"weights": "random"}})
    runs = plan_style_runs(SUITES.get("style"), request)
    assert [run.dataset for run in runs] == [f"{content}+{style}" for content in ("astronaut", "chelsea", "coffee")
                                             for style in ("starry_night", "the_scream", "shipwreck")]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "no ImageNet weights for VGG-19"),
        (["--set", "style.weights=random", "--variants", "picasso"], "unknown preset 'picasso' of suite style"),
        (["--set", "style.weights=random", "--datasets", "mnist"],
         "--datasets is not an option of suite style (style runs) "
         "but of suites fashion, mnist, stacked-mnist, toy"),
        (["--set", "style.weights=random", "--content", "nowhere.png"], "--content nowhere.png: no such file"),
        (["--set", "style.weights=random", "--set", "style.content_layer=conv9_9"], "VGG-19 has no layer 'conv9_9'"),
        (["--set", "style.weights=random", "--set", "gatys.style_layer_weights=1,2"], "2 weights for 5 style layers"),
        (["--set", "style.weights=random", "--set", "dcgan.lr_d=1"], "'dcgan' is not a preset of this run"),
        (["--set", "style.weights=random", "--set", "style.pooling=min"], "choose one of: avg, max"),
        (["--set", "style.weights=random", "--vgg-weights", "x.pth"], "contradict each other"),
    ],
)
def test_style_mistakes_are_one_error_line(arguments, message, style_file, no_hub_weights, tmp_path, capsys):
    code = main(["run", "--suite", "style", "--budget", "smoke", "--style", str(style_file), *arguments,
                 "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err
    assert code == 2
    assert error.count("\n") == 1 and error.startswith("ganbench: error: ")
    assert message in error
    assert not (tmp_path / "out").exists()


def test_style_options_are_refused_by_gan_suites(tmp_path, capsys):
    assert main(["run", "--content", "astronaut", "--out", str(tmp_path / "out")]) == 2
    assert ("--content is not an option of suite toy (gan runs) but of suites style; suite toy takes: --datasets, "
            "--split") in capsys.readouterr().err


def test_list_shows_the_style_suite_and_settings(capsys):
    assert main(["list", "suites"]) == 0
    assert "presets gatys,content-init,adam" in capsys.readouterr().out
    assert main(["list", "--settings", "style"]) == 0
    listing = capsys.readouterr().out
    for name in ("content_layer", "style_layers", "style_weight", "tv_weight", "optimizer", "init", "pooling"):
        assert name in listing
    assert main(["list", "evaluators"]) == 0
    listing = capsys.readouterr().out
    for name in ("style-losses", "ssim", "convergence", "style-throughput"):
        assert f"\n  {name} " in listing
