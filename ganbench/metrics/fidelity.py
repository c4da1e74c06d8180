"""``fidelity``: FID, IS, KID and precision/recall by torch-fidelity, density and coverage, on the
suite's backbone (``eval.backbone``: ``lenet``, ``inception``, ``dinov2`` or ``clip``, see
:mod:`ganbench.metrics.backbones`), under the preprocessing protocol ``eval.resize`` /
``eval.quantise`` (:mod:`ganbench.metrics.preprocessing`; recorded as ``fidelity_resize`` and
``fidelity_quantise``).

Samples. ``eval.samples`` generated images come from the Ignite sampling engine (batched, no
gradient, eval mode, latents seeded by the run's seed) and go to torch-fidelity in memory, never
through image files; ``eval.reference_samples`` real images are the dataset's fixed reference
subset (the whole split when it is smaller). Both counts are stored next to the values.

Canonical size. Every variant of a dataset is evaluated at one size, ``eval.image_size`` (32 by
default), so FIDs are comparable across variants that train at different sizes: generated
images are quantised to uint8 as the real ones are (``round((x + 1) * 127.5)``; unrounded floats
with ``eval.quantise=float``) and brought to
that size by the dataset loader's rule (:func:`ganbench.data.images.resize_images` with padding:
the MNIST family's 28x28 gets a 2-pixel black border, as the loader gives conv variants; other
sizes are resized bilinearly with antialiasing); the reference set is loaded from the source at
that size by the same rule.

Definitions (features f = backbone(x); generated set G of N, reference set R of M):

- ``fid``: ||mu_G - mu_R||^2 + Tr(S_G + S_R - 2 (S_G S_R)^(1/2)) of the feature means and
  covariances (Heusel et al. 2017);
- ``is_mean`` / ``is_std``: exp(E_x KL(p(y|x) || p(y))) over ``eval.is_splits`` splits of G,
  p(y|x) the softmax of the backbone's logits (Salimans et al. 2016);
- ``kid_mean`` / ``kid_std``: the unbiased MMD^2 with the kernel (f.g / d + 1)^3 over
  ``eval.kid_subsets`` random subsets of ``eval.kid_subset_size`` (Binkowski et al. 2018);
- ``precision`` / ``recall``: the share of G inside the union of the balls around each real
  feature reaching its ``eval.pr_k``-th nearest real neighbour, and vice versa (Kynkaanniemi
  et al. 2019);
- ``density``: (1 / kN) sum_j sum_i 1[f(g_j) in B(r_i, NND_k(r_i))] and ``coverage``: the share
  of real samples whose k-NN ball (k = ``eval.dc_k``) holds at least one generated sample
  (Naeem et al. 2020), on the same features as precision/recall. Balls are closed (<=), as in the
  paper and torch-fidelity (the authors' ``prdc`` code uses <; they differ only on ties).

FID's uncertainty and bias, from the features already extracted (no new forward passes):

- ``fid_ci_low`` / ``fid_ci_high``: a 95 % percentile bootstrap interval over the N generated
  feature rows (``eval.fid_bootstrap`` resamples, seeded by the run's seed; the reference fixed),
  shifted by the resamples' extra bias so that it surrounds the N-sample FID
  (``fid_ci_method`` = "bias-shifted percentile bootstrap", see
  :func:`ganbench.stats.bootstrap_interval`): a single run's FID gets an error bar
  covering the sampling of its generated images, not training;
- ``fid_infinity`` (Chong & Forsyth 2020, ``eval.fid_infinity`` = number of points): FID at that
  many N evenly spaced from N/5 to N, on nested random subsets of the generated features, fitted
  by least squares as FID(N) = fid_infinity + slope / N; the record keeps ``fid_infinity_slope``
  and ``fid_infinity_points`` ([[N, FID], ...]). FID is biased upward by about slope / N, so FID
  at different N are not comparable; FID-infinity is the extrapolation to infinitely many samples.

Features that are not finite (NaN or infinite rows, e.g. from a generator whose output became
NaN) stop the evaluation with one error naming how many rows, never a silent number.

Reference features are cached on disk by torch-fidelity under ``$GANBENCH_CACHE/fidelity``
(default ``~/.cache/ganbench/fidelity``), named by backbone, dataset, split, size, N, the weights'
sha256 and a digest of the data's description, so a second evaluation against the same
reference computes features of the generated samples only; beside them go the reference's FID
statistics, its k-NN radii and KID's per-subset reference kernel sums.

The numbers from the features (FID's interval and FID-infinity, KID, precision/recall, density
and coverage) are computed in :mod:`ganbench.metrics.feature_metrics`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import ignite.distributed as idist
import torch
from torch_fidelity.helpers import get_kwarg
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_featuresdict_to_statistics_cached, fid_statistics_to_metric
from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, KEY_METRIC_ISC_STD, isc_featuresdict_to_metric
from torch_fidelity.utils import (
    cache_lookup_one_recompute_on_miss,
    create_feature_extractor,
    extract_featuresdict_from_input_id_cached,
    get_featuresdict_from_dataset,
    resolve_feature_layer_for_metric,
)

from ganbench.columns import Column
from ganbench.data import BenchDataset, DataOptions, load_dataset
from ganbench.distributed import rows_in_blocks
from ganbench.errors import UserError
from ganbench.metrics import EvaluationContext
from ganbench.metrics.backbones import BACKBONES, Backbone, WeightsFile, cache_dir
from ganbench.metrics.feature_metrics import (
    KID_KEYS,
    fid_uncertainty,
    kid,
    kid_reference_sums,
    knn_radii,
    neighbourhood_metrics,
    require_finite,
)
from ganbench.metrics.fidelity_inputs import (
    check_reference_split,
    FidelityInput,
    canonical_dataset,
    generated_images,
    reference_cache_name,
    reference_count,
    reference_set,
)
from ganbench.metrics.preprocessing import preprocessing_protocol
from ganbench.metrics.kernel import CMMD_SIGMA, rbf_kernel_sum
from ganbench.metrics.shared_features import SHARED_FEATURE_COLUMNS, shared_feature_metrics
from ganbench.metrics.training_reference import memorisation_values

if TYPE_CHECKING:
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase

FIDELITY_METRICS = ("isc", "fid", "kid", "prc")


def torch_fidelity_options(options: Mapping[str, Any], backbone: Backbone, weights: WeightsFile,
                           cuda: bool) -> dict[str, Any]:
    """The keyword arguments of torch-fidelity's metric functions for these evaluation settings.

    ``save_cpu_ram`` keeps torch-fidelity from starting DataLoader worker processes (the inputs
    are tensors in memory) and makes precision/recall work in row blocks (same values).
    """
    return {
        "cuda": cuda,
        "batch_size": options["feature_batch_size"],
        "verbose": False,
        "feature_extractor": backbone.extractor,
        "feature_extractor_weights_path": str(weights.path),
        "isc_splits": options["is_splits"],
        "kid_subsets": options["kid_subsets"],
        "kid_subset_size": options["kid_subset_size"],
        "prc_neighborhood": options["pr_k"],
        "cache_root": str(cache_dir("fidelity")),
        "save_cpu_ram": True,
    }


@lru_cache(maxsize=2)
def feature_extractor(extractor: str, layers: tuple[str, ...], weights_path: str, sha256: str,
                      cuda: bool, resize: str | None = None) -> FeatureExtractorBase:
    """torch-fidelity's feature extractor ``extractor`` giving ``layers``, kept in memory between
    the evaluations of a run (keyed by the weights' sha256); ``resize`` (``eval.resize``) goes to
    an extractor of a backbone that ``resizes``."""
    extra = {} if resize is None else {"ganbench_resize": resize}
    return create_feature_extractor(extractor, list(layers), cuda=cuda, verbose=False,
                                    feature_extractor_weights_path=weights_path, **extra)


def metric_layers(fidelity_options: Mapping[str, Any]) -> dict[str, str]:
    """The backbone's feature layer for each torch-fidelity metric (isc, fid, kid, prc)."""
    return {metric: resolve_feature_layer_for_metric(metric, **fidelity_options) for metric in FIDELITY_METRICS}


def reference_item(reference_cache: str | None, item: str, compute: Callable[[], Any],
                   fidelity_options: Mapping[str, Any]) -> Any:
    """``compute()``, kept in torch-fidelity's cache beside the reference features as
    ``<reference_cache>-<item>.pt`` when the reference has a cache name."""
    if reference_cache is None:
        return compute()
    return cache_lookup_one_recompute_on_miss(f"{reference_cache}-{item}", compute, **fidelity_options)


def inception_score_and_fid(generated: Mapping[str, torch.Tensor], reference: Mapping[str, torch.Tensor],
                            extractor: FeatureExtractorBase, reference_cache: str | None,
                            fidelity_options: Mapping[str, Any]) -> dict[str, float]:
    """``fid``, ``is_mean`` and ``is_std`` from the feature dicts, by torch-fidelity's own functions
    (as ``torch_fidelity.calculate_metrics`` computes them); the reference's FID statistics are
    cached under ``reference_cache``."""
    layers, options = metric_layers(fidelity_options), dict(fidelity_options)
    isc = isc_featuresdict_to_metric(generated, layers["isc"], **options)
    statistics_generated = fid_featuresdict_to_statistics_cached(generated, None, extractor, layers["fid"], **options)
    statistics_reference = fid_featuresdict_to_statistics_cached(reference, reference_cache, extractor,
                                                                 layers["fid"], **options)
    fid = fid_statistics_to_metric(statistics_generated, statistics_reference, False)
    return {"fid": fid[KEY_METRIC_FID], "is_mean": isc[KEY_METRIC_ISC_MEAN], "is_std": isc[KEY_METRIC_ISC_STD]}


def fidelity_from_features(generated: Mapping[str, torch.Tensor], reference: Mapping[str, torch.Tensor],
                           extractor: FeatureExtractorBase, reference_cache: str | None,
                           fidelity_options: Mapping[str, Any], dc_k: int) -> dict[str, float]:
    """Every fidelity number from the feature dicts of generated and reference samples: IS and FID
    by torch-fidelity's own functions (as ``torch_fidelity.calculate_metrics`` computes them), KID
    by :func:`kid` and precision/recall/density/coverage by :func:`neighbourhood_metrics` (same
    definitions as torch-fidelity's, one shared distance pass). What depends on the reference alone
    (FID statistics, k-NN radii, KID's reference kernel sums) is cached under ``reference_cache``."""
    layers = metric_layers(fidelity_options)
    for name, features in (("generated", generated), ("reference", reference)):
        for layer in sorted(set(layers.values())):
            require_finite(features[layer], f"{name} ({layer})")
    options = dict(fidelity_options)
    generated_kid, reference_kid = generated[layers["kid"]], reference[layers["kid"]]
    kid_settings = "-".join(str(get_kwarg(key, options)) for key in KID_KEYS)
    sums = reference_item(reference_cache, f"kid-reference-sums-float64-n{len(generated_kid)}-{kid_settings}",
                          lambda: kid_reference_sums(reference_kid, len(generated_kid), options), options)
    device = metric_device(options)  # the nearest-neighbour passes run on the GPU when there is one
    pr_k, reference_prc = options["prc_neighborhood"], reference[layers["prc"]].to(device)
    radii = reference_item(reference_cache, f"knn-radii-k{pr_k}-k{dc_k}", lambda: {
        k: radius.cpu() for k, radius in knn_radii(reference_prc, (pr_k, dc_k)).items()}, options)
    return {
        **inception_score_and_fid(generated, reference, extractor, reference_cache, fidelity_options),
        **kid(generated_kid, reference_kid, options, sums),
        **neighbourhood_metrics(generated[layers["prc"]].to(device), reference_prc, pr_k, dc_k, radii),
    }


def generated_features_of(generated: torch.Tensor, extractor: FeatureExtractorBase, rgb: bool,
                          fidelity_options: Mapping[str, Any], distributed: bool) -> dict[str, torch.Tensor]:
    """The backbone's features of uint8 generated images (N, C, H, W), {layer: (N, features)}, in
    batches of ``feature_batch_size``; ``distributed``: each rank of the data-parallel group
    extracts a run of whole batches and every rank receives all rows (the batches, and so the
    numbers, of one process)."""
    batch, cuda = fidelity_options["batch_size"], fidelity_options["cuda"]

    def rows(start: int, end: int) -> dict[str, torch.Tensor]:
        return get_featuresdict_from_dataset(FidelityInput(generated[start:end], rgb), extractor, batch, cuda,
                                             True, False)

    if not distributed:
        return rows(0, len(generated))
    return dict(rows_in_blocks(len(generated), batch, rows))


def metric_device(fidelity_options: Mapping[str, Any]) -> torch.device:
    """Where the blocked metric computations run: the GPU when the evaluation runs on one, else the CPU."""
    return torch.device("cuda" if fidelity_options.get("cuda") else "cpu")


def fidelity_of_images(generated: torch.Tensor, reference: torch.Tensor, reference_cache: str | None,
                       backbone: Backbone, weights: WeightsFile, options: Mapping[str, Any],
                       cuda: bool, seed: int = 0, distributed: bool = False,
                       features: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fidelity numbers of generated images (N, C, H, W; uint8, or float in [0, 255] for a backbone
    that ``resizes``) against uint8 reference images (M, C, H, W); reference features are read from
    (or written to) the cache ``reference_cache``. With ``options["fid_bootstrap"]`` or
    ``options["fid_infinity"]``, also FID's interval and FID-infinity (:func:`fid_uncertainty`,
    seeded by ``seed``); with ``options["cmmd"]`` / ``options["vendi"]``, CMMD and the Vendi score
    (:func:`shared_feature_metrics`), all from one extraction (batches of ``feature_batch_size``
    under ``torch.inference_mode``). A backbone without logits gives no IS. ``distributed``: the
    generated features are extracted by every rank of the data-parallel group together
    (:func:`generated_features_of`); the ranks above 0 return {} once their part is done, rank 0
    goes on with the numbers. ``features``, if given, receives the FID-layer features
    (``generated`` (N, D), ``reference`` (M, D)) and the seconds the generated images' extraction
    took (``seconds``)."""
    fidelity_options = torch_fidelity_options(options, backbone, weights, cuda)
    layers = tuple(sorted(set(metric_layers(fidelity_options).values())))
    resize = preprocessing_protocol(backbone, options)["resize"] if backbone.resizes else None
    extractor = feature_extractor(backbone.extractor, layers, str(weights.path), weights.sha256, cuda, resize)
    with torch.inference_mode(not distributed):  # collectives of the distributed path stay outside it
        start = time.perf_counter()
        generated_features = generated_features_of(generated, extractor, backbone.rgb, fidelity_options, distributed)
        seconds = time.perf_counter() - start
        if distributed and idist.get_rank() != 0:
            return {}
        inputs = {**fidelity_options, "input2": FidelityInput(reference, backbone.rgb),
                  "input2_cache_name": reference_cache}
        reference_features = extract_featuresdict_from_input_id_cached(2, extractor, **inputs)
    values: dict[str, Any] = fidelity_from_features(generated_features, reference_features, extractor,
                                                    reference_cache, fidelity_options, options["dc_k"])
    layer = metric_layers(fidelity_options)["fid"]
    values.update(fid_uncertainty(generated_features[layer], reference_features[layer],
                                  options.get("fid_bootstrap", 0), options.get("fid_infinity", 0), seed))
    if not backbone.logits:
        for key in ("is_mean", "is_std"):
            values.pop(key)
    device = metric_device(fidelity_options)
    reference_shared = reference_features[layer].to(device)
    cmmd_sum = functools.partial(reference_item, reference_cache, f"cmmd-reference-sum-sigma{CMMD_SIGMA:g}-float32",
                                 functools.partial(rbf_kernel_sum, reference_shared, reference_shared),
                                 fidelity_options)
    values.update(shared_feature_metrics(generated_features[layer].to(device), reference_shared, options, cmmd_sum))
    if features is not None:
        features.update(generated=generated_features[layer].to(device), reference=reference_features[layer],
                        seconds=seconds)
    return values


def features_of_images(images: torch.Tensor, cache_name: str, backbone: Backbone, weights: WeightsFile,
                       options: Mapping[str, Any], cuda: bool) -> torch.Tensor:
    """The FID-layer features (n, D) of uint8 images (n, C, H, W) of a fixed real set, read from (or
    written to) torch-fidelity's cache under ``cache_name``, as the reference's are."""
    fidelity_options = torch_fidelity_options(options, backbone, weights, cuda)
    layers = tuple(sorted(set(metric_layers(fidelity_options).values())))
    extractor = feature_extractor(backbone.extractor, layers, str(weights.path), weights.sha256, cuda)
    with torch.inference_mode():
        extracted = extract_featuresdict_from_input_id_cached(
            1, extractor, **{**fidelity_options, "input1": FidelityInput(images, backbone.rgb),
                             "input1_cache_name": cache_name})
    return extracted[metric_layers(fidelity_options)["fid"]]


def real_split_features(context: EvaluationContext, backbone: Backbone, weights: WeightsFile,
                        split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (n, C, S, S) of ``eval.memorisation_samples`` of the run's dataset's ``split``
    (its fixed reference subset) at the canonical size, and their features (n, D), cached."""
    size = context.options["image_size"]
    data = replace(context.data_options, image_size=size, split=split, download=False)
    dataset = load_dataset(context.dataset.name, data)
    if split != context.data_options.split and dataset.describe().get("split") != split:
        raise UserError(f"{context.dataset.name} has no {split} split (a folder dataset is one set)")
    count = reference_count(dataset, context.options["memorisation_samples"])
    images = reference_set(dataset, count)[0]
    cache = reference_cache_name(backbone, dataset, count, size, weights)
    return images, features_of_images(images, cache, backbone, weights, context.options,
                                      context.device.type == "cuda")


class Fidelity:
    name = "fidelity"
    summary = ("FID, IS, KID, precision/recall (torch-fidelity), density/coverage, CMMD, Vendi and (eval.memorisation) "
               "AuthPct/C_T on eval.backbone, with the sample counts and the backbone's weights sha256")
    section = "metrics"
    columns = (
        Column("fid_infinity", "FID∞", False, 2, samples_key="fidelity_samples", headline=True,
               unit="squared feature distance"),
        Column("fid", "FID", False, 2, samples_key="fidelity_samples", headline=True, unit="squared feature distance"),
        Column("is_mean", "IS", True, 2, spread_key="is_std", samples_key="fidelity_samples"),
        Column("kid_mean", "KID", False, 4, spread_key="kid_std", samples_key="fidelity_samples", scale=1e3,
               unit="MMD² of a cubic polynomial kernel on the backbone's features"),
        Column("precision", "precision", True, 3, headline=True, samples_key="fidelity_samples", unit="fraction"),
        Column("recall", "recall", True, 3, headline=True, samples_key="fidelity_samples", unit="fraction"),
        Column("density", "density", True, 3, samples_key="fidelity_samples", unit="ratio"),
        Column("coverage", "coverage", True, 3, samples_key="fidelity_samples", unit="fraction"),
        *SHARED_FEATURE_COLUMNS,
    )

    def applies_to(self, dataset: BenchDataset) -> bool:
        return dataset.kind == "images"

    def check(self, dataset: BenchDataset, options: Mapping[str, Any], data: DataOptions) -> None:
        """Before training: the backbone's weights exist and the counts suit every metric."""
        backbone = BACKBONES.get(options["backbone"])
        preprocessing_protocol(backbone, options)
        backbone.locate(dataset, options, data.download)
        check_reference_split(dataset, options, data)
        counts = {"eval.samples": options["samples"],
                  "eval.reference_samples": reference_count(dataset, options["reference_samples"])}
        for setting, count in counts.items():
            if count < options["kid_subset_size"]:
                raise UserError(f"KID needs eval.kid_subset_size ({options['kid_subset_size']}) <= {setting} "
                                f"({count}); lower eval.kid_subset_size or raise {setting}")
            if count <= max(options["pr_k"], options["dc_k"]):
                raise UserError(f"{setting} ({count}) must exceed eval.pr_k and eval.dc_k; raise it")
        if options["fid_infinity"] == 1:
            raise UserError("eval.fid_infinity must be 0 (off) or at least 2 points to fit a line through")
        if options["is_splits"] > options["samples"]:
            raise UserError(f"eval.is_splits ({options['is_splits']}) must not exceed eval.samples "
                            f"({options['samples']})")

    def evaluate(self, context: EvaluationContext) -> dict[str, Any]:
        start = time.perf_counter()
        options = context.options
        backbone = BACKBONES.get(options["backbone"])
        weights = backbone.locate(context.dataset, options, False)
        size, protocol = options["image_size"], preprocessing_protocol(backbone, options)
        reference_data = canonical_dataset(context)
        count = reference_count(reference_data, options["reference_samples"])
        reference = reference_set(reference_data, count)[0]
        generated = generated_images(context, options["samples"], size, protocol["quantise"])
        cache_name = reference_cache_name(backbone, reference_data, count, size, weights, protocol["resize"])
        features: dict[str, Any] = {}
        values = fidelity_of_images(generated, reference, cache_name, backbone, weights, options,
                                    context.device.type == "cuda", context.seed, context.distributed, features)
        if features and options.get("memorisation", False):
            real = functools.partial(real_split_features, context, backbone, weights)
            values.update(memorisation_values(context, generated, features["generated"], real))
        if features:
            context.timings.update(fidelity_seconds=time.perf_counter() - start,
                                   fidelity_images_per_second=len(generated) / max(features["seconds"], 1e-9))
        return {
            **values,
            "fidelity_samples": len(generated),
            "fidelity_reference_samples": count,
            "fidelity_reference_split": reference_data.describe().get("split"),
            "fidelity_image_size": size,
            "fidelity_backbone": backbone.name,
            "fidelity_weights_sha256": weights.sha256,
            "fidelity_resize": protocol["resize"],
            "fidelity_quantise": protocol["quantise"],
            **({"fidelity_feature_space": backbone.feature_space} if backbone.feature_space else {}),
        }
