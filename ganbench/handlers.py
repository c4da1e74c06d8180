"""Handlers shared by every engine (GAN training, style transfer): small callable classes in the
manner of ignite's own, each owning its state, attached by the caller to the event it chooses.

Those whose state must survive a resume (:class:`LossHistory`, :class:`IterationTimer`,
:class:`ModelEMA`'s module) have ``state_dict``/``load_state_dict`` and go into the run's
checkpoint. ignite's own are used where their semantics fit: ``Checkpoint`` for checkpoints and
``ProgressBar`` for the bars. Ours, and why not ignite's:

- :class:`Divergence`: ignite's ``TerminateOnNan`` stops the run but does not say at which
  iteration, which the record needs;
- :class:`TimeLimit`: ignite's takes whole seconds, starts counting when constructed and does not
  say that it stopped the run;
- :class:`IterationTimer`: ignite's ``Timer`` gives a running mean only, not a median with the
  first iterations excluded, nor peak memory;
- :class:`CheckpointSaver`: ignite's ``DiskSaver`` writes through ``torch.save`` straight to the
  file, so a full disk surfaces as an unexplained ``RuntimeError`` from the zip writer, and it
  knows nothing of checkpoints left by an earlier process of the run;
- :class:`ModelEMA`: ignite's ``EMAHandler`` warms its momentum up linearly; ProGAN's average
  uses ``min(decay, (1 + t) / (10 + t))``.
"""

from __future__ import annotations

import io
import math
import pickle
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import ignite.distributed as idist
import torch
from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint, ProgressBar
from ignite.handlers.checkpoint import BaseSaveHandler
from torch import nn

from ganbench.errors import UserError, option
from ganbench.results import atomic_write_bytes


class History:
    """Rows of numbers logged during a run (losses per iteration, metrics every K iterations),
    kept by column and checkpointed with the run so a resumed run keeps its whole history."""

    def __init__(self) -> None:
        self.columns: dict[str, list[float]] = {}
        self.length = 0

    def append(self, row: Mapping[str, float]) -> None:
        """Add a row; a key not seen before becomes a new last column (NaN in earlier rows), so the
        columns keep the order their keys first came in, whatever the process's hash seed."""
        for key in row:
            if key not in self.columns:
                self.columns[key] = [math.nan] * self.length
        for key, column in self.columns.items():
            value = row.get(key)
            column.append(math.nan if value is None else float(value))
        self.length += 1

    def rows(self) -> list[dict[str, float]]:
        return [{key: column[i] for key, column in self.columns.items()} for i in range(self.length)]

    def to_csv(self) -> str:
        keys = list(self.columns)
        lines = [",".join(keys)] + [",".join(repr(self.columns[k][i]) for k in keys) for i in range(self.length)]
        return "\n".join(lines) + "\n"

    def state_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "length": self.length}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.columns = {key: list(values) for key, values in state["columns"].items()}
        self.length = int(state["length"])


class LossHistory(History):
    """Appends ``row(engine)`` (e.g. the iteration and the step's losses) to the history each time
    it is called; attach it to ``Events.ITERATION_COMPLETED``."""

    def __init__(self, row: Callable[[Engine], Mapping[str, float]]) -> None:
        super().__init__()
        self.row = row

    def __call__(self, engine: Engine) -> None:
        self.append(self.row(engine))


class Divergence:
    """Stops the run, instead of raising, when a number of the step's output (its losses) is NaN,
    infinite, or larger in magnitude than ``bound`` (None: no bound); ``diverged_at`` is then that
    iteration and ``reason`` says which number did what (both None while the run is sound)."""

    def __init__(self, bound: float | None = None) -> None:
        self.bound = bound
        self.diverged_at: int | None = None
        self.reason: str | None = None

    def __call__(self, engine: Engine) -> None:
        for key, value in engine.state.output.items():
            if not math.isfinite(value):
                self.reason = f"non-finite {key} ({value}) at iteration {engine.state.iteration}"
            elif self.bound is not None and abs(value) > self.bound:
                self.reason = (f"|{key}| = {abs(value):.3g} above diverge_above = {self.bound:g} "
                               f"at iteration {engine.state.iteration}")
            else:
                continue
            self.diverged_at = engine.state.iteration
            engine.terminate()
            return


