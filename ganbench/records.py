"""What a result record is: the keys every record holds and their JSON types, the run statuses, and
the reading of ``records.jsonl`` lines into checked records (:func:`parse_records`), one error line
naming the file, the line and the fix for anything else. The store that writes and reads them is
:mod:`ganbench.results`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ganbench.errors import UserError

FINAL_STATUSES = ("finished", "diverged")
STATUSES = (*FINAL_STATUSES, "failed")
# What every record holds (ganbench writes all of it; tables, plots and the report rely on it):
# the key and the JSON type its value must have. ``kind`` may be missing (records written before
# kinds existed are GAN runs); the others may not.
RECORD_FIELDS: dict[str, type | tuple[type, ...]] = {
    "run_id": str, "suite": str, "variant": str, "dataset": str, "budget": str, "seed": int, "status": str,
    "config": dict, "provenance": dict, "metrics": dict, "throughput": dict, "artifacts": dict,
}
_JSON_TYPES = {str: "a string", int: "an integer", dict: "an object"}


def parse_records(data: bytes, path: Path) -> list[dict[str, Any]]:
    """The records of a ``records.jsonl`` file's bytes (one JSON object a line, blank lines
    skipped), each checked by :func:`validate_record`; ``path`` names the file in errors."""
    records = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise UserError(f"{path} line {number} is not valid JSON; fix or remove that line") from None
        records.append(validate_record(value, path, number))
    return records


def validate_record(value: Any, path: Path, number: int) -> dict[str, Any]:
    """``value`` (line ``number`` of ``path``, parsed) if it is a record as ganbench writes it: an
    object with every key of :data:`RECORD_FIELDS` of its type, a known ``status``, a non-negative
    ``seed``, a ``provenance.started_utc`` string and artifact paths as strings; otherwise
    :class:`UserError` naming the file, the line and the fix."""

    def bad(problem: str) -> UserError:
        return UserError(f"{path} line {number} is not a ganbench record ({problem}); fix or remove that line")

    if not isinstance(value, dict):
        shown = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
        raise bad(f"it is {shown.get(type(value), 'a number')}, not a JSON object")
    missing = [key for key in RECORD_FIELDS if key not in value]
    if missing:
        raise bad(f"missing {', '.join(repr(key) for key in missing)}")
    for key, expected in RECORD_FIELDS.items():
        if not isinstance(value[key], expected) or isinstance(value[key], bool):
            raise bad(f"{key!r} is not {_JSON_TYPES[expected]}")
    if "kind" in value and not isinstance(value["kind"], str):
        raise bad("'kind' is not a string")
    if value["status"] not in STATUSES:
        raise bad(f"status {value['status']!r} is not one of {', '.join(STATUSES)}")
    if value["seed"] < 0:
        raise bad(f"seed {value['seed']} is negative")
    if not isinstance(value["provenance"].get("started_utc"), str):
        raise bad("'provenance' has no 'started_utc' string")
    if not all(isinstance(artifact, str) for artifact in value["artifacts"].values()):
        raise bad("an artifact path is not a string")
    return value
