"""CMMD, the Vendi score and the memorisation checks against independent implementations on fixed
features.

Independent references and tolerances:
- CMMD: a direct numpy transcription of the formula of the authors' ``cmmd/distance.py``
  (google-research; full kernel matrices, float64), and its unbiased variant; 1e-9 relative with
  float64 kernel entries, 1e-5 relative with the default float32 entries.
- Vendi: the ``vendi-score`` package's ``score_X`` (N x N kernel; skipped if not installed) and a
  numpy eigendecomposition of K / N; 1e-9 relative.
- AuthPct: a numpy transcription of dgm-eval's ``compute_authpct`` (full distance matrices);
  exact (the same share of the same samples).
- C_T: a transcription of dgm-eval's ``C_T`` / ``Zu`` (brute-force nearest neighbours, scipy's
  Mann-Whitney U) on the same cells; 1e-9 absolute.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch

from ganbench.metrics.diversity import vendi_score
from ganbench.metrics.kernel import cmmd, rbf_kernel_sum
from ganbench.metrics.memorisation import authenticity, ct_from_cells, data_copying, kmeans_cells


def features(rows: int, dims: int, seed: int, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, dims)) * 3.0 + shift


def cmmd_transcribed(x: np.ndarray, y: np.ndarray, unbiased: bool = False) -> float:
    """The formula of cmmd/distance.py in numpy: 1000 (mean k_xx + mean k_yy - 2 mean k_xy)."""
    gamma = 1 / (2 * 10 ** 2)

    def kernel(a, b):
        a_norms, b_norms = np.diag(a @ a.T), np.diag(b @ b.T)
        return np.exp(-gamma * (-2 * a @ b.T + a_norms[:, None] + b_norms[None, :]))

    k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
    if unbiased:
        n, m = len(x), len(y)
        within = (k_xx.sum() - np.trace(k_xx)) / (n * (n - 1)) + (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        return 1000 * (within - 2 * k_xy.mean())
    return 1000 * (k_xx.mean() + k_yy.mean() - 2 * k_xy.mean())


@pytest.mark.parametrize("unbiased", [False, True])
def test_cmmd_equals_the_papers_formula(unbiased):
    x, y = features(300, 16, 0).astype(np.float32), features(257, 16, 1, shift=0.5).astype(np.float32)
    expected = cmmd_transcribed(x.astype(np.float64), y.astype(np.float64), unbiased)
    got = cmmd(torch.from_numpy(x), torch.from_numpy(y), unbiased=unbiased, block=64, dtype=torch.float64)
    assert expected > 0.1  # the shift is seen
    assert got == pytest.approx(expected, rel=1e-9)
    # the default float32 kernel entries (summed in float64): their rounding only
    assert cmmd(torch.from_numpy(x), torch.from_numpy(y), unbiased=unbiased) == pytest.approx(expected, rel=1e-5)


def test_cmmd_of_a_set_with_itself_is_zero_and_blocks_do_not_matter():
    x = torch.from_numpy(features(200, 8, 2))
    assert cmmd(x, x) == pytest.approx(0.0, abs=1e-4)
    y = torch.from_numpy(features(150, 8, 3, shift=1.0))
    assert cmmd(x, y, block=7) == pytest.approx(cmmd(x, y, block=4096), rel=1e-6)
    cached = rbf_kernel_sum(y, y)
    assert cmmd(x, y, reference_sum=cached) == cmmd(x, y)


def vendi_transcribed(x: np.ndarray) -> float:
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    eigenvalues = np.linalg.eigvalsh(x @ x.T / len(x))
    positive = eigenvalues[eigenvalues > 0]
    return float(np.exp(-(positive * np.log(positive)).sum()))


def test_vendi_equals_the_vendi_score_package_and_the_n_by_n_kernel():
    x = features(400, 32, 4)
    got = vendi_score(torch.from_numpy(x).float())
    assert got == pytest.approx(vendi_transcribed(x.astype(np.float32).astype(np.float64)), rel=1e-6)
    vendi = pytest.importorskip("vendi_score.vendi", reason="vendi-score not installed (pip install '.[test]')")
    assert got == pytest.approx(vendi.score_X(x.astype(np.float32).astype(np.float64)), rel=1e-6)
    x64 = torch.from_numpy(x)
    assert vendi_score(x64) == pytest.approx(vendi.score_X(x), rel=1e-9)


def test_vendi_counts_distinct_samples():
    one = torch.ones(50, 4)
    assert vendi_score(one) == pytest.approx(1.0, rel=1e-9)
    assert vendi_score(torch.eye(6)) == pytest.approx(6.0, rel=1e-9)
    assert vendi_score(torch.cat([torch.eye(3)] * 5)) == pytest.approx(3.0, rel=1e-9)


def authpct_transcribed(train: np.ndarray, generated: np.ndarray) -> float:
    """dgm-eval's compute_authpct: real-real distances with an infinite diagonal, real-generated
    distances, authentic when the nearest real point's own nearest-real distance is smaller."""
    real = np.linalg.norm(train[:, None] - train[None], axis=2)
    np.fill_diagonal(real, np.inf)
    generated_to_real = np.linalg.norm(train[:, None] - generated[None], axis=2)
    nearest = generated_to_real.argmin(axis=0)
    authentic = real.min(axis=0)[nearest] < generated_to_real.min(axis=0)
    return 100 * authentic.mean()


def test_authpct_equals_dgm_evals_definition():
    train = features(300, 10, 5)
    copies = train[:100] + np.random.default_rng(6).standard_normal((100, 10)) * 1e-3
    generated = np.concatenate([copies, features(200, 10, 7)])
    got, nearest = authenticity(torch.from_numpy(generated), torch.from_numpy(train), block=33)
    assert got == pytest.approx(authpct_transcribed(train, generated), abs=1e-12)
    assert torch.equal(nearest.index[:100], torch.arange(100))  # each copy's nearest training image is its own
    copied_only = authenticity(torch.from_numpy(copies), torch.from_numpy(train))[0]
    assert copied_only == 0.0
    fresh = authenticity(torch.from_numpy(features(300, 10, 8)), torch.from_numpy(train))[0]
    assert fresh > 40.0


def ct_transcribed(gen, gen_cells, test, test_cells, train, train_cells, cells):
    """dgm-eval's C_T and Zu (brute-force nearest neighbours instead of scikit-learn's)."""
    m, n = len(gen), len(test)
    tau = 20 / m
    share_gen = np.bincount(gen_cells, minlength=cells) / m
    share_test = np.bincount(test_cells, minlength=cells) / n
    scores = np.zeros(cells)
    for cell in range(cells):
        g, p, t = gen[gen_cells == cell], test[test_cells == cell], train[train_cells == cell]
        if len(g) == 0:
            continue
        l_g = np.linalg.norm(g[:, None] - t[None], axis=2).min(axis=1)
        l_p = np.linalg.norm(p[:, None] - t[None], axis=2).min(axis=1)
        u = scipy.stats.mannwhitneyu(l_g, l_p, alternative="less").statistic
        scores[cell] = (u - (len(p) * len(g) / 2 - 0.5)) / np.sqrt(len(p) * len(g) * (len(p) + len(g) + 1) / 12)
    keep = share_gen > tau
    return share_test[keep] @ scores[keep] / share_test[keep].sum()


def test_ct_equals_dgm_evals_definition_on_the_same_cells():
    train, test = features(400, 5, 9), features(300, 5, 10)
    generated = np.concatenate([train[:150] + 1e-3, features(150, 5, 11)])
    centres = kmeans_cells(train, 3, seed=0)
    cells = [np.argmin(((x[:, None] - centres[None]) ** 2).sum(axis=2), axis=1) for x in (generated, test, train)]
    got = ct_from_cells(generated, cells[0], test, cells[1], train, cells[2], 3)
    assert got == pytest.approx(ct_transcribed(generated, cells[0], test, cells[1], train, cells[2], 3), abs=1e-9)


def test_ct_sees_copying_and_not_fresh_samples():
    train, test = torch.from_numpy(features(500, 80, 12)), torch.from_numpy(features(400, 80, 13))
    copied = train[:400] + 1e-3
    fresh = torch.from_numpy(features(400, 80, 14))
    assert data_copying(copied, test, train, seed=0) < -5
    assert abs(data_copying(fresh, test, train, seed=0)) < 3
    assert data_copying(fresh, test, train, seed=1) == data_copying(fresh, test, train, seed=1)


def test_memorisation_of_a_generator_replaying_its_training_images(shared_data, tmp_path, replay_gan):
    """A generator that replays the training images it saw: AuthPct 0, C_T far below 0, and the
    closest pairs are the replayed images themselves at distance 0; one drawing images of the other
    split (never trained on) is authentic and not copying."""
    from ganbench.data import DataOptions, load_dataset
    from ganbench.gan.sampling import SampleSet
    from ganbench.metrics import EVALUATION_SETTINGS, EvaluationContext
    from ganbench.metrics.fidelity import Fidelity
    from ganbench.settings import resolve

    options = resolve(EVALUATION_SETTINGS, "eval", {
        "backbone": "lenet", "samples": 400, "reference_samples": 400, "kid_subset_size": 100, "kid_subsets": 2,
        "fid_bootstrap": 0, "memorisation": True, "memorisation_samples": 400})
    data = DataOptions(data_root=str(shared_data), split="test", image_size=32)
    training = load_dataset("mnist", data)
    values = {}
    for name, images in (("copying", training.reference(400)),
                         ("fresh", load_dataset("mnist", DataOptions(data_root=str(shared_data), split="train",
                                                                     image_size=32)).reference(400))):
        context = EvaluationContext(SampleSet(replay_gan(images), 0, 256), training, data, 0, torch.device("cpu"),
                                    tmp_path / name, dict(options))
        (tmp_path / name).mkdir()
        values[name] = Fidelity().evaluate(context)
        assert (tmp_path / name / "closest_training.png").is_file()
        assert context.artifacts["closest_training"] == tmp_path / name / "closest_training.png"
    copying, fresh = values["copying"], values["fresh"]
    assert copying["authpct"] == 0.0 and fresh["authpct"] > 40
    assert copying["ct"] < -5 and abs(fresh["ct"]) < 4
    assert all(distance < 1e-3 and generated == training_index
               for distance, generated, training_index in copying["closest_training"])
    assert copying["memorisation_split"] == "test" and copying["ct_held_out_split"] == "train"
    assert copying["memorisation_samples"] == copying["ct_held_out_samples"] == 400
    assert copying["cmmd"] == pytest.approx(0.0, abs=1e-6) and fresh["cmmd"] > 0
    assert 1 < fresh["vendi"] < 84
    assert not {"fidelity_seconds", "fidelity_images_per_second"} & set(copying)  # not a quality metric
    assert context.timings["fidelity_seconds"] > 0 and context.timings["fidelity_images_per_second"] > 0


