"""The Vendi score (Friedman & Dieng 2023): the effective number of distinct samples in a set, a
pure function of its feature matrix.

With features x (N, d), each row scaled to unit length, the cosine-similarity kernel
K = x x^T (N, N, K_ii = 1) and lambda_1..N the eigenvalues of K / N (non-negative, summing to 1):

    vendi = exp(-sum_i lambda_i log lambda_i)   (0 log 0 = 0)

as the ``vendi-score`` package's ``score_X`` (and dgm-eval's ``compute_vendi_score``) computes
it. It lies in [1, min(N, d)]: 1 when every sample is the same direction, N for N orthogonal ones.
The non-zero eigenvalues of x x^T / N are those of x^T x / N (d, d), so the score is computed from
the d x d Gram matrix (that package's ``score_dual``): memory d^2 and time N d^2, whatever N, so
50,000 samples cost what one covariance does.
"""

from __future__ import annotations

import torch

ZERO_NORM = 1e-12  # rows shorter than this count as zero vectors (sklearn's normalize leaves them 0)


def vendi_score(features: torch.Tensor) -> float:
    """The Vendi score of ``features`` (N, d), N >= 1, with the cosine-similarity kernel (see the
    module doc), in float64 on the features' device.

    Returns:
        exp(entropy of the eigenvalues of K / N): a float in [1, min(N, d)] (an all-zero row adds a
        zero eigenvalue, so the set counts as fewer samples).
    """
    if features.ndim != 2 or len(features) < 1:
        raise ValueError(f"the Vendi score needs features of shape (N >= 1, d), got {tuple(features.shape)}")
    x = features.double()
    norms = x.norm(dim=1, keepdim=True)
    x = torch.where(norms > ZERO_NORM, x / norms.clamp_min(ZERO_NORM), torch.zeros_like(x))
    eigenvalues = torch.linalg.eigvalsh(x.T @ x / len(x))
    positive = eigenvalues[eigenvalues > 0]
    return float(torch.exp(-(positive * positive.log()).sum()))
