"""A protocol card per configuration: how its numbers were made, from its records' provenance.

Each card lists, for the runs of one configuration (see :mod:`ganbench.report.comparisons`):
the seeds and training length; per evaluator the sample count N, the reference count M, the
backbone and its weights' sha256 (read from the metric keys ``<evaluator>_samples``,
``_reference_samples``, ``_backbone``, ``_weights_sha256``, ``_image_size``, ``_resize``,
``_quantise``); the data split and
checksums; the feature network (style); software versions; device, threads; commit and command.
A field whose runs disagree shows every distinct value, in order of first appearance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ganbench.report.comparisons import ComparisonTable
from ganbench.report.keys import counted_evaluator, real_sets

# A card: its title and (field, value) rows.
Card = tuple[str, list[tuple[str, str]]]
SOFTWARE = ("ganbench", "python", "torch", "torchvision", "pytorch-ignite", "torch-fidelity", "numpy", "platform")
EVALUATOR_FIELDS = (("_samples", "N (generated samples)"), ("_reference_samples", "M (reference samples)"),
                    ("_reference_split", "reference split"),
                    ("_backbone", "backbone"), ("_weights_sha256", "backbone weights sha256"),
                    ("_image_size", "image size (px)"), ("_resize", "resize to the backbone's input"),
                    ("_quantise", "generated samples quantised to"))


def _text(value: Any) -> str:
    """Integers with thousands separators (``10,000``), anything else as ``str``."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _settings(settings: dict[str, Any]) -> str:
    return ", ".join(f"{key}={'none' if value is None else value}" for key, value in sorted(settings.items()))


def _distinct(values: Sequence[Any]) -> str:
    shown = [_text(v) for v in dict.fromkeys(v for v in values if v not in (None, "", {}))]
    return ", ".join(shown)


def _data_checksums(data: dict[str, Any]) -> list[str]:
    """``name md5 ...`` of every file the data came from (``files``), then ``role name sha256 ...``
    of every other entry of the data's provenance that names a sha256 (e.g. a style run's
    ``content`` and ``style`` images), in key order."""
    sums = [f"{name} md5 {entry['md5']}" for name, entry in sorted((data.get("files") or {}).items())
            if isinstance(entry, dict) and entry.get("md5")]
    for role, entry in sorted(data.items()):
        if isinstance(entry, dict) and entry.get("sha256"):
            sums.append(f"{role} {entry.get('name', '?')} sha256 {entry['sha256']}")
    return sums


def _evaluator_prefixes(records: Sequence[dict[str, Any]]) -> list[str]:
    prefixes: dict[str, None] = {}
    for record in records:
        for key in record.get("metrics") or {}:
            prefix = counted_evaluator(key)
            if prefix is not None:
                prefixes[prefix] = None
    return list(prefixes)


def card(records: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """The (field, value) rows of one configuration's protocol card; empty fields left out."""
    provenance = [r.get("provenance") or {} for r in records]
    config = [r.get("config") or {} for r in records]
    data = [p.get("data") or {} for p in provenance]
    device = [p.get("device") or {} for p in provenance]
    rows: list[tuple[str, str]] = [
        ("seeds", _distinct(sorted(r.get("seed") for r in records if r.get("seed") is not None))),
        ("status", _distinct(r.get("status") for r in records)),
        ("iterations (done / planned)", _distinct(f"{_text(r.get('iterations_done'))} / "
                                                  f"{_text(r.get('iterations_planned'))}" for r in records
                                                  if r.get("iterations_planned") is not None)),
        ("settings", _distinct(_settings(c.get("settings") or {}) for c in config)),
    ]
    for prefix in _evaluator_prefixes(records):
        for suffix, name in EVALUATOR_FIELDS:
            rows.append((f"{prefix}: {name}", _distinct((r.get("metrics") or {}).get(prefix + suffix)
                                                       for r in records)))
    real: dict[str, list[str]] = {}
    for record in records:
        for name, value in real_sets(record.get("metrics") or {}):
            real.setdefault(name, []).append(value)
    rows += [(name, _distinct(values)) for name, values in real.items()]
    rows += [
        ("evaluators", _distinct(", ".join(c.get("evaluators") or []) for c in config)),
        ("data", _distinct(d.get("name") for d in data)),
        ("data source", _distinct(d.get("source") for d in data)),
        ("split trained on", _distinct(d.get("split") or (c.get("data") or {}).get("split")
                                       for d, c in zip(data, config))),
        ("data size", _distinct(d.get("size") for d in data)),
        ("data checksums", _distinct("; ".join(_data_checksums(d)) for d in data)),
        ("resize", _distinct(d.get("resize") for d in data)),
        ("feature network", _distinct((p.get("feature_network") or {}).get("description") for p in provenance)),
        ("feature network sha256", _distinct((p.get("feature_network") or {}).get("sha256") for p in provenance)),
    ]
    rows += [(name, _distinct(p.get(name) for p in provenance)) for name in SOFTWARE]
    rows += [
        ("device", _distinct(d.get("gpu") or d.get("cpu") for d in device)),
        ("device type", _distinct(d.get("type") for d in device)),
        ("CPU cores", _distinct(d.get("cpu_count") for d in device)),
        ("torch threads", _distinct(d.get("torch_threads") for d in device)),
        ("commit", _distinct(f"{p.get('commit')}{' (dirty)' if p.get('dirty') else ''}" for p in provenance
                             if p.get("commit"))),
        ("command", _distinct(p.get("command") for p in provenance)),
        ("started (UTC)", min((p.get("started_utc") for p in provenance if p.get("started_utc")), default="")),
        ("finished (UTC)", max((p.get("finished_utc") for p in provenance if p.get("finished_utc")), default="")),
    ]
    return [(name, value) for name, value in rows if value]


def protocol_cards(tables: Sequence[ComparisonTable]) -> list[Card]:
    """(title, rows) of every configuration's card, in table order; the title names the kind and
    the configuration's every grouping key."""
    cards = []
    for table in tables:
        for row, records in zip(table.rows, table.records):
            title = ", ".join(f"{key} {row.identity[key]}" for key in table.group)
            settings = f" [{row.settings_text}]" if row.settings else ""
            cards.append((f"{table.kind}: {title}{settings}", card(records)))
    return cards


def markdown(cards: Sequence[Card]) -> list[str]:
    """``report.md`` lines of the cards: a heading and a two-column table each."""
    lines = ["## Protocol", "", "How each configuration's numbers were made, from its records' provenance.", ""]
    for title, rows in cards:
        lines += [f"### {title}", "", "| field | value |", "| --- | --- |"]
        lines += [f"| {name} | {value.replace('|', '/')} |" for name, value in rows]
        lines.append("")
    return lines
