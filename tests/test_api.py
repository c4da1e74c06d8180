"""The Python API (``ganbench.run``, ``evaluate``, ``load_records``, ...): a cheap ``import
ganbench``, records as a typed table, bad input as one ``UserError`` naming the keyword argument
(never a flag) with nothing written, runs identical to the command line's, and variants registered
from a script with their provenance."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import ganbench
from ganbench import api, arguments
from ganbench.cli import main
from ganbench.gan.model import VARIANTS, with_defaults
from ganbench.gan.variants.fc import VARIANT as FC

from report_records import FID, gan_record


def test_import_ganbench_is_cheap_and_exposes_the_api():
    code = ("import sys, ganbench; assert 'torch' not in sys.modules, 'torch imported'; "
            "assert set(ganbench.__all__) <= set(dir(ganbench)); print(ganbench.run.__module__)")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "ganbench.api"
    for name in ganbench.__all__:
        assert getattr(ganbench, name) is not None
    assert ganbench.Variant is type(FC) and ganbench.UserError.__module__ == "ganbench.errors"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ganbench.nope


def records_folder(root: Path) -> list[dict]:
    """Two finished GAN records, a failed one without numbers and an evaluation record with a text value."""
    records = [gan_record(root, "dcgan", 0, FID["dcgan"][0]), gan_record(root, "fc", 1, FID["fc"][1])]
    failed = {**gan_record(root, "fc", 2, 0.0), "status": "failed", "error": "RuntimeError: boom", "metrics": {},
              "throughput": {}}
    evaluation = {**gan_record(root, "mine", 0, 50.0), "kind": "evaluation"}
    evaluation["throughput"] = {**evaluation["throughput"], "peak_memory_kind": "process_peak_rss"}
    records += [failed, evaluation]
    (root / "records.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    return records


def test_load_records_columns_and_dtypes(tmp_path):
    records = records_folder(tmp_path)
    frame = ganbench.load_records(tmp_path)
    assert list(frame.columns[:10]) == list(api.IDENTITY_COLUMNS)
    assert list(frame.columns[-3:]) == ["config", "provenance", "artifacts"]
    assert len(frame) == 4 and set(frame["run_id"]) == {record["run_id"] for record in records}
    assert str(frame["seed"].dtype) == "int64" and str(frame["elapsed_seconds"].dtype) == "float64"
    for column in ("fid", "precision", "fidelity_samples", "train_images_per_second", "ms_per_iteration"):
        assert str(frame[column].dtype) == "float64", column
    by_id = frame.set_index("run_id")
    assert by_id.loc["dcgan_seed0", "fid"] == FID["dcgan"][0]
    assert np.isnan(by_id.loc["fc_seed2", "fid"]) and by_id.loc["fc_seed2", "error"] == "RuntimeError: boom"
    assert by_id.loc["mine_seed0", "peak_memory_kind"] == "process_peak_rss"  # text stays text
    assert by_id.loc["dcgan_seed0", "fidelity_backbone"] == "lenet"
    assert by_id.loc["dcgan_seed0", "config"]["settings"] == {"batch_size": 64}
    assert by_id.loc["dcgan_seed0", "iterations_done"] == 200
    assert ganbench.load_records(tmp_path / "records.jsonl").equals(frame)


def test_load_records_and_write_report_of_a_folder_without_records(tmp_path):
    for function in (ganbench.load_records, ganbench.write_report):
        with pytest.raises(ganbench.UserError) as raised:
            function(tmp_path / "none")
        assert str(raised.value) == (f"{tmp_path / 'none' / 'records.jsonl'} does not exist; give a folder written "
                                     "by run(out=DIR) or evaluate(out=DIR)")
    assert not (tmp_path / "none").exists()


def test_write_report_writes_what_ganbench_report_writes(tmp_path):
    records_folder(tmp_path)
    written = ganbench.write_report(tmp_path)
    assert {"summary.csv", "summary.md", "summary.tex", "report.md", "report.html"} <= {p.name for p in written}
    assert all(path.is_file() for path in written)


BAD_RUNS = {
    "seeds": ({"seeds": 0}, "seeds must be a positive number of seeds, got 0"),
    "threads": ({"threads": 0}, "threads: invalid value '0': give a positive whole number"),
    "jobs": ({"jobs": "many"}, "jobs: invalid value 'many': give a positive number of processes, or auto"),
    "budget": ({"budget": "long"}, "unknown budget 'long'; choose one of: smoke, quick, equal, equal-flops, "
               "converged, standard, paper"),
    "variants": ({"variants": ["fc", "fc"]}, "variants names fc twice; give each name once"),
    "setting": ({"settings": {"fc.lr_d": -1}}, "bad value for fc.lr_d: -1.0 (must be > 0)"),
    "settings type": ({"settings": ["fc.lr_d=1"]}, "settings is a list; give a dict of setting -> value"),
    "kind option": ({"options": {"content": ["chelsea"]}}, "content is not an option of suite toy (gan runs) but "
                    "of suites style"),
    "unknown option": ({"options": {"restartt": True}}, "options names 'restartt', no option of this command"),
    "switch": ({"options": {"restart": "yes"}}, "restart=yes: give True or False"),
    "device": ({"device": "tpu"}, "device=tpu is not a device of this machine"),
}


@pytest.mark.parametrize("case", BAD_RUNS)
def test_bad_input_is_one_error_naming_the_keyword_and_nothing_is_written(tmp_path, case):
    arguments, message = BAD_RUNS[case]
    out = tmp_path / "out"
    with pytest.raises(ganbench.UserError) as raised:
        ganbench.run("toy", out=out, **{"budget": "smoke", **arguments})
    text = str(raised.value)
    assert text.startswith(message), text
    assert "--" not in text and "\n" not in text
    assert not out.exists()


def test_bad_evaluate_input_names_the_keyword(tmp_path):
    samples = tmp_path / "samples.npy"
    np.save(samples, np.zeros((4, 1, 28, 28), dtype=np.uint8))
    cases = [({"layout": "chw"}, "unknown layout 'chw'; choose one of: auto, nchw, nhwc"),
             ({"samples_count": 0}, "samples_count: invalid value '0': give a positive whole number"),
             ({"samples_count": 8}, f"{samples} holds 4 images, fewer than samples_count=8")]
    for given, message in cases:
        with pytest.raises(ganbench.UserError) as raised:
            ganbench.evaluate(samples, dataset="mnist", name="mine", out=tmp_path / "out", **given)
        assert str(raised.value).startswith(message) and "--" not in str(raised.value), str(raised.value)
    assert not (tmp_path / "out").exists()


def test_a_run_through_the_api_is_the_command_lines_run(tmp_path, capsys):
    """The API and ``ganbench run`` plan the same run (same id: configuration and execution alike),
    so the command finds the API's record and skips it."""
    out = tmp_path / "out"
    frame = ganbench.run("toy", budget="smoke", seeds=1, datasets="ring8", iterations=3, out=out)
    assert list(frame["status"]) == ["finished"] and frame.loc[0, "iterations_done"] == 3
    assert main(["run", "--suite", "toy", "--budget", "smoke", "--seeds", "1", "--datasets", "ring8",
                 "--iterations", "3", "--out", str(out), "--no-progress", "--jobs", "1"]) == 0
    assert "already in records.jsonl, skipped" in capsys.readouterr().out
    again = ganbench.run("toy", budget="smoke", seeds=1, datasets=["ring8"], iterations=3, out=out)
    assert list(again["run_id"]) == list(frame["run_id"]) and again.loc[0, "elapsed_seconds"] == \
        frame.loc[0, "elapsed_seconds"]


