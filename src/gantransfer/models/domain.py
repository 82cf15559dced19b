"""Domain discriminator: a feature vector -> one logit, "source (> 0) or target (< 0)"."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from ..errors import ConfigError


@dataclass(frozen=True)
class DomainDiscriminatorConfig:
    """Shape of a :class:`DomainDiscriminator`.

    Args:
        feature_dim: length of the feature vectors it reads (the trunk's ``feature_dim``).
        hidden: units of each hidden layer.
        layers: hidden layers, >= 1 (ADDA and DANN on digits use 2 or 3).
    """

    feature_dim: int = 256
    hidden: int = 500
    layers: int = 2

    def __post_init__(self) -> None:
        if self.feature_dim < 1 or self.hidden < 1 or self.layers < 1:
            raise ConfigError(f"domain discriminator needs feature_dim, hidden and layers >= 1, got {self}")


class DomainDiscriminator(nn.Module):
    """MLP on features: ``layers`` x (Linear, ReLU), then Linear to one logit.

    It returns logits, never probabilities, so the losses can use the stable
    ``softplus`` form (a sigmoid here would also make the adversarial
    gradient vanish once the discriminator is confident).
    """

    def __init__(self, config: DomainDiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = config.feature_dim
        for _ in range(config.layers):
            layers += [nn.Linear(width, config.hidden), nn.ReLU()]
            width = config.hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, features: Tensor) -> Tensor:
        """(N, feature_dim) -> logits (N,)."""
        if features.ndim != 2 or features.shape[1] != self.config.feature_dim:
            raise ValueError(f"expected features of shape (N, {self.config.feature_dim}), got {tuple(features.shape)}")
        return self.net(features).squeeze(1)
