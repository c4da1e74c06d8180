"""The reference split (``eval.reference_split``): the image suites train on the training split and
compare with the test split (the standard protocol), while the memorisation checks compare with the
training split; the records and the protocol line say which split each set came from."""

import json
import shutil

from ganbench.cli import main

SMOKE = ["--budget", "smoke", "--seeds", "1", "--variants", "dcgan", "--iterations", "2", "--no-progress"]


def run_mnist(root, out, *extra):
    return main(["run", "--suite", "mnist", *SMOKE, "--data-root", str(root), "--out", str(out), *extra])


def test_the_mnist_suite_compares_with_the_test_split_and_checks_memorisation_against_train(synthetic_mnist,
                                                                                           tmp_path):
    out = tmp_path / "out"
    assert run_mnist(synthetic_mnist, out) == 0
    record = json.loads((out / "records.jsonl").read_text())
    metrics = record["metrics"]
    assert record["provenance"]["data"]["split"] == "train"
    assert metrics["fidelity_reference_split"] == metrics["classes_reference_split"] == "test"
    assert metrics["ema_fidelity_reference_split"] == "test"
    assert (metrics["memorisation_split"], metrics["ct_held_out_split"]) == ("train", "test")
    # The synthetic test split holds 300 images: the reference is 200 of them (smoke's M).
    assert metrics["fidelity_reference_samples"] == metrics["classes_reference_samples"] == 200
    summary = (out / "summary.md").read_text()
    assert "reference split test" in summary and "reference split train" not in summary
    card = (out / "report.md").read_text()
    assert "| fidelity: reference split | test |" in card and "| split trained on | train |" in card


def test_trained_compares_with_the_split_trained_on(synthetic_mnist, tmp_path):
    out = tmp_path / "out"
    assert run_mnist(synthetic_mnist, out, "--set", "eval.reference_split=trained") == 0
    metrics = json.loads((out / "records.jsonl").read_text())["metrics"]
    assert metrics["fidelity_reference_split"] == metrics["classes_reference_split"] == "train"
    assert "reference split train" in (out / "summary.md").read_text()


def test_a_missing_reference_split_is_one_error_line_before_anything_is_written(synthetic_mnist, tmp_path, capsys):
    root = tmp_path / "data"
    shutil.copytree(synthetic_mnist, root)
    for path in (root / "MNIST" / "raw").glob("t10k-*"):
        path.unlink()
    out = tmp_path / "out"
    assert run_mnist(root, out) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "eval.reference_split=test" in error
    assert "set eval.reference_split=trained" in error
    assert not out.exists()


def test_evaluate_split_is_the_reference_and_memorisation_stays_on_train(synthetic_mnist, tmp_path):
    def evaluate(out, *extra):
        assert main(["evaluate", "--real", "train", "--samples-count", "200", "--suite", "mnist", "--budget", "smoke",
                     "--dataset", "mnist", "--name", "real-train", "--data-root", str(synthetic_mnist),
                     "--out", str(out), *extra]) == 0
        return json.loads((out / "records.jsonl").read_text())["metrics"]

    suite = evaluate(tmp_path / "suite")  # the suite's eval.reference_split: test
    assert (suite["fidelity_reference_split"], suite["memorisation_split"]) == ("test", "train")
    given = evaluate(tmp_path / "given", "--split", "train")
    assert (given["fidelity_reference_split"], given["memorisation_split"]) == ("train", "train")
