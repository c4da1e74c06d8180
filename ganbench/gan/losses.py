"""Adversarial losses by name. Inputs are discriminator logits of shape (N,), outputs scalars.

- ``ns``: the non-saturating GAN loss (Goodfellow et al. 2014): D minimises binary cross-entropy
  with real = 1 and fake = 0; G minimises BCE of its fakes against label 1.
- ``hinge``: D: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]; G: -E[D(G(z))] (Lim & Ye 2017).
- ``wgan-gp``: D: E[D(G(z))] - E[D(x)] + gp_weight * gradient penalty (Gulrajani et al. 2017)
  + drift * E[D(x)^2] (Karras et al. 2018); G: -E[D(G(z))].
- ``rahinge``: relativistic average hinge (Jolicoeur-Martineau 2019), used by MSG-GAN: each side's
  logits are compared with the mean logit of the other side, in D and in G.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ganbench.registry import Registry


class GanLoss:
    """A pair of objectives. ``gradient_penalty_weight`` > 0 asks the trainer for a WGAN-GP term;
    ``generator_needs_real`` asks it to pass (detached) real logits into the generator step."""

    gradient_penalty_weight: float = 0.0
    generator_needs_real: bool = False

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def generator(self, fake: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError


class NonSaturating(GanLoss):
    def discriminator(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + F.binary_cross_entropy_with_logits(
            fake, torch.zeros_like(fake)
        )

    def generator(self, fake: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


class Hinge(GanLoss):
    def discriminator(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()

    def generator(self, fake: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        return -fake.mean()


class WassersteinGP(GanLoss):
    def __init__(self, gp_weight: float = 10.0, drift: float = 0.0) -> None:
        self.gradient_penalty_weight = gp_weight
        self.drift = drift

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return fake.mean() - real.mean() + self.drift * real.pow(2).mean()

    def generator(self, fake: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        return -fake.mean()


class RelativisticAverageHinge(GanLoss):
    generator_needs_real = True

    def discriminator(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return F.relu(1 - (real - fake.mean())).mean() + F.relu(1 + (fake - real.mean())).mean()

    def generator(self, fake: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        assert real is not None, "rahinge needs the real logits in the generator step"
        return F.relu(1 + (real - fake.mean())).mean() + F.relu(1 - (fake - real.mean())).mean()


LOSSES: Registry[Callable[[float, float], GanLoss]] = Registry("loss", {
    "ns": lambda gp_weight, drift: NonSaturating(),
    "hinge": lambda gp_weight, drift: Hinge(),
    "wgan-gp": lambda gp_weight, drift: WassersteinGP(gp_weight, drift),
    "rahinge": lambda gp_weight, drift: RelativisticAverageHinge(),
})


def make_loss(name: str, gp_weight: float = 10.0, drift: float = 0.0) -> GanLoss:
    """The loss registered as ``name``; ``gp_weight`` and ``drift`` only matter for ``wgan-gp``."""
    return LOSSES.get(name)(gp_weight, drift)


def gradient_penalty(
    discriminate: Callable[[torch.Tensor | list[torch.Tensor]], torch.Tensor],
    real: torch.Tensor | list[torch.Tensor],
    fake: torch.Tensor | list[torch.Tensor],
    generator: torch.Generator,
) -> torch.Tensor:
    """WGAN-GP: E[(||grad_x D(x_hat)||_2 - 1)^2] on x_hat = eps * real + (1 - eps) * fake.

    ``real`` and ``fake`` are batches (N, ...) or lists of such batches (one per scale, as MSG-GAN
    feeds its discriminator); every scale of a sample shares one ``eps ~ U[0, 1]``, and the norm is
    taken over all scales together.
    """
    reals = real if isinstance(real, list) else [real]
    fakes = fake if isinstance(fake, list) else [fake]
    count = reals[0].shape[0]
    eps = torch.rand(count, generator=generator).to(reals[0].device)
    mixed = []
    for r, f in zip(reals, fakes):
        shape = (count,) + (1,) * (r.dim() - 1)
        mixed.append((eps.view(shape) * r.detach() + (1 - eps.view(shape)) * f.detach()).requires_grad_(True))
    logits = discriminate(mixed if isinstance(real, list) else mixed[0])
    grads = torch.autograd.grad(logits.sum(), mixed, create_graph=True)
    norm = torch.cat([g.reshape(count, -1) for g in grads], dim=1).norm(2, dim=1)
    return (norm - 1).pow(2).mean()
