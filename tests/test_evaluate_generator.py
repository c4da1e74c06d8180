"""``ganbench evaluate --generator``: every way of naming a generator loads it, latents are the
run's (seeded by seed, stream and batch, in batches of a run's sampler), outputs are checked and
stored as float32 in [-1, 1], and several seeds are several records of one model. The agreement
with a run and the bad inputs are in tests/test_evaluate.py."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import generators
from ganbench import seeding
from ganbench.cli import main
from ganbench.errors import UserError
from ganbench.evaluation import BATCH, EvaluationRequest, draw, evaluate_samples, load_generator
from ganbench.gan.sampling import GENERATION_BATCH

GENERATORS = Path(generators.__file__)


@pytest.mark.parametrize("spec, made", [
    ("generators:INSTANCE", "the instance"), ("generators:Class", "Class"), ("generators:no_arguments", "Made"),
    (f"{GENERATORS}:good", "Made")])
def test_a_module_a_class_a_function_or_a_file_names_the_generator(spec, made):
    model = load_generator(spec, 8)
    if made == "the instance":
        assert model.module is generators.INSTANCE
    else:
        assert type(model.module).__name__ == made
    assert not model.module.training and model.form == "module" and model.latent_dim == 8
    assert model.file == GENERATORS.resolve()
    assert model.sha256 == hashlib.sha256(GENERATORS.read_bytes()).hexdigest()


def test_latents_are_a_runs_and_the_same_seed_draws_the_same_samples():
    assert BATCH == GENERATION_BATCH  # the run's sampler batch: batch b is drawn from (seed, "evaluation", b)
    model = load_generator("generators:good", 8)
    first, again, other = draw(model, 3, 300, 1), draw(model, 3, 300, 1), draw(model, 4, 300, 1)
    assert first.images.shape == (300, 1, 28, 28) and first.images.dtype == torch.float32
    assert torch.equal(first.images, again.images) and not torch.equal(first.images, other.images)
    with torch.no_grad():
        for batch, rows in enumerate((slice(0, 256), slice(256, 300))):
            z = torch.randn(rows.stop - rows.start, 8, generator=seeding.generator(3, seeding.EVALUATION, batch))
            assert torch.equal(first.images[rows], model.module(z))


class Signs(torch.nn.Module):
    """The sign of each latent's first value times ``scale``, as 28x28 images in ``dtype``."""

    def __init__(self, scale: float, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.scale, self.dtype = scale, dtype

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (torch.sign(z[:, :1, None, None]).expand(-1, 1, 28, 28) * self.scale).to(self.dtype)


def test_outputs_within_the_tolerance_are_clamped_other_floats_become_float32():
    model = load_generator("generators:good", 8)
    near = draw(replace(model, module=Signs(1.0005)), 0, 50, 1)
    assert near.images.abs().max() == 1.0 and near.images.min() == -1.0
    with pytest.raises(UserError, match=r"returned values in \[-1.01, 1.01\], outside \[-1, 1\]"):
        draw(replace(model, module=Signs(1.01)), 0, 50, 1)
    doubles = draw(replace(model, module=Signs(0.5, torch.float64)), 0, 50, 1)
    assert (doubles.images.dtype, doubles.dtype, doubles.images.abs().max().item()) == (torch.float32, "float64", 0.5)


def test_generator_seeds_are_that_models_seeds_and_the_api_request_takes_them(synthetic_mnist, tmp_path):
    request = EvaluationRequest((), "mnist", "mine", tmp_path / "out", backbone="lenet", samples_count=20,
                                data_root=str(synthetic_mnist), set=("eval.kid_subset_size=10",),
                                generator="generators:good", latent_dim=8, generator_seeds=(5, 2))
    records = evaluate_samples(request)
    assert [(r["variant"], r["seed"], r["kind"], r["suite"]) for r in records] == [
        ("mine", 5, "evaluation", "external"), ("mine", 2, "evaluation", "external")]
    cards = [r["provenance"]["samples"] for r in records]
    assert [(c["seed"], c["evaluated"], c["latent_dim"], c["checkpoint"]) for c in cards] == [
        (5, 20, 8, None), (2, 20, 8, None)]
    assert records[0]["metrics"]["fid"] != records[1]["metrics"]["fid"]
    stored = [json.loads(line) for line in (tmp_path / "out" / "records.jsonl").read_text().splitlines()]
    assert sorted(r["seed"] for r in stored) == [2, 5]


@pytest.mark.parametrize("options, message", [
    (["--samples", "x.npy", "--checkpoint", "g.pt"], "--checkpoint goes with --generator"),
    (["--samples", "x.npy", "--latent-dim", "8"], "--latent-dim goes with --generator"),
    (["--generator", "generators:good", "--latent-dim", "8", "--generator-seeds", "1,1"],
     "give distinct whole numbers >= 0"),
])
def test_generator_options_out_of_place_are_one_error_line(options, message, tmp_path, capsys):
    try:
        code = main(["evaluate", *options, "--dataset", "mnist", "--name", "bad", "--out", str(tmp_path / "out")])
    except SystemExit as exit:  # argparse refuses a value its option's parse refuses
        code = exit.code
    error = capsys.readouterr().err
    assert code == 2 and message in error and error.count("\n") == 1, error
    assert not (tmp_path / "out").exists()
