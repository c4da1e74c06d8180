"""Stopping a run at an iteration boundary when its process is asked to (a scheduler's time-limit
or preemption signal), with a checkpoint written there, so that the run resumes exactly where it
stopped (:func:`ganbench.cluster` requeues the task).

:func:`request_stop` is the signal handler: it only notes the request. :class:`StopOnRequest`,
attached by :class:`~ganbench.engines.EngineRun` after its checkpointer, sees the note at the end
of the next training iteration, writes a checkpoint of that iteration (unless the checkpointer just
did) and raises :class:`Preempted`, which passes through the run (no record is written, the cell's
claim is released) to whoever handles it. A request that comes outside training (while the data
loads, while the run is evaluated) lets that work go on; training that has not started stops after
its first iteration.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable

import ignite.distributed as idist
from ignite.engine import Engine, Events

_REQUESTED = threading.Event()


class Preempted(BaseException):
    """The run stopped at an iteration boundary because its process was asked to stop; its
    checkpoint holds that iteration. A ``BaseException``, as ``KeyboardInterrupt``: it is not a
    failure of the run, and no ``except Exception`` records it as one."""


def request_stop(signum: int | None = None, frame: types.FrameType | None = None) -> None:
    """Ask the running engine to stop at the next iteration boundary (usable as a signal handler)."""
    _REQUESTED.set()


def stop_requested() -> bool:
    """Whether :func:`request_stop` was called since the last :func:`clear_stop`."""
    return _REQUESTED.is_set()


def clear_stop() -> None:
    """Forget an earlier request (a task starting a cell)."""
    _REQUESTED.clear()


class StopOnRequest:
    """At ``ITERATION_COMPLETED``, when a stop was requested: ``save(engine)`` (the checkpointer,
    None on ranks that do not write) and raise :class:`Preempted` naming the iteration.

    Args:
        save: writes the checkpoint of the engine's iteration (ignite's ``Checkpoint``, which skips
            an iteration it saved already), or None.
    """

    def __init__(self, save: Callable[[Engine], None] | None) -> None:
        self.save = save

    def attach(self, engine: Engine) -> StopOnRequest:
        engine.add_event_handler(Events.ITERATION_COMPLETED, self)
        return self

    def __call__(self, engine: Engine) -> None:
        if not stop_requested():
            return
        if self.save is not None and idist.get_rank() == 0:
            self.save(engine)
        raise Preempted(f"stopped at iteration {engine.state.iteration} on request; its checkpoint is written")
