"""``ganbench verify``: known-answer checks of the metrics on this installation.

Each check computes a number with ganbench's own code and compares it with an answer known
independently of that code; a table of (check, expected, got, tolerance, pass) is printed and the
command exits 1 when a check fails. Checks that need what is not here (data, weights) are listed as
skipped, with the reason. The CPU set (every check but the published-value ones) takes seconds.

- ``fid-gaussians-closed-form``: the Fréchet distance of two Gaussians with commuting covariances
  Q diag(a) Q^T and Q diag(b) Q^T is |mu_1 - mu_2|^2 + sum (sqrt a - sqrt b)^2; checked for
  :func:`ganbench.stats.frechet_distance`, torch-fidelity's ``fid_statistics_to_metric`` (the
  evaluator's ``fid``) and :func:`ganbench.stats.fid_from_features` (bootstrap, FID-infinity) on
  features whose sample moments are exactly those (whitened, then coloured).
- ``prdc-package``: precision, recall, density and coverage (k = 5) of fixed Gaussian features
  (numpy ``default_rng(2024)``: 600 real N(0, I_16), 500 fake N(0.3, 1.44 I_16)) against the values
  the authors' ``prdc`` package 0.2 (``compute_prdc(real, fake, nearest_k=5)``) gives on the same
  arrays, transcribed here (``tests/test_verify.py`` recomputes them with ``prdc``).
- ``modes-*``: PacGAN's mode statistics (:mod:`ganbench.metrics.coverage`) on samplers with known
  answers: a sampler collapsed on one of ``ring8``'s 8 modes (modes 1, reverse KL log 8), and the
  exact mixture (8 modes, high-quality share 1 - exp(-9/2) = 0.98889 within 4 binomial standard
  errors, reverse KL within what 8,000 draws allow).
- ``cmmd-closed-form``, ``vendi-orthogonal``: CMMD of two sets of one repeated point each is
  1000 (2 - 2 exp(-|a - b|^2 / 200)); the Vendi score of n orthonormal vectors is n.
- ``lenet-fid-vs-torch-fidelity``: FID of 300 MNIST test images against 300 others on the lenet
  backbone by ganbench's evaluation and by ``torch_fidelity.calculate_metrics``; skipped without
  the MNIST test split under the data root.
- ``inception-is-cifar10-train``: torch-fidelity's published Inception Score of the CIFAR-10
  training images, 11.237 (± 0.095 over its 10 splits), with the Inception weights in the torch
  hub cache and CIFAR-10 under the data root (``cifar-10-batches-py``); skipped otherwise, and it
  takes hours on a CPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ganbench import stats
from ganbench.data import DataOptions, load_dataset
from ganbench.errors import UserError
from ganbench.metrics import coverage, diversity, feature_metrics, kernel


@dataclass(frozen=True)
class Check:
    """One row of the table: ``passed`` None when skipped (``got`` then says why)."""

    name: str
    expected: str
    got: str
    tolerance: str
    passed: bool | None


def compare(name: str, expected: float, got: float, tolerance: float, relative: bool = False) -> Check:
    """A check that ``got`` is within ``tolerance`` of ``expected`` (relative to |expected| if asked)."""
    bound = tolerance * abs(expected) if relative else tolerance
    passed = math.isfinite(got) and abs(got - expected) <= bound
    shown = f"{tolerance:g} relative" if relative else f"{tolerance:g}"
    return Check(name, f"{expected:.10g}", f"{got:.10g}", shown, passed)


def gaussian_features(mean: np.ndarray, covariance: np.ndarray, rows: int, seed: int) -> np.ndarray:
    """(rows, D) features whose sample mean and covariance (ddof 1) are exactly ``mean``, ``covariance``."""
    draws = np.random.default_rng(seed).standard_normal((rows, len(mean)))
    draws -= draws.mean(axis=0)
    whitened = draws @ np.linalg.inv(np.linalg.cholesky(np.cov(draws, rowvar=False))).T
    return whitened @ np.linalg.cholesky(covariance).T + mean


def fid_checks() -> list[Check]:
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    rng = np.random.default_rng(7)
    dims = 6
    rotation = np.linalg.qr(rng.standard_normal((dims, dims)))[0]
    a, b = rng.uniform(0.5, 3.0, dims), rng.uniform(0.5, 3.0, dims)
    mu1, mu2 = rng.standard_normal(dims), rng.standard_normal(dims)
    sigma1, sigma2 = rotation @ np.diag(a) @ rotation.T, rotation @ np.diag(b) @ rotation.T
    expected = float(((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum())
    fidelity = fid_statistics_to_metric({"mu": mu1, "sigma": sigma1}, {"mu": mu2, "sigma": sigma2}, False)
    features = gaussian_features(mu1, sigma1, 400, 1), gaussian_features(mu2, sigma2, 300, 2)
    return [
        compare("fid-gaussians-closed-form (ganbench.stats)", expected,
                stats.frechet_distance(mu1, sigma1, mu2, sigma2), 1e-9, relative=True),
        compare("fid-gaussians-closed-form (torch-fidelity)", expected, float(fidelity[KEY_METRIC_FID]), 1e-9,
                relative=True),
        compare("fid-gaussians-closed-form (from features)", expected, stats.fid_from_features(*features), 1e-8,
                relative=True),
    ]


# prdc 0.2's compute_prdc(real, fake, nearest_k=5) on prdc_data(): the known answers.
PRDC_EXPECTED = {"precision": 0.546, "recall": 0.9866666666666667, "density": 0.3472, "coverage": 0.64}
PRDC_K = 5


def prdc_data() -> tuple[np.ndarray, np.ndarray]:
    """The fixed real (600, 16) and fake (500, 16) features of the ``prdc-package`` check."""
    rng = np.random.default_rng(2024)
    real = rng.standard_normal((600, 16))
    fake = rng.standard_normal((500, 16)) * 1.2 + 0.3
    return real, fake


def prdc_checks() -> list[Check]:
    real, fake = prdc_data()
    got = feature_metrics.neighbourhood_metrics(torch.from_numpy(fake), torch.from_numpy(real), PRDC_K, PRDC_K)
    # 1e-6: precision is a float32 share of the samples (one sample is 1/500)
    return [compare(f"prdc-package {name}", expected, got[name], 1e-6) for name, expected in PRDC_EXPECTED.items()]


def mode_checks() -> list[Check]:
    means, sigma = ring_means(), 0.01
    collapsed = coverage.mode_statistics(means[2].expand(500, 2) + 0.001, means, sigma)
    points = 8000
    generator = torch.Generator().manual_seed(0)
    exact = means[torch.randint(0, 8, (points,), generator=generator)] + sigma * torch.randn(points, 2,
                                                                                             generator=generator)
    statistics = coverage.mode_statistics(exact, means, sigma)
    share = 1 - math.exp(-9 / 2)  # P(|N(0, sigma^2 I_2)| < 3 sigma): a Rayleigh tail
    return [
        compare("modes-collapsed modes_covered", 1, collapsed["modes_covered"], 0),
        compare("modes-collapsed reverse_kl", math.log(8), collapsed["reverse_kl"], 1e-12),
        compare("modes-exact modes_covered", 8, statistics["modes_covered"], 0),
        compare("modes-exact high_quality_fraction", share, statistics["high_quality_fraction"],
                4 * math.sqrt(share * (1 - share) / points)),
        compare("modes-exact reverse_kl", 0.0, statistics["reverse_kl"], 0.01),
    ]


def ring_means() -> torch.Tensor:
    """The 8 means of PacGAN's ring (radius 1), (8, 2) float64."""
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return torch.stack([angles.cos(), angles.sin()], dim=1)


