"""Plugins: the example package's ``sngan`` (installed through its entry point) and the same variant
loaded from a file with ``--plugin`` run in the mnist suite beside dcgan, named in their records'
provenance; a broken plugin is one error line, exit 2, nothing written."""

import csv
import hashlib
import importlib
import json
from importlib import metadata
from pathlib import Path

import pytest

from ganbench import plugins
from ganbench.builtins import register_builtins
from ganbench.cli import main
from ganbench.gan.model import VARIANTS

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sngan" / "ganbench_sngan" / "__init__.py"
OFFLINE = ["--split", "test", "--no-progress"]
# quick, kept short: 3 iterations, and smoke's evaluation sizes without the FID bootstrap.
SHORT_QUICK = ["--iterations", "3", "--set", "eval.samples=200", "--set", "eval.reference_samples=200", "--set",
               "eval.kid_subset_size=100", "--set", "eval.kid_subsets=10", "--set", "eval.fid_bootstrap=0",
               "--set", "eval.throughput_samples=64"]


def installed() -> bool:
    return any(entry.name == "sngan" for entry in metadata.entry_points(group=plugins.ENTRY_POINT_GROUP))


@pytest.fixture
def unloads():
    """Unload the plugins a test loads, so that the next test sees the registries as before."""
    register_builtins()
    plugins.load_plugins()  # the installed ones stay
    before = set(plugins.LOADED)
    yield
    for label in set(plugins.LOADED) - before:
        plugins.unload(label)


def read_records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


def variants_in_summary(out: Path) -> list[str]:
    with (out / "summary.csv").open() as handle:
        return [row["variant"] for row in csv.DictReader(handle)]


@pytest.mark.skipif(not installed(), reason="the example plugin is not installed (pip install -e examples/sngan)")
def test_the_installed_example_runs_beside_dcgan_with_its_provenance(shared_data, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "--suite", "mnist", "--budget", "smoke", "--variants", "dcgan,sngan", "--seeds", "2",
                 "--data-root", str(shared_data), "--out", str(out), *OFFLINE]) == 0
    records = read_records(out)
    assert sorted((r["variant"], r["status"]) for r in records) == [("dcgan", "finished")] * 2 + [
        ("sngan", "finished")] * 2
    source = Path(importlib.import_module("ganbench_sngan").__file__)
    for record in records:
        plugins_used = record["provenance"].get("plugin")
        if record["variant"] == "dcgan":
            assert plugins_used is None and "plugin" not in json.dumps(record["config"])
        else:
            [plugin] = plugins_used
            assert (plugin["registry"], plugin["name"]) == ("variant", "sngan")
            assert plugin["package"] == "ganbench-sngan" and plugin["version"] == "0.1.0"
            assert plugin["sha256"] == hashlib.sha256(Path(plugin["file"]).read_bytes()).hexdigest()
            assert Path(plugin["file"]).resolve() == source.resolve()
            assert record["config"]["settings"]["loss"] == "hinge"
    assert sorted(set(variants_in_summary(out))) == ["dcgan", "sngan"]
    with (out / "summary_significance.csv").open() as handle:
        pairs = {(row["metric"], frozenset((row["better"], row["worse"]))) for row in csv.DictReader(handle)}
    assert ("fid", frozenset(("dcgan", "sngan"))) in pairs, pairs
    capsys.readouterr()
    assert main(["list", "variants"]) == 0
    assert "[plugin ganbench-sngan 0.1.0]" in next(line for line in capsys.readouterr().out.splitlines()
                                                   if line.strip().startswith("sngan "))


def file_plugin(folder: Path) -> Path:
    """The example's module as a file outside the repository, its variant renamed ``sngan-file`` (so it
    does not clash with the installed ``sngan``)."""
    path = folder / "my_sngan.py"
    path.write_text(EXAMPLE.read_text().replace('name="sngan"', 'name="sngan-file"'))
    return path


