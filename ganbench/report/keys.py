"""What a summary row is keyed by, besides its grouping keys: its *protocol key* (what its numbers
were measured under: budget, each evaluator's backbone, weights, N, M and image size, the
reference split) and its *configuration* (a run's recorded ``config`` without the seed).

Rows are compared, marked and shown under one header only within one protocol key
(:func:`protocol_key`, as a line :func:`protocol_text`); runs whose configurations differ get rows
of their own, and rows of one identity show what differs between them (:func:`differing_settings`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ganbench.columns import Column

# --- Protocols ----------------------------------------------------------------------------------

# Per evaluator (the prefix of its ``<prefix>_samples`` metric): the metric suffixes whose values
# belong to its protocol, and their names in the key.
EVALUATOR_PROTOCOL = (("_backbone", "backbone"), ("_weights_sha256", "weights sha256"), ("_samples", "N"),
                      ("_reference_samples", "M"), ("_image_size", "image size"), ("_resize", "resize"),
                      ("_quantise", "quantisation"), ("_feature_space", "feature space"))
# Counts of real images an evaluator compares the generated samples with besides its reference:
# (count key, split key, name). They are neither N (generated) nor M (reference).
REAL_SETS = (("memorisation_samples", "memorisation_split", "memorisation training images"),
             ("ct_held_out_samples", "ct_held_out_split", "C_T held-out images"))
REAL_SET_KEYS = tuple(count for count, _, _ in REAL_SETS)


def counted_evaluator(key: str) -> str | None:
    """The evaluator ``<prefix>`` of a ``<prefix>_samples`` metric (its N generated samples), else
    None: ``_reference_samples`` (M) and the counts of :data:`REAL_SETS`, also under a prefix
    (``ema_``), are not an evaluator's N."""
    if key.endswith("_samples") and not key.endswith(("_reference_samples", *REAL_SET_KEYS)):
        return key[: -len("_samples")]
    return None


