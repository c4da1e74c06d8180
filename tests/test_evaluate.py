"""``ganbench evaluate``: a finished run's own samples, exported, give its numbers back; the
records sit beside trained runs in one report; every bad input is one error line, exit 2, and
nothing written."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganbench.cli import main
from ganbench.gan import sampling

GENERATORS = Path(__file__).parent / "generators.py"
FIDELITY_KEYS = ("fid", "is_mean", "is_std", "kid_mean", "kid_std", "precision", "recall", "density", "coverage",
                 "class_kl", "classes_covered")
SEEDED_KEYS = ("fid_ci_low", "fid_ci_high", "fid_infinity", "fid_infinity_slope")


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def exported_run(shared_data, tmp_path_factory) -> tuple[Path, Path]:
    """A finished ``mnist`` smoke run of dcgan (its final checkpoint kept), and the generated tensor
    its evaluation of the live G used (``eval.samples`` images, float in [-1, 1]) saved as
    ``samples.npy``: the first draw of that size (the run then draws as many from its EMA of G,
    recorded as ``ema_*``)."""
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
                     str(shared_data), "--out", str(folder / "out"), "--no-progress", "--keep-checkpoints"]) == 0
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
    assert all((out / r["artifacts"]["closest_training"]).is_file() for r in evaluated)  # the memorisation figure
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


DCGAN_G = """from ganbench.gan.variants.dcgan import Generator


def make(latent_dim):
    return Generator(latent_dim, {g_width}, 1, {image_size})