def new_metric_checks() -> list[Check]:
    a, b = torch.zeros(4, dtype=torch.float64), torch.full((4,), 3.0, dtype=torch.float64)
    expected = 1000 * (2 - 2 * math.exp(-36 / 200))
    return [compare("cmmd-closed-form", expected, kernel.cmmd(a.expand(50, 4), b.expand(70, 4)), 1e-6,
                    relative=True),  # float32 kernel entries
            compare("vendi-orthogonal", 7.0, diversity.vendi_score(torch.eye(7) * 3), 1e-9, relative=True)]


LENET_IMAGES = 300


def lenet_fid_check(data_root: str | None) -> list[Check]:
    """ganbench's lenet FID of MNIST test images [0, 300) against [300, 600) and torch-fidelity's."""
    import torch_fidelity

    from ganbench.metrics import EVALUATION_SETTINGS
    from ganbench.metrics.backbones import BACKBONES
    from ganbench.metrics.fidelity import fidelity_of_images, torch_fidelity_options
    from ganbench.metrics.fidelity_inputs import FidelityInput
    from ganbench.settings import resolve

    name = "lenet-fid-vs-torch-fidelity"
    try:
        dataset = load_dataset("mnist", DataOptions(data_root=data_root, split="test", image_size=32))
    except UserError as error:
        return [Check(name, "", f"skipped: no MNIST test split ({error})", "", None)]
    images = dataset.images[:2 * LENET_IMAGES]
    generated, reference = images[:LENET_IMAGES], images[LENET_IMAGES:]
    options = resolve(EVALUATION_SETTINGS, "eval", {"backbone": "lenet", "kid_subset_size": 100, "kid_subsets": 2,
                                                    "fid_bootstrap": 0, "cmmd": False, "vendi": False})
    backbone = BACKBONES.get("lenet")
    weights = backbone.locate(dataset, options, False)
    ours = fidelity_of_images(generated, reference, None, backbone, weights, options, cuda=False)["fid"]
    theirs = torch_fidelity.calculate_metrics(
        **{**torch_fidelity_options(options, backbone, weights, False), "input1": FidelityInput(generated, False),
           "input2": FidelityInput(reference, False), "fid": True, "cache": False})["frechet_inception_distance"]
    return [compare(name, float(theirs), float(ours), 1e-6, relative=True)]