class TimeLimit:
    """Stops the run after ``seconds`` of wall time counted from the run's start (``STARTED``);
    ``reached`` says that it did. Attach to ``STARTED`` and ``ITERATION_COMPLETED`` with
    :meth:`attach`. In a distributed group (``ignite.distributed``) the processes agree, through
    an all-reduce each iteration, to stop at the iteration where the first of them is out of time:
    a process that stopped alone would leave the others waiting in their next collective call."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.perf_counter()
        self.reached = False

    def attach(self, engine: Engine) -> TimeLimit:
        engine.add_event_handler(Events.STARTED, self.start)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self)
        return self

    def start(self, engine: Engine) -> None:
        self.started = time.perf_counter()

    def __call__(self, engine: Engine) -> None:
        reached = time.perf_counter() - self.started > self.seconds
        if idist.get_world_size() > 1:
            reached = idist.all_reduce(float(reached), op="MAX") > 0
        if reached:
            self.reached = True
            engine.terminate()


class TrainingClock:
    """Wall-clock seconds spent inside training iterations (from ``ITERATION_STARTED`` to
    ``ITERATION_COMPLETED``, so evaluations, checkpoints and other handlers between iterations
    are not counted), summed over the run and checkpointed so a resumed run keeps counting.
    ``seconds`` is the total so far; attach with :meth:`attach`."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds = 0.0
        self._started = 0.0

    def attach(self, engine: Engine) -> TrainingClock:
        engine.add_event_handler(Events.ITERATION_STARTED, self.start)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.stop)
        return self

    def start(self, engine: Engine) -> None:
        self._started = time.perf_counter()

    def stop(self, engine: Engine) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.seconds += time.perf_counter() - self._started

    def state_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.seconds = float(state["seconds"])