"""


def run_generator(out: Path, folder: Path) -> tuple[Path, Path, Path]:
    """The first run's live G, three ways: a module file making dcgan's Generator at the run's
    settings, the G weights of the run's final checkpoint as a state_dict file, and the loaded G
    exported with TorchScript."""
    from ganbench.gan.variants.dcgan import Generator

    run = records(out)[0]
    settings = run["config"]["settings"]
    (checkpoint,) = (out / "runs" / run["run_id"] / "checkpoints").glob("checkpoint_*.pt")
    gan = torch.load(checkpoint, map_location="cpu", weights_only=True)["gan"]
    weights = {key.removeprefix("generator."): value for key, value in gan.items() if key.startswith("generator.")}
    torch.save(weights, folder / "g.pt")
    (folder / "dcgan_g.py").write_text(DCGAN_G.format(**settings))
    live = Generator(settings["latent_dim"], settings["g_width"], 1, settings["image_size"])
    live.load_state_dict(weights)
    torch.jit.script(live.eval()).save(str(folder / "g.torchscript.pt"))
    return folder / "dcgan_g.py", folder / "g.pt", folder / "g.torchscript.pt"


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_a_runs_g_from_its_checkpoint_gives_its_metrics_and_so_does_its_torchscript_export(
        exported_run, shared_data, tmp_path, capsys):
    """The run draws its evaluation latents as ``--generator`` does (seeded by the run's seed and the
    batch), so its G at its seed gives every number of its record; the TorchScript export and a
    second evaluation give the same record numbers; another seed gives other numbers."""
    out = tmp_path / "out"
    shutil.copytree(exported_run[0], out)
    run = records(out)[0]
    module, weights, scripted = run_generator(out, tmp_path)
    shared = ["--latent-dim", str(run["config"]["settings"]["latent_dim"]), "--dataset", "mnist", "--suite", "mnist",
              "--budget", "smoke", "--data-root", str(shared_data)]
    own = ["evaluate", "--generator", f"{module}:make", "--checkpoint", str(weights), "--name", "own-g", *shared]
    assert main([*own, "--generator-seeds", f"{run['seed']},7", "--out", str(out)]) == 0
    assert main([*own, "--generator-seeds", str(run["seed"]), "--out", str(tmp_path / "again")]) == 0
    assert main(["evaluate", "--generator", str(scripted), "--generator-seeds", str(run["seed"]), "--name",
                 "own-g-scripted", "--out", str(out), *shared]) == 0
    by = {(r["variant"], r["seed"]): r for r in records(out) if r["kind"] == "evaluation"}
    first, seven, script = by[("own-g", run["seed"])], by[("own-g", 7)], by[("own-g-scripted", run["seed"])]
    for key in FIDELITY_KEYS + SEEDED_KEYS:
        assert first["metrics"][key] == pytest.approx(run["metrics"][key], rel=1e-6, abs=1e-9), key
    assert script["metrics"] == first["metrics"] and seven["metrics"]["fid"] != first["metrics"]["fid"]
    (again,) = records(tmp_path / "again")
    timed = ("generation_seconds",)
    assert (again["run_id"], again["config"], again["metrics"]) == (first["run_id"], first["config"], first["metrics"])
    assert {k: v for k, v in again["provenance"]["samples"].items() if k not in timed} == {
        k: v for k, v in first["provenance"]["samples"].items() if k not in timed}
    card, script_card = first["provenance"]["samples"], script["provenance"]["samples"]
    digest = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in (module, weights, scripted)}
    assert (card["format"], card["sha256"], card["checkpoint_sha256"], card["latent_dim"], card["seed"]) == (
        "generator", digest[module], digest[weights], 100, run["seed"])
    assert (card["evaluated"], card["image_shape"], card["dtype"]) == (run["config"]["evaluation"]["samples"],
                                                                       [1, 32, 32], "float32")
    assert (script_card["format"], script_card["sha256"], script_card["checkpoint"]) == (
        "torchscript", digest[scripted], None)
    assert first["provenance"]["backbone"]["sha256"] == run["metrics"]["fidelity_weights_sha256"]
    assert main(["report", str(out)]) == 0
    shown = capsys.readouterr().out
    assert re.search(r"\| mnist +\| own-g +\| mnist +\| smoke +\| 2/2 ", shown) and re.search(r"\| dcgan +\|", shown)


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


def generator(folder: Path, name: str, latent_dim: int | None = 8, checkpoint: dict | None = None,
               torchscript: bytes | None = None) -> list[str]:
    """The options of a generator input: callable ``name`` of a copy of tests/generators.py in
    ``folder`` (or a file of bytes ``torchscript``), with ``checkpoint`` saved by torch.save."""
    folder.mkdir(parents=True, exist_ok=True)
    if torchscript is not None:
        (folder / "model.pt").write_bytes(torchscript)
        spec = str(folder / "model.pt")
    else:
        (folder / "generators.py").write_text(GENERATORS.read_text())
        spec = name if ":" in name else f"{folder / 'generators.py'}:{name}"
    options = ["--generator", spec, "--samples-count", "10", "--set", "eval.kid_subset_size=10"]
    if latent_dim is not None:
        options += ["--latent-dim", str(latent_dim)]
    if checkpoint is not None:
        torch.save(checkpoint, folder / "weights.pt")
        options += ["--checkpoint", str(folder / "weights.pt")]
    return options


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
    # A generator instead of samples (tests/generators.py's callables; 10 images drawn, KID subsets of 10).
    "generator module not importable": (lambda folder: generator(folder, "no_such_module_xyz:make"), (),
                                        "cannot import no_such_module_xyz (ModuleNotFoundError: No module named"),
    "generator file missing": (lambda folder: generator(folder, str(folder / "absent.py") + ":make"), (),
                               "absent.py; give an existing PATH.py:CALLABLE"),
    "generator callable missing": (lambda folder: generator(folder, "missing"), (),
                                   "has no 'missing'; name an nn.Module, an nn.Module class or a function"),
    "generator returning a flat shape": (lambda folder: generator(folder, "flat"), (),
                                         "returned shape (10, 784) for 10 latents; the reference needs (n, C, S, S)"),
    "generator returning RGB for a grey reference": (lambda folder: generator(folder, "rgb"), (),
                                                     "returned shape (10, 3, 28, 28) for 10 latents"),
    "generator returning integers": (lambda folder: generator(folder, "integers"), (),
                                     "returned uint8 values; return floating images in [-1, 1]"),
    "generator returning NaN": (lambda folder: generator(folder, "nan"), (),
                                "returned 7840 NaN or infinite values"),
    "generator returning values outside [-1, 1]": (lambda folder: generator(folder, "unit_scaled"), (),
                                                   "returned values in [0, 2], outside [-1, 1]"),
    "generator of another latent size": (lambda folder: generator(folder, "no_arguments", latent_dim=5), (),
                                         "failed on latents of shape (10, 5)"),
    "checkpoint holding pickled code": (lambda folder: generator(folder, "good", checkpoint={
        "net.weight": torch.zeros(784, 8), "net.bias": torch.zeros(784), "path": Path("x")}), (),
        "holds pickled Python objects (pathlib"),
    "checkpoint whose keys do not fit": (lambda folder: generator(folder, "good", checkpoint={
        "generator.net.weight": torch.zeros(784, 8), "generator.net.bias": torch.zeros(784)}), (),
        "keys do not fit the generator (its keys carry the prefix 'generator.': strip it): 2 missing"),
    "checkpoint of another shape": (lambda folder: generator(folder, "good", checkpoint={
        "net.weight": torch.zeros(784, 9), "net.bias": torch.zeros(784)}), (),
        "does not fit the generator (size mismatch for net.weight"),
    "not a TorchScript file": (lambda folder: generator(folder, "", torchscript=b"not a model"), (),
                               "not a TorchScript file"),
    "--generator without --latent-dim": (lambda folder: generator(folder, "good", latent_dim=None), (),
                                         "--latent-dim is required with --generator"),
    "both --samples and --generator": (lambda folder: [*generator(folder, "good"), "--samples",
                                                       str(grey_pngs(folder / "pngs", 8))], (),
                                       "not --samples and --generator"),
    # Real images as the samples (the real-data floor); the synthetic train split holds 600 images.
    "--real with every image in the reference": (lambda folder: ["--real", "train"], (
        "--samples-count", "10", "--set", "eval.kid_subset_size=10"),
                                                 "has 0 images outside the reference set to draw from, fewer than "
                                                 "the 10 asked; lower --set eval.reference_samples=K"),
    "--real with --latent-dim": (lambda folder: ["--real", "train", "--latent-dim", "4"], (),
                                 "--latent-dim goes with --generator; leave it out with --real"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_one_error_line_exit_2_and_nothing_written(case, synthetic_mnist, tmp_path, capsys):
    make, extra, message = BAD_INPUTS[case]
    made = make(tmp_path / "input")
    inputs = made if isinstance(made, list) else ["--samples", str(made)]
    out = tmp_path / "out"
    before = tree(tmp_path)
    code = main(["evaluate", *inputs, "--dataset", "mnist", "--name", "bad", "--out", str(out),
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
