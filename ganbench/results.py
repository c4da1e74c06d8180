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
        """All records, oldest first; a line that is not JSON raises :class:`UserError`."""
        if not self.records_path.exists():
            return []
        records = []
        for number, line in enumerate(self.records_path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                raise UserError(
                    f"{self.records_path} line {number} is not valid JSON; fix or remove that line"
                ) from None
        return records

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
