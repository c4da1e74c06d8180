"""Integrity of dataset files: known checksums, checked on first use, and the check cached.

A file that torchvision downloads under the same name (the MNIST family's ``*-ubyte.gz``
resources, CIFAR-10's ``data_batch_1..5``, ``test_batch`` and ``batches.meta``) must have
torchvision's MD5. The MD5s are read at run time from torchvision's dataset classes
(``MNIST.resources``, ``CIFAR10.train_list`` / ``test_list`` / ``meta``), so they follow the
installed torchvision; a file under any other name (an uncompressed IDX file, say) has no
known checksum, and only the loader's parse check applies to it.

MD5s are cached in ``$GANBENCH_CACHE/data-md5.json`` (default ``~/.cache/ganbench``), keyed
by the file's absolute path and checked against its size (bytes) and modification time (ns):
a file is hashed once, and later loads cost a ``stat`` and a small JSON read. A cache that
cannot be read or written is ignored (the files are then hashed on every load).

A damaged file raises :class:`UserError` from :func:`damaged`: one line naming the file, what
is wrong with it, and the fix.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from ganbench.cache import cache_dir
from ganbench.errors import UserError, option
from ganbench.results import atomic_write_text

CACHE_NAME = "data-md5.json"
CACHE_VERSION = 1
FIX = f"delete it and fetch it again with {option('download')} (or replace it with the original)"


def damaged(path: Path, problem: str) -> UserError:
    """The error for a data file that is unusable: ``"<path> <problem>; <fix>"``, one line."""
    return UserError(f"{path} {problem}; {FIX}")


@lru_cache(maxsize=None)
def torchvision_md5s(class_name: str) -> dict[str, str]:
    """File name -> MD5 (hex) of the files torchvision's dataset class ``class_name`` (``"MNIST"``,
    ``"CIFAR10"``, ...) fetches, from its ``resources``, ``train_list``, ``test_list`` and ``meta``;
    empty when the installed torchvision has no such class or lists."""
    import torchvision.datasets

    dataset_class = getattr(torchvision.datasets, class_name, None)
    pairs: list[Any] = [*getattr(dataset_class, "resources", ()), *getattr(dataset_class, "train_list", ()),
                        *getattr(dataset_class, "test_list", ())]
    meta = getattr(dataset_class, "meta", None)
    if isinstance(meta, dict) and "filename" in meta and "md5" in meta:
        pairs.append((meta["filename"], meta["md5"]))
    # Older torchvision lists (url, md5) in ``resources``: the file is the URL's last part.
    return {PurePosixPath(str(name)).name: str(md5) for name, md5 in pairs if md5}


def md5_hex(data: bytes) -> str:
    """The MD5 of ``data``, 32 hex digits."""
    return hashlib.md5(data).hexdigest()


def cache_path() -> Path:
    """Where the MD5 cache lives: ``$GANBENCH_CACHE/data-md5.json``."""

    return cache_dir(CACHE_NAME)


def _read_cache(path: Path) -> dict[str, dict[str, Any]]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(content, dict) or content.get("version") != CACHE_VERSION:
        return {}
    files = content.get("files")
    return files if isinstance(files, dict) else {}


def _write_cache(path: Path, files: dict[str, dict[str, Any]]) -> None:
    """Write the cache atomically, without the entries of files that no longer exist; a cache
    folder that is not writable is not an error."""
    kept = {name: entry for name, entry in files.items() if os.path.exists(name)}
    try:
        atomic_write_text(path, json.dumps({"version": CACHE_VERSION, "files": kept}, indent=1, sort_keys=True) + "\n")
    except OSError:
        pass


@dataclass(frozen=True)
class DataFile:
    """A data file as read: its ``path``, its bytes ``data`` and their ``md5`` (hex)."""

    path: Path
    data: bytes
    md5: str

    def check(self, torchvision_class: str, title: str) -> None:
        """Raise :func:`damaged` if torchvision knows this file's name for ``torchvision_class``
        with another MD5; a name torchvision does not list passes."""
        expected = torchvision_md5s(torchvision_class).get(self.path.name)
        if expected is not None and self.md5 != expected:
            raise damaged(self.path, f"is not the original {title} file (md5 {self.md5}, torchvision's is {expected}: "
                                     "corrupt, truncated or replaced)")


def read_data_file(path: Path) -> DataFile:
    """``path``'s bytes and MD5; the MD5 comes from the cache when it has ``path`` at the same size
    and modification time, else it is computed and cached. An unreadable file raises ``UserError``."""
    try:
        stat = path.stat()  # before reading: a file changed while being read gets a new key next time
        data = path.read_bytes()
    except OSError as error:
        raise UserError(f"cannot read {path} ({error.strerror or error}); check its permissions, or {FIX}") from None
    key = str(path.resolve())
    cache = cache_path()
    files = _read_cache(cache)
    entry = files.get(key)
    if (isinstance(entry, dict) and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns
            and isinstance(entry.get("md5"), str)):
        return DataFile(path, data, entry["md5"])
    digest = md5_hex(data)
    files[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "md5": digest}
    _write_cache(cache, files)
    return DataFile(path, data, digest)
