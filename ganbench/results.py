"""Result records and the results store of one output folder.

``DIR/records.jsonl`` holds one JSON object per run that ended (status ``finished``,
``diverged`` or ``failed``); ``DIR/runs/<run_id>/`` holds that run's checkpoints, losses and
samples. Every file is written to a temporary name and renamed into place, so an interrupted
command never leaves a half-written record behind.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename. The file
    gets the permissions of any new file (0666 less the umask), not ``mkstemp``'s owner-only 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


class ResultsStore:
    """The records and run folders under one output folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.records_path = self.root / "records.jsonl"

    def ensure_writable(self) -> None:
        """Create the folder and prove it is writable, or raise :class:`UserError` naming the fix."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".write-test-"):
                pass
        except OSError as error:
            raise UserError(
                f"cannot write to output folder {self.root} ({error.strerror or error}); choose another with --out DIR"
            ) from None

    def records(self) -> list[dict[str, Any]]:
        """All records, oldest first, each checked by :func:`validate_record`; a records file that is
        not a readable file of such records raises :class:`UserError` naming the file, the line and
        the fix, before anything is written."""
        if not self.records_path.exists():
            return []
        if not self.records_path.is_file():
            raise UserError(f"{self.records_path} is not a file (a folder?); move it away, or choose another "
                            f"output folder with --out DIR")
        try:
            data = self.records_path.read_bytes()
        except OSError as error:
            raise UserError(f"cannot read {self.records_path} ({error.strerror or error}); make it readable, "
                            f"or choose another output folder with --out DIR") from None
        return parse_records(data, self.records_path)

    def ended_ids(self) -> set[str]:
        """Run ids that need no re-run: finished or diverged (a failed run is tried again)."""
        return {record["run_id"] for record in self.records() if record.get("status") in FINAL_STATUSES}

    def add(self, record: dict[str, Any]) -> None:
        """Add a record, replacing an earlier one of the same run id; atomic."""
        kept = [r for r in self.records() if r.get("run_id") != record["run_id"]]
        kept.append(record)
        atomic_write_text(self.records_path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))

    def run_dir(self, run_id: str) -> Path:
        path = self.root / "runs" / run_id
        path.mkdir(parents=True, exist_ok=True)
        return path


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