def test_a_lenet_smoke_run_records_the_new_metrics_with_the_backbone_and_reports_the_closest_pairs(shared_data,
                                                                                                    tmp_path):
    import json

    from ganbench.cli import main

    out = tmp_path / "out"
    assert main(["run", "--suite", "mnist", "--budget", "smoke", "--variants", "dcgan", "--data-root",
                 str(shared_data), "--split", "test", "--out", str(out), "--no-progress"]) == 0
    record = json.loads((out / "records.jsonl").read_text().splitlines()[0])
    metrics = record["metrics"]
    assert {"cmmd", "vendi", "authpct", "ct"} <= set(metrics)
    assert record["throughput"]["fidelity_seconds"] > 0 and record["throughput"]["fidelity_images_per_second"] > 0
    assert metrics["fidelity_backbone"] == "lenet" and len(metrics["fidelity_weights_sha256"]) == 64
    assert metrics["memorisation_samples"] == 200 and metrics["ct_held_out_split"] == "train"
    figure = record["artifacts"]["closest_training"]
    assert (out / figure).is_file()
    assert f"]({figure})" in (out / "report.md").read_text()
    assert "AuthPct" in (out / "summary.md").read_text()
    assert "Memorisation: the generated samples nearest to a training image" in (out / "report.html").read_text()


def test_an_undefined_ct_is_recorded_as_skipped_with_the_reason(tmp_path):
    from ganbench.metrics import EvaluationContext
    from ganbench.metrics.training_reference import memorisation_values

    training = torch.from_numpy(features(40, 4, 20))
    held_out = training[:2] + 100.0  # far from every training image: k-means cells without held-out images
    context = EvaluationContext(None, None, type("Data", (), {"split": "train"})(), 0, torch.device("cpu"), tmp_path,
                                {"ct_cells": 3})
    images = torch.zeros(40, 1, 8, 8, dtype=torch.uint8)
    values = memorisation_values(context, images[:30], training[:30] + 0.01,
                                 lambda split: (images, training) if split == "train" else (images[:2], held_out))
    assert "ct" not in values and "held-out" in values["ct_skipped"]
    assert values["authpct"] == 0.0 and (tmp_path / "closest_training.png").is_file()


def test_a_folder_dataset_has_no_held_out_split_for_ct(tmp_path):
    from PIL import Image

    from ganbench.data import DataOptions, load_dataset
    from ganbench.errors import UserError
    from ganbench.metrics import EvaluationContext
    from ganbench.metrics.fidelity import real_split_features

    (tmp_path / "images").mkdir()
    for index in range(12):
        Image.fromarray(np.full((16, 16), index * 20, dtype=np.uint8)).save(tmp_path / "images" / f"{index}.png")
    data = DataOptions(image_size=16)
    dataset = load_dataset(f"folder:{tmp_path / 'images'}", data)
    context = EvaluationContext(None, dataset, data, 0, torch.device("cpu"), tmp_path,
                                {"image_size": 16, "memorisation_samples": 10})
    with pytest.raises(UserError, match="has no test split"):
        real_split_features(context, None, None, "test")


def test_the_memorisation_sets_are_named_as_real_images_not_generated_samples():
    """The training and held-out image counts of the memorisation checks are neither N (generated)
    nor M (reference): the protocol line and card name them with their split."""
    from ganbench.report.keys import protocol_key, protocol_text
    from ganbench.report.protocol import card

    metrics = {"fidelity_samples": 5000, "fidelity_reference_samples": 10000, "fidelity_backbone": "lenet",
               "memorisation_samples": 10000, "memorisation_split": "train",
               "ct_held_out_samples": 8000, "ct_held_out_split": "test",
               "ema_memorisation_samples": 10000, "ema_ct_held_out_samples": 8000}
    record = {"budget": "equal", "seed": 0, "metrics": metrics}
    text = protocol_text(protocol_key([record]))
    assert text == ("budget equal; fidelity: lenet, N = 5,000 vs M = 10,000; memorisation training images "
                    "10,000 of train; C_T held-out images 8,000 of test")
    rows = dict(card([record]))
    assert rows["memorisation training images"] == "10,000 of train"
    assert rows["C_T held-out images"] == "8,000 of test"
    assert not any(name.startswith(("memorisation:", "ct_held_out:", "ema_")) for name in rows)
    assert "iterations (done / planned)" not in rows  # an evaluation record has no training length
