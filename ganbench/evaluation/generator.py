"""A generator made elsewhere, loaded and sampled: the ``generator`` input of ``ganbench evaluate``.

The generator (:func:`load_generator`) is named by a spec: ``MODULE:CALLABLE`` (an importable
module: installed or on ``PYTHONPATH``), ``PATH.py:CALLABLE`` (a file, imported under a private
name), or the path of a TorchScript file (``torch.jit.save``; loaded with ``torch.jit.load`` on
the CPU). ``CALLABLE`` (a dotted attribute path) is an ``nn.Module`` instance, used as it is, or
an ``nn.Module`` class or a function returning a module, called as ``CALLABLE(latent_dim=D)`` where
it takes a ``latent_dim`` parameter, else as ``CALLABLE()``. A ``checkpoint`` is a state_dict file
(``torch.save(module.state_dict(), PATH)``) read with ``torch.load(weights_only=True)``, so it
cannot run code, and loaded strictly (every key, every shape). The module is put in eval mode on
the CPU.

Sampling (:func:`draw`): ``count`` latents z ~ N(0, I) of shape (n, D), float32, in batches of
:data:`BATCH`; batch b of seed s is drawn from ``ganbench.seeding.generator(s, "evaluation", b)``,
exactly as a ganbench run draws its evaluation latents, so a run's G given the run's seed yields
the run's samples. Each batch runs under ``torch.inference_mode`` and its output must be a
floating tensor (n, C, S, S) (C the reference's channels, square images of any side S, which the
evaluators bring to ``eval.image_size`` as they do samples), finite, in [-1, 1] within
:data:`TOLERANCE` (a tanh output; clamped to [-1, 1]); it is stored as float32.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
import math
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganbench import seeding
from ganbench.registry import import_file
from ganbench.errors import UserError, option
from ganbench.evaluation.samples import preprocessing
from ganbench.handlers import unsafe_globals

BATCH = 256  # latents per generator call: a run's sampler batch (ganbench.gan.sampling.GENERATION_BATCH)
TOLERANCE = 1e-3  # how far outside [-1, 1] an output value may be (then clamped)
TORCHSCRIPT_FIX = "export with torch.jit.script(model).save(PATH) (or torch.jit.trace), or give MODULE:CALLABLE"


@dataclass(frozen=True)
class GeneratorModel:
    """A loaded generator: ``module`` (eval mode, CPU), how it was named and loaded.

    ``spec``: as given; ``form``: ``module`` (``MODULE:CALLABLE``, ``PATH.py:CALLABLE``) or
    ``torchscript``; ``file``: the module's source file or the TorchScript file (None for a module
    without one) and ``sha256`` its digest; ``checkpoint`` and ``checkpoint_sha256`` likewise
    (None: none given); ``latent_dim``: D of the latents (n, D)."""

    spec: str
    module: nn.Module
    form: str
    file: Path | None
    sha256: str | None
    checkpoint: Path | None
    checkpoint_sha256: str | None
    latent_dim: int

    @property
    def identity(self) -> str:
        """sha256 of what makes the samples: spec, file and checkpoint digests, latent size."""
        described = {"spec": self.spec, "sha256": self.sha256, "checkpoint_sha256": self.checkpoint_sha256,
                     "latent_dim": self.latent_dim}
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Generated:
    """The samples of one generator seed: ``images`` float32 (count, C, S, S) in [-1, 1], the
    output ``dtype`` the generator gave, and the ``seconds`` drawing them took (CPU, one thread)."""

    model: GeneratorModel
    seed: int
    images: torch.Tensor
    dtype: str
    seconds: float

    @property
    def source(self) -> str:
        return self.model.spec

    @property
    def sha256(self) -> str:
        return self.model.identity

    def card(self, count: int) -> dict[str, Any]:
        """The protocol card of this seed's samples, ``count`` of them evaluated."""
        model = self.model
        return {"name": model.spec, "format": "generator" if model.form == "module" else "torchscript",
                "file": None if model.file is None else str(model.file), "sha256": model.sha256,
                "checkpoint": None if model.checkpoint is None else str(model.checkpoint),
                "checkpoint_sha256": model.checkpoint_sha256, "latent_dim": model.latent_dim, "seed": self.seed,
                "latents": f"z ~ N(0, I) float32 (n, {model.latent_dim}) in batches of {BATCH}, batch b from "
                           f"seeding.generator({self.seed}, 'evaluation', b), as a run's",
                "parameters": sum(parameter.numel() for parameter in model.module.parameters()),
                "layout": "NCHW", "value_range": "[-1, 1]", "dtype": self.dtype, "available": len(self.images),
                "evaluated": count, "image_shape": list(self.images.shape[1:]),
                "preprocessing": f"clamped to [-1, 1] (outputs within {TOLERANCE:g} of it); "
                                 + preprocessing("[-1, 1]"),
                "generation_seconds": self.seconds}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0].split('. ')[0][:200]}" if text else type(error).__name__


def load_generator(spec: str, latent_dim: int, checkpoint: Path | None = None) -> GeneratorModel:
    """The generator of ``spec`` (see the module doc), its ``checkpoint`` loaded, in eval mode on the
    CPU; ``UserError`` naming the fix when it cannot be imported, built or loaded.

    Examples:
        ``load_generator("gen.py:Generator", 100, Path("g.pt"))``, ``load_generator("g.torchscript.pt", 64)``
    """
    head, _, tail = spec.rpartition(":")
    if head and tail and all(part.isidentifier() for part in tail.split(".")):
        module, file = _module_of(spec, head, tail, latent_dim)
        form = "module"
    else:
        module, file, form = _torchscript(spec), Path(spec).resolve(), "torchscript"
    checkpoint_sha256 = None if checkpoint is None else _load_checkpoint(module, checkpoint)
    module = module.to(torch.device("cpu")).eval()
    return GeneratorModel(spec, module, form, file, None if file is None else _digest(file), checkpoint,
                          checkpoint_sha256, latent_dim)


def _torchscript(spec: str) -> nn.Module:
    path = Path(spec)
    if path.suffix == ".py":
        raise UserError(f"{option('generator', spec)}: name what in the file makes the generator, PATH.py:CALLABLE "
                        f"(e.g. {spec}:Generator)")
    if not path.is_file():
        raise UserError(f"{option('generator', spec)}: no such file; give MODULE:CALLABLE, PATH.py:CALLABLE or a "
                        "TorchScript file")
    try:
        with warnings.catch_warnings():  # torch 2.14 deprecates TorchScript (for torch.export); it still loads
            warnings.filterwarnings("ignore", category=FutureWarning, message=r".*torch\.jit")
            return torch.jit.load(str(path), map_location="cpu")
    except Exception as error:  # noqa: BLE001 - any failure means it is no TorchScript file
        raise UserError(f"{option('generator', spec)}: not a TorchScript file ({_first_line(error)}); "
                        f"{TORCHSCRIPT_FIX}") from None


def _module_of(spec: str, head: str, tail: str, latent_dim: int) -> tuple[nn.Module, Path | None]:
    """The ``nn.Module`` that ``tail`` of module or file ``head`` is or makes, and its source file."""
    path = Path(head)
    is_file = head.endswith(".py") or path.is_file()
    if is_file and not path.is_file():
        raise UserError(f"{option('generator', spec)}: no such file {head}; give an existing PATH.py:CALLABLE or "
                        "an importable MODULE:CALLABLE")
    try:
        imported = import_file(path.resolve(), "ganbench_generator") if is_file else importlib.import_module(head)
    except Exception as error:  # noqa: BLE001 - a module that fails to import is the user's to fix, one line
        raise UserError(f"{option('generator', spec)}: cannot import {head} ({_first_line(error)}); give an "
                        "importable module (installed or on PYTHONPATH) or PATH.py, and fix what fails in it") from None
    target: Any = imported
    for part in tail.split("."):
        if not hasattr(target, part):
            raise UserError(f"{option('generator', spec)}: {head} has no {tail!r}; name an nn.Module, an nn.Module "
                            "class or a function returning one that it defines")
        target = getattr(target, part)
    source = getattr(imported, "__file__", None)
    return _instantiate(spec, target, latent_dim), Path(source).resolve() if source else None


def _instantiate(spec: str, target: Any, latent_dim: int) -> nn.Module:
    """``target`` if it is a module, else what calling it (with ``latent_dim`` where it takes one) returns."""
    if isinstance(target, nn.Module):
        return target
    if not callable(target):
        raise UserError(f"{option('generator', spec)} is a {type(target).__name__}; name an nn.Module, an nn.Module "
                        "class or a function returning one")
    try:
        takes = "latent_dim" in inspect.signature(target).parameters
    except (TypeError, ValueError):  # no signature to read (a builtin): called without arguments
        takes = False
    try:
        made = target(latent_dim=latent_dim) if takes else target()
    except Exception as error:  # noqa: BLE001 - the user's code failed: one line naming it
        call = f"latent_dim={latent_dim}" if takes else ""
        raise UserError(f"{option('generator', spec)}: calling it ({call}) failed ({_first_line(error)}); fix the "
                        "callable or name one that builds the generator") from None
    if not isinstance(made, nn.Module):
        raise UserError(f"{option('generator', spec)} returned a {type(made).__name__}, not an nn.Module; return "
                        "the generator module")
    return made


