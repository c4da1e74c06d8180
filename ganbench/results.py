"""Result records and the results store of one output folder, shared by any number of writers
(what a record holds, and how a records file is read: :mod:`ganbench.records`).

``DIR/runs/<run_id>/`` is owned by one run: its checkpoints, losses, samples and, once it ended
(status ``finished``, ``diverged`` or ``failed``), its record ``record.json`` (one JSON line). ``DIR/records.jsonl``
is the readable, diffable export of every record (one JSON object a line, in matrix order), rewritten
from the run folders once per command (:meth:`ResultsStore.export`), not after each record; records
of folders written before run folders held records are read from it too. Every file is written to
a temporary name and renamed into place, so an interrupted command never leaves a half-written
record behind.

Several processes (worker processes of the ``jobs`` option, two commands, array tasks on a cluster) may write one
folder at once. A process runs a cell only while it holds the cell's claim, ``runs/<run_id>/claim.lock``,
created with ``O_CREAT | O_EXCL`` and holding the holder's pid, host and start time; the holder
touches it every :data:`HEARTBEAT_SECONDS`. A claim is stale, and taken over, when its holder's
process is gone (same host) or its heartbeat is older than :data:`STALE_SECONDS` (any host).
Claims and the export take a short ``flock`` on ``DIR/.store.lock``, so two processes never take
over the same stale claim and the export never misses a record written before it started. Where the
lock is not shared between nodes, the exclusive create still lets only one of two processes create
a claim, and a holder re-checks its claim (:meth:`Claim.held`) before writing its record; a file
system without locks at all is refused by :meth:`ResultsStore.check_file_system`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import re
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ganbench.claims import Claim, process_alive
from ganbench.errors import UserError, option
from ganbench.records import FINAL_STATUSES, parse_records

RECORD_FILE = "record.json"
CLAIM_FILE = "claim.lock"
NO_LOCKS = (errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOLCK)  # flock's errors where a file system has no locks
TASK_VARIABLE = "GANBENCH_TASK"  # the scheduler task a process runs in (cluster tasks set it), kept in its claims
HEARTBEAT_SECONDS = 30.0
STALE_SECONDS = 600.0  # a claim not touched for this long is a dead holder's, on any host


# ``.<name>.<host>-<pid>.<12 hex digits>.tmp``: who wrote a temporary file, so that one left by a
# killed process can be told from one another process (perhaps on another machine) is writing.
TEMPORARY_NAME = re.compile(r"\.(?P<name>.+)\.(?P<host>[A-Za-z0-9_-]*)-(?P<pid>\d+)\.[0-9a-f]{12}\.tmp")


def _host() -> str:
    """This machine's name as it appears in temporary file names (letters, digits, ``_``, ``-``)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())


