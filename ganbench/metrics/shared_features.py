"""The metrics computed on the fidelity evaluation's shared features besides torch-fidelity's: CMMD
(:mod:`ganbench.metrics.kernel`), the Vendi score (:mod:`ganbench.metrics.diversity`) and, against
the training split, the memorisation checks (:mod:`ganbench.metrics.memorisation`, run by
:mod:`ganbench.metrics.training_reference`). Each is a pure function of the feature matrices of
the run's backbone, so they work on any backbone; the record labels them with it
(``fidelity_backbone``, ``fidelity_weights_sha256``). Their table columns are here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from ganbench.columns import Column
from ganbench.metrics.diversity import vendi_score
from ganbench.metrics.kernel import cmmd

SHARED_FEATURE_COLUMNS = (
    Column("cmmd", "CMMD", False, 3, samples_key="fidelity_samples",
           unit="MMD² of a Gaussian RBF kernel (σ = 10) on the backbone's features, ×10³", bounds=(None, None)),
    Column("vendi", "Vendi", True, 2, samples_key="fidelity_samples", unit="effective samples", bounds=(1, None)),
    Column("authpct", "AuthPct", True, 1, samples_key="fidelity_samples", unit="percent", bounds=(0, 100)),
    Column("ct", "C_T", None, 2, samples_key="fidelity_samples", unit="z-score", bounds=(None, None),
           undefined="C_T not computed (see ct_skipped)"),
)


def shared_feature_metrics(generated: torch.Tensor, reference: torch.Tensor, options: Mapping[str, Any],
                           reference_sum: Callable[[], float] | None = None) -> dict[str, Any]:
    """``cmmd`` (with ``options["cmmd"]``) of generated features (N, D) against reference features
    (M, D), and ``vendi`` (with ``options["vendi"]``) of the generated features, on the device of
    ``generated`` (see the modules named in the module doc). ``reference_sum()``: CMMD's kernel sum
    of the reference with itself (:func:`~ganbench.metrics.kernel.rbf_kernel_sum`), e.g. read from
    the reference cache; computed here when None."""
    values: dict[str, Any] = {}
    if options.get("cmmd", False):
        values["cmmd"] = cmmd(generated, reference, reference_sum=reference_sum() if reference_sum else None)
    if options.get("vendi", False):
        values["vendi"] = vendi_score(generated)
    return values
