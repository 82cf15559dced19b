"""Image classifier with an explicit ``features(x)``, built on the shared trunk (conv or a torchvision backbone)."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from ..errors import ConfigError
from .backbone import build_trunk
from .trunk import TrunkConfig


@dataclass(frozen=True)
class ClassifierConfig:
    """Shape of a :class:`Classifier`.

    Args:
        trunk: the feature trunk (its ``backbone``: ``conv`` or a torchvision network);
            the same config as a GAN discriminator's trunk lets the classifier start from its weights.
        num_classes: number of output classes, >= 2.
        dropout: dropout probability before the linear head, in [0, 1).
    """

    trunk: TrunkConfig = field(default_factory=TrunkConfig)
    num_classes: int = 10
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.num_classes < 2:
            raise ConfigError(f"a classifier needs at least 2 classes, got {self.num_classes}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")


class Classifier(nn.Module):
    """Image -> class logits, as ``head(features(x))``."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        self.trunk = build_trunk(config.trunk)
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.trunk.feature_dim, config.num_classes))
        self.trunk_statistics_frozen = False

    def freeze_trunk(self, statistics: bool = False) -> None:
        """Stop training the trunk's weights; with ``statistics`` also keep its
        BatchNorm statistics fixed (a true linear probe), whatever ``train()`` says."""
        self.trunk.requires_grad_(False)
        self.trunk_statistics_frozen = statistics
        self.train(self.training)

    def train(self, mode: bool = True) -> "Classifier":
        super().train(mode)
        if self.trunk_statistics_frozen:
            self.trunk.eval()
        return self

    def features(self, images: Tensor) -> Tensor:
        """(N, C, S, S) in [-1, 1] -> (N, feature_dim)."""
        return self.trunk(images)

    def forward(self, images: Tensor) -> Tensor:
        """(N, C, S, S) in [-1, 1] -> logits (N, num_classes), in train and eval mode alike."""
        return self.head(self.trunk(images))


class FeaturesAndLogits(nn.Module):
    """A classifier seen as ``images -> (features (N, F), logits (N, K))`` in one forward.

    Training code calls the classifier through this one module, so that a loss
    on the features (a domain loss, say) and the classification loss share a
    single trunk pass, and DistributedDataParallel, which wraps this module,
    sees every parameter used through its own forward.
    """

    def __init__(self, classifier: Classifier) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        features = self.classifier.features(images)
        return features, self.classifier.head(features)
