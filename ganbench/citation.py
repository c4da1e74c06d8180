"""How to cite ganbench (BibTeX) and a result set it produced.

``ganbench cite`` prints :func:`citation_text` (the software); ``ganbench cite DIR`` prints
:func:`result_citation` of the records in ``DIR``, which every report's "cite this result" block
repeats. A result set is identified by :func:`result_digest`, the sha256 of its records in
canonical form: any change to any record (a number, a setting, a provenance field) changes it,
and the order records were written in does not.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

import ganbench

SOFTWARE_KEY = "ganbench"


def citation_text() -> str:
    return f"""@software{{{SOFTWARE_KEY},
  title   = {{ganbench: a reproducible GAN and neural style-transfer benchmark}},
  author  = {{{{The ganbench developers}}}},
  year    = {{2026}},
  version = {{{ganbench.__version__}}},
  note    = {{Built on pytorch-ignite and torch-fidelity}}
}}
"""


def canonical_records(records: Sequence[dict[str, Any]]) -> bytes:
    """The records as canonical bytes: each record as JSON with sorted keys, no insignificant
    whitespace, non-ASCII kept as UTF-8, one per line, lines sorted by ``run_id`` (then by the
    line itself), each ending in a newline."""
    lines = [json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True)
             for r in records]
    ordered = sorted(zip((str(r.get("run_id")) for r in records), lines))
    return "".join(line + "\n" for _, line in ordered).encode("utf-8")


def result_digest(records: Sequence[dict[str, Any]]) -> str:
    """``sha256:<64 hex digits>`` of :func:`canonical_records`."""
    return "sha256:" + hashlib.sha256(canonical_records(records)).hexdigest()


def _distinct(values) -> list[str]:
    return [str(v) for v in dict.fromkeys(v for v in values if v)]


def _bibtex(text: str) -> str:
    """A field value with BibTeX/LaTeX specials escaped and braces balanced."""
    return re.sub(r"([&%$#_{}])", r"\\\1", text).replace("~", r"\textasciitilde{}").replace("^", r"\^{}")


def result_citation(records: Sequence[dict[str, Any]]) -> str:
    """BibTeX ``@misc`` for the result set ``records`` (non-empty): the suite(s), budget(s) and
    run count, the date the last run finished, the ganbench version(s) and commit(s) that made
    it, the machine(s), and the :func:`result_digest`; then the software entry it cross-refers to.

    Deterministic: a function of the records only (no clock), so the report's cite block and
    ``ganbench cite DIR`` print the same text."""
    if not records:
        raise ValueError("no records to cite")
    digest = result_digest(records)
    provenance = [r.get("provenance") or {} for r in records]
    suites = _distinct(r.get("suite") for r in records)
    budgets = _distinct(r.get("budget") for r in records)
    finished = max((p.get("finished_utc") or p.get("started_utc") or "") for p in provenance)
    date = finished[:10]
    versions = _distinct(p.get("ganbench") for p in provenance)
    commits = _distinct(f"{p['commit']}{' (dirty)' if p.get('dirty') else ''}" for p in provenance
                        if p.get("commit"))
    devices = _distinct((p.get("device") or {}).get("gpu") or (p.get("device") or {}).get("cpu") for p in provenance)
    statuses = {s: sum(r.get("status") == s for r in records) for s in ("finished", "diverged", "failed")}
    runs = f"{len(records)} runs ({', '.join(f'{n} {s}' for s, n in statuses.items() if n)})"
    key = re.sub(r"[^A-Za-z0-9]+", "-", f"ganbench-{'-'.join(suites)}-{'-'.join(budgets)}").strip("-")
    key = f"{key}-{digest[7:15]}"
    fields = [
        ("title", f"ganbench results: suite {', '.join(suites)}, budget {', '.join(budgets)}"),
        ("author", "{The ganbench developers}"),
        ("year", date[:4]),
        ("date", date),
        ("howpublished", f"ganbench {', '.join(versions) or 'unknown'} result set, {runs}"),
        ("version", ", ".join(versions) or "unknown"),
        ("commit", ", ".join(commits) or "unknown"),
        ("suite", ", ".join(suites)),
        ("budget", ", ".join(budgets)),
        ("machine", "; ".join(devices) or "unknown"),
        ("digest", digest),
        ("note", f"Result digest {digest} (sha256 over the records in canonical form); produced by "
                 f"ganbench {', '.join(versions) or 'unknown'} at commit {', '.join(commits) or 'unknown'}"),
        ("crossref", SOFTWARE_KEY),
    ]
    width = max(len(name) for name, _ in fields)
    body = ",\n".join(f"  {name:<{width}} = {{{value if name == 'author' else _bibtex(value)}}}"
                      for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}\n\n{citation_text()}"