@pytest.fixture
def registered():
    """Variants registered by a test are removed after it."""
    names = set(VARIANTS.names())
    yield
    for name in set(VARIANTS.names()) - names:
        VARIANTS.remove(name)
        api._SCRIPT_VARIANTS.discard(name)


def test_register_variant_notes_the_registering_file_and_refuses_what_it_cannot_run(registered, tmp_path):
    variant = replace(FC, name="fc-api-test", settings=with_defaults(FC.settings, loss="hinge"))
    ganbench.register_variant(variant)
    origin = VARIANTS.origin("fc-api-test")
    assert origin["file"] == __file__ and origin["sha256"] == hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    with pytest.raises(ganbench.UserError, match="variant 'fc-api-test' is registered already"):
        ganbench.register_variant(variant)
    with pytest.raises(ganbench.UserError, match="variant 'dcgan' is registered already \\(a built-in\\)"):
        ganbench.register_variant(replace(FC, name="dcgan"))
    with pytest.raises(ganbench.UserError, match="variant is a dict; give a ganbench.Variant"):
        ganbench.register_variant({"name": "x"})
    with pytest.raises(ganbench.UserError, match="exists in this process only; give jobs=1"):
        ganbench.run("toy", budget="smoke", variants=["fc-api-test"], jobs=2, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_settings_are_written_as_set_writes_them():
    assert arguments.assignments({"fc.g_widths": (8, 8), "ema": True, "d_skip_below": None, "eval.samples": 500}) == [
        "fc.g_widths=8,8", "ema=true", "d_skip_below=none", "eval.samples=500"]


def test_evaluate_takes_a_generator_or_real_images_as_the_command_does(synthetic_mnist, tmp_path):
    settings = {"eval.reference_samples": 300, "eval.kid_subset_size": 50}
    floor = ganbench.evaluate(real="train", generator_seeds=[0, 1], samples_count=100, dataset="mnist", name="real",
                              backbone="lenet", data_root=synthetic_mnist, settings=settings, out=tmp_path / "floor")
    assert list(floor["seed"]) == [0, 1] and list(floor["variant"]) == ["real", "real"]
    assert (floor["fidelity_samples"] == 100).all()
    with pytest.raises(ganbench.UserError) as raised:
        ganbench.evaluate(tmp_path / "x.npy", real="train", dataset="mnist", name="real", out=tmp_path / "out")
    assert str(raised.value).startswith("give one of samples, generator or real, not samples and real")
    with pytest.raises(ganbench.UserError) as raised:
        ganbench.evaluate(generator="gen.py:make", dataset="mnist", name="g", out=tmp_path / "out")
    assert str(raised.value).startswith("latent_dim is required with generator")
    assert not (tmp_path / "out").exists()
