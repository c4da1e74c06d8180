"""A process's claim on one cell of an output folder (:class:`Claim`): the file
``runs/<run_id>/claim.lock`` that :meth:`ganbench.results.ResultsStore.claim` creates, and the
heartbeat that keeps it fresh while the cell runs (see :mod:`ganbench.results` for the rules).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from typing import Any

__all__ = ["Claim", "process_alive"]


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Claim:
    """This process's hold on one cell: the claim file and the thread touching it every
    ``heartbeat`` seconds. :meth:`release` (or leaving the ``with`` block) deletes the file."""

    def __init__(self, path: Path, holder: dict[str, Any], heartbeat: float, taken_over: dict[str, Any] | None) -> None:
        self.path = path
        self.holder = holder
        self.taken_over = taken_over
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(heartbeat,), daemon=True,
                                        name=f"claim {path.parent.name}")
        self._thread.start()

    def _beat(self, heartbeat: float) -> None:
        while not self._stop.wait(heartbeat):
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def held(self) -> bool:
        """Whether the claim file still holds this claim's token (another process that judged it
        stale, e.g. after a heartbeat lost to a stalled file system, may have taken it over)."""
        try:
            return json.loads(self.path.read_text()).get("token") == self.holder["token"]
        except (OSError, ValueError):
            return False

    def release(self) -> None:
        """Stop the heartbeat and delete the claim file if it is still this process's."""
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(OSError, ValueError):
            if json.loads(self.path.read_text()).get("token") == self.holder["token"]:
                self.path.unlink()

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
