"""Networks: generator, discriminator and classifier sharing one conv trunk."""

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
    "TrunkConfig",
]