def _load_checkpoint(module: nn.Module, path: Path) -> str:
    """Load state_dict file ``path`` into ``module`` strictly; its sha256."""
    fix = "save the generator's weights alone: torch.save(generator.state_dict(), PATH)"
    if not path.is_file():
        raise UserError(f"{option('checkpoint', path)}: no such file; give the generator's state_dict file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - refused or unreadable: either way unusable
        refused = unsafe_globals(path, error)
        if refused:
            raise UserError(f"{path} holds pickled Python objects ({', '.join(refused[:3])}), which "
                            "torch.load(weights_only=True) refuses since loading them could run code; " + fix) from None
        raise UserError(f"{path} is not a readable torch checkpoint ({_first_line(error)}); {fix}") from None
    if not isinstance(state, Mapping) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        held = f"a dict of {', '.join(map(str, list(state)[:5]))}" if isinstance(state, Mapping) else \
            f"a {type(state).__name__}"
        raise UserError(f"{path} holds {held}, not a state_dict of tensors; {fix}")
    _check_keys(module, state, path)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        shown = next((line for line in lines if line.startswith("size mismatch")), lines[-1] if lines else "")
        raise UserError(f"{path} does not fit the generator ({shown[:200]}); save the state_dict of this generator's "
                        "architecture") from None
    return _digest(path)


def _check_keys(module: nn.Module, state: Mapping[str, Any], path: Path) -> None:
    """``UserError`` naming missing and unexpected keys unless ``state`` has exactly ``module``'s."""
    expected, given = set(module.state_dict()), set(state)
    missing, unexpected = sorted(expected - given), sorted(given - expected)
    if not missing and not unexpected:
        return
    prefixes = {key.split(".", 1)[0] + "." for key in given if "." in key}
    hint = ""
    if len(prefixes) == 1 and {key[len(next(iter(prefixes))):] for key in given} == expected:
        hint = f" (its keys carry the prefix {next(iter(prefixes))!r}: strip it)"
    raise UserError(f"{path}'s keys do not fit the generator{hint}: {len(missing)} missing "
                    f"({', '.join(missing[:3]) or 'none'}), {len(unexpected)} unexpected "
                    f"({', '.join(unexpected[:3]) or 'none'}); save the state_dict of this generator's architecture")


def draw(model: GeneratorModel, seed: int, count: int, channels: int) -> Generated:
    """``count`` samples of ``model`` from the latents of ``seed`` (see the module doc), checked:
    float32 (count, ``channels``, S, S) in [-1, 1]. ``UserError`` for an output that is not."""
    batches, dtype = [], ""
    clock = time.perf_counter()
    with torch.inference_mode():
        for index in range(math.ceil(count / BATCH)):
            size = min(BATCH, count - index * BATCH)
            z = torch.randn(size, model.latent_dim, generator=seeding.generator(seed, seeding.EVALUATION, index))
            try:
                output = model.module(z)
            except Exception as error:  # noqa: BLE001 - the user's generator failed on its latents
                raise UserError(f"{option('generator', model.spec)} failed on latents of shape ({size}, "
                                f"{model.latent_dim}) ({_first_line(error)}); check "
                                f"{option('latent_dim')} (its latent size)") from None
            batches.append(_checked(model, output, size, channels))
            dtype = str(output.dtype).removeprefix("torch.")
    images = torch.cat(batches).clamp_(-1.0, 1.0)
    return Generated(model, seed, images, dtype, time.perf_counter() - clock)


def _checked(model: GeneratorModel, output: Any, size: int, channels: int) -> torch.Tensor:
    """One batch of output as float32, or ``UserError`` naming what is wrong and the fix."""
    named = option("generator", model.spec)
    if not isinstance(output, torch.Tensor):
        raise UserError(f"{named} returned a {type(output).__name__}; return one tensor of images (n, C, H, W)")
    shape = tuple(output.shape)
    if len(shape) != 4 or shape[0] != size or shape[1] != channels or shape[2] != shape[3]:
        raise UserError(f"{named} returned shape {shape} for {size} latents; the reference needs (n, C, S, S) "
                        f"images: n = {size}, C = {channels} channels, square (any side S); return NCHW images")
    if not output.dtype.is_floating_point:
        raise UserError(f"{named} returned {str(output.dtype).removeprefix('torch.')} values; return floating "
                        "images in [-1, 1] (e.g. end with tanh)")
    output = output.float()
    finite = torch.isfinite(output)
    if not bool(finite.all()):
        raise UserError(f"{named} returned {int((~finite).sum())} NaN or infinite values; return finite images "
                        "(check the checkpoint and the generator's last layer)")
    low, high = float(output.min()), float(output.max())
    if low < -1.0 - TOLERANCE or high > 1.0 + TOLERANCE:
        raise UserError(f"{named} returned values in [{low:g}, {high:g}], outside [-1, 1]; return images in "
                        "[-1, 1] (e.g. end with tanh, or map [0, 1] outputs by 2x - 1)")
    return output