@pytest.mark.parametrize("budget, extra", [("smoke", ["--jobs", "2"]), ("quick", SHORT_QUICK)])
def test_a_plugin_file_runs_in_the_mnist_suite(unloads, shared_data, tmp_path, budget, extra):
    path = file_plugin(tmp_path)
    out = tmp_path / budget
    assert main(["--plugin", str(path), "run", "--suite", "mnist", "--budget", budget, "--variants",
                 "dcgan,sngan-file", *extra, "--data-root", str(shared_data), "--out", str(out), *OFFLINE]) == 0
    records = read_records(out)
    assert [(r["variant"], r["status"]) for r in records] == [("dcgan", "finished"), ("sngan-file", "finished")]
    [plugin] = records[1]["provenance"]["plugin"]
    assert (plugin["registry"], plugin["name"]) == ("variant", "sngan-file")
    assert plugin["file"] == str(path.resolve())
    assert plugin["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert records[1]["config"]["settings"]["g_width"] == {"smoke": 8, "quick": 32}[budget]
    assert variants_in_summary(out) == ["dcgan", "sngan-file"]


VARIANT_CODE = """
from dataclasses import replace
from ganbench.gan.variants.dcgan import VARIANT as DCGAN
from torch import nn
"""

BROKEN = {
    "import error": ("import ganbench_no_such_module\n", "failed to load (ModuleNotFoundError"),
    "no register": ("X = 1\n", "defines no `register`"),
    "register not a function": ("register = 3\n", "`register` is a int, not a function"),
    "register raises": ("def register(registries):\n    raise RuntimeError('boom')\n", "`register` failed"),
    "wrong type": ("def register(registries):\n    registries.variants.add('bad', object())\n",
                   "variant 'bad' is a object; register a ganbench.gan.model.Variant"),
    "built-in name": (VARIANT_CODE + "def register(registries):\n    registries.variants.add('dcgan', DCGAN)\n",
                      "variant 'dcgan' is registered twice"),
    "another plugin's name": (VARIANT_CODE + "def register(registries):\n"
                              "    registries.variants.add('twin', replace(DCGAN, name='twin'))\n",
                              "variant 'twin' is registered twice"),
    "wrong output shape": (VARIANT_CODE + "def build(settings, data):\n"
                           "    gan = DCGAN.build(settings, data)\n"
                           "    gan.generator = nn.Sequential(gan.generator, nn.AvgPool2d(2))\n"
                           "    return gan\n"
                           "def register(registries):\n"
                           "    registries.variants.add('twin', replace(DCGAN, name='twin', build=build))\n",
                           "generator makes samples of shape (1, 16, 16), dataset mnist needs (1, 32, 32)"),
    "no such file": (None, "no such file"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_a_broken_plugin_is_one_error_line(unloads, shared_data, tmp_path, capsys, case):
    code, message = BROKEN[case]
    path = tmp_path / "broken.py"
    if code is not None:
        path.write_text(code)
    extra = ["--plugin", str(path)]
    if case == "another plugin's name":
        first = tmp_path / "first.py"
        first.write_text(code)
        extra = ["--plugin", str(first), *extra]
    names = VARIANTS.names()
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("untouched")
    status = main([*extra, "run", "--suite", "mnist", "--budget", "smoke", "--variants", "dcgan,twin",
                   "--data-root", str(shared_data), "--out", str(out), *OFFLINE])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f"ganbench: error: plugin {path.resolve() if code is not None else path}") and \
        err.count("\n") == 1, err
    assert message in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert VARIANTS.names() == names + ["twin"] * (case in ("another plugin's name", "wrong output shape"))


def test_the_readme_plugin_runs_as_written(unloads, tmp_path, capsys):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    code = readme.split("```python\n# mygan.py\n", 1)[1].split("```", 1)[0]
    (tmp_path / "mygan.py").write_text(code)
    assert main(["--plugin", str(tmp_path / "mygan.py"), "list", "--settings", "mygan"]) == 0
    assert any(line.split()[:2] == ["loss", "hinge"] for line in capsys.readouterr().out.splitlines())
    assert VARIANTS.origin("mygan")["sha256"] == hashlib.sha256((tmp_path / "mygan.py").read_bytes()).hexdigest()


def test_a_plugin_module_loads_by_name_and_an_installed_one_once(unloads, tmp_path, monkeypatch, capsys):
    (tmp_path / "my_sngan_module.py").write_text(file_plugin(tmp_path).read_text())
    monkeypatch.syspath_prepend(str(tmp_path))
    modules = ["--plugin", "my_sngan_module"] + ["--plugin", "ganbench_sngan"] * installed()
    assert main([*modules, "list", "variants"]) == 0
    assert "sngan-file" in capsys.readouterr().out
    assert VARIANTS.origin("sngan-file")["module"] == "my_sngan_module"


ENTRIES_PLUGIN = '''
"""A plugin of every kind of entry but a variant: a loss, a dataset, a backbone and an evaluator."""
import math
from dataclasses import replace

import torch

from ganbench.columns import Column
from ganbench.data.toy import GaussianMixture2D
from ganbench.gan.losses import NonSaturating
from ganbench.gan.model import with_defaults
from ganbench.gan.variants.fc import VARIANT as FC
from ganbench.metrics.backbones import BACKBONES


class Shifted(NonSaturating):
    """The ns loss plus 10 on D's side: the same gradients, a loss_d the records show."""

    def discriminator(self, real, fake):
        return super().discriminator(real, fake) + 10.0


def ring4(options):
    angles = torch.arange(4, dtype=torch.float64) * (math.pi / 2)
    return GaussianMixture2D("ring4", torch.stack([torch.cos(angles), torch.sin(angles)], dim=1), 0.01, "test")


class MeanNorm:
    name = "mean-norm"
    summary = "the norm of the generated samples' mean"
    section = "metrics"
    columns = (Column("sample_mean_norm", "mean norm", None),)

    def applies_to(self, dataset):
        return True

    def check(self, dataset, options, data):
        pass

    def evaluate(self, context):
        return {"sample_mean_norm": float(context.samples.generated(100).mean(0).norm())}


def register(registries):
    registries.losses.add("ns-shifted", lambda gp_weight, drift: Shifted())
    registries.add_dataset("ring4", "4 Gaussians on the unit circle", ring4)
    registries.backbones.add("lenet-copy", replace(BACKBONES.get("lenet"), name="lenet-copy"))
    registries.evaluators.add("mean-norm", MeanNorm())
    registries.variants.add("fc-shifted", replace(FC, name="fc-shifted",
                                                  settings=with_defaults(FC.settings, loss="ns-shifted")))
'''


@pytest.fixture
def toy_with_plugin_evaluator():
    """Suite ``toy-plus``: the toy suite with the plugin's evaluator ``mean-norm`` (a plugin adds no suite)."""
    from dataclasses import replace

    from ganbench.gan.suites import TOY
    from ganbench.runs import SUITES

    SUITES.add("toy-plus", replace(TOY, name="toy-plus", evaluators=(*TOY.evaluators, "mean-norm")))
    yield
    SUITES.remove("toy-plus")


def test_a_plugin_loss_is_selectable_by_name_and_every_plugin_entry_is_in_the_provenance(
        unloads, toy_with_plugin_evaluator, tmp_path, capsys):
    path = tmp_path / "entries.py"
    path.write_text(ENTRIES_PLUGIN)
    out = tmp_path / "out"
    assert main(["--plugin", str(path), "run", "--suite", "toy-plus", "--budget", "smoke", "--seeds", "1",
                 "--variants", "fc", "--datasets", "ring4", "--set", "loss=ns-shifted",
                 "--set", "eval.backbone=lenet-copy", "--out", str(out), "--no-progress"]) == 0
    [record] = read_records(out)
    assert record["status"] == "finished" and record["config"]["settings"]["loss"] == "ns-shifted"
    losses = (out / record["artifacts"]["losses"]).read_text().splitlines()
    column = losses[0].split(",").index("loss_d")
    assert all(float(line.split(",")[column]) > 9 for line in losses[1:])  # the plugin's loss trained D
    assert record["metrics"]["sample_mean_norm"] >= 0
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert [(entry["registry"], entry["name"]) for entry in record["provenance"]["plugin"]] == [
        ("loss", "ns-shifted"), ("dataset", "ring4"), ("backbone", "lenet-copy"), ("evaluator", "mean-norm")]
    for entry in record["provenance"]["plugin"]:
        assert entry["file"] == str(path.resolve()) and entry["sha256"] == digest
    assert "plugin" not in json.dumps(record["config"])


def test_a_plugin_loss_is_checked_when_runs_are_planned(unloads, tmp_path, capsys):
    """Without its plugin the loss is unknown (one line listing the losses); with it, a plugin
    variant's default loss and ``--set fc.loss=`` are accepted at plan time, a misspelt one not."""
    from ganbench.gan.suites import TOY
    from ganbench.runs import RunRequest

    out = tmp_path / "out"
    assert main(["run", "--suite", "toy", "--budget", "smoke", "--set", "fc.loss=ns-shifted", "--out", str(out)]) == 2
    assert "bad value for fc.loss: 'ns-shifted' is no loss; choose one of: ns, hinge, wgan-gp, rahinge" in \
        capsys.readouterr().err
    assert not out.exists()
    path = tmp_path / "entries.py"
    path.write_text(ENTRIES_PLUGIN)
    plugins.load_plugins((str(path),))
    runs = TOY.plan(RunRequest(budget="smoke", seeds=1, variants=["fc", "fc-shifted"],
                               overrides={"fc": {"loss": "ns-shifted"}}))
    assert {run.settings["loss"] for run in runs} == {"ns-shifted"}
    with pytest.raises(plugins.UserError, match="'ns-shifted2' is no loss; choose one of: .*rahinge, ns-shifted$"):
        TOY.plan(RunRequest(budget="smoke", overrides={"fc": {"loss": "ns-shifted2"}}))


def test_an_evaluation_with_a_plugin_backbone_records_it(unloads, shared_data, tmp_path):
    """``ganbench.evaluate`` (``ganbench evaluate``) takes a plugin's backbone by name and names it,
    with the plugin's file and sha256, in the record's ``provenance.plugin``."""
    import numpy as np

    import ganbench

    path = tmp_path / "entries.py"
    path.write_text(ENTRIES_PLUGIN)
    np.save(tmp_path / "samples.npy", np.random.default_rng(0).integers(0, 256, (100, 28, 28), dtype=np.uint8))
    frame = ganbench.evaluate(tmp_path / "samples.npy", dataset="mnist", split="test", name="noise",
                              out=tmp_path / "out", backbone="lenet-copy", data_root=shared_data, plugins=[path],
                              settings={"eval.reference_samples": 200, "eval.kid_subset_size": 50})
    assert frame.loc[0, "fidelity_backbone"] == "lenet-copy" and frame.loc[0, "fid"] > 0
    assert frame.loc[0, "provenance"]["plugin"] == [{
        "registry": "backbone", "name": "lenet-copy", "plugin": str(path.resolve()), "file": str(path.resolve()),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}]
