"""Mode coverage: Stacked MNIST (the dataset, the metric on cases with known answers, the suite end to
end) and class coverage on MNIST."""

import json
import math

import pytest
import torch
from PIL import Image

from ganbench.cli import main
from ganbench.data import DataOptions, load_dataset
from ganbench.data.stacked import StackedMNIST
from ganbench.gan.sampling import SampleSet
from ganbench.metrics import EVALUATION_SETTINGS, EvaluationContext
from ganbench.metrics.modes import ClassCoverage, StackedCoverage, kl_divergence
from ganbench.settings import resolve


@pytest.fixture(scope="module")
def stacked(synthetic_mnist):
    dataset = load_dataset("stacked-mnist", DataOptions(data_root=str(synthetic_mnist), image_size=32))
    assert isinstance(dataset, StackedMNIST)
    return dataset


def test_stacked_samples_are_three_digits_and_their_mode_is_the_number_they_spell(stacked):
    assert stacked.sample_shape == (3, 32, 32) and stacked.num_classes == 1000
    triples = torch.tensor([[0, 1, 2], [13, 4, 599]])
    images = stacked.stack(triples)
    for row, triple in enumerate(triples):
        for channel, index in enumerate(triple):
            assert torch.equal(images[row, channel], stacked.digits.images[index, 0])
    labels = stacked.digits.labels
    assert stacked.modes(triples).tolist() == [int(100 * labels[a] + 10 * labels[b] + labels[c]) for a, b, c in triples]


def test_batches_are_a_function_of_seed_and_iteration_and_the_reference_is_fixed(stacked):
    assert torch.equal(stacked.batch(16, 0, 5), stacked.batch(16, 0, 5))
    assert not torch.equal(stacked.batch(16, 0, 5), stacked.batch(16, 0, 6))
    assert not torch.equal(stacked.batch(16, 0, 5), stacked.batch(16, 1, 5))
    images, modes = stacked.reference_images(2000)
    assert torch.equal(images, stacked.reference_images(2000)[0])
    assert stacked.batch(4, 0, 1).min() >= -1 and stacked.batch(4, 0, 1).max() <= 1
    # 2,000 uniform triples of 10 balanced classes cover most of the 1,000 modes: 1000 (1 - e^-2) ~ 865.
    assert 800 < len(modes.unique()) < 930


def test_kl_divergence_by_hand():
    assert kl_divergence(torch.ones(1000), torch.ones(1000)) == pytest.approx(0.0)
    assert kl_divergence(torch.eye(1000)[7] * 26000, torch.ones(1000)) == pytest.approx(math.log(1000))
    expected = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert kl_divergence(torch.tensor([3, 1]), torch.tensor([5, 5])) == pytest.approx(expected)


def test_a_collapsed_generator_covers_one_mode_with_kl_log_1000(stacked, synthetic_mnist, tmp_path, replay_gan):
    options = resolve(EVALUATION_SETTINGS, "eval", {"stacked_samples": 2600})
    data_options = DataOptions(data_root=str(synthetic_mnist), image_size=32)
    context = EvaluationContext(SampleSet(replay_gan(stacked.reference(1)), 0, 256), stacked, data_options, 0,
                                torch.device("cpu"), tmp_path, options)
    values = StackedCoverage().evaluate(context)
    assert (values["modes_covered"], values["modes_total"], values["coverage_samples"]) == (1, 1000, 2600)
    assert values["reverse_kl"] == pytest.approx(math.log(1000))
    assert values["stacked_backbone"] == "lenet" and len(values["stacked_weights_sha256"]) == 64


def test_stacked_mnist_suite_smoke_run(synthetic_mnist, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "--suite", "stacked-mnist", "--budget", "smoke", "--seeds", "1", "--data-root",
                 str(synthetic_mnist), "--iterations", "4", "--set", "eval.every=2", "--out", str(out),
                 "--no-progress"]) == 0
    record = json.loads((out / "records.jsonl").read_text())
    assert record["status"] == "finished"
    assert record["config"]["evaluators"] == ["grid", "stacked", "fidelity", "throughput"]
    with Image.open(out / record["artifacts"]["sample_grid"]) as grid:
        assert grid.mode == "RGB" and grid.size == (8 * 34 + 2, 8 * 34 + 2)  # 64 colour samples, 2 px apart
    metrics = record["metrics"]
    assert 1 <= metrics["modes_covered"] <= 1000 and metrics["coverage_samples"] == 1000
    assert metrics["fidelity_samples"] == 500 and metrics["fidelity_reference_samples"] == 500
    assert metrics["fidelity_backbone"] == "lenet" and metrics["fid"] > 0
    assert metrics["fidelity_weights_sha256"] == metrics["stacked_weights_sha256"]
    assert "FID (lenet, N = 500 vs M = 500) ↓" in (out / "summary.md").read_text()
    assert "FID (lenet, N = 500 vs M = 500)" in capsys.readouterr().out
    # eval.every=2: the metrics at iterations 2 and 4 (the end) make the FID-vs-iteration curve.
    history = (out / record["artifacts"]["metric_history"]).read_text().splitlines()
    columns = history[0].split(",")
    assert [float(line.split(",")[columns.index("iteration")]) for line in history[1:]] == [2.0, 4.0]
    assert float(history[-1].split(",")[columns.index("fid")]) == pytest.approx(metrics["fid"])
    assert (out / "plots" / "curves_dcgan_stacked-mnist_smoke.png").exists()


def test_class_coverage_of_the_reference_itself_and_of_a_single_digit(shared_data, tmp_path, replay_gan):
    data_options = DataOptions(data_root=str(shared_data), split="test")
    mnist = load_dataset("mnist", data_options)  # 28x28: brought to 32x32 for the classifier
    options = resolve(EVALUATION_SETTINGS, "eval", {"samples": 2000, "reference_samples": 2000})

    def evaluate(images):
        context = EvaluationContext(SampleSet(replay_gan(images), 0, 256), mnist, data_options, 0, torch.device("cpu"),
                                    tmp_path, options)
        return ClassCoverage().evaluate(context)

    values = evaluate(mnist.reference(2000))
    assert (values["classes_covered"], values["classes_total"]) == (10, 10)
    assert values["class_kl"] < 0.005  # the classifier's errors (about 1 %) barely move the histogram
    labels = mnist.labels[mnist.reference_indices(2000)]
    seven = mnist.reference(2000)[labels == 7][:1]
    values = evaluate(seven)
    # Every sample is the same 7: P_gen is one-hot on 7, so KL(P_gen || P_ref) = -log P_ref(7).
    assert values["classes_covered"] == 1
    assert values["class_kl"] == pytest.approx(-math.log(float((labels == 7).float().mean())))
    assert (values["classes_samples"], values["classes_reference_samples"]) == (2000, 2000)
    assert values["classes_backbone"] == "lenet" and len(values["classes_weights_sha256"]) == 64
