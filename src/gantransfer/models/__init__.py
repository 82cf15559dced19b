"""Networks: generator, discriminator and classifier sharing one trunk (conv, or a torchvision backbone)."""

from .backbone import TorchvisionTrunk, build_trunk  # and, through it, .sngan: the "sngan" generator
from .classifier import Classifier, ClassifierConfig
from .discriminator import Discriminator, DiscriminatorConfig
from .domain import DomainDiscriminator, DomainDiscriminatorConfig
from .generator import Generator, GeneratorConfig
from .trunk import ConvTrunk, TrunkConfig

__all__ = [
    "Classifier",
    "ClassifierConfig",
    "ConvTrunk",
    "Discriminator",
    "DiscriminatorConfig",
    "DomainDiscriminator",
    "DomainDiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
    "TorchvisionTrunk",
    "TrunkConfig",
    "build_trunk",
]
