"""GAN objectives: which losses, constraint and optimiser defaults each uses.

A :class:`GanObjective` binds an objective to a generator and discriminator
and returns one dict of losses per phase (``discriminator_losses``,
``generator_losses``); the update itself is left to the caller, so the same
objective serves the trainer and a user's own loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import ConfigError
from ..losses.adversarial import (
    gradient_penalty,
    hinge_discriminator_loss,
    least_squares_discriminator_loss,
    least_squares_generator_loss,
    minimax_discriminator_loss,
    non_saturating_generator_loss,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)
from ..models.discriminator import Discriminator
from ..models.generator import Generator
from ..models.wrappers import unwrap
from .optim import OptimizerConfig


@dataclass(frozen=True)
class ObjectiveSpec:
    """An adversarial objective with the defaults of the paper that introduced it.

    Attributes:
        name: registry key.
        discriminator_loss: ``(real_logits, fake_logits) -> scalar`` to minimise.
        generator_loss: ``fake_logits -> scalar`` to minimise.
        n_critic: discriminator updates per generator update.
        optimizer: default optimiser for both networks.
        weight_clip: clamp critic weights to [-c, c] after each update (WGAN), or None.
        gradient_penalty: weight of the WGAN-GP penalty, or 0.
        critic_norm: the normalisation its critic should use.
        reference: the paper.
    """

    name: str
    discriminator_loss: Callable[[Tensor, Tensor], Tensor]
    generator_loss: Callable[[Tensor], Tensor]
    n_critic: int
    optimizer: OptimizerConfig
    weight_clip: float | None = None
    gradient_penalty: float = 0.0
    critic_norm: str = "batch"
    reference: str = ""


OBJECTIVES: dict[str, ObjectiveSpec] = {
    spec.name: spec
    for spec in (
        ObjectiveSpec(
            "minimax",
            minimax_discriminator_loss,
            non_saturating_generator_loss,
            n_critic=1,
            optimizer=OptimizerConfig("adam", 2e-4, (0.5, 0.999)),
            reference="Goodfellow et al. 2014, Generative Adversarial Nets; "
            "optimiser from Radford et al. 2016 (DCGAN)",
        ),
        ObjectiveSpec(
            "wgan",
            wasserstein_critic_loss,
            wasserstein_generator_loss,
            n_critic=5,
            optimizer=OptimizerConfig("rmsprop", 5e-5),
            weight_clip=0.01,
            reference="Arjovsky et al. 2017, Wasserstein GAN",
        ),
        ObjectiveSpec(
            "wgan-gp",
            wasserstein_critic_loss,
            wasserstein_generator_loss,
            n_critic=5,
            optimizer=OptimizerConfig("adam", 1e-4, (0.0, 0.9)),
            gradient_penalty=10.0,
            critic_norm="layer",
            reference="Gulrajani et al. 2017, Improved Training of Wasserstein GANs",
        ),
        ObjectiveSpec(
            "hinge",
            hinge_discriminator_loss,
            wasserstein_generator_loss,
            n_critic=1,
            optimizer=OptimizerConfig("adam", 2e-4, (0.0, 0.9)),
            reference="Lim & Ye 2017, Geometric GAN; Miyato et al. 2018",
        ),
        ObjectiveSpec(
            "least-squares",
            least_squares_discriminator_loss,
            least_squares_generator_loss,
            n_critic=1,
            optimizer=OptimizerConfig("adam", 2e-4, (0.5, 0.999)),
            reference="Mao et al. 2017, Least Squares Generative Adversarial Networks",
        ),
    )
}


def get_objective(name: str) -> ObjectiveSpec:
    """The registered objective ``name`` (minimax, wgan, wgan-gp, hinge, least-squares)."""
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise ConfigError(f"unknown objective {name!r}: choose one of {', '.join(OBJECTIVES)}") from None


class GanObjective:
    """An objective bound to its two networks.

    For a conditional pair, fakes are drawn for the labels of the real batch,
    so generated classes follow the data's class frequencies.

    The networks may come wrapped (DistributedDataParallel, ``torch.compile``):
    the objective calls them as given and reads their settings from the
    network inside.
    """

    def __init__(
        self,
        spec: ObjectiveSpec,
        generator: Generator,
        discriminator: Discriminator,
        augment: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        """``augment``, if given, transforms every discriminator input, real and
        generated alike (differentiable augmentation for few real images)."""
        if unwrap(generator).config.conditional != unwrap(discriminator).config.conditional:
            raise ConfigError("generator and discriminator must both be conditional or both unconditional")
        self.spec = spec
        self.generator = generator
        self.discriminator = discriminator
        self.augment = augment

    def _score(self, images: Tensor, labels: Tensor | None) -> Tensor:
        return self.discriminator(self.augment(images) if self.augment else images, labels)

    @property
    def conditional(self) -> bool:
        return unwrap(self.generator).config.conditional

    def _labels(self, labels: Tensor | None) -> Tensor | None:
        return labels if self.conditional else None

    def generate(self, n: int, labels: Tensor | None, device=None) -> Tensor:
        z = unwrap(self.generator).sample_latent(n, device=device)
        return self.generator(z, self._labels(labels))

    def discriminator_losses(self, real: Tensor, labels: Tensor | None = None) -> dict[str, Tensor]:
        """Losses of one discriminator update on a real batch.

        Args:
            real: (N, C, S, S) in [-1, 1].
            labels: int64 (N,), required when conditional.

        Returns:
            ``{"d_loss": total to minimise, "d_adversarial": ..., "gradient_penalty": ...}``.
        """
        labels = self._labels(labels)
        with torch.no_grad():
            fake = self.generate(real.shape[0], labels, real.device)
        # Losses in fp32 even when the networks run under autocast (.float() is a no-op otherwise).
        real_logits = self._score(real, labels).float()
        fake_logits = self._score(fake, labels).float()
        adversarial = self.spec.discriminator_loss(real_logits, fake_logits)
        losses = {"d_adversarial": adversarial}
        total = adversarial
        if self.spec.gradient_penalty:
            # Double backward in bf16/fp16 is not shown to be safe: the penalty runs in fp32.
            with torch.autocast(real.device.type, enabled=False):
                penalty = gradient_penalty(lambda x: self.discriminator(x, labels), real.float(), fake.float())
            losses["gradient_penalty"] = penalty
            total = total + self.spec.gradient_penalty * penalty
        losses["d_loss"] = total
        losses["real_score"] = real_logits.mean().detach()
        losses["fake_score"] = fake_logits.mean().detach()
        return losses

    def generator_losses(self, batch_size: int, labels: Tensor | None = None, device=None) -> dict[str, Tensor]:
        """Losses of one generator update: ``{"g_loss": ...}``."""
        fake = self.generate(batch_size, self._labels(labels), device)
        return {"g_loss": self.spec.generator_loss(self._score(fake, self._labels(labels)).float())}