class IterationTimer:
    """Wall time of each iteration after the run's first ``warmup`` iterations (first-call
    overheads excluded), and the peak memory of the run: process peak RSS on CPU, max allocated on
    CUDA (bytes). Checkpointed with the run: a resumed run keeps the times and peak of the
    processes before it (the warm-up is not repeated after a restart, so every run of N
    iterations times N - warmup of them), and one resumed from its final checkpoint reports the
    figures of the process that trained it."""

    def __init__(self, device: torch.device, warmup: int = 5) -> None:
        self.device = device
        self.warmup = warmup
        self.seconds: list[float] = []
        self.peak_memory_bytes: int | None = None
        self._started = 0.0
        self._count = 0

    def attach(self, engine: Engine) -> IterationTimer:
        reset_peak_memory(self.device)
        engine.add_event_handler(Events.ITERATION_STARTED, self.start)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.stop)
        engine.add_event_handler(Events.COMPLETED | Events.TERMINATE, self.measure_memory)
        return self

    def start(self, engine: Engine) -> None:
        self._started = time.perf_counter()

    def stop(self, engine: Engine) -> None:
        self._count += 1
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        if self._count > self.warmup:
            self.seconds.append(time.perf_counter() - self._started)

    def measure_memory(self, engine: Engine | None = None) -> None:
        """The run's peak so far: the larger of this process's and any earlier process's (restored
        from a checkpoint)."""
        now = peak_memory_bytes(self.device)
        if now is not None:
            self.peak_memory_bytes = max(now, self.peak_memory_bytes or 0)

    def state_dict(self) -> dict[str, Any]:
        """The times so far (seconds, after warm-up), iterations counted and the peak memory so
        far, so that a resumed run's figures cover every process that trained it."""
        self.measure_memory()
        return {"seconds": list(self.seconds), "count": self._count, "peak_memory_bytes": self.peak_memory_bytes}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.seconds = [float(value) for value in state["seconds"]]
        self._count = int(state["count"])
        self.peak_memory_bytes = None if state["peak_memory_bytes"] is None else int(state["peak_memory_bytes"])

    def summary(self, images_per_iteration: int) -> dict[str, float | None]:
        """ms per iteration (mean, median) and samples consumed per second."""
        if not self.seconds:
            return {"ms_per_iteration": None, "ms_per_iteration_median": None, "train_images_per_second": None}
        mean = sum(self.seconds) / len(self.seconds)
        median = sorted(self.seconds)[len(self.seconds) // 2]
        return {
            "ms_per_iteration": 1000 * mean,
            "ms_per_iteration_median": 1000 * median,
            "train_images_per_second": images_per_iteration / mean,
            "timed_iterations": len(self.seconds),
        }

    def memory_summary(self) -> dict[str, Any]:
        """``peak_memory_mb`` (MiB, None when unknown) and ``peak_memory_kind``."""
        peak = self.peak_memory_bytes
        return {
            "peak_memory_mb": None if peak is None else peak / 2**20,
            "peak_memory_kind": "cuda_max_allocated" if self.device.type == "cuda" else "process_peak_rss",
        }


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak-memory window (CUDA allocator stats, or the Linux VmHWM of this process)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_memory_bytes(device: torch.device) -> int | None:
    """Peak memory since :func:`reset_peak_memory`: CUDA max allocated, or the process peak RSS."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class ModelEMA:
    """Keeps ``average`` an exponential moving average of ``live``'s parameters, with the decay
    ``min(decay, (1 + t) / (10 + t))`` after iteration t, so the average follows the live model
    closely early on instead of staying near its initial weights on short runs; buffers (e.g.
    BatchNorm running statistics) are copied from ``live``. Attach to ``ITERATION_COMPLETED``;
    ``average`` is a module of the model, checkpointed with it. The one EMA of every GAN variant
    (the ``ema`` setting)."""

    def __init__(self, live: nn.Module, average: nn.Module, decay: float) -> None:
        self.live = live
        self.average = average
        self.decay = decay

    def decay_at(self, iteration: int) -> float:
        return min(self.decay, (1 + iteration) / (10 + iteration))

    def __call__(self, engine: Engine) -> None:
        decay = self.decay_at(engine.state.iteration)
        with torch.no_grad():
            for average, live in zip(self.average.parameters(), self.live.parameters()):
                average.lerp_(live, 1 - decay)
            for average, live in zip(self.average.buffers(), self.live.buffers()):
                average.copy_(live)


def progress_bar(description: str, keys: tuple[str, ...]) -> tuple[ProgressBar, Callable[[Any], dict[str, Any]]]:
    """ignite's tqdm bar over a run's iterations and the output transform showing the step outputs
    named by ``keys``; attach with ``bar.attach(engine, output_transform=transform)``. The bar is
    removed when the run ends (``persist=False``), so the suite's bar and lines stay readable."""
    return ProgressBar(persist=False, desc=description), lambda output: {key: output[key] for key in keys}


def unsafe_globals(path: Path, error: Exception) -> list[str]:
    """The Python objects (``module.name``) that made ``torch.load(path, weights_only=True)`` fail
    with ``error``, or [] when it failed for another reason (a damaged file)."""
    if not isinstance(error, pickle.UnpicklingError):
        return []
    try:
        return list(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except AttributeError:  # torch < 2.5: only the message says it
        return re.findall(r"Unsupported global: GLOBAL (\S+)", str(error))
    except Exception:  # noqa: BLE001 - not a zip checkpoint at all: damaged
        return []


CHECKPOINT_NAME = re.compile(r"checkpoint_(\d+)\.pt")


def checkpoint_files(directory: Path) -> list[Path]:
    """The checkpoints ganbench wrote in ``directory`` (``checkpoint_<iteration>.pt``), oldest
    first; any other file there is not one and is left alone."""
    if not directory.is_dir():
        return []
    found = [(int(match.group(1)), path) for path in directory.iterdir()
             if (match := CHECKPOINT_NAME.fullmatch(path.name)) and path.is_file()]
    return [path for _, path in sorted(found)]


class CheckpointSaver(BaseSaveHandler):
    """Writes a checkpoint atomically (serialised in memory, then a temporary file and a rename)
    and then deletes every older ``checkpoint_<k>.pt`` of the folder, also those left by an
    earlier process of the run. A full disk is a :class:`UserError` naming the file (see
    :func:`~ganbench.results.atomic_write_bytes`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __call__(self, checkpoint: Mapping, filename: str, metadata: Mapping | None = None) -> None:
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        path = self.directory / filename
        atomic_write_bytes(path, buffer.getvalue())
        for older in checkpoint_files(self.directory):
            if older != path:
                older.unlink(missing_ok=True)

    def remove(self, filename: str) -> None:
        (self.directory / filename).unlink(missing_ok=True)


def checkpointer(to_save: Mapping[str, Any], directory: Path) -> Checkpoint:
    """ignite's ``Checkpoint`` of ``to_save`` into ``directory`` through :class:`CheckpointSaver`
    (atomic files, the newest kept), named ``checkpoint_<iteration>.pt``; attach it to
    ``ITERATION_COMPLETED(every=K)``. Every object's ``state_dict`` must hold only tensors and
    plain data (numbers, strings, lists, dicts), which :func:`resume_from_checkpoint` loads with
    ``weights_only=True``."""
    return Checkpoint(
        to_save,
        CheckpointSaver(directory),
        filename_prefix="",
        n_saved=1,
        global_step_transform=lambda engine, _: engine.state.iteration,
    )


def resume_from_checkpoint(to_load: Mapping[str, Any], directory: Path) -> int:
    """Load the newest checkpoint in ``directory`` into ``to_load`` (whose ``trainer`` is the
    engine); the iteration it holds, or 0. The file is read with ``torch.load(weights_only=True)``:
    tensors and plain data only, never other pickled objects (whose unpickling could run code). An
    unreadable or refused checkpoint raises :class:`UserError` naming the file and the fix."""
    files = checkpoint_files(directory)
    if not files:
        return 0
    newest = files[-1]
    fix = f"delete {newest} to restart this run (or run with {option('restart')})"
    try:
        state = torch.load(newest, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any failure means the file is unusable
        refused = unsafe_globals(newest, error)
        if refused:
            raise UserError(
                f"refused to load checkpoint {newest}: it holds pickled Python objects, not only tensors and plain "
                f"data, and loading them could run code ({', '.join(refused[:3])}); ganbench never wrote it: do not "
                f"trust this folder, or {fix}"
            ) from None
        raise UserError(
            f"cannot resume from checkpoint {newest} ({type(error).__name__}: {str(error).splitlines()[0][:120]}); "
            f"{fix}"
        ) from None
    try:
        Checkpoint.load_objects(to_load, state)
    except Exception as error:  # noqa: BLE001 - a checkpoint of another shape
        raise UserError(
            f"cannot resume from checkpoint {newest} ({type(error).__name__}: {str(error).splitlines()[0][:120]}); "
            f"{fix}"
        ) from None
    return int(to_load["trainer"].state.iteration)
