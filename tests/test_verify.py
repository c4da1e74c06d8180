"""``ganbench verify``: its CPU checks pass here, a metric broken on purpose makes its check fail
(exit 1), and its transcribed known answers are what the prdc package computes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from ganbench.cli import main
from ganbench.metrics import feature_metrics, kernel
from ganbench.verify import PRDC_EXPECTED, PRDC_K, prdc_data

SHARED = Path(os.environ.get("GANBENCH_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


def data_root(tmp_path: Path) -> Path:
    """The shared data folder when it holds MNIST (the lenet check runs), else an empty one (skipped)."""
    return SHARED if (SHARED / "MNIST" / "raw").is_dir() else tmp_path


def test_verify_passes_and_prints_the_table(tmp_path, capsys):
    assert main(["verify", "--data-root", str(data_root(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "| check | expected | got | tolerance | pass |" in out
    for check in ("fid-gaussians-closed-form (torch-fidelity)", "prdc-package coverage", "modes-exact reverse_kl",
                  "cmmd-closed-form", "vendi-orthogonal", "lenet-fid-vs-torch-fidelity", "inception-is-cifar10-train"):
        assert f"| {check} |" in out
    assert " 0 failed" in out and "| NO |" not in out


def test_a_broken_neighbour_radius_fails_the_prdc_check(tmp_path, capsys, monkeypatch):
    radii = feature_metrics.knn_radii
    monkeypatch.setattr(feature_metrics, "knn_radii",
                        lambda features, ks, *rest: {k: r * 0.9 for k, r in radii(features, ks, *rest).items()})
    assert main(["verify", "--data-root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAILED prdc-package precision" in out and "| prdc-package density |" in out


def test_a_broken_cmmd_kernel_fails_its_check(tmp_path, capsys, monkeypatch):
    kernel_sum = kernel.rbf_kernel_sum
    monkeypatch.setattr(kernel, "rbf_kernel_sum", lambda x, y, sigma=10.0, *rest: kernel_sum(x, y, 1.0, *rest))
    assert main(["verify", "--data-root", str(tmp_path)]) == 1
    assert "FAILED cmmd-closed-form" in capsys.readouterr().out


def test_the_transcribed_prdc_answers_are_the_prdc_packages():
    prdc = pytest.importorskip("prdc", reason="prdc not installed (pip install '.[test]')")
    real, fake = prdc_data()
    values = prdc.compute_prdc(real, fake, nearest_k=PRDC_K)
    for name, expected in PRDC_EXPECTED.items():
        assert float(values[name]) == pytest.approx(expected, abs=1e-12)
    ours = feature_metrics.neighbourhood_metrics(torch.from_numpy(fake), torch.from_numpy(real), PRDC_K, PRDC_K)
    assert np.allclose([ours[name] for name in PRDC_EXPECTED], [values[name] for name in PRDC_EXPECTED], atol=1e-6)


def test_a_data_root_that_is_not_a_folder_is_one_error_line(tmp_path, capsys):
    assert main(["verify", "--data-root", str(tmp_path / "absent")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganbench: error: --data-root") and err.count("\n") == 1