def real_sets(metrics: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(name, "10,000 of train")`` for each of :data:`REAL_SETS` the metrics count."""
    return [(name, f"{metrics[count]:,} of {metrics.get(split, '?')}") for count, split, name in REAL_SETS
            if isinstance(metrics.get(count), int)]


def _evaluators(metrics: Mapping[str, Any]) -> list[str]:
    """The prefixes of the metrics that state a sample count or a backbone (``fidelity``, ``stacked``)."""
    prefixes = {counted_evaluator(key) for key in metrics}
    prefixes |= {key[: -len(suffix)] for key in metrics for suffix in ("_backbone", "_weights_sha256")
                 if key.endswith(suffix)}
    return sorted(prefix for prefix in prefixes if prefix is not None)


def protocol_key(records: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    """What the numbers of ``records`` (one configuration's runs) were measured under, as
    ``((field, value), ...)`` in a fixed order; two rows are compared (tests, bold marks, one
    header) only when their keys are equal. Fields, each where the records have it: ``budget``;
    per evaluator ``<prefix>`` (one with a ``<prefix>_samples``, ``_backbone`` or
    ``_weights_sha256`` metric, e.g. ``fidelity``) its
    ``backbone``, ``weights sha256``, ``N`` (generated samples), ``M`` (reference samples) and
    ``image size`` (the canonical size both the generated and the reference images are brought
    to, by one rule, before the backbone), ``resize`` (how the backbone's input is resized from
    there: ``tf1``, ``legacy_pytorch``, ``clean``, ``none``) and ``quantisation`` (``uint8`` or
    ``float`` generated samples) from the metrics -- the real sets of :data:`REAL_SETS` (the
    memorisation checks' training images, C_T's held-out images) as their count and split --
    with the image size, the preprocessing
    protocol (:mod:`ganbench.metrics.preprocessing`; records older than the last two lack them); the
    ``reference split`` (the evaluators' ``<prefix>_reference_split`` metrics; in records without
    them the split trained on, ``provenance.data.split``, else ``config.data.split``) and the ``feature
    network`` (a style run's, description and sha256). How a variant's *training* data were
    resized (``provenance.data.resize``) is the variant's, not the protocol's. Runs that disagree
    on a field give every distinct value, joined by ``; ``."""
    fields: dict[str, list[str]] = {}

    def add(name: str, value: Any) -> None:
        if value not in (None, "", {}):
            text = f"{value:,.0f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)
            fields.setdefault(name, [])
            if text not in fields[name]:
                fields[name].append(text)

    for record in records:
        add("budget", record.get("budget"))
    for record in records:
        metrics = record.get("metrics") or {}
        for prefix in _evaluators(metrics):
            for suffix, name in EVALUATOR_PROTOCOL:
                add(f"{prefix} {name}", metrics.get(prefix + suffix))
        for name, value in real_sets(metrics):
            add(name, value)
    for record in records:
        provenance = record.get("provenance") or {}
        data = provenance.get("data") or {}
        metrics = record.get("metrics") or {}
        recorded = sorted({str(metrics[key]) for key in metrics if key.endswith("_reference_split") and metrics[key]})
        add("reference split", "; ".join(recorded) or data.get("split")
            or ((record.get("config") or {}).get("data") or {}).get("split"))
        network = provenance.get("feature_network") or {}
        add("feature network",
            " sha256 ".join(str(v) for v in (network.get("description"), network.get("sha256")) if v))
    return tuple((name, "; ".join(values)) for name, values in fields.items())


def protocol_text(protocol: Sequence[tuple[str, str]]) -> str:
    """A protocol key as one line, evaluators with the same backbone, N, M, size and preprocessing
    together: ``budget equal; classes: lenet (weights sha256 ef778d2499df), N = 5,000 vs M = 10,000,
    32 px; fidelity: dinov2 (weights sha256 0c1d2e3f4a5b), N = 5,000 vs M = 10,000, 32 px, resize
    clean, float samples; reference split test`` (sha256 cut to 12 hex digits)."""
    fields = dict(protocol)
    evaluators: dict[str, dict[str, str]] = {}
    plain: list[str] = []
    for name, value in protocol:
        prefix, _, field_name = name.partition(" ")
        if field_name in {label for _, label in EVALUATOR_PROTOCOL}:
            evaluators.setdefault(prefix, {})[field_name] = value
        else:
            plain.append(f"{name} {value}")
    described: dict[str, list[str]] = {}
    for prefix, values in evaluators.items():
        text = values.get("backbone", "")
        if values.get("weights sha256"):
            text += f" (weights sha256 {values['weights sha256'][:12]})"
        counts = (f"N = {values['N']}" if "N" in values else "") + (f" vs M = {values['M']}" if "M" in values else "")
        size = f"{values['image size']} px" if "image size" in values else ""
        resize = f"resize {values['resize']}" if "resize" in values else ""
        quantisation = f"{values['quantisation']} samples" if "quantisation" in values else ""
        text = ", ".join(part.strip() for part in (text, counts, size, resize, quantisation) if part.strip())
        described.setdefault(text, []).append(prefix)
    parts = plain[:1] if "budget" in fields else []
    parts += [f"{', '.join(prefixes)}: {text}" for text, prefixes in described.items()]
    parts += plain[1:] if "budget" in fields else plain
    return "; ".join(parts)


# --- Metric names that say their feature space ---

# FID and KID are named after Inception (and ganbench has always called lenet's FID so); on another
# backbone the same numbers are the Frechet and kernel distances of its features, named after it
# as dgm-eval names them: FD-DINOv2, KID-CLIP. Records keep the keys ``fid``, ``kid_mean``, with
# ``fidelity_backbone`` (part of the protocol key) saying whose features they are, and
# ``fidelity_feature_space`` (``DINOv2``) the name the backbone gives them (none: FID, KID).
FEATURE_SPACE_NAMES = {"fid": "FD", "fid_infinity": "FD∞", "kid_mean": "KID"}


def metric_header(key: str, header: str, protocol: Sequence[tuple[str, str]]) -> str:
    """The header of metric ``key`` (default ``header``) under ``protocol``: ``FD-DINOv2`` for
    ``fid`` when the fidelity records name their feature space ``DINOv2``; ``header`` itself
    without one (Inception, lenet), for other metrics, and where rows disagree on it."""
    short = FEATURE_SPACE_NAMES.get(key)
    space = dict(protocol).get("fidelity feature space", "")
    if short is None or not space or "; " in space:
        return header
    return f"{short}-{space}"


def named_column(column: Column, protocols: Iterable[Sequence[tuple[str, str]]]) -> Column:
    """``column`` with its header named for the backbone (:func:`metric_header`) when every one
    of ``protocols`` (a table's rows') is the same; else ``column`` as it is."""
    distinct = {tuple(protocol) for protocol in protocols}
    if len(distinct) != 1:
        return column
    header = metric_header(column.key, column.header, distinct.pop())
    return column if header == column.header else dataclasses.replace(column, header=header)


# --- Configurations -----------------------------------------------------------------------------


def _flat_config(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and value:
        for key in sorted(value):
            _flat_config(value[key], f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value


def configuration(record: Mapping[str, Any], pooled: Iterable[str] = ()) -> dict[str, Any]:
    """The record's ``config`` without its seed (and the top-level keys in ``pooled``), flattened
    to dotted keys in sorted order: ``{"settings.lr_d": 0.0002, "iterations": 3000, ...}``.
    Records written before configs were stored give ``{}``."""
    config = {key: value for key, value in (record.get("config") or {}).items()
              if key != "seed" and key not in set(pooled)}
    out: dict[str, Any] = {}
    _flat_config(config, "", out)
    out.pop("", None)
    return out


def setting_name(path: str) -> str:
    """The short name of a dotted config key, as the ``set`` option spells it where it can: a variant's or
    preset's ``settings.lr_d`` is ``lr_d``, ``evaluation.samples`` is ``eval.samples``."""
    head, _, tail = path.partition(".")
    if head == "settings" and tail:
        return tail
    if head == "evaluation" and tail:
        return f"eval.{tail}"
    return path


def setting_value(value: Any) -> str:
    """A config value as a short text: strings bare, the rest as compact JSON (``[256,512]``)."""
    if value is _MISSING:
        return "–"
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


_MISSING = object()


def configuration_id(config: Mapping[str, Any]) -> str:
    """8 hex digits of the SHA-256 of a configuration's JSON: the same for the same configuration."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=list).encode()).hexdigest()[:8]


def differing_settings(configurations: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """For each of several flat configurations (:func:`configuration`), the keys whose values
    differ among them: ``{short name: value text}`` (:func:`setting_name`, :func:`setting_value`;
    a key one configuration lacks shows ``–``)."""
    keys = sorted({key for config in configurations for key in config})
    differing = [key for key in keys
                 if len({json.dumps(config.get(key, "\0missing"), sort_keys=True) for config in configurations}) > 1]
    return [{setting_name(key): setting_value(config.get(key, _MISSING)) for key in differing}
            for config in configurations]
