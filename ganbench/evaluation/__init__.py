"""``ganbench evaluate``: ganbench's evaluators on samples of a model trained elsewhere.

Inputs: sample sets (:mod:`ganbench.evaluation.samples`: folders of PNG/JPEG images, ``.npy`` /
``.npz`` arrays), or a generator (:mod:`ganbench.evaluation.generator`: ``MODULE:CALLABLE``,
``PATH.py:CALLABLE`` or a TorchScript file, with a latent size, an optional state_dict checkpoint
and seeds) whose samples are drawn from seeded latents z ~ N(0, I) as a run draws them. Every input
becomes float images (N, C, H, W) in [-1, 1], what a ganbench generator yields.

The evaluators are the sample evaluators of :data:`EVALUATED` that apply to the reference
dataset (``fidelity``; ``classes`` for the MNIST family), with the evaluation settings of a
suite at a budget (``suite``, ``budget``; else the defaults), changed by ``set`` and with
``eval.samples`` the number of images evaluated (:mod:`ganbench.evaluation.request`). The
reference is loaded and its statistics cached as for runs (:mod:`ganbench.metrics.fidelity`).

Output (:mod:`ganbench.evaluation.records`): one record per input, kind ``evaluation``, identity
``variant`` = the model's name, ``dataset`` = the reference, ``suite`` = the suite whose settings
were used (else :data:`EXTERNAL`), ``budget`` likewise, ``seed`` = the input's position, or the
generator seed (several inputs of one name are that model's seeds, for intervals over seeds and
significance). The configuration holds what every seed shares (settings, evaluators, data); the
protocol card, in ``provenance.samples``, holds the source (the path or the generator spec, sha256
of the files, format, layout, range, count, preprocessing; for a generator also its checkpoint's
sha256, latent size and seed) and ``provenance.backbone`` the backbone with its weights' sha256.
"""

from ganbench.evaluation.generator import BATCH, TOLERANCE, Generated, GeneratorModel, draw, load_generator
from ganbench.evaluation.records import (
    EVALUATED,
    KIND,
    THREADS,
    EvaluationReport,
    Planned,
    evaluate_samples,
    plan_evaluation,
)
from ganbench.evaluation.request import (
    EVALUATE_OPTIONS,
    EXTERNAL,
    EvaluationRequest,
    check_request,
    evaluation_settings,
    request_from,
    seed_list,
)
from ganbench.evaluation.samples import IMAGE_SUFFIXES, LAYOUTS, RANGES, LoadedSamples, Samples, load_samples

__all__ = [
    "BATCH", "EVALUATED", "EVALUATE_OPTIONS", "EXTERNAL", "IMAGE_SUFFIXES", "KIND", "LAYOUTS", "RANGES", "THREADS",
    "TOLERANCE", "EvaluationReport", "EvaluationRequest", "Generated", "GeneratorModel", "LoadedSamples", "Planned",
    "Samples", "check_request", "draw", "evaluate_samples", "evaluation_settings", "load_generator", "load_samples",
    "plan_evaluation", "request_from", "seed_list",
]
