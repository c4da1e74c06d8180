"""How a run computes, as opposed to what it computes: threads, precision, memory format,
compilation and data-parallel processes (:class:`Execution`, part of every run's configuration),
the devices of this machine (:func:`resolve_device`), the number of worker processes a suite uses
by default (:func:`default_jobs`), and :func:`data_parallel`, which runs one function in a group of
``ignite.distributed`` processes (a kind's data-parallel training).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import ignite.distributed as idist
import torch
from torch import nn

from ganbench.distributed import active_group, check_launched, launched_world
from ganbench.errors import UserError, option
from ganbench.options import Option, OptionValueError, positive_int
from ganbench.trackers import check_trackers

PRECISIONS = ("fp32", "bf16", "fp16")


def _jobs_text(text: str) -> int | None:
    """A positive number of processes, or ``auto`` (None)."""
    if text == "auto":
        return None
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise OptionValueError(f"invalid value {text!r}: give a positive number of processes, or auto")
    return jobs


EXECUTION_OPTIONS = (
    Option("device", "auto (CUDA if available), cpu, cuda, cuda:N or mps, checked against what this machine has "
           "(default: auto)", default="auto"),
    Option("jobs", "run the cells in N worker processes (default auto: one per core on a CPU, 1 on a GPU; "
           f"$GANBENCH_JOBS overrides auto); results are the same as with {option('jobs', 1)}", group="performance",
           parse=_jobs_text, metavar="N|auto"),
    Option("threads", f"torch threads per run (default: 1, whatever {option('jobs')}); part of the run's "
           "configuration, since the thread count changes the numbers", group="performance", parse=positive_int,
           default=1, metavar="N"),
    Option("amp", "mixed precision: bf16 autocast (CPU and CUDA; the default of a bare "
           f"{option('amp')}) or fp16 autocast with a gradient scaler (CUDA); recorded in "
           "config.execution.precision", group="performance", given="optional", const="bf16",
           choices=("bf16", "fp16"), metavar="bf16|fp16"),
    Option("channels_last", "image networks and batches in channels-last (NHWC) memory format; recorded in "
           "config.execution", group="performance", given="switch", default=False),
    Option("compile", "compile the networks with torch.compile; recorded in config.execution", group="performance",
           given="switch", default=False),
    Option("sync_batchnorm", "data-parallel runs on CUDA: BatchNorm layers normalise with the statistics of the "
           "whole global batch (torch's SyncBatchNorm, nccl; it has no CPU kernel); recorded in config.execution",
           group="performance", given="switch", default=False),
    Option("dist_timeout", "minutes a data-parallel process waits for the others in one collective operation before "
           "the run fails (default 30; covers rank 0's work alone, e.g. evaluation throughput)", group="performance",
           parse=float, default=30.0, metavar="MINUTES"),
    Option("logger", "report each GAN run to experiment trackers as it trains: tensorboard, mlflow, wandb "
           "(comma-separated; losses, metrics of every evaluation, sample grids, configuration and record; "
           "each needs its extra, e.g. pip install 'ganbench[mlflow]')", group="performance", given="list",
           metavar="NAME[,NAME]"),
    Option("nproc_per_node", "GAN suites: train each run data-parallel in N processes (ignite.distributed: gloo on "
           "a CPU, nccl with one GPU each); the batch size stays the global batch; runs one cell at a time "
           f"({option('jobs', 1)}); recorded in config.execution.processes", group="performance",
           parse=positive_int, default=1, metavar="N"),
)
"""The options of :class:`Execution` and of the device and worker processes (:func:`execution_from`,
:func:`jobs_from`)."""


@dataclass(frozen=True)
class Execution:
    """How a run computes, as opposed to what it computes; part of its configuration and run id
    because each of these changes the numbers (the thread count changes the order of floating-point
    sums, so a 1-thread and a 2-thread run of one seed differ).

    ``threads``: torch's intra-op threads in the process running the cell (1 by default, whatever
    the ``jobs`` option, so N jobs reproduce a serial run). ``precision``: ``fp32``; ``bf16`` autocast
    (CPU and CUDA); ``fp16`` autocast with a gradient scaler (CUDA only). ``channels_last``: image
    networks and batches in NHWC memory format. ``compile``: the networks through ``torch.compile``.
    ``processes``: data-parallel processes training the run together (``nproc_per_node``, or the
    world of a group started by torchrun or srun; see :func:`data_parallel`), each with ``threads``
    threads; left out of :meth:`config` when 1, so the run ids of single-process runs are those they
    had before the setting existed. ``sync_batchnorm``: BatchNorm over the group's global batch
    (CUDA only; in :meth:`config` only when on). ``timeout_minutes``: the process group's timeout
    for one collective operation; ``trackers``: the experiment trackers the run reports to
    (:mod:`ganbench.trackers`); neither is part of :meth:`config` (they change no number).
    """

    threads: int = 1
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    processes: int = 1
    sync_batchnorm: bool = False
    timeout_minutes: float = 30.0
    trackers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise UserError(f"{option('threads')} must be a positive number of threads, got {self.threads}")
        if self.precision not in PRECISIONS:
            raise UserError(f"unknown precision {self.precision!r}; choose one of: {', '.join(PRECISIONS)}")
        if self.processes < 1:
            raise UserError(f"{option('nproc_per_node')} must be a positive number of processes, "
                            f"got {self.processes}")
        if self.sync_batchnorm and self.processes == 1:
            raise UserError(f"{option('sync_batchnorm')} synchronises the BatchNorm of data-parallel processes: "
                            f"give {option('nproc_per_node', 2)} or more (or leave it out)")
        if not self.timeout_minutes > 0:
            raise UserError(f"{option('dist_timeout')} must be a positive number of minutes, "
                            f"got {self.timeout_minutes}")

    def config(self) -> dict[str, Any]:
        config = asdict(self)
        del config["timeout_minutes"], config["trackers"]
        if self.processes == 1:
            del config["processes"]
        if not self.sync_batchnorm:
            del config["sync_batchnorm"]
        return config

    def autocast(self, device: torch.device) -> Any:
        """A context that runs what it holds in ``precision`` on ``device`` (autocast; nothing for fp32)."""
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=torch.bfloat16 if self.precision == "bf16" else torch.float16)

    def grad_scaler(self, device: torch.device) -> torch.amp.GradScaler | None:
        """The gradient scaler fp16 needs (None for fp32 and bf16, whose range is fp32's)."""
        return torch.amp.GradScaler(device.type) if self.precision == "fp16" else None

    def check_device(self, device: torch.device) -> None:
        """fp16 on a device without CUDA is a :class:`UserError` naming the fix."""
        if self.precision == "fp16" and device.type != "cuda":
            raise UserError(f"{option('amp', 'fp16')} needs a CUDA device (its gradient scaler), not "
                            f"{device.type}; use {option('amp', 'bf16')}")
        if self.sync_batchnorm and device.type != "cuda":
            raise UserError(f"{option('sync_batchnorm')} needs CUDA devices (torch's SyncBatchNorm has no "
                            f"{device.type} kernel); leave it out on {device.type}")

    def prepare(self, module: nn.Module, compiled: Sequence[nn.Module] = ()) -> nn.Module:
        """``module`` in channels-last memory format, and ``compiled`` (default: ``module``) compiled
        by ``torch.compile``, as the settings ask; in place."""
        if self.channels_last:
            module.to(memory_format=torch.channels_last)
        if self.compile:
            for part in compiled or (module,):
                part.compile()
        return module


@contextlib.contextmanager
def eager(module: nn.Module) -> Iterator[None]:
    """Calls of ``module`` inside run its eager forward even when it was compiled
    (:meth:`Execution.prepare`): for what ``torch.compile`` cannot differentiate, e.g. the double
    backward of a gradient penalty (aot_autograd's graphs support one backward only). The compiled
    forward is back on exit; nothing changes for a module that was not compiled."""
    compiled = module._compiled_call_impl
    module._compiled_call_impl = None
    try:
        yield
    finally:
        module._compiled_call_impl = compiled


def execution_from(values: Mapping[str, Any]) -> Execution:
    """The :class:`Execution` that option ``values`` (by name, :data:`EXECUTION_OPTIONS`) ask for;
    several data-parallel processes per cell and several jobs at once are a :class:`UserError`."""
    jobs = values.get("jobs")
    processes = check_launched(values.get("nproc_per_node", 1), jobs)
    execution = Execution(threads=values.get("threads", 1), precision=values.get("amp") or "fp32",
                          channels_last=bool(values.get("channels_last")), compile=bool(values.get("compile")),
                          processes=processes, sync_batchnorm=bool(values.get("sync_batchnorm")),
                          timeout_minutes=values.get("dist_timeout", 30.0),
                          trackers=check_trackers(values.get("logger") or ()))
    if launched_world() > 1:
        return execution
    if processes > 1 and (jobs or 1) > 1:
        raise UserError(f"{option('nproc_per_node', processes)} runs each cell in {processes} processes, one cell "
                        f"at a time: leave out {option('jobs', jobs)} (or give {option('jobs', 1)})")
    return execution


def jobs_from(values: Mapping[str, Any], device: torch.device) -> int:
    """Worker processes for the cells: ``jobs``, else 1 with data-parallel runs (spawned or launched by
    torchrun or srun), else :func:`default_jobs`."""
    if values.get("jobs"):
        return values["jobs"]
    return 1 if values.get("nproc_per_node", 1) > 1 or launched_world() > 1 else default_jobs(device)


def available_devices() -> list[str]:
    """The devices this machine can run on: ``cpu``, then ``cuda:0`` ... ``cuda:N-1``, then ``mps``."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{index}" for index in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def resolve_device(name: str) -> torch.device:
    """``auto`` (the first CUDA device when there is one, else CPU), or one of
    :func:`available_devices` (``cuda`` meaning ``cuda:0``); anything else, including a device
    this machine lacks, is a :class:`UserError` naming those it has."""
    available = available_devices()
    if name == "auto":
        return torch.device(available[1] if len(available) > 1 and available[1].startswith("cuda") else "cpu")
    wanted = "cuda:0" if name == "cuda" else name
    if wanted not in available:
        raise UserError(f"{option('device', name)} is not a device of this machine; it has: "
                        f"{', '.join(available)} (or use {option('device', 'auto')})")
    return torch.device(wanted)


def default_jobs(device: torch.device) -> int:
    """Worker processes for ``jobs`` ``auto``: ``$GANBENCH_JOBS`` if set; else one per usable core on a
    CPU (each cell on one thread: these models gain little from a second thread, and threads of
    processes sharing cores wait for each other); one on a GPU (cells share the device badly)."""
    if os.environ.get("GANBENCH_JOBS"):
        try:
            jobs = int(os.environ["GANBENCH_JOBS"])
        except ValueError:
            jobs = 0
        if jobs < 1:
            raise UserError(
                f"GANBENCH_JOBS must be a positive number of processes, got {os.environ['GANBENCH_JOBS']!r}")
        return jobs
    if device.type != "cpu":
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def data_parallel(function: Callable[..., Any], processes: int, device: torch.device,
                  initializer: Callable[[], None] | None, *args: Any, timeout_minutes: float = 30.0) -> Any:
    """``function(*args)`` in ``processes`` spawned processes of one ``ignite.distributed`` group
    (``idist.Parallel``: gloo on a CPU, nccl on CUDA, a free local port, collectives failing after
    ``timeout_minutes``), returning rank 0's result; in a group started by torchrun or srun
    (:func:`~ganbench.distributed.active_group`), in its processes instead, on every node. Each
    spawned process runs ``initializer`` first; ``function`` finds its rank with
    ``idist.get_rank()`` and must make the same collective calls in every process. An exception in
    rank 0 is raised here; one in another rank stops the group (torch's spawn ends the other
    processes) and is raised as torch reports it."""
    group = active_group()
    if group is not None:
        return group.run(function, *args)
    if device.type == "cuda" and processes > torch.cuda.device_count():
        raise UserError(f"{option('nproc_per_node', processes)} needs {processes} GPUs; this machine has "
                        f"{torch.cuda.device_count()}")
    results = torch.multiprocessing.get_context("spawn").SimpleQueue()
    logging.getLogger("ignite.distributed.launcher.Parallel").setLevel(logging.WARNING)  # its INFO lines: spawn details
    try:
        with idist.Parallel(backend="nccl" if device.type == "cuda" else "gloo", nproc_per_node=processes,
                            master_addr="127.0.0.1", master_port=_free_port(),
                            timeout=datetime.timedelta(minutes=timeout_minutes)) as parallel:
            parallel.run(_data_parallel_process, function, initializer, results, *args)
    except Exception:
        if not results.empty():
            status, value = results.get()
            if status == "error":
                raise value from None
        raise
    if results.empty():
        raise RuntimeError(f"the {processes} data-parallel processes ended without rank 0's result")
    status, value = results.get()
    if status == "error":
        raise value
    return value


def _data_parallel_process(local_rank: int, function: Callable[..., Any], initializer: Callable[[], None] | None,
                           results: Any, *args: Any) -> None:
    if initializer is not None:
        initializer()
    try:
        value = function(*args)
    except Exception as error:
        if idist.get_rank() == 0:
            try:
                results.put(("error", error))
            except Exception:  # noqa: BLE001 - an exception that cannot be pickled
                results.put(("error", RuntimeError(f"{type(error).__name__}: {error}")))
        raise
    if idist.get_rank() == 0:
        results.put(("ok", value))


def _free_port() -> int:
    """A TCP port free on this machine now, for the process group's rendezvous."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
