"""Experiment trackers a run reports to as it trains: TensorBoard, MLflow and Weights & Biases,
through ignite's loggers (``ignite.handlers.tensorboard_logger``, ``mlflow_logger``,
``wandb_logger``).

Each tracker of a run (:class:`RunTrackers`, named by the ``trackers`` of its
:class:`~ganbench.execution.Execution`) gets: the run's configuration with its run id and
identity at the start; the step's losses every iteration (ignite's ``OutputHandler`` on the
trainer); the quality metrics of every evaluation, at its iteration; the run's PNG files (sample
grids) after the final evaluation, where the tracker keeps images; and the run's outcome (the
record's status, metrics, throughput and artefacts) at the end. Where they go:

- ``tensorboard``: event files in ``RUN_DIR/tensorboard`` (``tensorboard --logdir OUT/runs``);
  configuration and outcome as text, grids as images. Needs ``tensorboardX`` (or ``tensorboard``).
- ``mlflow``: one MLflow run per ganbench run, in the experiment named after the suite, with the
  run id as its name; ``$MLFLOW_TRACKING_URI`` when set, else a local file store in ``OUT/mlruns``
  (MLflow 3 keeps that store in maintenance mode; ganbench opts in for it with
  ``MLFLOW_ALLOW_FILE_STORE``). Parameters: the flattened configuration; grids and
  ``record.json`` as artefacts. Needs ``mlflow`` or ``mlflow-skinny``.
- ``wandb``: a W&B run in project ``$WANDB_PROJECT`` (default ``ganbench``), grouped by suite, its
  files in ``RUN_DIR``; ``WANDB_MODE=offline`` keeps it on disk. Needs ``wandb``.

Only a data-parallel run's rank 0 reports. Trackers change no number: they are not part of the
run's configuration.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ignite.engine import Engine, Events

from ganbench.errors import UserError, option

TRACKERS = {"tensorboard": ("tensorboardX", "tensorboard"), "mlflow": ("mlflow",), "wandb": ("wandb",)}
"""Tracker names and the Python modules one of which each needs."""


def check_trackers(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` as a tuple, each a known tracker whose package is installed; else a
    :class:`UserError` naming the extra to install."""
    names = tuple(names)
    for name in names:
        if name not in TRACKERS:
            raise UserError(f"unknown tracker {name!r} in {option('logger')}; choose from: {', '.join(TRACKERS)}")
        if not any(importlib.util.find_spec(module) for module in TRACKERS[name]):
            raise UserError(f"{option('logger', name)} needs the {name} package: pip install 'ganbench[{name}]'")
    return names


def _flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested ``values`` as ``{"a.b.c": value}`` (lists as JSON text)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = json.dumps(value) if isinstance(value, (list, tuple)) else value
    return flat


def _numbers(values: Mapping[str, Any]) -> dict[str, float]:
    return {key: float(value) for key, value in values.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value}


class RunTrackers:
    """The trackers ``names`` of one run (see module doc), opened at once.

    Args:
        names: tracker names (:data:`TRACKERS`), checked by :func:`check_trackers`.
        run_dir: the run's folder, ``OUT/runs/<run_id>`` (the results store's layout).
        run: ``{"run_id", "label", "suite", "config", ...}``: what the trackers are told first.
    """

    def __init__(self, names: Sequence[str], run_dir: Path, run: Mapping[str, Any]) -> None:
        self.loggers: dict[str, Any] = {}
        self.run_dir = run_dir
        for name in names:
            self.loggers[name] = getattr(self, f"_open_{name}")(run)

    def _open_tensorboard(self, run: Mapping[str, Any]) -> Any:
        from ignite.handlers.tensorboard_logger import TensorboardLogger

        logger = TensorboardLogger(log_dir=str(self.run_dir / "tensorboard"))
        logger.writer.add_text("config", f"```\n{json.dumps(run, indent=1, default=str)}\n```", 0)
        return logger

    def _open_mlflow(self, run: Mapping[str, Any]) -> Any:
        import mlflow
        from ignite.handlers.mlflow_logger import MLflowLogger

        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            uri = (self.run_dir.parent.parent / "mlruns").resolve().as_uri()
        logging.getLogger("mlflow").setLevel(logging.WARNING)  # its INFO line on each new experiment
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(str(run["suite"]))
        mlflow.start_run(run_name=str(run["run_id"]))
        logger = MLflowLogger(tracking_uri=uri)
        mlflow.set_tags({"ganbench.label": str(run["label"]), "ganbench.run_id": str(run["run_id"])})
        mlflow.log_params({key: str(value)[:6000] for key, value in _flat(run).items()})
        return logger

    def _open_wandb(self, run: Mapping[str, Any]) -> Any:
        from ignite.handlers.wandb_logger import WandBLogger

        return WandBLogger(project=os.environ.get("WANDB_PROJECT", "ganbench"), name=str(run["run_id"]),
                           group=str(run["suite"]), config=dict(run), dir=str(self.run_dir), reinit=True)

    def attach(self, engine: Engine, keys: Sequence[str]) -> None:
        """Every tracker gets the step outputs ``keys`` (tag ``train``) after each iteration."""
        for logger in self.loggers.values():
            logger.attach_output_handler(engine, Events.ITERATION_COMPLETED, tag="train",
                                         output_transform=lambda output: {key: output[key] for key in keys})

    def metrics(self, values: Mapping[str, Any], step: int) -> None:
        """The numbers among ``values`` (an evaluation's metrics), tag ``eval``, at iteration ``step``."""
        numbers = {f"eval/{key}": value for key, value in _numbers(values).items() if key != "iteration"}
        for name, logger in self.loggers.items():
            if name == "tensorboard":
                for key, value in numbers.items():
                    logger.writer.add_scalar(key, value, step)
            elif name == "mlflow":
                logger.log_metrics({key.replace("/", "_"): value for key, value in numbers.items()}, step=step)
            else:
                logger.log(numbers, step=step)

    def images(self, paths: Mapping[str, Path], step: int) -> None:
        """The PNG files among ``paths`` (the run's artefacts by name): TensorBoard images, MLflow
        artefacts, W&B images."""
        pngs = {name: Path(path) for name, path in paths.items() if str(path).endswith(".png")}
        for tracker, logger in self.loggers.items():
            for name, path in pngs.items():
                if tracker == "tensorboard":
                    import numpy as np
                    from PIL import Image

                    logger.writer.add_image(name, np.asarray(Image.open(path).convert("RGB")), step,
                                            dataformats="HWC")
                elif tracker == "mlflow":
                    import mlflow

                    mlflow.log_artifact(str(path), "images")
                else:
                    import wandb

                    logger.log({name: wandb.Image(str(path))}, step=step)

    def close(self, outcome: Mapping[str, Any]) -> None:
        """Report the run's ``outcome`` (JSON-able) and close every tracker."""
        text = json.dumps(outcome, indent=1, sort_keys=True, default=str)
        for name, logger in self.loggers.items():
            if name == "tensorboard":
                logger.writer.add_text("record", f"```\n{text}\n```", 0)
            elif name == "mlflow":
                import mlflow

                mlflow.log_dict(json.loads(text), "record.json")
                mlflow.set_tag("ganbench.status", str(outcome.get("status")))
            else:
                logger.run.summary.update(json.loads(text))
            logger.close()
