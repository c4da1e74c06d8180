"""``--logger``: a GAN run reports its losses, the metrics of every evaluation, its grids, its
configuration and its record to TensorBoard and MLflow (a local file store, offline), read back
here with tensorboardX's protobufs and MLflow's client; a tracker without its package is one
error line naming the extra."""

from __future__ import annotations

import csv
import importlib.util
import json
import struct

import pytest
import torch

from ganbench.cli import main
from ganbench.results import ResultsStore
from ganbench.trackers import RunTrackers

TOY = ["run", "--suite", "toy", "--budget", "smoke", "--variants", "fc", "--datasets", "ring8", "--seeds", "1",
       "--iterations", "20", "--set", "eval.every=10", "--no-progress"]


def events(folder) -> list:
    """Every event of the TensorBoard event files in ``folder`` (TFRecord: length, crc, event, crc)."""
    from tensorboardX.proto import event_pb2

    found = []
    for path in sorted(folder.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        at = 0
        while at < len(data):
            (length,) = struct.unpack("<Q", data[at:at + 8])
            event = event_pb2.Event()
            event.ParseFromString(data[at + 12:at + 12 + length])
            found.append(event)
            at += 12 + length + 4
    return found


def scalars(found, tag: str) -> list[tuple[int, float]]:
    return [(event.step, value.simple_value) for event in found for value in event.summary.value if value.tag == tag]


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """The toy run with both trackers (the MLflow store in the output folder)."""
    pytest.importorskip("mlflow")
    pytest.importorskip("tensorboardX")
    out = tmp_path_factory.mktemp("tracked") / "out"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        assert main([*TOY, "--logger", "mlflow,tensorboard", "--out", str(out)]) == 0
    [record] = ResultsStore(out).records()
    with open(out / record["artifacts"]["losses"]) as file:
        losses = [float(row["loss_d"]) for row in csv.DictReader(file)]
    return out, record, losses


def test_mlflow_holds_the_runs_losses_metrics_configuration_and_record(tracked, monkeypatch):
    from mlflow.tracking import MlflowClient

    out, record, losses = tracked
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient((out / "mlruns").as_uri())
    [run] = client.search_runs([client.get_experiment_by_name("toy").experiment_id])
    assert run.info.run_name == record["run_id"] and run.data.tags["ganbench.status"] == "finished"
    history = client.get_metric_history(run.info.run_id, "train loss_d")
    assert [m.step for m in history] == list(range(1, 21))
    assert [m.value for m in history] == pytest.approx(losses)
    modes = client.get_metric_history(run.info.run_id, "eval_modes_covered")
    assert [(m.step, m.value) for m in modes] == [(row["iteration"], row["modes_covered"])
                                                  for row in record["metric_history"]]
    assert run.data.params["config.variant"] == "fc" and run.data.params["run_id"] == record["run_id"]
    stored = json.loads((out / "mlruns" / run.info.experiment_id / run.info.run_id / "artifacts"
                         / "record.json").read_text())
    assert stored["status"] == "finished" and stored["metrics"] == record["metrics"]


def test_tensorboard_holds_the_runs_losses_metrics_and_texts(tracked):
    out, record, losses = tracked
    found = events(out / "runs" / record["run_id"] / "tensorboard")
    assert scalars(found, "train/loss_d") == [(step, pytest.approx(value)) for step, value in enumerate(losses, 1)]
    assert [step for step, _ in scalars(found, "eval/modes_covered")] == [10, 20]
    texts = {value.tag for event in found for value in event.summary.value if value.metadata.plugin_data.plugin_name
             == "text"}
    assert {"config/text_summary", "record/text_summary"} <= texts


def test_trackers_leave_the_run_id_alone(tracked, tmp_path):
    out, record, _ = tracked
    assert main([*TOY, "--iterations", "2", "--out", str(tmp_path / "plain")]) == 0
    assert ResultsStore(tmp_path / "plain").records()[0]["config"] == {**record["config"], "iterations": 2}


def test_grids_reach_tensorboard_as_images_and_mlflow_as_artifacts(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    pytest.importorskip("tensorboardX")
    from mlflow.tracking import MlflowClient
    from PIL import Image

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run_dir = tmp_path / "out" / "runs" / "r1"
    run_dir.mkdir(parents=True)
    grid = run_dir / "samples.png"
    Image.fromarray(torch.arange(48, dtype=torch.uint8).view(4, 4, 3).numpy()).save(grid)
    trackers = RunTrackers(["tensorboard", "mlflow"], run_dir, {"run_id": "r1", "label": "r 1", "suite": "s"})
    trackers.images({"sample_grid": grid, "losses": run_dir / "losses.csv"}, 7)
    trackers.close({"status": "finished"})
    images = [(event.step, value.image) for event in events(run_dir / "tensorboard") for value in event.summary.value
              if value.tag == "sample_grid"]
    assert [(step, image.width, image.height) for step, image in images] == [(7, 4, 4)]
    client = MlflowClient((tmp_path / "out" / "mlruns").as_uri())
    [run] = client.search_runs([client.get_experiment_by_name("s").experiment_id])
    assert [artifact.path for artifact in client.list_artifacts(run.info.run_id, "images")] == ["images/samples.png"]


@pytest.mark.parametrize("name", ["mlflow", "tensorboard", "wandb"])
def test_a_tracker_without_its_package_is_one_error_line(name, tmp_path, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda module, *args: None if module in (
        "mlflow", "tensorboardX", "tensorboard", "wandb") else real(module, *args))
    assert main([*TOY, "--logger", name, "--out", str(tmp_path / "o")]) == 2
    error = capsys.readouterr().err
    assert f"pip install 'ganbench[{name}]'" in error and error.count("\n") == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("arguments, message", [
    (["--logger", "neptune"], "unknown tracker 'neptune'"),
    (["--suite", "style", "--logger", "tensorboard"], "--logger is for GAN suites"),
])
def test_tracker_mistakes_are_one_error_line(arguments, message, tmp_path, capsys):
    pytest.importorskip("tensorboardX")
    assert main(["run", "--budget", "smoke", "--out", str(tmp_path / "o"), *arguments]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert not (tmp_path / "o").exists()