def file_safe(text: str) -> str:
    """``text`` with every character outside ``A-Z a-z 0-9 . _ + -`` (a path separator, markup, a
    space) replaced by ``-``: usable as one file or folder name."""
    return re.sub(r"[^A-Za-z0-9._+-]", "-", text)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename. The file
    gets the permissions of any new file (0666 less the umask), not ``mkstemp``'s owner-only 0600.
    A full disk is a :class:`UserError` naming ``path`` (the old file, if any, is kept whole)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{_host()}-{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            raise UserError(f"the disk is full: no space left to write {path}; free space on that disk and run "
                            f"the same command again (it resumes), or choose another output folder") from None
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


class ResultsStore:
    """The records, run folders and cell claims under one output folder."""

    def __init__(self, root: Path, stale_seconds: float = STALE_SECONDS,
                 heartbeat_seconds: float = HEARTBEAT_SECONDS) -> None:
        self.root = Path(root)
        self.records_path = self.root / "records.jsonl"
        self.stale_seconds = stale_seconds
        self.heartbeat_seconds = heartbeat_seconds

    def ensure_writable(self) -> None:
        """Create the folder and prove it is writable and that its file system gives exclusive
        creation and ``flock`` (:meth:`check_file_system`), or raise :class:`UserError` naming the
        fix (a folder created here is removed again)."""
        created = not self.root.exists()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".write-test-"):
                pass
            self.check_file_system()
        except (OSError, UserError) as error:
            if created:
                with contextlib.suppress(OSError):
                    self.root.rmdir()
            if isinstance(error, UserError):
                raise
            raise UserError(
                f"cannot write to output folder {self.root} ({error.strerror or error}); "
                f"choose another with {option('out', 'DIR')}"
            ) from None

    def check_file_system(self) -> None:
        """Probe the folder's file system with a temporary file: a second ``O_CREAT | O_EXCL``
        create of it must fail, and an exclusive ``flock`` on it must work. A file system without
        locks (Lustre mounted ``noflock``, NFS without a lock manager: ``ENOSYS``, ``EOPNOTSUPP``,
        ``ENOLCK``) or without exclusive creation is a :class:`UserError` naming the fix. (Locks
        that are only node-local, Lustre's ``localflock``, cannot be told from here; claims then
        rest on the exclusive create and the holder's re-check, see the module doc.)"""
        probe = self.root / f".probe.{_host()}-{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            descriptor = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            try:
                try:
                    os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
                    exclusive = False
                except FileExistsError:
                    exclusive = True
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(descriptor, fcntl.LOCK_UN)
            finally:
                os.close(descriptor)
        except OSError as error:
            if error.errno in NO_LOCKS:
                raise self._no_locks(error) from None
            raise
        finally:
            probe.unlink(missing_ok=True)
        if not exclusive:
            raise UserError(f"the file system of output folder {self.root} does not give exclusive file creation "
                            f"(O_EXCL), which claims on cells need; choose a folder on another file system with "
                            f"{option('out', 'DIR')}")

    def _no_locks(self, error: OSError) -> UserError:
        return UserError(f"the file system of output folder {self.root} gives no file locks (flock: "
                         f"{error.strerror or error}), which claims on cells need; mount it with locks (Lustre: "
                         f"-o flock; NFS: a lock manager, not -o nolock), or choose a folder on another file "
                         f"system with {option('out', 'DIR')}")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive ``flock`` on ``DIR/.store.lock`` for a short critical section."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".store.lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX)
            except OSError as error:
                if error.errno in NO_LOCKS:
                    raise self._no_locks(error) from None
                raise
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def exported_records(self) -> list[dict[str, Any]]:
        """The records of ``records.jsonl`` as written, each checked by
        :func:`~ganbench.records.validate_record`; a records file that is not a readable file of
        such records raises :class:`UserError` naming the file, the line and the fix, before
        anything is written."""
        if not self.records_path.exists():
            return []
        if not self.records_path.is_file():
            raise UserError(f"{self.records_path} is not a file (a folder?); move it away, or choose another "
                            f"output folder with {option('out', 'DIR')}")
        try:
            data = self.records_path.read_bytes()
        except OSError as error:
            raise UserError(f"cannot read {self.records_path} ({error.strerror or error}); make it readable, "
                            f"or choose another output folder with {option('out', 'DIR')}") from None
        return parse_records(data, self.records_path)

    def has_records(self) -> bool:
        """Whether the folder holds records: ``records.jsonl`` or a run folder's ``record.json``."""
        return self.records_path.is_file() or any((self.root / "runs").glob(f"*/{RECORD_FILE}"))

    def run_records(self) -> list[dict[str, Any]]:
        """The records of the run folders (``runs/*/record.json``)."""
        records = []
        for path in sorted((self.root / "runs").glob(f"*/{RECORD_FILE}")):
            try:
                data = path.read_bytes()
            except OSError as error:
                raise UserError(f"cannot read the record {path} ({error.strerror or error}); make it readable, or "
                                f"delete it to run that cell again") from None
            records += parse_records(data, path)
        return records

    def records(self) -> list[dict[str, Any]]:
        """Every record, one per run id, in matrix order (:func:`record_order`): the run folders'
        records, and those only ``records.jsonl`` holds (folders written by older versions)."""
        by_id = {record["run_id"]: record for record in self.exported_records()}
        by_id.update((record["run_id"], record) for record in self.run_records())
        return sorted(by_id.values(), key=record_order)

    def ended_ids(self) -> set[str]:
        """Run ids that need no re-run: finished or diverged (a failed run is tried again)."""
        return {record["run_id"] for record in self.records() if record.get("status") in FINAL_STATUSES}

    def record_of(self, run_id: str) -> dict[str, Any] | None:
        """The record of ``run_id``, or None."""
        path = self.root / "runs" / run_id / RECORD_FILE
        if path.exists():
            return parse_records(path.read_bytes(), path)[0]
        return next((record for record in self.exported_records() if record.get("run_id") == run_id), None)

    def add(self, record: dict[str, Any]) -> None:
        """Store a record in its run folder (replacing an earlier one of that run), atomically: one
        small file, whatever the number of records (``records.jsonl`` is :meth:`export`'s)."""
        atomic_write_text(self.run_dir(record["run_id"]) / RECORD_FILE, json.dumps(record, sort_keys=True) + "\n")

    def export(self) -> None:
        """Rewrite ``records.jsonl`` from every record, under the store's lock: once per command
        (:func:`ganbench.launch.run_suite` and ``merge`` end with it), not per record. A folder with
        no record yet gets no file."""
        with self._locked():
            records = self.records()
            if not records and not self.records_path.exists():
                return  # nothing recorded yet: no empty file
            atomic_write_text(self.records_path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in records))

    def check_run_folder(self, run_id: str) -> None:
        """A run's folder and its ``checkpoints`` folder, where they exist, must be folders this
        process can write in; else :class:`UserError` naming the folder and the fix."""
        for folder in (self.root / "runs" / run_id, self.root / "runs" / run_id / "checkpoints"):
            if not folder.exists():
                continue
            try:
                if not folder.is_dir():
                    raise NotADirectoryError(errno.ENOTDIR, "not a folder")
                with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
                    pass
            except OSError as error:
                raise UserError(f"cannot write to run folder {folder} ({error.strerror or error}); make it a "
                                f"writable folder (chmod -R u+w), or move it away to start that run afresh") from None

    def remove_stale_temporaries(self) -> int:
        """Delete the temporary files (see :func:`atomic_write_bytes`) that ganbench processes of
        this machine left when they were killed mid-write: those whose process is gone. Returns
        how many were deleted."""
        removed = 0
        host = _host()
        for path in self.root.rglob(".*.tmp"):
            match = TEMPORARY_NAME.fullmatch(path.name)
            if match and match.group("host") == host and not process_alive(int(match.group("pid"))) and path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def run_dir(self, run_id: str) -> Path:
        path = self.root / "runs" / run_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def claim(self, run_id: str, dead: Callable[[dict[str, Any]], bool] | None = None) -> Claim | dict[str, Any]:
        """Claim the cell ``run_id`` for this process: a :class:`Claim`, or the holder's details
        (pid, host, started_utc, task) when another live process holds it. A stale claim (see the
        module doc), or one that ``dead(holder)`` says is dead, is taken over; :attr:`Claim.taken_over`
        then names its holder. Two processes creating the claim at once (a lock that is not
        coherent across nodes) cannot both win: the exclusive create fails for one, which gets the
        winner's details."""
        path = self.run_dir(run_id) / CLAIM_FILE
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "token": uuid.uuid4().hex,
                  "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "task": os.environ.get(TASK_VARIABLE)}
        with self._locked():
            taken_over = None
            if path.exists():
                current = self._holder(path)
                if not self.is_stale(current) and not (dead is not None and dead(current)):
                    return current
                taken_over = current
                path.unlink(missing_ok=True)
            try:
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                return self._holder(path)
            with os.fdopen(descriptor, "w") as stream:
                stream.write(json.dumps(holder) + "\n")
        return Claim(path, holder, self.heartbeat_seconds, taken_over)

    def holder_of(self, run_id: str) -> dict[str, Any] | None:
        """The details of the live claim on ``run_id``, or None when it is free or stale."""
        path = self.root / "runs" / run_id / CLAIM_FILE
        if not path.exists():
            return None
        current = self._holder(path)
        return None if self.is_stale(current) else current

    @staticmethod
    def _holder(path: Path) -> dict[str, Any]:
        """A claim file's details with ``age_seconds`` since its last heartbeat; an unreadable file
        (its writer died between creating and writing it) has no pid and is judged by its age."""
        try:
            age = time.time() - path.stat().st_mtime
            details = json.loads(path.read_text())
        except FileNotFoundError:
            return {"age_seconds": math.inf}
        except (OSError, ValueError):
            details = {}
        return {**details, "age_seconds": age}

    def is_stale(self, holder: dict[str, Any]) -> bool:
        """Its heartbeat is older than ``stale_seconds``, or it names a process of this host that is gone."""
        if holder["age_seconds"] > self.stale_seconds:
            return True
        if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
            return not process_alive(holder["pid"])
        return False


