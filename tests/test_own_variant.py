"""A GAN variant added through the registry alone -- no edit to ganbench -- runs in an image suite at
every budget beside the built-ins; a variant the suite cannot train is one error line."""

import json
import math
from dataclasses import replace
from typing import Any

import pytest
from torch import nn

from ganbench.builtins import register_builtins
from ganbench.cli import main
from ganbench.data import BenchDataset
from ganbench.gan.model import GAN, VARIANTS, Variant
from ganbench.gan.suites import EQUAL_IMAGES, MNIST, PAPER_IMAGES, QUICK_IMAGES
from ganbench.gan.trainer import TRAINER_SETTINGS
from ganbench.runs import RunRequest
from ganbench.settings import Setting


def build_mlp(settings: dict[str, Any], data: BenchDataset) -> GAN:
    """A one-hidden-layer MLP GAN for any image shape: z -> (N, C, H, W) in [-1, 1] -> a logit."""
    size = math.prod(data.sample_shape)
    generator = nn.Sequential(nn.Linear(settings["latent_dim"], settings["width"]), nn.ReLU(),
                              nn.Linear(settings["width"], size), nn.Tanh(), nn.Unflatten(1, data.sample_shape))
    discriminator = nn.Sequential(nn.Flatten(), nn.Linear(size, settings["width"]), nn.LeakyReLU(0.2),
                                  nn.Linear(settings["width"], 1))
    return GAN(generator, discriminator, settings["latent_dim"])


# Declares no scales and no lengths: every budget's defaults apply.
MLP = Variant(
    name="test-mlp",
    summary="a one-hidden-layer MLP GAN defined in a test",
    reference="none",
    settings={**TRAINER_SETTINGS, "latent_dim": Setting(16, "latent size", minimum=1),
              "width": Setting(64, "hidden units of G and D", minimum=1)},
    kinds=("images",),
    build=build_mlp,
)


@pytest.fixture
def registered():
    """Register test variants for one test, and remove them afterwards."""
    register_builtins()
    added = []

    def register(variant: Variant) -> str:
        VARIANTS.add(variant.name, variant)
        added.append(variant.name)
        return variant.name

    yield register
    for name in added:
        VARIANTS.remove(name)


def test_a_variant_that_declares_nothing_gets_every_budget(registered, shared_data):
    registered(MLP)
    lengths = {}
    for budget in ("smoke", "quick", "equal", "standard", "paper"):
        (run, *_) = MNIST.plan(RunRequest(budget=budget, variants=("test-mlp",), data_root=str(shared_data),
                                          options={"split": "test"}))
        lengths[budget] = (run.iterations, run.settings["batch_size"])
    assert lengths == {"smoke": (4, 16), "quick": (round(QUICK_IMAGES / 64), 64),
                       "equal": (round(EQUAL_IMAGES / 64), 64), "standard": (20_000, 64),
                       "paper": (round(PAPER_IMAGES / 64), 64)}


def read_records(out):
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


# quick, kept short: 3 iterations, and smoke's evaluation sizes without the FID bootstrap.
SHORT_QUICK = ["--iterations", "3", "--set", "eval.samples=200", "--set", "eval.reference_samples=200", "--set",
               "eval.kid_subset_size=100", "--set", "eval.kid_subsets=10", "--set", "eval.fid_bootstrap=0",
               "--set", "eval.throughput_samples=64"]


@pytest.mark.parametrize("budget, extra, dcgan_width, batch", [("smoke", [], 8, 16), ("quick", SHORT_QUICK, 32, 64)])
def test_a_registered_variant_runs_in_the_mnist_suite_beside_dcgan(registered, shared_data, tmp_path, budget, extra,
                                                                    dcgan_width, batch):
    registered(MLP)
    out = tmp_path / budget
    assert main(["run", "--suite", "mnist", "--budget", budget, "--variants", "dcgan,test-mlp", *extra,
                 "--data-root", str(shared_data), "--split", "test", "--out", str(out), "--no-progress"]) == 0
    records = read_records(out)
    assert [(r["variant"], r["status"]) for r in records] == [("dcgan", "finished"), ("test-mlp", "finished")]
    dcgan, mlp = (record["config"]["settings"] for record in records)
    assert dcgan["g_width"] == dcgan_width and (mlp["width"], mlp["batch_size"]) == (64, batch)
    assert records[1]["metrics"]["fid"] > 0
    rows = [line for line in (out / "summary.md").read_text().splitlines() if line.startswith("|")]
    assert any("| dcgan " in row for row in rows) and any("| test-mlp " in row for row in rows)


def test_a_variant_the_suite_cannot_train_is_one_error_line(registered, shared_data, tmp_path, capsys):
    registered(replace(VARIANTS.get("fc"), name="points-only", kinds=("points",)))
    out = tmp_path / "out"
    assert main(["run", "--suite", "mnist", "--budget", "quick", "--variants", "dcgan,points-only",
                 "--data-root", str(shared_data), "--split", "test", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err == "ganbench: error: variant points-only cannot train on images data (mnist); it handles points\n"
    assert not out.exists()