INCEPTION_IS_CIFAR10_TRAIN = 11.237  # torch-fidelity's published value (std over 10 splits 0.095)


def inception_is_check(data_root: str | None) -> list[Check]:
    """torch-fidelity's published IS of CIFAR-10 train with the real Inception weights, where both exist."""
    from ganbench.data.images import data_root as resolve_root
    from ganbench.metrics.backbones import inception_cache_path

    name = "inception-is-cifar10-train"
    weights = inception_cache_path()
    cifar = resolve_root(DataOptions(data_root=data_root)) / "cifar-10-batches-py"
    if not weights.is_file():
        return [Check(name, f"{INCEPTION_IS_CIFAR10_TRAIN}", f"skipped: no Inception weights at {weights}", "0.01",
                      None)]
    if not cifar.is_dir():
        return [Check(name, f"{INCEPTION_IS_CIFAR10_TRAIN}", f"skipped: no CIFAR-10 at {cifar}", "0.01", None)]
    import torch_fidelity
    import torchvision

    images = torch.from_numpy(torchvision.datasets.CIFAR10(str(cifar.parent), train=True, download=False).data)
    from ganbench.metrics.fidelity_inputs import FidelityInput

    value = torch_fidelity.calculate_metrics(input1=FidelityInput(images.permute(0, 3, 1, 2).contiguous(), True),
                                             isc=True, feature_extractor_weights_path=str(weights), verbose=False,
                                             cuda=torch.cuda.is_available(), cache=False)
    return [compare(name, INCEPTION_IS_CIFAR10_TRAIN, float(value["inception_score_mean"]), 0.01)]


def run_checks(data_root: str | None) -> list[Check]:
    """Every check, in the order of the module doc."""
    checks: list[Callable[[], list[Check]]] = [fid_checks, prdc_checks, mode_checks, new_metric_checks,
                                               lambda: lenet_fid_check(data_root),
                                               lambda: inception_is_check(data_root)]
    return [row for check in checks for row in check()]


def table(rows: list[Check]) -> str:
    """The rows as a Markdown table: check | expected | got | tolerance | pass (yes, NO, skipped)."""
    lines = ["| check | expected | got | tolerance | pass |", "| --- | ---: | ---: | ---: | --- |"]
    for row in rows:
        verdict = "skipped" if row.passed is None else ("yes" if row.passed else "NO")
        lines.append(f"| {row.name} | {row.expected} | {row.got} | {row.tolerance} | {verdict} |")
    return "\n".join(lines)


def verify(data_root: str | Path | None, echo: Callable[[str], None] = print) -> int:
    """Run every check, print the table and a summary line through ``echo``.

    Returns:
        The exit status: 0 when no check failed (skipped ones do not fail), else 1.
    """
    rows = run_checks(None if data_root is None else str(data_root))
    echo(table(rows))
    failed = [row.name for row in rows if row.passed is False]
    skipped = sum(row.passed is None for row in rows)
    passed = sum(row.passed is True for row in rows)
    echo(f"{passed} passed, {len(failed)} failed, {skipped} skipped" + (f": FAILED {', '.join(failed)}" if failed
                                                                         else ""))
    return 1 if failed else 0
