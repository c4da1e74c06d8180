"""What a GAN variant is: a :class:`GAN` (generator, discriminator and how the trainer feeds them)
and a :class:`Variant` (its settings as data, the data kinds it handles, its builder).

Each variant is one module of :mod:`ganbench.gan.variants` defining ``VARIANT``;
:mod:`ganbench.builtins` registers it in :data:`VARIANTS`. Every variant trains on the one Ignite
trainer of :mod:`ganbench.gan.trainer`."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from ignite.engine import Engine, Events
from torch import nn

from ganbench.data import BenchDataset
from ganbench.handlers import ModelEMA
from ganbench.registry import Registry
from ganbench.settings import Schema, Setting


class GAN(nn.Module):
    """A generator, a discriminator, and how the trainer feeds them.

    The default plumbing suits single-scale variants: the discriminator sees real and generated
    batches as they are. Variants that grow (ProGAN) or see several scales (MSG-GAN) override
    :meth:`real_input`, :meth:`run_generator` and :meth:`discriminate`.

    Every variant may keep an exponential moving average of G (:meth:`keep_ema`, the ``ema``
    setting): ``generator_ema`` is then a frozen copy of G that the shared
    :class:`~ganbench.handlers.ModelEMA` handler updates after every iteration. Evaluation samples
    (:meth:`sample`, :meth:`sample_scales`) come from the live G, and from the EMA copy within
    :meth:`sampling_ema` (a run evaluates both, see :mod:`ganbench.gan.run`).
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, latent_dim: int) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.generator_ema: nn.Module | None = None
        self.ema_decay: float | None = None
        self._sample_ema = False

    def keep_ema(self, decay: float) -> None:
        """Keep a moving average of G with ``decay`` (from a copy of G's current weights)."""
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
        self.ema_decay = decay

    @contextmanager
    def sampling_ema(self) -> Iterator[None]:
        """Within this context, evaluation samples come from the EMA copy of G (which must be kept)."""
        if self.generator_ema is None:
            raise ValueError("this GAN keeps no moving average of G (setting ema)")
        self._sample_ema = True
        try:
            yield
        finally:
            self._sample_ema = False

    @property
    def sampling_generator(self) -> nn.Module:
        """The generator evaluation samples come from: the live G, or within :meth:`sampling_ema`
        its EMA copy."""
        return self.generator_ema if self._sample_ema and self.generator_ema is not None else self.generator

    @property
    def samples_from(self) -> str:
        """For the record: ``"live"``, or ``"live + ema 0.999"`` (the decay) where the EMA of G is
        evaluated too."""
        return "live" if self.ema_decay is None else f"live + ema {self.ema_decay:g}"

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def sample_latent(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """``count`` latent vectors z ~ N(0, I): (count, latent_dim), drawn on the CPU for
        reproducibility, then moved to the model's device."""
        return torch.randn(count, self.latent_dim, generator=generator).to(self.device)

    def run_generator(self, generator: nn.Module, z: torch.Tensor) -> Any:
        """``generator`` (the live G or its EMA copy) applied to latents ``z``: the discriminator's
        input (a batch, or a list of scales)."""
        return generator(z)

    def generate(self, z: torch.Tensor) -> Any:
        """Generated discriminator input for latents ``z`` from the live G (training)."""
        return self.run_generator(self.generator, z)

    def real_input(self, real: torch.Tensor) -> Any:
        """The discriminator input for a real batch (e.g. its resolution pyramid)."""
        return real

    def discriminate(self, x: Any) -> torch.Tensor:
        """Logits for a batch: shape (N,)."""
        return self.discriminator(x).view(-1)

    @torch.no_grad()
    def sample(self, z: torch.Tensor) -> torch.Tensor:
        """Final generated samples for evaluation, (N, *sample_shape), from :attr:`sampling_generator`."""
        return self.run_generator(self.sampling_generator, z)

    @torch.no_grad()
    def sample_scales(self, z: torch.Tensor) -> dict[int, torch.Tensor]:
        """Samples at every output scale, {side length: (N, C, side, side)}; one scale unless the
        variant generates several (ProGAN's resolutions, MSG-GAN's pyramid)."""
        images = self.sample(z)
        return {images.shape[-1]: images}

    def attach(self, trainer: Engine, iterations: int, optimizers: Mapping[str, torch.optim.Optimizer]) -> None:
        """Attach the shared EMA handler (when an EMA is kept) and the variant's schedule handlers
        (e.g. ProGAN's growth, which also resets ``optimizers``' state at each new phase)."""
        if self.generator_ema is not None and self.ema_decay is not None:
            trainer.add_event_handler(Events.ITERATION_COMPLETED,
                                      ModelEMA(self.generator, self.generator_ema, self.ema_decay))

    def schedule_state(self) -> dict[str, Any]:
        """Schedule values worth logging per iteration (e.g. resolution and fade-in alpha)."""
        return {}

    def cost_states(self) -> list[Hashable]:
        """The states in which a training iteration costs alike (the same layers run), for
        counting a run's training FLOPs: one state unless the variant's schedule changes what
        runs (ProGAN: each resolution, fading in or stable)."""
        return [()]

    def enter_cost_state(self, state: Hashable) -> None:
        """Put the model in cost state ``state`` as during a training iteration of that state."""

    def cost_groups(self, planned: int, done: int | None = None) -> dict[Hashable, int]:
        """The first ``done`` iterations (default: all) of a run planned for ``planned``, counted
        by cost state: ``{state: iterations}``, summing to ``done``."""
        return {(): planned if done is None else done}

    def schedule_summary(self) -> list[dict[str, Any]]:
        """The schedule's phases for the record (e.g. when each ProGAN resolution started)."""
        return []


# The setting changes a variant that declares no scale of a budget's name gets at that budget:
# ``smoke`` trains at a tiny batch (its networks stay at their defaults).
DEFAULT_SCALES: Mapping[str, Mapping[str, Any]] = {"smoke": {"batch_size": 16}}


@dataclass(frozen=True)
class Variant:
    """A named GAN variant: its settings, which data kinds it handles, its builder, and how it
    scales with a suite's budget, so that it runs in every suite at every budget with no table
    entry elsewhere.

    ``scales``: setting changes by scale name, which a budget applies by naming the scale
    (:attr:`ganbench.budgets.Budget.scale`; the image suites' ``smoke`` applies ``"smoke"``,
    ``quick`` and ``equal`` apply ``"quick"``), e.g. ``{"smoke": {"g_width": 8, "batch_size": 16}}``;
    an undeclared scale is :data:`DEFAULT_SCALES`' entry, or no change. ``lengths``: the variant's
    own training length in iterations by schedule name, which a budget uses where it names the
    schedule (:attr:`ganbench.budgets.Budget.lengths`; the image suites' ``quick`` and ``paper``),
    e.g. ``{"paper": 11_700}``; undeclared, the budget's length by images applies.
    """

    name: str
    summary: str
    reference: str
    settings: Schema
    kinds: tuple[str, ...]
    build: Callable[[dict[str, Any], BenchDataset], GAN]
    scales: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    lengths: Mapping[str, int] = field(default_factory=dict)

    def scale(self, name: str | None) -> Mapping[str, Any]:
        """The setting changes of scale ``name`` (None: none): the declared ones, else the default."""
        if name is None:
            return {}
        return self.scales.get(name, DEFAULT_SCALES.get(name, {}))

    def create(self, settings: dict[str, Any], data: BenchDataset) -> GAN:
        """The variant's GAN for ``settings``, keeping an EMA of G (evaluated beside the live G)
        when ``settings["ema"]`` is on."""
        gan = self.build(settings, data)
        if settings.get("ema"):
            gan.keep_ema(settings["ema_decay"])
        return gan

    def image_size(self, settings: dict[str, Any]) -> int | None:
        """The image side length this variant trains at (None: the dataset's own size)."""
        return settings.get("image_size")


VARIANTS: Registry[Variant] = Registry("variant")


def with_defaults(schema: Schema, **defaults: Any) -> dict[str, Setting]:
    """A copy of ``schema`` with some defaults changed (a variant's view of the trainer's knobs)."""
    changed = dict(schema)
    for name, value in defaults.items():
        changed[name] = replace(schema[name], default=value)
    return changed


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """DCGAN initialisation: conv/linear weights N(0, std), norm weights N(1, std), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def flat_size(shape: tuple[int, ...]) -> int:
    return math.prod(shape)
