"""The real-data floor: ``ganbench evaluate --real SPLIT`` evaluates seeded subsets of real images
of the reference dataset as a model's samples, disjoint from the reference set."""

import json

import torch

from ganbench.cli import main
from ganbench.data import DataOptions, load_dataset
from ganbench.evaluation.real import draw_real


def test_real_images_are_seeded_subsets_disjoint_from_the_reference_and_recorded(synthetic_mnist, tmp_path, capsys):
    out = tmp_path / "floor"
    assert main(["evaluate", "--real", "train", "--generator-seeds", "0,1", "--samples-count", "200",
                 "--set", "eval.reference_samples=300", "--set", "eval.kid_subset_size=100", "--dataset", "mnist",
                 "--name", "real-train", "--backbone", "lenet", "--data-root", str(synthetic_mnist),
                 "--out", str(out)]) == 0
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert [r["seed"] for r in records] == [0, 1] and {r["kind"] for r in records} == {"evaluation"}
    for record in records:
        card = record["provenance"]["samples"]
        assert (card["format"], card["name"], card["split"], card["evaluated"]) == ("real", "mnist:train", "train", 200)
        assert "outside the 300 reference images" in card["subset"]
        metrics = record["metrics"]
        assert (metrics["fidelity_samples"], metrics["fidelity_reference_samples"]) == (200, 300)
        assert metrics["fid"] >= 0 and metrics["classes_covered"] >= 1
    assert records[0]["provenance"]["samples"]["sha256"] != records[1]["provenance"]["samples"]["sha256"]
    # The subsets themselves: disjoint from the reference, distinct per seed, the same for a seed again.
    data = DataOptions(data_root=str(synthetic_mnist), split="train", image_size=32)
    dataset = load_dataset("mnist", data)
    reference = set(dataset.reference_indices(300).tolist())
    first, second, again = draw_real(dataset, "train", "train", data, (0, 1, 0), 200, 300)
    assert reference.isdisjoint(first.indices.tolist()) and reference.isdisjoint(second.indices.tolist())
    assert len(set(first.indices.tolist())) == 200 and set(first.indices.tolist()) != set(second.indices.tolist())
    assert torch.equal(first.indices, again.indices) and torch.equal(first.images, dataset.to_float(
        dataset.images[first.indices]))
    assert first.sha256 == records[0]["provenance"]["samples"]["sha256"]
    assert "real-train" in (out / "summary.md").read_text()
