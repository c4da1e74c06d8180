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
        plugin = record["provenance"].get("plugin")
        if record["variant"] == "dcgan":
            assert plugin is None and "plugin" not in json.dumps(record["config"])
        else:
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
    plugin = records[1]["provenance"]["plugin"]
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
