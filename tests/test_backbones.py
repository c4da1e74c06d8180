"""The Inception backbone offline: where its weights are looked up, the one-line errors without
them, and a whole run with a weights file made here (random weights, the same architecture)."""

import io
import json
import urllib.request

import numpy as np
import pytest
import torch
from PIL import Image

from ganbench.cli import main
from ganbench.errors import UserError
from ganbench.metrics import EVALUATION_SETTINGS
from ganbench.metrics.backbones import (
    BACKBONES,
    INCEPTION_FILE,
    URL_INCEPTION_V3,
    download_inception,
    inception_cache_path,
    sha256_file,
)
from ganbench.settings import resolve

INCEPTION = BACKBONES.get("inception")


@pytest.fixture(autouse=True)
def empty_torch_hub(tmp_path, monkeypatch):
    """A torch home without Inception weights, whatever this machine has cached."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))


@pytest.fixture(scope="module")
def picture_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(0)
    for index in range(16):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    return folder


def options(**overrides):
    return resolve(EVALUATION_SETTINGS, "eval", overrides)


def run_inception(folder, out, *extra):
    return main(["run", "--suite", "stacked-mnist", "--budget", "smoke", "--seeds", "1", "--datasets",
                 f"folder:{folder}", "--set", "eval.backbone=inception", "--set", "eval.samples=8", "--set",
                 "eval.reference_samples=8", "--set", "eval.kid_subset_size=4", "--set", "eval.kid_subsets=3",
                 "--set", "eval.is_splits=2", "--iterations", "2", "--out", str(out), "--no-progress",
                 # 10 of FID's bootstrap resamples: each decomposes a 2048x2048 matrix (~1 s),
                 # the default 200 took 3 min
                 "--set", "eval.fid_bootstrap=10", *extra])


def test_without_weights_a_run_stops_before_training_with_one_line_saying_where_to_put_them(
        picture_folder, tmp_path, capsys):
    assert run_inception(picture_folder, tmp_path / "out") == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("ganbench: error: the Inception weights")
    assert INCEPTION_FILE in error and str(inception_cache_path().parent) in error and URL_INCEPTION_V3 in error
    assert "--inception-weights PATH" in error
    assert not (tmp_path / "out").exists()


def test_offline_inception_run_end_to_end(random_inception_weights, picture_folder, tmp_path):
    out = tmp_path / "out"
    assert run_inception(picture_folder, out, "--inception-weights", str(random_inception_weights)) == 0
    record = json.loads((out / "records.jsonl").read_text())
    metrics = record["metrics"]
    assert record["status"] == "finished" and record["config"]["evaluators"] == ["grid", "fidelity", "throughput"]
    assert (out / record["artifacts"]["sample_grid"]).is_file()
    assert metrics["fidelity_backbone"] == "inception"
    assert metrics["fidelity_weights_sha256"] == sha256_file(random_inception_weights)
    assert (metrics["fidelity_samples"], metrics["fidelity_reference_samples"]) == (8, 8)
    assert all(np.isfinite(metrics[key]) for key in ("fid", "is_mean", "kid_mean", "precision", "density"))
    assert record["config"]["evaluation"]["inception_weights"] == str(random_inception_weights.resolve())


def test_weights_in_the_torch_hub_cache_are_found(random_inception_weights):
    cached = inception_cache_path()
    cached.parent.mkdir(parents=True)
    cached.symlink_to(random_inception_weights)
    weights = INCEPTION.locate(None, options(), False)
    assert weights.path == cached and weights.sha256 == sha256_file(random_inception_weights)


def test_files_that_are_not_the_inception_weights_are_refused(tmp_path):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot read Inception weights"):
        INCEPTION.locate(None, options(inception_weights=str(garbage)), False)
    other = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(10, 2048)}, other)
    with pytest.raises(UserError, match="not a state dict of torch-fidelity's inception-v3-compat"):
        INCEPTION.locate(None, options(inception_weights=str(other)), False)
    with pytest.raises(UserError, match="is not a file"):
        INCEPTION.locate(None, options(inception_weights=str(tmp_path / "missing.pth")), False)


def test_download_failures_are_user_errors_and_save_nothing(tmp_path, monkeypatch):
    target = tmp_path / INCEPTION_FILE

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(UserError, match="could not download the Inception weights .* no network"):
        download_inception(target)
    monkeypatch.setattr(urllib.request, "urlopen", lambda *args, **kwargs: io.BytesIO(b"a wrong file"))
    with pytest.raises(UserError, match="does not have the expected sha256"):
        download_inception(target)
    assert not target.exists()
