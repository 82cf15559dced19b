"""Discriminator / critic: a feature trunk (DCGAN's or SNGAN's) and a logit head."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .backbone import build_trunk
from .sngan import sn
from .trunk import SNGAN, TrunkConfig

CONDITIONINGS = ("projection", "concat")


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Shape of a :class:`Discriminator`.

    Args:
        trunk: the image trunk, reusable by a classifier; its backbone
            ``"sngan"`` also puts spectral norm on the head and projection.
        num_classes: 0 for an unconditional discriminator.
        conditioning: how labels enter: ``"projection"`` adds
            ``<embed(y), features>`` to the logit (Miyato & Koyama 2018);
            ``"concat"`` feeds ``[features, one_hot(y)]`` to an MLP head. Both
            keep the trunk label-free, so ``features(x)`` needs no label.
    """

    trunk: TrunkConfig = field(default_factory=TrunkConfig)
    num_classes: int = 0
    conditioning: str = "projection"

    def __post_init__(self) -> None:
        if self.conditioning not in CONDITIONINGS:
            raise ConfigError(f"conditioning must be one of {', '.join(CONDITIONINGS)}, got {self.conditioning!r}")
        if self.num_classes < 0:
            raise ConfigError(f"num_classes must be >= 0, got {self.num_classes}")

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    @property
    def spectral_norm(self) -> bool:
        """Every layer spectrally normalised (SNGAN, Miyato et al. 2018): the sngan trunk's."""
        return self.trunk.backbone == SNGAN


class Discriminator(nn.Module):
    """Image (and label) -> one real-vs-fake logit or critic value per image.

    ``trunk`` (a :class:`~gantransfer.models.ConvTrunk` or a
    :class:`~gantransfer.models.sngan.ResidualTrunk`) has ``feature_dim`` and
    ``stages()``; ``features(x)`` is its output.
    """

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        self.trunk = build_trunk(config.trunk)
        dim = config.trunk.feature_dim
        layer = sn if config.spectral_norm else _as_is
        self.projection = None
        if config.conditional and config.conditioning == "concat":
            self.head = nn.Sequential(layer(nn.Linear(dim + config.num_classes, dim)), nn.LeakyReLU(0.2),
                                      layer(nn.Linear(dim, 1)))
        else:
            self.head = layer(nn.Linear(dim, 1))
            if config.conditional and config.spectral_norm:
                self.projection = sn(nn.Embedding(config.num_classes, dim))
            elif config.conditional:
                self.projection = nn.Embedding(config.num_classes, dim)
                nn.init.normal_(self.projection.weight, std=0.02)

    def features(self, images: Tensor) -> Tensor:
        """(N, C, S, S) in [-1, 1] -> (N, feature_dim): the trunk other models reuse."""
        return self.trunk(images)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """Images (N, C, S, S) and, if conditional, labels int64 (N,) -> logits (N,)."""
        features = self.trunk(images)
        if not self.config.conditional:
            return self.head(features).squeeze(1)
        if labels is None:
            raise ValueError("this discriminator is conditional: pass labels")
        if self.projection is None:
            one_hot = torch.nn.functional.one_hot(labels, self.config.num_classes).to(features.dtype)
            return self.head(torch.cat([features, one_hot], dim=1)).squeeze(1)
        return self.head(features).squeeze(1) + (self.projection(labels) * features).sum(dim=1)


def _as_is(layer: nn.Module) -> nn.Module:
    return layer
