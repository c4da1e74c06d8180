"""Data-parallel groups beyond one machine, and the collective helpers data-parallel runs use.

Two ways a group comes to be (both ``ignite.distributed``, gloo on a CPU, nccl on CUDA):

- spawned by ganbench (:func:`ganbench.execution.data_parallel`): ``processes`` processes on this
  machine, one group per run;
- launched from outside (:func:`launched_world`, :class:`LaunchedGroup`): the command itself runs
  in every process of a group that ``torchrun`` (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
  ``MASTER_ADDR``, ``MASTER_PORT``) or ``srun`` (``SLURM_PROCID``, ``SLURM_LOCALID``,
  ``SLURM_NTASKS``, ``SLURM_JOB_NODELIST``: the first node is the master) started, on any number of
  nodes. One group serves the whole command: rank 0 plans, claims and records cells as a single
  process does and hands each data-parallel run to the others (:meth:`LaunchedGroup.run`); the
  others only follow (:meth:`LaunchedGroup.follow`) until rank 0 releases them.

Helpers: :func:`broadcast_module` (rank 0's weights to every rank) and :func:`rows_in_blocks`
(rows computed in fixed blocks split among the ranks and gathered in order: the distributed
evaluation, with the rows one process would compute).
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import ignite.distributed as idist
import torch
from torch import nn

from ganbench.errors import UserError, option

_RELEASE = ("release",)  # not a str: ignite gathers str through another collective than objects
_ACTIVE: list[LaunchedGroup] = []  # the launched group of this process, while it is open


def launched_world() -> int:
    """The number of processes of the group the environment says this command runs in: torchrun's
    ``WORLD_SIZE`` (with ``RANK``), else srun's ``SLURM_NTASKS`` (with ``SLURM_PROCID`` and
    ``SLURM_JOB_NODELIST``); 1 outside such a group (a plain command, one SLURM task)."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return int(os.environ["WORLD_SIZE"])
    if all(key in os.environ for key in ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_JOB_NODELIST", "SLURM_JOB_ID")):
        return int(os.environ["SLURM_NTASKS"])
    return 1


def active_group() -> LaunchedGroup | None:
    """The launched group this process is in, while its command runs (None: none)."""
    return _ACTIVE[-1] if _ACTIVE else None


class LaunchedGroup:
    """The process group of a command started by torchrun or srun (see module doc); a context
    manager: entering initialises the group (``ignite.distributed``: gloo on a CPU, nccl on CUDA,
    ``timeout`` minutes for any collective), leaving releases the followers (rank 0) and ends it.

    Args:
        device: the command's device (its type picks the backend).
        timeout_minutes: how long a collective may wait for the other ranks before failing (a
            follower waits this long for rank 0's next run; evaluation on rank 0 alone counts).
    """

    def __init__(self, device: torch.device, timeout_minutes: float) -> None:
        self.backend = "nccl" if device.type == "cuda" else "gloo"
        self.timeout = datetime.timedelta(minutes=timeout_minutes)
        self.released = False

    @property
    def rank(self) -> int:
        return idist.get_rank()

    def __enter__(self) -> LaunchedGroup:
        idist.initialize(self.backend, timeout=self.timeout)
        _ACTIVE.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.rank == 0 and not self.released and exc[0] is None:
                self.release()
        finally:
            _ACTIVE.remove(self)
            idist.finalize()

    def _announce(self, message: Any) -> Any:
        """Rank 0's ``message`` in every rank (others pass None)."""
        return idist.all_gather(message)[0]

    def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """Rank 0: ``function(*args)`` in every process of the group (the followers run it from
        :meth:`follow`), returning rank 0's result. ``function`` and ``args`` must pickle."""
        self._announce((function, args))
        return function(*args)

    def follow(self, initializer: Callable[[], None] | None = None) -> None:
        """A rank above 0: run what rank 0 hands over (:meth:`run`) until it releases the group."""
        if initializer is not None:
            initializer()
        while True:
            message = self._announce(None)
            if message == _RELEASE:
                return
            function, args = message
            function(*args)

    def release(self) -> None:
        """Rank 0: the followers' :meth:`follow` returns."""
        self.released = True
        self._announce(_RELEASE)


@contextlib.contextmanager
def launched_group(device: torch.device, timeout_minutes: float) -> Iterator[LaunchedGroup | None]:
    """The command's :class:`LaunchedGroup` while the block runs, when torchrun or srun started it
    as one of several processes (:func:`launched_world`); None otherwise."""
    if launched_world() == 1:
        yield None
        return
    with LaunchedGroup(device, timeout_minutes) as group:
        yield group


def check_launched(processes_option: int, jobs: int | None) -> int:
    """The processes of a run when the command runs in a launched group (its world size), else
    ``processes_option``; a per-node process count or several jobs besides a launched group is a
    :class:`UserError`."""
    world = launched_world()
    if world == 1:
        return processes_option
    if processes_option > 1 or (jobs or 1) > 1:
        raise UserError(f"this command runs as one of {world} processes started by torchrun or srun, which "
                        f"train each run together: leave out {option('nproc_per_node')} and {option('jobs')}")
    return world


@torch.no_grad()
def broadcast_module(module: nn.Module) -> None:
    """Every parameter and buffer of ``module`` set to rank 0's, in place (one broadcast per tensor), so
    that the group starts from identical weights whatever each process initialised."""
    for tensor in module.state_dict(keep_vars=True).values():
        received = idist.broadcast(tensor.data, src=0)
        if received is not tensor.data:
            tensor.data.copy_(received)


def rows_in_blocks(count: int, block: int,
                   compute: Callable[[int, int], torch.Tensor | Mapping[str, torch.Tensor]]
                   ) -> torch.Tensor | dict[str, torch.Tensor]:
    """Rows ``0 .. count - 1`` of a result computed ``block`` rows at a time, by every rank of the
    group: the blocks are split into contiguous runs, one per rank (rank r gets blocks
    r·k .. r·k + k - 1, k = ceil(blocks / world)), each rank calls ``compute(start, end)`` for its
    rows (a tensor (end - start, ...) or a dict of them, computed in the same blocks one process
    would use) and the parts are gathered, in row order, into every rank. A single process computes
    ``compute(0, count)``. Every rank must call it with the same ``count`` and ``block``."""
    world, rank = idist.get_world_size(), idist.get_rank()
    if world == 1:
        return compute(0, count)
    span = math.ceil(math.ceil(count / block) / world) * block
    ranges = [(min(count, r * span), min(count, (r + 1) * span)) for r in range(world)]
    start, end = ranges[rank]
    local = compute(start, end) if end > start else None
    parts = local if isinstance(local, Mapping) else {"": local} if local is not None else None
    layout = {key: (tuple(value.shape[1:]), value.dtype) for key, value in parts.items()} if parts else None
    layout = next(item for item in idist.all_gather(layout) if item is not None)
    gathered = {}
    for key, (shape, dtype) in layout.items():
        padded = torch.zeros((span, *shape), dtype=dtype, device=idist.device())  # nccl gathers on the GPU
        if parts is not None:
            padded[:end - start] = parts[key]
        rows = idist.all_gather(padded).cpu()
        gathered[key] = torch.cat([rows[r * span:r * span + e - s] for r, (s, e) in enumerate(ranges)])
    return gathered[""] if "" in gathered else gathered
