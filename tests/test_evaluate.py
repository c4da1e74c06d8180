"""``ganbench evaluate``: a finished run's own samples, exported, give its numbers back; the
records sit beside trained runs in one report; every bad input is one error line, exit 2, and
nothing written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganbench.cli import main
from ganbench.gan import sampling

FIDELITY_KEYS = ("fid", "is_mean", "is_std", "kid_mean", "kid_std", "precision", "recall", "density", "coverage",
                 "class_kl", "classes_covered")
SEEDED_KEYS = ("fid_ci_low", "fid_ci_high", "fid_infinity", "fid_infinity_slope")


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def exported_run(shared_data, tmp_path_factory) -> tuple[Path, Path]:
    """A finished ``mnist`` smoke run of dcgan, and the generated tensor its evaluation of the live G
    used (``eval.samples`` images, float in [-1, 1]) saved as ``samples.npy``: the first draw of
    that size (the run then draws as many from its EMA of G, recorded as ``ema_*``)."""
    folder = tmp_path_factory.mktemp("exported")
    drawn: dict[int, torch.Tensor] = {}
    original = sampling.SampleSet.generated

    def keep(self, count):
        images = original(self, count)
        drawn.setdefault(count, images)
        return images

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sampling.SampleSet, "generated", keep)
        assert main(["run", "--suite", "mnist", "--budget", "smoke", "--variants", "dcgan", "--data-root",
                     str(shared_data), "--out", str(folder / "out"), "--no-progress"]) == 0
    samples = drawn[records(folder / "out")[0]["config"]["evaluation"]["samples"]]
    np.save(folder / "samples.npy", samples.numpy())
    return folder / "out", folder / "samples.npy"


def evaluate(out: Path, data: Path, *inputs: Path, extra: tuple[str, ...] = ()) -> int:
    arguments = [item for path in inputs for item in ("--samples", str(path))]
    return main(["evaluate", *arguments, "--dataset", "mnist", "--name", "exported", "--suite", "mnist",
                 "--budget", "smoke", "--data-root", str(data), "--out", str(out), *extra])


def test_a_runs_exported_samples_give_its_recorded_metrics_and_sit_in_its_report(exported_run, shared_data, capsys):
    out, samples = exported_run
    run = records(out)[0]
    # The same tensor as uint8 PNGs, quantised as the evaluators quantise (round((x + 1) * 127.5)).
    pngs = samples.parent / "pngs"
    pngs.mkdir()
    images = np.load(samples)
    for index, image in enumerate(np.round((images[:, 0] + 1) * 127.5).clip(0, 255).astype(np.uint8)):
        Image.fromarray(image).save(pngs / f"{index:04d}.png")
    assert evaluate(out, shared_data, samples, pngs) == 0
    evaluated = [record for record in records(out) if record.get("kind") == "evaluation"]
    assert [(r["variant"], r["seed"], r["suite"], r["budget"]) for r in evaluated] == [
        ("exported", 0, "mnist", "smoke"), ("exported", 1, "mnist", "smoke")]
    # FID's bootstrap and FID-infinity's subsets are drawn from the record's seed, an input's
    # position: the .npy (seed 0, the run's seed) agrees on every key, the PNGs (seed 1) on every
    # key that draws nothing at random.
    for record in evaluated:
        for key in FIDELITY_KEYS + SEEDED_KEYS:
            if record["seed"] == run["seed"] or key not in SEEDED_KEYS:
                assert record["metrics"][key] == pytest.approx(run["metrics"][key], rel=1e-6, abs=1e-9), key
    npy, png = (record["provenance"]["samples"] for record in evaluated)
    count = run["config"]["evaluation"]["samples"]
    assert (npy["format"], npy["layout"], npy["value_range"], npy["evaluated"]) == ("npy", "NCHW", "[-1, 1]", count)
    assert (png["format"], png["files"], png["value_range"]) == ("images", count, "uint8")
    assert evaluated[0]["provenance"]["backbone"]["sha256"] == run["metrics"]["fidelity_weights_sha256"]
    summary = (out / "summary.csv").read_text()
    assert "dcgan" in summary and "exported" in summary
    assert main(["report", str(out)]) == 0
    assert re.search(r"\| mnist +\| exported +\| mnist +\| smoke +\| 2/2 ", capsys.readouterr().out)


def tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def grey_pngs(folder: Path, count: int, size: int = 28) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(folder / f"{index:03d}.png")
    return folder


def array(folder: Path, values: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "samples.npy", values)
    return folder / "samples.npy"


def mixed_sizes(folder: Path) -> Path:
    grey_pngs(folder, 3)
    Image.fromarray(np.zeros((32, 32), dtype=np.uint8)).save(folder / "odd.png")
    return folder


def rgb_pngs(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for index in range(3):
        Image.fromarray(np.zeros((28, 28, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    return folder


def corrupt_png(folder: Path) -> Path:
    grey_pngs(folder, 3)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot an image")
    return folder


def with_nan(folder: Path) -> Path:
    values = np.zeros((4, 1, 28, 28), dtype=np.float32)
    values[2, 0, 3, 3] = np.nan
    return array(folder, values)


BAD_INPUTS = {
    "empty folder": (lambda folder: (folder.mkdir(), folder)[1], (), "holds no PNG or JPEG images"),
    "mixed image sizes": (mixed_sizes, (), "mixes image sizes: 000.png is 28x28 grey, odd.png is 32x32 grey"),
    "RGB samples for a grey reference": (rgb_pngs, (), "holds RGB (3 channels) images but the reference mnist is "
                                         "grey (1 channel)"),
    "fewer images than --samples-count": (lambda folder: grey_pngs(folder, 3), ("--samples-count", "5"),
                                          "holds 3 images, fewer than --samples-count 5"),
    "corrupt PNG": (corrupt_png, (), "broken.png is not a readable image"),
    "NaN in an array": (with_nan, (), "holds 1 NaN or infinite values"),
    "infinity in an array": (lambda folder: array(folder, np.full((4, 28, 28), np.inf, dtype=np.float32)), (),
                             "holds 3136 NaN or infinite values"),
    "floats out of range": (lambda folder: array(folder, np.full((4, 1, 28, 28), 3.0, dtype=np.float32)), (),
                            "holds values in [3, 3], outside [0, 1]"),
    "integers out of range": (lambda folder: array(folder, np.full((4, 28, 28, 1), 300, dtype=np.int64)), (),
                              "holds integers in [300, 300]; integer images must be 0..255"),
    "pickled array": (lambda folder: array(folder, np.array([{"code": 1}], dtype=object)), (),
                      "cannot be read as a numeric array"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_one_error_line_exit_2_and_nothing_written(case, synthetic_mnist, tmp_path, capsys):
    make, extra, message = BAD_INPUTS[case]
    samples = make(tmp_path / "input")
    out = tmp_path / "out"
    before = tree(tmp_path)
    code = main(["evaluate", "--samples", str(samples), "--dataset", "mnist", "--name", "bad", "--out", str(out),
                 "--backbone", "lenet", "--data-root", str(synthetic_mnist), *extra])
    error = capsys.readouterr().err
    assert code == 2
    assert error.startswith("ganbench: error: ") and error.count("\n") == 1, error
    assert message in error
    assert not out.exists() and tree(tmp_path) == before


def test_the_report_shows_evaluation_records_beside_runs_even_a_degenerate_interval(tmp_path, capsys):
    """A collapsed model's samples (all alike) give a bootstrap interval of one point that misses
    the FID by rounding; the report still draws it (a zero error bar), in one table with the runs."""
    from report_records import gan_record

    runs = [gan_record(tmp_path, "dcgan", seed, fid) for seed, fid in enumerate((20.0, 21.0, 19.5))]
    evaluation = gan_record(tmp_path, "collapsed", 0, 2802.7069459976165)
    evaluation.update(kind="evaluation", run_id="collapsed_seed0_external", artifacts={})
    evaluation["metrics"].update(fid_ci_low=2802.707045682161, fid_ci_high=2802.707045682161)
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in (*runs, evaluation)))
    assert main(["report", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert re.search(r"\| dcgan +\|", shown) and re.search(r"\| collapsed +\| .*\| 2,80", shown)