def record_order(record: dict[str, Any]) -> tuple[Any, ...]:
    """Matrix order, whatever order runs ended in: by suite and budget, then by the cell's place in
    its suite's plan (``cell``, absent from older records: those keep their run-id order), then run id."""
    cell = record.get("cell")
    return (str(record.get("suite")), str(record.get("budget")), math.inf if cell is None else cell["index"],
            record["run_id"])


VOLATILE_KEYS = ("cell",)  # where a run sat in the command's matrix: not part of its result


def merge_stores(sources: list[ResultsStore], target: ResultsStore) -> int:
    """Copy every record of ``sources`` with its run folder (less checkpoints and claims) into
    ``target``; returns how many records were new to it. Records of one run id must be identical
    (apart from :data:`VOLATILE_KEYS`), in the sources and in ``target``: otherwise a
    :class:`UserError` names both folders and nothing is written."""
    chosen: dict[str, tuple[dict[str, Any], ResultsStore]] = {}
    for store in [target, *sources]:
        for record in store.records():
            run_id = record["run_id"]
            if run_id in chosen:
                first, where = chosen[run_id]
                differing = sorted(key for key in set(first) | set(record) if key not in VOLATILE_KEYS
                                   and first.get(key) != record.get(key))
                if differing:
                    raise UserError(f"run {run_id} has different records in {where.root} and {store.root} "
                                    f"(they differ in {', '.join(differing)}); merge only one of them, or delete "
                                    f"runs/{run_id} in the other")
            else:
                chosen[run_id] = (record, store)
    target.ensure_writable()
    added = 0
    for run_id, (record, store) in chosen.items():
        if store is target:
            continue
        source_dir = store.root / "runs" / run_id
        if source_dir.is_dir():
            shutil.copytree(source_dir, target.root / "runs" / run_id, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("checkpoints", CLAIM_FILE, ".*.tmp"))
        atomic_write_text(target.run_dir(run_id) / RECORD_FILE, json.dumps(record, sort_keys=True) + "\n")
        added += 1
    target.export()
    return added
