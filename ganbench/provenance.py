"""Where a number came from: software versions, source commit, machine and time."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

import ganbench


def utc_now() -> str:
    """The current time in UTC, ISO 8601 with seconds, e.g. ``2026-11-23T15:12:00Z``."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def git_state(source: Path, package: Path) -> dict[str, Any]:
    """The commit checked out in the git work tree holding ``source`` and whether it is dirty: a
    tracked file changed anywhere, or an untracked (not ignored) file under ``package`` (a new
    source file changes what runs as surely as an edit). ``{"commit": None, "dirty": None}``
    outside a git checkout."""
    git = ["git", "-C", str(source)]
    try:
        commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                                check=True).stdout.strip()
        changed = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"],
                                 capture_output=True, text=True, timeout=10, check=True).stdout
        untracked = subprocess.run([*git, "status", "--porcelain", "--untracked-files=all", "--", str(package)],
                                   capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(changed.strip()) or any(line.startswith("??")
                                                                     for line in untracked.splitlines())}


@lru_cache(maxsize=1)
def git_commit() -> dict[str, Any]:
    """The commit of the ganbench source tree, if it is a git checkout, and whether it was dirty
    (:func:`git_state`, untracked files counted under the ``ganbench`` package)."""
    package = Path(ganbench.__file__).resolve().parent
    return git_state(package.parent, package)


def load_average() -> list[float] | None:
    """The machine's load average over 1, 5 and 15 minutes (runnable processes; None where the
    platform has none): recorded at a run's start and end, so that wall-clock figures of runs can
    be compared only where the load was alike."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


@lru_cache(maxsize=1)
def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_description(device: torch.device) -> dict[str, Any]:
    """The device a run used: type, GPU name (CUDA) or CPU name, thread count."""
    described: dict[str, Any] = {"type": device.type, "cpu": cpu_name(), "cpu_count": os.cpu_count(),
                                 "torch_threads": torch.get_num_threads()}
    if device.type == "cuda":
        described["gpu"] = torch.cuda.get_device_name(device)
        described["cuda"] = torch.version.cuda
    return described


def software() -> dict[str, Any]:
    """Versions of ganbench and of what its numbers depend on, and the source commit."""
    return {
        "ganbench": ganbench.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": package_version("torchvision"),
        "pytorch-ignite": package_version("pytorch-ignite"),
        "torch-fidelity": package_version("torch-fidelity"),
        "numpy": package_version("numpy"),
        **git_commit(),
        "platform": platform.platform(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }
